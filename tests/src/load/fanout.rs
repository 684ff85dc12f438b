//! Scenario 1: one sender into a group of online members. Measures delivered
//! pushes per second and send→push latency at every member connection.
//!
//! Each body carries the sender's send time (nanoseconds since a shared
//! `Instant`) and the message index, so a receiver computes latency from the
//! push alone; sender and receivers live in this process, so one monotonic
//! clock serves both.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use sync_core::protocol::{ClientFrame, ConvId, ErrorCode, ServerFrame};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::conn::{read_frame, read_text};
use super::{RunNames, register_spread};
use conformance::procfs::CpuSnapshot;

/// A receiver that gets no frame for this long has stalled: the run fails.
const STALL: Duration = Duration::from_secs(30);

/// The shape of a fanout run.
#[derive(Debug, Clone, Copy)]
pub struct FanoutShape {
    /// Group members, each with one connection; member 0 is also the sender.
    pub members: usize,
    /// Messages the sender sends.
    pub messages: usize,
    /// Sends in flight (sent but not yet acknowledged by `sent`).
    pub window: usize,
    /// Body length in bytes (exact, unless the mentions need more).
    pub body_bytes: usize,
    /// Members each message mentions (`@name`, §9.3), taken in turn from
    /// the receivers; 0 for plain texts.
    pub mentions: usize,
}

/// What one fanout run measured.
#[derive(Debug)]
pub struct FanoutResult {
    /// Pushes of this run's messages received, summed over all members.
    pub delivered: u64,
    /// Pushes received by each member, in member order.
    pub per_member: Vec<u64>,
    /// Pushes whose seq was not the previous one + 1 on that connection.
    pub out_of_order: u64,
    /// Pushes of a message that member had already received.
    pub duplicates: u64,
    /// Messages some member never received, summed over members.
    pub missing: u64,
    /// CPU seconds (user + system) the server's processes spent from the
    /// first send to the last push, when their pids were given.
    pub cpu_seconds: Option<f64>,
    /// Pushes carrying a non-empty `mentions` list (§9.3).
    pub with_mentions: u64,
    /// `sent` replies the sender received.
    pub acked: u64,
    /// `rate_limited` replies the sender got (and retried).
    pub rate_limited: u64,
    /// From the first send to the last push arriving anywhere.
    pub elapsed: Duration,
    /// Send→push latency in microseconds, over every delivered push.
    pub latency_us: Histogram<u64>,
    /// Send→`sent` latency in microseconds at the sender; with a fixed window
    /// it bounds throughput (window / ack latency messages per second).
    pub ack_us: Histogram<u64>,
}

