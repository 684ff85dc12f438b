//! Scenario 4: a server-mock killed and restarted on the same port and
//! database while thousands of authenticated clients are connected. Each
//! client reconnects with sync-core's policy (full jitter under a ceiling of
//! 40 % of the outage so far, 0.5–8 s; ARCHITECTURE.md); the scenario reports
//! how long after the restart every client is authenticated again, and the
//! server's peak CPU while they come back.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use tokio::task::JoinSet;

use super::conn::Conn;
use super::target::Spawned;
use super::{DEVICE, RunNames};

/// Connections being opened at once for the initial set-up.
const PARALLEL: usize = 64;

/// What one reconnect run measured.
#[derive(Debug, Clone, Copy)]
pub struct ReconnectResult {
    /// Clients connected before the restart.
    pub clients: usize,
    /// Clients authenticated again before the deadline.
    pub back: usize,
    /// From the restarted server's first `listening` line to the last client back.
    pub all_back_after: Duration,
    /// Half of the clients were back after this.
    pub half_back_after: Duration,
    /// Highest CPU use of the server over 100 ms windows, in % of one core.
    pub peak_cpu_percent: f64,
}

/// The reconnect delay sync-core's engine draws after `outage` offline.
fn delay(outage: Duration, rng: &mut impl Rng) -> Duration {
    let ceiling = (outage.as_millis() as u64 * 2 / 5).clamp(500, 8_000);
    Duration::from_millis(rng.random_range(100..=ceiling))
}

/// CPU ticks (user + system) of `pid` so far.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Runs the scenario with `count` clients and an outage of `outage`.
pub async fn run_reconnect(
    bin: &Path,
    dir: &Path,
    names: &RunNames,
    count: usize,
    outage: Duration,
) -> Result<ReconnectResult> {
    let server = Spawned::start(bin, dir).await?;
    let url = server.url().to_owned();
    let listen = url
        .strip_prefix("ws://")
        .and_then(|r| r.strip_suffix("/v1"))
        .context("server URL")?
        .to_owned();
    let mut first = Conn::connect(&url).await.context("reconnect setup")?;
    let token = first.register(&names.user("r", 0), DEVICE).await?;
    drop(first);

    let (back_tx, mut back_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let mut clients = JoinSet::new();
    let mut opening = JoinSet::new();
    let mut started = 0;
    let mut held = 0;
    while held < count {
        while opening.len() < PARALLEL && started < count {
            let (url, token) = (url.clone(), token.clone());
            opening.spawn(async move {
                let mut conn = Conn::connect(&url).await?;
                conn.auth(&token, DEVICE).await?;
                anyhow::Ok(conn)
            });
            started += 1;
        }
        let Some(done) = opening.join_next().await else {
            break;
        };
        let mut conn = done.context("connect task panicked")??;
        held += 1;
        let (url, token, back_tx) = (url.clone(), token.clone(), back_tx.clone());
        clients.spawn(async move {
            // Connected until the server goes away.
            while conn.recv().await.is_ok() {}
            let down = Instant::now();
            let mut rng = rand::rngs::StdRng::from_os_rng();
            loop {
                tokio::time::sleep(delay(down.elapsed(), &mut rng)).await;
                let Ok(mut c) = Conn::connect(&url).await else {
                    continue;
                };
                if c.auth(&token, DEVICE).await.is_ok() {
                    let _ = back_tx.send(Instant::now());
                    // Stay connected until the scenario ends.
                    std::future::pending::<()>().await;
                }
            }
        });
    }
    drop(back_tx);
    // Kill the server (no goodbye) and bring it back on the same port and database.
    drop(server);
    tokio::time::sleep(outage).await;
    let server = Spawned::start_at(bin, dir, &listen).await?;
    let restarted = Instant::now();
    let pid = server.pid();
    let peak = std::sync::Arc::new(std::sync::Mutex::new(0.0f64));
    let peak_w = peak.clone();
    let sampler = tokio::spawn(async move {
        let tick_ns = 1e9 / 100.0; // Linux reports CPU time in 1/100 s ticks
        let mut last = (Instant::now(), cpu_ticks(pid).unwrap_or(0));
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let Some(now_ticks) = cpu_ticks(pid) else {
                return;
            };
            let now = Instant::now();
            let busy_ns = now_ticks.saturating_sub(last.1) as f64 * tick_ns;
            let pct = 100.0 * busy_ns / now.duration_since(last.0).as_nanos() as f64;
            if let Ok(mut p) = peak_w.lock() {
                *p = p.max(pct);
            }
            last = (now, now_ticks);
        }
    });
    let mut times = Vec::with_capacity(count);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while times.len() < held {
        match tokio::time::timeout_at(deadline, back_rx.recv()).await {
            Ok(Some(t)) => times.push(t.saturating_duration_since(restarted)),
            _ => break,
        }
    }
    sampler.abort();
    let peak = peak.lock().map_or(0.0, |p| *p);
    clients.abort_all();
    drop(server);
    times.sort();
    Ok(ReconnectResult {
        clients: held,
        back: times.len(),
        all_back_after: times.last().copied().unwrap_or_default(),
        half_back_after: times.get(times.len() / 2).copied().unwrap_or_default(),
        peak_cpu_percent: peak,
    })
}
