//! Scenario 6: durable appends into one group of 10 members and into one of
//! 2,000, same senders and same run. With read diffusion of the change index
//! an append writes the entry and the conversation row whatever the group
//! size, so the two should be close (issue 13: at most 1.5×).
//!
//! The senders are online (registered over the protocol); the other members
//! are users written straight into the server's database file before the
//! group is created (2,000 password hashes would measure argon2, not
//! appends). They are offline, so both groups deliver the same pushes: the
//! difference left is what the group size costs the writer.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use rusqlite::{Connection, params};
use sync_core::protocol::{ClientFrame, ConvId, ServerFrame};

use super::conn::Conn;
use super::fanout::{make_body, new_histogram};
use super::{RunNames, register_all};

/// The shape of one group-size run.
#[derive(Debug, Clone, Copy)]
pub struct GroupShape {
    /// Members of the group, senders included.
    pub members: usize,
    /// Online senders, one send in flight each.
    pub senders: usize,
    /// Messages each sender sends.
    pub per_sender: usize,
}

/// What one run measured.
#[derive(Debug)]
pub struct GroupResult {
    /// `sent` replies.
    pub acked: u64,
    /// Seqs acked, sorted: must be exactly 2..=acked+1 (seq 1 is `create`).
    pub dense: bool,
    /// Send→`sent` latency in microseconds.
    pub ack_us: Histogram<u64>,
    /// First send to last `sent`.
    pub elapsed: Duration,
}

impl GroupResult {
    /// Acknowledged appends per second.
    pub fn appends_per_sec(&self) -> f64 {
        self.acked as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Writes `names` as users into the database at `db` (a running server's:
/// the users table is not cached by the server, and busy_timeout waits out
/// its writer).
pub fn insert_offline_users(db: &Path, names: &[String]) -> Result<()> {
    let mut conn = Connection::open(db).context("opening the server's database")?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO users (name, pw_hash, created_ms) VALUES (?1, 'offline: no password', 0)",
        )?;
        for n in names {
            stmt.execute(params![n])
                .with_context(|| format!("inserting user {n}"))?;
        }
    }
    tx.commit().context("committing offline users")?;
    Ok(())
}

/// Creates the group (senders online, the rest offline) and runs the sends.
pub async fn run_group(
    url: &str,
    db: &Path,
    names: &RunNames,
    shape: GroupShape,
) -> Result<GroupResult> {
    let offline: Vec<String> = (shape.senders..shape.members)
        .map(|i| names.user("o", i))
        .collect();
    let db_path = db.to_owned();
    let users = offline.clone();
    tokio::task::spawn_blocking(move || insert_offline_users(&db_path, &users))
        .await
        .context("user insert panicked")??;
    let online: Vec<String> = (0..shape.senders).map(|i| names.user("g", i)).collect();
    let mut conns = register_all(url, &online, 8)
        .await
        .context("group setup: registering senders")?;
    let mut others: Vec<String> = online[1..].to_vec();
    others.extend(offline);
    let conv = conns[0]
        .create_group(&format!("loadgen group of {}", shape.members), &others)
        .await
        .context("group setup: creating the group")?;

    run_senders(
        conns,
        &conv,
        &format!("lg{}g", names.tag()),
        shape.per_sender,
    )
    .await
}

/// Every connection of `conns` sends `per_sender` texts to `conv`, one in
/// flight each, all at once (client ids `{prefix}{sender}-{index}`);
/// returns the acked count, whether the seqs are exactly 2..=acked+1, the
/// ack latencies and the time from the first send to the last ack.
pub async fn run_senders(
    conns: Vec<Conn>,
    conv: &ConvId,
    prefix: &str,
    per_sender: usize,
) -> Result<GroupResult> {
    run_senders_from(conns, conv, prefix, per_sender, 2).await
}

/// [`run_senders`] into a conversation whose next seq is `first`.
pub async fn run_senders_from(
    conns: Vec<Conn>,
    conv: &ConvId,
    prefix: &str,
    per_sender: usize,
    first: u64,
) -> Result<GroupResult> {
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (sender, conn) in conns.into_iter().enumerate() {
        let prefix = format!("{prefix}{sender}-");
        tasks.spawn(send_all(conn, conv.clone(), prefix, per_sender));
    }
    let mut seqs = Vec::new();
    let mut ack_us = new_histogram()?;
    let mut end = t0;
    while let Some(done) = tasks.join_next().await {
        let (_, s, h, finished) = done.context("sender task panicked")??;
        seqs.extend(s);
        ack_us.add(&h).context("merging latencies")?;
        end = end.max(finished);
    }
    seqs.sort_unstable();
    let acked = seqs.len() as u64;
    let dense = seqs.iter().copied().eq(first..acked + first);
    Ok(GroupResult {
        acked,
        dense,
        ack_us,
        elapsed: end.saturating_duration_since(t0),
    })
}

/// One sender: `n` sends, one in flight; returns the connection, the acked
/// seqs, the latencies and when the last ack came.
async fn send_all(
    mut conn: Conn,
    conv: ConvId,
    prefix: String,
    n: usize,
) -> Result<(Conn, Vec<u64>, Histogram<u64>, Instant)> {
    let mut seqs = Vec::with_capacity(n);
    let mut hist = new_histogram()?;
    for index in 0..n {
        let id = conn.next_id();
        let frame = ClientFrame::Send {
            id,
            conv: conv.clone(),
            client_id: format!("{prefix}{index}"),
            body: make_body(0, index, 100),
            reply_to: None,
        };
        let sent_at = Instant::now();
        match conn.call(&frame).await? {
            ServerFrame::Sent { seq, .. } => seqs.push(seq),
            other => bail!("expected sent, got {other:?}"),
        }
        let us = u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX);
        hist.record(us.max(1)).context("recording latency")?;
    }
    Ok((conn, seqs, hist, Instant::now()))
}