impl FanoutResult {
    /// Delivered pushes per second.
    pub fn pushes_per_sec(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Server CPU microseconds per delivered push, when measured.
    pub fn cpu_us_per_push(&self) -> Option<f64> {
        self.cpu_seconds
            .map(|s| s * 1e6 / self.delivered.max(1) as f64)
    }
}

/// The server's processes, read again at each CPU reading (PostgreSQL
/// starts backends as connections come).
pub type ServerPids<'a> = &'a (dyn Fn() -> Vec<u32> + Send + Sync);

/// A body of exactly `len` bytes (at least 26) starting with the send time
/// and the index: `"{nanos:016x} {index:08} xxxx…"`.
pub fn make_body(sent_ns: u64, index: usize, len: usize) -> String {
    let mut body = format!("{sent_ns:016x} {index:08} ");
    while body.len() < len {
        body.push('x');
    }
    body
}

/// [`make_body`] with `@name` for each of `names` after the index, padded
/// to `len` bytes when shorter.
pub fn make_body_mentioning(sent_ns: u64, index: usize, len: usize, names: &[&str]) -> String {
    let mut body = format!("{sent_ns:016x} {index:08} ");
    for n in names {
        body.push('@');
        body.push_str(n);
        body.push(' ');
    }
    while body.len() < len {
        body.push('x');
    }
    body
}

/// The `count` members message `index` mentions: consecutive receivers,
/// starting one further for each message.
fn mentioned(receivers: &[String], index: usize, count: usize) -> Vec<&str> {
    if receivers.is_empty() {
        return Vec::new();
    }
    (0..count.min(receivers.len()))
        .map(|k| receivers[(index + k) % receivers.len()].as_str())
        .collect()
}

/// The send time and index written by [`make_body`].
pub fn parse_body(body: &str) -> Option<(u64, usize)> {
    let ns = u64::from_str_radix(body.get(..16)?, 16).ok()?;
    let index = body.get(17..25)?.parse().ok()?;
    Some((ns, index))
}

/// Registers the members, creates the group and runs the fanout against `url`.
pub async fn run_fanout(url: &str, names: &RunNames, shape: FanoutShape) -> Result<FanoutResult> {
    run_fanout_spread(&[url.to_owned()], names, shape, None).await
}

/// [`run_fanout`] over the nodes of one service: member i (member 0 is the
/// sender) on `urls[i % n]`; with `server` the CPU time of those processes
/// over the sending phase is measured.
pub async fn run_fanout_spread(
    urls: &[String],
    names: &RunNames,
    shape: FanoutShape,
    server: Option<ServerPids<'_>>,
) -> Result<FanoutResult> {
    let users: Vec<String> = (0..shape.members).map(|i| names.user("f", i)).collect();
    let mut conns = register_spread(urls, &users, 8)
        .await
        .context("fanout setup: registering members")?;
    let conv = conns[0]
        .create_group(&format!("loadgen fanout {}", names.tag()), &users[1..])
        .await
        .context("fanout setup: creating the group")?;
    let client_id_prefix = format!("lg{}f", names.tag());
    let receivers_named: Arc<Vec<String>> = Arc::new(users[1..].to_vec());
    let epoch = Instant::now();
    let n = shape.messages as u64;

    let mut conns = conns.into_iter();
    let sender = conns.next().context("fanout needs at least one member")?;
    let mut receivers = tokio::task::JoinSet::new();
    for (i, conn) in conns.enumerate() {
        let member = i + 1;
        let conv = conv.clone();
        let mut ws = conn.into_ws();
        receivers.spawn(async move {
            let mut tally = Tally::new(n)?;
            while tally.count < n {
                let text = next_text_or_stall(&mut ws, member, &tally, n).await?;
                // Only pushes count; any other frame is skipped unread.
                tally.observe(&conv, scan_push(text.as_str()), epoch);
            }
            anyhow::Ok((member, tally))
        });
    }

    // Member 0 sends. Its read half counts its own pushes like any member and
    // also turns `sent` replies into window permits; `rate_limited` replies
    // come back to the writer after `retry_after_ms` with the same client_id.
    let (mut sink, mut stream) = sender.into_ws().split();
    let window = Arc::new(Semaphore::new(shape.window.max(1)));
    let (retry_tx, mut retry_rx) = mpsc::unbounded_channel::<usize>();
    // Send times by index, written by the writer and read back on `sent`.
    let sent_at: Arc<Vec<AtomicU64>> =
        Arc::new((0..shape.messages).map(|_| AtomicU64::new(0)).collect());
    let cpu_start = server.map(|pids| CpuSnapshot::take(&pids()));
    let start_ns = ns_since(epoch);
    let reader = tokio::spawn({
        let window = Arc::clone(&window);
        let sent_at = Arc::clone(&sent_at);
        let conv = conv.clone();
        async move {
            let mut tally = Tally::new(n)?;
            let mut ack_us = new_histogram()?;
            let (mut acked, mut rate_limited) = (0u64, 0u64);
            while tally.count < n || acked < n {
                let frame = next_or_stall(&mut stream, 0, &tally, n).await?;
                match &frame {
                    ServerFrame::Sent { re, .. } => {
                        let index = usize::try_from(re.saturating_sub(1))?;
                        if let Some(t) = sent_at.get(index) {
                            let sent_ns = t.load(Ordering::Relaxed);
                            let now = ns_since(epoch);
                            ack_us.saturating_record((now.saturating_sub(sent_ns) / 1_000).max(1));
                        }
                        acked += 1;
                        window.add_permits(1);
                    }
                    ServerFrame::Error {
                        re: Some(re),
                        code: ErrorCode::RateLimited,
                        retry_after_ms,
                        ..
                    } => {
                        rate_limited += 1;
                        let index = usize::try_from(re.saturating_sub(1))?;
                        let wait = Duration::from_millis(retry_after_ms.unwrap_or(100));
                        let tx = retry_tx.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(wait).await;
                            let _ = tx.send(index);
                        });
                    }
                    ServerFrame::Error {
                        re, code, message, ..
                    } => bail!("send {re:?} was refused: {code}: {message}"),
                    ServerFrame::Message { conv: c, message } => {
                        let entry = PushEntry {
                            conv: c.as_str(),
                            kind: message.kind.as_str(),
                            seq: message.seq,
                            body: message.body.as_deref(),
                            mentions: message.mentions.len(),
                        };
                        tally.observe(&conv, Some(entry), epoch);
                    }
                    _ => {}
                }
            }
            anyhow::Ok((tally, ack_us, acked, rate_limited))
        }
    });
    let writer = tokio::spawn({
        let conv = conv.clone();
        let named = Arc::clone(&receivers_named);
        async move {
            let mut next = 0usize;
            loop {
                let index = tokio::select! {
                    biased;
                    retry = retry_rx.recv() => match retry {
                        Some(index) => index,
                        // The reader is done (or failed): nothing left to send.
                        None => break,
                    },
                    permit = window.acquire(), if next < shape.messages => {
                        permit?.forget();
                        if let Some(t) = sent_at.get(next) {
                            t.store(ns_since(epoch), Ordering::Relaxed);
                        }
                        next += 1;
                        next - 1
                    }
                };
                let frame = ClientFrame::Send {
                    id: index as u64 + 1,
                    conv: conv.clone(),
                    client_id: format!("{client_id_prefix}{index}"),
                    body: make_body_mentioning(
                        sent_at.get(index).map_or(0, |t| t.load(Ordering::Relaxed)),
                        index,
                        shape.body_bytes,
                        &mentioned(&named, index, shape.mentions),
                    ),
                    reply_to: None,
                };
                sink.send(WsMessage::Text(frame.to_json().into()))
                    .await
                    .context("sender: writing a send")?;
            }
            anyhow::Ok(())
        }
    });

    let mut tallies = vec![];
    let reader_result = reader.await.context("sender reader panicked")?;
    let (sender_tally, ack_us, acked, rate_limited) = reader_result.context("member 0 (sender)")?;
    tallies.push(sender_tally);
    writer.await.context("sender writer panicked")??;
    let mut rest = vec![];
    while let Some(done) = receivers.join_next().await {
        rest.push(done.context("receiver panicked")??);
    }
    rest.sort_by_key(|(member, _)| *member);
    tallies.extend(rest.into_iter().map(|(_, t)| t));

    let cpu_seconds = server
        .zip(cpu_start)
        .map(|(pids, start)| start.seconds_until(&CpuSnapshot::take(&pids())));
    let mut latency_us = new_histogram()?;
    let mut last_ns = start_ns;
    let mut out_of_order = 0;
    for t in &tallies {
        latency_us
            .add(&t.latency_us)
            .context("merging histograms")?;
        last_ns = last_ns.max(t.last_arrival_ns);
        out_of_order += t.out_of_order;
    }
    let per_member: Vec<u64> = tallies.iter().map(|t| t.count).collect();
    Ok(FanoutResult {
        delivered: per_member.iter().sum(),
        per_member,
        out_of_order,
        duplicates: tallies.iter().map(|t| t.duplicates).sum(),
        missing: tallies.iter().map(|t| n - t.unique()).sum(),
        cpu_seconds,
        with_mentions: tallies.iter().map(|t| t.with_mentions).sum(),
        acked,
        rate_limited,
        elapsed: Duration::from_nanos(last_ns - start_ns),
        latency_us,
        ack_us,
    })
}

