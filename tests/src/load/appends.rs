//! Scenario 2: many concurrent senders, each in its own one-member group,
//! each with one send in flight. Measures durable appends per second, counted
//! as acknowledged `sent` replies (a server acks only after storing).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sync_core::protocol::{ClientFrame, ErrorCode, ServerFrame};

use super::conn::{Conn, ReplyError};
use super::{RunNames, register_spread};

/// The shape of an appends run.
#[derive(Debug, Clone, Copy)]
pub struct AppendShape {
    /// Concurrent senders (one user, connection and group each).
    pub senders: usize,
    /// Messages each sender sends, one at a time.
    pub per_sender: usize,
    /// Exact body length in bytes.
    pub body_bytes: usize,
}

/// What one appends run measured.
#[derive(Debug)]
pub struct AppendResult {
    /// `sent` replies, summed over senders.
    pub acked: u64,
    /// `sent` replies per sender, in sender order.
    pub per_sender: Vec<u64>,
    /// Senders whose acked seqs were not consecutive.
    pub seq_gaps: u64,
    /// `rate_limited` replies (each retried).
    pub rate_limited: u64,
    /// From the common start to the last ack.
    pub elapsed: Duration,
}

impl AppendResult {
    /// Acknowledged appends per second.
    pub fn appends_per_sec(&self) -> f64 {
        self.acked as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Registers the senders, creates their groups and runs the appends.
pub async fn run_appends(url: &str, names: &RunNames, shape: AppendShape) -> Result<AppendResult> {
    run_appends_spread(&[url.to_owned()], names, shape).await
}

/// [`run_appends`] over the nodes of one service: sender k on `urls[k % n]`.
pub async fn run_appends_spread(
    urls: &[String],
    names: &RunNames,
    shape: AppendShape,
) -> Result<AppendResult> {
    let users: Vec<String> = (0..shape.senders).map(|i| names.user("a", i)).collect();
    let conns = register_spread(urls, &users, 8)
        .await
        .context("appends setup: registering senders")?;
    // Every group exists before the clock starts, so setup never counts.
    let mut setup = tokio::task::JoinSet::new();
    for (sender, mut conn) in conns.into_iter().enumerate() {
        let title = format!("loadgen appends {} {sender}", names.tag());
        setup.spawn(async move {
            let conv = conn
                .create_group(&title, &[])
                .await
                .with_context(|| format!("appends setup: sender {sender} creating its group"))?;
            anyhow::Ok((sender, conn, conv))
        });
    }
    let mut ready = vec![];
    while let Some(done) = setup.join_next().await {
        ready.push(done.context("setup task panicked")??);
    }

    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (sender, mut conn, conv) in ready {
        let prefix = format!("lg{}a{sender}-", names.tag());
        tasks.spawn(async move {
            let mut tally = SenderTally::default();
            for index in 0..shape.per_sender {
                let body = super::fanout::make_body(0, index, shape.body_bytes);
                let client_id = format!("{prefix}{index}");
                let seq = send_until_acked(&mut conn, &conv, &client_id, body, &mut tally)
                    .await
                    .with_context(|| format!("sender {sender}, message {index}"))?;
                if tally.last_seq.is_some_and(|prev| seq != prev + 1) {
                    tally.gap = true;
                }
                tally.last_seq = Some(seq);
                tally.acked += 1;
            }
            tally.finished = Some(Instant::now());
            anyhow::Ok((sender, tally))
        });
    }
    let mut tallies = vec![];
    while let Some(done) = tasks.join_next().await {
        tallies.push(done.context("sender task panicked")??);
    }
    tallies.sort_by_key(|(sender, _)| *sender);
    let end = tallies
        .iter()
        .filter_map(|(_, t)| t.finished)
        .max()
        .unwrap_or(t0);
    let per_sender: Vec<u64> = tallies.iter().map(|(_, t)| t.acked).collect();
    Ok(AppendResult {
        acked: per_sender.iter().sum(),
        per_sender,
        seq_gaps: tallies.iter().filter(|(_, t)| t.gap).count() as u64,
        rate_limited: tallies.iter().map(|(_, t)| t.rate_limited).sum(),
        elapsed: end.saturating_duration_since(t0),
    })
}

#[derive(Debug, Default)]
struct SenderTally {
    acked: u64,
    rate_limited: u64,
    last_seq: Option<u64>,
    gap: bool,
    finished: Option<Instant>,
}

/// Sends one text and waits for its `sent`, retrying after `rate_limited`
/// with the same client_id (the server dedups, so a retry never doubles).
async fn send_until_acked(
    conn: &mut Conn,
    conv: &sync_core::protocol::ConvId,
    client_id: &str,
    body: String,
    tally: &mut SenderTally,
) -> Result<u64> {
    loop {
        let id = conn.next_id();
        let frame = ClientFrame::Send {
            id,
            conv: conv.clone(),
            client_id: client_id.into(),
            body: body.clone(),
            reply_to: None,
        };
        match conn.call(&frame).await {
            Ok(ServerFrame::Sent { seq, .. }) => return Ok(seq),
            Ok(other) => bail!("expected sent, got {other:?}"),
            Err(e) => match e.downcast_ref::<ReplyError>() {
                Some(r) if r.code == ErrorCode::RateLimited => {
                    tally.rate_limited += 1;
                    let wait = r.retry_after_ms.unwrap_or(100);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                _ => return Err(e),
            },
        }
    }
}