/// Users per `invite` frame (a frame is at most 64 KiB). Each join is
/// pushed to the inviter's own connection in one commit: 2,000 small
/// pushes at once fit server-mock's queue, which closes a connection only
/// past 1,024 frames and 4 MiB (a bound of 1,024 frames alone closed it
/// here).
const INVITE_CHUNK: usize = 2_000;

/// A group of `members` (the senders online and first, the rest offline
/// users that `insert` writes into the server's database) created by the
/// first sender with the other senders, the offline ones invited in
/// chunks; then every sender sends `per_sender` texts, one in flight each.
pub async fn run_group_with(
    urls: &[String],
    names: &RunNames,
    shape: GroupShape,
    insert: impl FnOnce(Vec<String>) -> Result<()> + Send + 'static,
) -> Result<GroupResult> {
    let offline: Vec<String> = (shape.senders..shape.members)
        .map(|i| names.user("o", i))
        .collect();
    let users = offline.clone();
    tokio::task::spawn_blocking(move || insert(users))
        .await
        .context("user insert panicked")??;
    let online: Vec<String> = (0..shape.senders).map(|i| names.user("g", i)).collect();
    let mut conns = super::register_spread(urls, &online, 8)
        .await
        .context("group setup: registering senders")?;
    // The other senders join last: a connection that reads nothing until
    // the timed run is not pushed the 10,000 joins meanwhile.
    let conv = conns[0]
        .create_group(&format!("loadgen group of {}", shape.members), &[])
        .await
        .context("group setup: creating the group")?;
    let mut next = 2;
    let others = online[1..].to_vec();
    for chunk in offline.chunks(INVITE_CHUNK).chain([others.as_slice()]) {
        if chunk.is_empty() {
            continue;
        }
        let id = conns[0].next_id();
        let frame = ClientFrame::Invite {
            id,
            conv: conv.clone(),
            users: chunk.to_vec(),
        };
        match conns[0].call(&frame).await? {
            ServerFrame::Ok { .. } => next += chunk.len() as u64,
            other => bail!("invite: expected ok, got {other:?}"),
        }
    }
    // Untimed warm-up: the first appends after 10,000 joins pay one-off
    // costs (the writer loading the member list, a WAL checkpoint or
    // autovacuum of the joins) that are not what a group's size costs each
    // append.
    let (conns, warm) = warm_up(conns, &conv, &format!("lg{}w", names.tag()), next).await?;
    run_senders_from(
        conns,
        &conv,
        &format!("lg{}s", names.tag()),
        shape.per_sender,
        next + warm,
    )
    .await
}

