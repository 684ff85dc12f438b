//! Scenario 3: the server holding many idle authenticated connections; its
//! RSS is read from `/proc` before and after.
//!
//! One user registers once; every connection then `auth`s with that same
//! token and device (a token may serve many connections), so the scenario
//! costs one password hash instead of thousands.

use std::time::Duration;

use anyhow::{Context, Result};
use tokio::task::JoinSet;

use super::conn::Conn;
use super::target::rss_kib;
use super::{DEVICE, RunNames};

/// Connections being opened at once (keeps the listen backlog from overflowing).
const PARALLEL: usize = 64;

/// What one idle run measured.
#[derive(Debug, Clone, Copy)]
pub struct IdleResult {
    /// Connections that completed `auth` and were held open.
    pub connections: usize,
    /// Server RSS after startup and the one login, before the connections.
    pub rss_before_kib: u64,
    /// Server RSS with every connection open and idle.
    pub rss_after_kib: u64,
}

impl IdleResult {
    /// Extra RSS per connection in KiB.
    pub fn kib_per_conn(&self) -> f64 {
        self.rss_after_kib.saturating_sub(self.rss_before_kib) as f64
            / self.connections.max(1) as f64
    }
}

/// Opens `count` authenticated connections to `url` and reads `pid`'s RSS
/// before and after. The connections are closed when this returns.
pub async fn run_idle(url: &str, names: &RunNames, count: usize, pid: u32) -> Result<IdleResult> {
    let user = names.user("i", 0);
    let mut first = Conn::connect(url).await.context("idle setup: connecting")?;
    let token = first
        .register(&user, DEVICE)
        .await
        .context("idle setup: registering")?;
    drop(first);
    // Let the server finish with the registration before the first reading.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before_kib = rss_kib(pid)?;

    let mut held = Vec::with_capacity(count);
    let mut set = JoinSet::new();
    let mut started = 0;
    while held.len() < count {
        while set.len() < PARALLEL && started < count {
            let (url, token) = (url.to_owned(), token.clone());
            set.spawn(async move {
                let mut conn = Conn::connect(&url).await?;
                conn.auth(&token, DEVICE).await?;
                anyhow::Ok(conn)
            });
            started += 1;
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        let conn = done
            .context("connection task panicked")?
            .with_context(|| format!("idle: opening connection {}", held.len() + 1))?;
        held.push(conn);
    }
    // Give the server a moment to settle its per-connection state.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after_kib = rss_kib(pid)?;
    Ok(IdleResult {
        connections: held.len(),
        rss_before_kib,
        rss_after_kib,
    })
}