/// Per-connection counters.
#[derive(Debug)]
struct Tally {
    count: u64,
    with_mentions: u64,
    out_of_order: u64,
    /// Which message indexes arrived (by the index in the body).
    seen: Vec<bool>,
    duplicates: u64,
    last_seq: Option<u64>,
    last_arrival_ns: u64,
    latency_us: Histogram<u64>,
}

impl Tally {
    fn new(messages: u64) -> Result<Tally> {
        Ok(Tally {
            count: 0,
            with_mentions: 0,
            out_of_order: 0,
            seen: vec![false; usize::try_from(messages)?],
            duplicates: 0,
            last_seq: None,
            last_arrival_ns: 0,
            latency_us: new_histogram()?,
        })
    }

    /// Counts `push` when it is a text push of this run's conversation.
    fn observe(&mut self, conv: &ConvId, push: Option<PushEntry<'_>>, epoch: Instant) {
        let Some(message) = push else {
            return;
        };
        if message.conv != conv.as_str() || message.kind != "text" {
            return;
        }
        let now = ns_since(epoch);
        let Some((sent_ns, index)) = message.body.and_then(parse_body) else {
            return;
        };
        match self.seen.get_mut(index) {
            Some(seen) if *seen => self.duplicates += 1,
            Some(seen) => *seen = true,
            None => {}
        }
        if self.last_seq.is_some_and(|prev| message.seq != prev + 1) {
            self.out_of_order += 1;
        }
        self.last_seq = Some(message.seq);
        self.count += 1;
        self.with_mentions += u64::from(message.mentions > 0);
        self.last_arrival_ns = now;
        self.latency_us
            .saturating_record((now.saturating_sub(sent_ns) / 1_000).max(1));
    }
}