/// Texts each sender sends before the timed run.
const WARM_UP: usize = 20;

/// Each connection sends [`WARM_UP`] texts, one at a time ([`send_all`]);
/// returns the connections and how many seqs that took.
async fn warm_up(
    conns: Vec<Conn>,
    conv: &ConvId,
    prefix: &str,
    first: u64,
) -> Result<(Vec<Conn>, u64)> {
    let mut out = Vec::with_capacity(conns.len());
    let mut seq = first;
    for (sender, conn) in conns.into_iter().enumerate() {
        let (conn, seqs, _, _) =
            send_all(conn, conv.clone(), format!("{prefix}{sender}-"), WARM_UP).await?;
        if !seqs.iter().copied().eq(seq..seq + WARM_UP as u64) {
            bail!("warm-up sends: expected seqs from {seq}, got {seqs:?}");
        }
        seq += WARM_UP as u64;
        out.push(conn);
    }
    Ok((out, seq - first))
}

/// Goal: the large group's appends/s at least this fraction of the small one's.
pub const GROUP_GOAL: f64 = 1.0 / 1.5;

/// Scenario 6 on an in-process server-mock in `dir`: `rounds` rounds, the
/// group sizes alternating which goes first, best of each reported.
pub async fn group_size(dir: &Path, names: &RunNames, quick: bool, rounds: usize) -> Result<bool> {
    use super::report::{count, ms, ratio, secs};
    let (senders, per_sender) = if quick { (4, 25) } else { (10, 1_000) };
    let sizes = [10, 2_000];
    let server = super::target::start_in_process_with(dir, "groups", |_| {}).await?;
    let db = dir.join("groups.db");
    println!(
        "groups   {senders} senders × {per_sender} msgs, 1 in flight each, into one group of {} vs one of {} (the rest offline)",
        sizes[0], sizes[1]
    );
    let mut best: [Option<GroupResult>; 2] = [None, None];
    let mut ok = true;
    for round in 0..rounds.max(2) {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let shape = GroupShape {
                members: sizes[i],
                senders,
                per_sender,
            };
            let r = run_group(
                &server.url(),
                &db,
                &names.round(500 + 10 * round + i),
                shape,
            )
            .await
            .with_context(|| format!("group of {}", sizes[i]))?;
            let expected = (senders * per_sender) as u64;
            if r.acked != expected || !r.dense {
                println!(
                    "groups   {} members MISCOUNT: {} of {expected} acked, dense seqs: {}",
                    sizes[i], r.acked, r.dense
                );
                ok = false;
            }
            if best[i]
                .as_ref()
                .is_none_or(|b| r.appends_per_sec() > b.appends_per_sec())
            {
                best[i] = Some(r);
            }
        }
    }
    server.shutdown().await;
    let [Some(small), Some(big)] = best else {
        bail!("no group-size round ran");
    };
    let figures = |r: &GroupResult| {
        format!(
            "{} appends/s  ack p50 {} p99 {} ({})",
            count(r.appends_per_sec()),
            ms(r.ack_us.value_at_quantile(0.50)),
            ms(r.ack_us.value_at_quantile(0.99)),
            secs(r.elapsed)
        )
    };
    let r = big.appends_per_sec() / small.appends_per_sec().max(1e-9);
    println!(
        "groups   server-mock {} members {} | {} members {} | ratio {} (goal ≥ {GROUP_GOAL:.2}, best of {}){}",
        sizes[1],
        figures(&big),
        sizes[0],
        figures(&small),
        ratio(big.appends_per_sec(), small.appends_per_sec()),
        rounds.max(2),
        if r >= GROUP_GOAL { "" } else { "  BELOW GOAL" }
    );
    Ok(ok)
}
