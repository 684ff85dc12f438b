//! The load generator's engine: scenarios that drive any protocol server and
//! the in-process baselines they are compared with.
//!
//! - `conn`: one protocol connection (hello, request/reply, register, auth).
//! - `fanout`: scenario 1, one sender into a group, pushes/s and latency.
//! - `appends`: scenario 2, many concurrent senders, acked appends/s.
//! - `group_size`: scenario 6, appends into a 10- vs a 2,000-member group.
//! - `idle`: scenario 3, many idle authenticated connections, server RSS.
//! - `hot`: one group, many senders (over several nodes), appends/s.
//! - `setups`: the issue-13 figures on SQLite, PostgreSQL and two nodes.
//! - `broadcast_baseline`: a storage-free broadcast server for scenario 1.
//! - `sqlite_baseline`: a bare rusqlite insert loop for scenario 2.
//! - `target`: the server under test (in-process server-mock, spawned binary).
//! - `report`: number formatting for the one-line-per-figure output.
//!
//! The bin `loadgen` and the smoke test both include this folder by path, so
//! the library crate (`tests/src/lib.rs`) does not depend on it.

pub mod appends;
pub mod attack;
pub mod broadcast_baseline;
pub mod conn;
pub mod fanout;
pub mod group_size;
pub mod hot;
pub mod idle;
pub mod reconnect;
pub mod report;
pub mod setups;
pub mod sqlite_baseline;
pub mod target;

use anyhow::{Context, Result};
use rand::Rng;
use tokio::task::JoinSet;

use conn::Conn;

/// Names for one run: every user name carries a random run tag so a
/// long-lived server never sees the same name twice.
#[derive(Debug, Clone)]
pub struct RunNames {
    tag: String,
}

impl RunNames {
    /// A fresh random tag (6 lowercase letters and digits).
    pub fn random() -> RunNames {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        let tag = (0..6)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect();
        RunNames { tag }
    }

    /// The run tag.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The names of round `round` of a repeated scenario: the tag plus the
    /// round number, so every round registers fresh users.
    pub fn round(&self, round: usize) -> RunNames {
        RunNames {
            tag: format!("{}{round}", self.tag),
        }
    }

    /// User name `lg<tag><role><index>`: lowercase, starts with a letter,
    /// about 2 + 7 + 1 + 5 chars, well inside the 32-char limit.
    pub fn user(&self, role: &str, index: usize) -> String {
        format!("lg{}{}{:05}", self.tag, role, index)
    }
}

/// Device id used by every load connection.
pub const DEVICE: &str = "loadgen";

/// Registers `users` on fresh connections, at most `parallel` at a time, and
/// returns the authenticated connections in the order of `users`.
pub async fn register_all(url: &str, users: &[String], parallel: usize) -> Result<Vec<Conn>> {
    register_spread(&[url.to_owned()], users, parallel).await
}

/// [`register_all`] over the nodes of one service: user i connects to
/// `urls[i % urls.len()]`.
pub async fn register_spread(
    urls: &[String],
    users: &[String],
    parallel: usize,
) -> Result<Vec<Conn>> {
    anyhow::ensure!(!urls.is_empty(), "no server URL to register on");
    let mut slots: Vec<Option<Conn>> = (0..users.len()).map(|_| None).collect();
    let mut set = JoinSet::new();
    let mut next = 0;
    loop {
        while set.len() < parallel.max(1) && next < users.len() {
            let url = urls[next % urls.len()].clone();
            let user = users[next].clone();
            let index = next;
            set.spawn(async move {
                let mut conn = Conn::connect(&url).await?;
                // A busy server (password checks queued) says rate_limited:
                // wait as told and ask again, as a real client would.
                let mut tries = 0;
                loop {
                    match conn.register(&user, DEVICE).await {
                        Ok(_) => break,
                        Err(e) if tries < 200 => {
                            let wait = e
                                .downcast_ref::<conn::ReplyError>()
                                .filter(|r| r.code == sync_core::protocol::ErrorCode::RateLimited)
                                .and_then(|r| r.retry_after_ms);
                            let Some(ms) = wait else {
                                return Err(e.context(format!("registering {user}")));
                            };
                            tries += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                        }
                        Err(e) => return Err(e.context(format!("registering {user}"))),
                    }
                }
                anyhow::Ok((index, conn))
            });
            next += 1;
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        let (index, conn) = done.context("registration task panicked")??;
        slots[index] = Some(conn);
    }
    slots
        .into_iter()
        .map(|c| c.context("a registration never finished"))
        .collect()
}