impl Tally {
    /// Distinct messages received.
    fn unique(&self) -> u64 {
        self.seen.iter().filter(|s| **s).count() as u64
    }
}

/// A text push as [`Tally::observe`] counts it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PushEntry<'a> {
    conv: &'a str,
    kind: &'a str,
    seq: u64,
    /// As it stands in the frame (JSON escapes not undone): the receivers
    /// read only its first 25 characters, which never need escaping.
    body: Option<&'a str>,
    mentions: usize,
}

/// What a receiver reads of a frame: the fields of a `message` push it
/// counts, found in one pass over the frame's text without decoding the
/// rest. The receivers stand for clients on other machines: they check
/// what they count and skip the rest, so the run measures the server's
/// delivery rather than 100 decodes of every push on the same two cores
/// (the sender's connection decodes every frame in full through
/// `sync_core::protocol`). A push's keys are unique (`type` and `conv`
/// outside the entry, the rest inside it), so where a key stands does not
/// matter.
fn scan_push(text: &str) -> Option<PushEntry<'_>> {
    let b = text.as_bytes();
    let (mut kind_of_frame, mut conv, mut kind, mut seq, mut body) = (None, None, None, None, None);
    let mut mentions = 0;
    let mut i = 0;
    while let Some(at) = memchr::memchr(b'"', &b[i..]) {
        let start = i + at + 1;
        let end = string_end(b, start)?;
        i = end + 1;
        if b.get(i) != Some(&b':') {
            continue; // a value, not a key
        }
        i += 1;
        let string = |i: &mut usize| {
            let from = *i + 1;
            let to = string_end(b, from).filter(|_| b.get(*i) == Some(&b'"'))?;
            *i = to + 1;
            Some(&text[from..to])
        };
        match &text[start..end] {
            "type" => kind_of_frame = string(&mut i),
            "conv" => conv = string(&mut i),
            "kind" => kind = string(&mut i),
            "body" => body = string(&mut i),
            "seq" => {
                let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                seq = text[i..i + digits].parse().ok();
                i += digits;
            }
            "mentions" => {
                // User names hold no quote or bracket (§3), so the list
                // ends at the first `]`; skipped whole, its names are not
                // read again as keys.
                let len = memchr::memchr(b']', &b[i..])?;
                mentions = b[i..i + len].iter().filter(|&&c| c == b'"').count() / 2;
                i += len;
            }
            _ => {}
        }
    }
    (kind_of_frame? == "message").then_some(())?;
    Some(PushEntry {
        conv: conv?,
        kind: kind?,
        seq: seq?,
        body,
        mentions,
    })
}

/// Where the JSON string whose text starts at `from` ends (its closing
/// quote).
fn string_end(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        i += memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
        if b[i] == b'"' {
            return Some(i);
        }
        i += 2;
    }
}

/// A histogram from 1 µs to 1 hour with 3 significant digits.
pub fn new_histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).context("creating a latency histogram")
}

fn ns_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// `read` (one frame of `member`'s connection), failing when it takes
/// longer than [`STALL`]; errors say how far the member got.
async fn within_stall<T>(
    read: impl std::future::Future<Output = Result<T>>,
    member: usize,
    tally: &Tally,
    expected: u64,
) -> Result<T> {
    timeout(STALL, read)
        .await
        .with_context(|| {
            format!(
                "member {member} stalled at {}/{expected} pushes",
                tally.count
            )
        })?
        .with_context(|| format!("member {member} at {}/{expected}", tally.count))
}

/// The next text frame, undecoded.
async fn next_text_or_stall<S>(
    ws: &mut S,
    member: usize,
    tally: &Tally,
    expected: u64,
) -> Result<tokio_tungstenite::tungstenite::Utf8Bytes>
where
    S: futures_util::Stream<Item = Result<WsMessage, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    within_stall(read_text(ws), member, tally, expected).await
}

/// The next frame of a known type.
async fn next_or_stall<S>(
    ws: &mut S,
    member: usize,
    tally: &Tally,
    expected: u64,
) -> Result<ServerFrame>
where
    S: futures_util::Stream<Item = Result<WsMessage, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    loop {
        if let Some(f) = within_stall(read_frame(&mut *ws), member, tally, expected).await? {
            return Ok(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_core::protocol::{ConvId, EntryKind, Message, ServerFrame};

    fn push(body: Option<&str>, mentions: &[&str]) -> String {
        let mut m = Message::new(4_200, "lg_x_0", 1, EntryKind::Text);
        m.body = body.map(str::to_owned);
        m.client_id = Some("c\"seq\":1".into());
        m.mentions = mentions.iter().map(|s| (*s).to_owned()).collect();
        ServerFrame::Message {
            conv: ConvId::from("c17"),
            message: m,
        }
        .to_json()
    }

    #[test]
    fn a_push_is_read_from_the_server_s_own_encoding() {
        let text = push(
            Some("0000000000000abc 00000042 \"type\":\"x\" \\\" \"seq\":9 @lg_x_1"),
            &["lg_x_1", "lg_x_2", "lg_x_3"],
        );
        let got = scan_push(&text).expect("a message push");
        assert_eq!(
            (got.conv, got.kind, got.seq, got.mentions),
            ("c17", "text", 4_200, 3),
            "{text}"
        );
        assert_eq!(parse_body(got.body.unwrap()), Some((0xabc, 42)));
        let plain = push(Some("0000000000000001 00000007"), &[]);
        let got = scan_push(&plain).unwrap();
        assert_eq!((got.seq, got.mentions), (4_200, 0));
        assert_eq!(got.body, Some("0000000000000001 00000007"));
        assert_eq!(scan_push(&push(None, &[])).unwrap().body, None);
    }

    #[test]
    fn where_a_key_stands_does_not_matter() {
        let text = r#"{"message":{"mentions":["a","b"],"body":"x\\\"}","seq":7,"kind":"text"},"conv":"c2","type":"message"}"#;
        let got = scan_push(text).expect("a message push");
        assert_eq!(
            got,
            PushEntry {
                conv: "c2",
                kind: "text",
                seq: 7,
                body: Some(r#"x\\\"}"#),
                mentions: 2,
            }
        );
    }

    #[test]
    fn other_frames_are_not_pushes() {
        assert_eq!(scan_push(r#"{"type":"sent","re":3,"seq":5}"#), None);
        assert_eq!(
            scan_push(r#"{"type":"typing","conv":"c1","user":"a"}"#),
            None
        );
        assert_eq!(scan_push("not json"), None);
        assert_eq!(scan_push(r#"{"type":"message","conv":"c1"}"#), None);
    }
}
