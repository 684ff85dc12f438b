//! The order task: one per node. It publishes this node's fan-out, and
//! delivers local and remote entry pushes of each tracked conversation in
//! seq order with none skipped, reading from the database whatever the bus
//! did not bring in time.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sync_core::protocol::ServerFrame;
use tokio::sync::mpsc;

use super::{Cluster, Inbound, decode, read_heads};
use crate::error::Reject;
use crate::params;
use crate::registry::Registry;
use crate::store::batch::{Fanout, Route, sql};
use crate::store::members::Members;
use crate::store::rows::{self, ENTRY_COLS, conv_id};
use crate::store::sql::DbExt;

/// How long a push waits for the seqs before it before they are read from
/// the database.
pub const GAP_WAIT: Duration = Duration::from_millis(200);

/// How often tracked conversations are checked for entries that never came.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Most entries read from the database at once.
const FILL_CHUNK: u64 = 500;

/// One tracked conversation.
#[derive(Debug, Default)]
struct Track {
    /// The next seq to deliver; `None` until its start is known.
    next: Option<u64>,
    /// Pushes that came ahead of `next`.
    held: BTreeMap<u64, Fanout>,
    /// Since when `held` has waited for `next`.
    waiting_since: Option<Instant>,
    /// `next` at the previous sweep, if the database was ahead of it then.
    stalled_at: Option<u64>,
}

struct Order {
    cluster: Arc<Cluster>,
    registry: Arc<Registry>,
    features: crate::Features,
    tracks: HashMap<i64, Track>,
    /// The last seq delivered straight (untracked) per conversation, so a
    /// track that starts later does not push it again.
    direct: HashMap<i64, u64>,
}

pub async fn run(
    cluster: Arc<Cluster>,
    registry: Arc<Registry>,
    features: crate::Features,
    mut rx: mpsc::UnboundedReceiver<Inbound>,
) {
    let mut o = Order {
        cluster,
        registry,
        features,
        tracks: HashMap::new(),
        direct: HashMap::new(),
    };
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = o.next_deadline();
        tokio::select! {
            m = rx.recv() => match m {
                Some(m) => o.handle(m).await,
                None => break,
            },
            _ = sweep.tick() => o.sweep(false).await,
            _ = sleep_until(deadline) => o.fill_overdue().await,
        }
    }
    tracing::debug!("cluster order task stopped");
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl Order {
    async fn handle(&mut self, m: Inbound) {
        match m {
            Inbound::Local(fanouts) => {
                for f in fanouts {
                    self.cluster.publish(&f);
                    self.deliver(f);
                }
            }
            Inbound::Remote(msg) => match decode(&msg.payload) {
                Some((h, _)) if h.revoke => {
                    let user = h.u.into_iter().next().unwrap_or_default();
                    tokio::spawn(close_revoked(
                        self.cluster.store.clone(),
                        self.registry.clone(),
                        user,
                    ));
                }
                Some((_, Some(f))) => self.deliver(f),
                _ => tracing::warn!(subject = %msg.subject, "undecodable cluster message"),
            },
            Inbound::Track(conv) => {
                self.tracks.entry(conv).or_default();
            }
            Inbound::Untrack(conv) => {
                self.tracks.remove(&conv);
            }
            Inbound::Start { conv, start, head } => {
                let direct = self.direct.remove(&conv);
                let Some(t) = self.tracks.get_mut(&conv) else {
                    return;
                };
                if t.next.is_some() {
                    return;
                }
                let next = start.max(direct.map_or(0, |d| d + 1));
                t.held.retain(|&seq, _| seq >= next);
                t.next = Some(next);
                self.drain(conv);
                if head >= next {
                    self.fill(conv, head).await;
                }
            }
            Inbound::Sweep { force } => self.sweep(force).await,
        }
    }

    /// Delivers `f` here, in order when it is an entry push of a tracked
    /// conversation.
    fn deliver(&mut self, f: Fanout) {
        if let Route::User {
            joined: joined @ Some(_),
        } = f.route
        {
            for user in f.users.iter() {
                let cluster = self.cluster.clone();
                let user = user.clone();
                tokio::spawn(async move { cluster.refresh(&user, joined).await });
            }
        }
        let Route::Conv {
            conv,
            seq: Some(seq),
        } = f.route
        else {
            return self.send(&f);
        };
        let Some(t) = self.tracks.get_mut(&conv) else {
            if self.direct.len() >= 10_000 {
                self.direct.clear();
            }
            let d = self.direct.entry(conv).or_default();
            *d = (*d).max(seq);
            return self.send(&f);
        };
        match t.next {
            Some(next) if seq < next => {}
            _ => {
                t.held.insert(seq, f);
                self.drain(conv);
            }
        }
    }

    fn send(&self, f: &Fanout) {
        self.registry.send_to_members(&f.users, &f.frame, f.except);
    }

    /// Delivers the held pushes that are next in line.
    fn drain(&mut self, conv: i64) {
        let Some(t) = self.tracks.get_mut(&conv) else {
            return;
        };
        let Some(mut next) = t.next else {
            return;
        };
        while let Some(entry) = t.held.first_entry() {
            if *entry.key() > next {
                break;
            }
            let seq = *entry.key();
            let f = entry.remove();
            if seq == next {
                self.registry.send_to_members(&f.users, &f.frame, f.except);
                next += 1;
            }
        }
        t.next = Some(next);
        t.waiting_since = if t.held.is_empty() {
            None
        } else {
            t.waiting_since.or(Some(Instant::now()))
        };
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.tracks
            .values()
            .filter_map(|t| t.waiting_since)
            .min()
            .map(|at| at + GAP_WAIT)
    }

    /// Reads from the database the seqs that held pushes waited for too long.
    async fn fill_overdue(&mut self) {
        let now = Instant::now();
        let overdue: Vec<(i64, u64)> = self
            .tracks
            .iter()
            .filter(|(_, t)| t.waiting_since.is_some_and(|at| now >= at + GAP_WAIT))
            .filter_map(|(&conv, t)| Some((conv, *t.held.keys().next()? - 1)))
            .collect();
        for (conv, upto) in overdue {
            self.fill(conv, upto).await;
        }
    }

    /// Checks tracked conversations' heads in the database; fills those that
    /// stayed behind since the last sweep (or at once when `force`).
    async fn sweep(&mut self, force: bool) {
        let ids: Vec<i64> = self
            .tracks
            .iter()
            .filter(|(_, t)| t.next.is_some())
            .map(|(&c, _)| c)
            .collect();
        if ids.is_empty() {
            return;
        }
        let heads = match self
            .cluster
            .store
            .read(move |db| read_heads(db, &ids))
            .await
        {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e.message, "cluster sweep failed");
                return;
            }
        };
        for (conv, last) in heads {
            let Some(t) = self.tracks.get_mut(&conv) else {
                continue;
            };
            let Some(next) = t.next else { continue };
            if last < next {
                t.stalled_at = None;
                continue;
            }
            if force || t.stalled_at == Some(next) {
                t.stalled_at = None;
                self.fill(conv, last).await;
            } else {
                t.stalled_at = Some(next);
            }
        }
    }

    /// Delivers `next..=upto` of `conv` from the database, then what was
    /// held behind it (nothing when `next` is already past `upto`).
    async fn fill(&mut self, conv: i64, upto: u64) {
        loop {
            let Some(next) = self.tracks.get(&conv).and_then(|t| t.next) else {
                return;
            };
            if next > upto {
                break;
            }
            let to = upto.min(next + FILL_CHUNK - 1);
            let features = self.features;
            let read = self
                .cluster
                .store
                .read(move |db| read_range(db, conv, next, to, features))
                .await;
            let (members, frames) = match read {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(conv, error = %e.message, "cluster gap read failed");
                    return;
                }
            };
            tracing::debug!(
                conv,
                from = next,
                to,
                "cluster: pushes read from the database"
            );
            let Some(t) = self.tracks.get_mut(&conv) else {
                return;
            };
            // Pushes that came while reading are in `held`, and `next`
            // has not moved: the read covers them.
            let users = Arc::new(Members::new(members));
            for (seq, frame) in frames {
                t.held.remove(&seq);
                self.registry.send_to_members(&users, &frame, None);
            }
            t.next = Some(to + 1);
            self.drain(conv);
        }
    }
}

/// The current members of `conv` and the `message` pushes of its entries
/// `from..=to`.
type Range = (
    Vec<String>,
    Vec<(u64, tokio_tungstenite::tungstenite::Utf8Bytes)>,
);

fn read_range(
    db: &dyn crate::store::sql::Db,
    conv: i64,
    from: u64,
    to: u64,
    features: crate::Features,
) -> Result<Range, Reject> {
    let members = rows::members(db, conv)?;
    let sql_text = format!(
        "SELECT {ENTRY_COLS} FROM entries WHERE conv = ?1 AND seq >= ?2 AND seq <= ?3 ORDER BY seq"
    );
    let frames = db
        .query_map(&sql_text, params![conv, from, to], |r| {
            let m = rows::message_at(r, 0, features)?;
            let seq = m.seq;
            let frame = ServerFrame::Message {
                conv: conv_id(conv),
                message: m,
            };
            Ok((seq, frame.to_json().into()))
        })
        .map_err(sql("read missed entries"))?;
    Ok((members, frames))
}

/// Closes `user`'s connections on this node whose token is no longer valid.
async fn close_revoked(store: crate::store::Store, registry: Arc<Registry>, user: String) {
    let peers: Vec<_> = registry
        .snapshot()
        .into_iter()
        .filter(|(u, _, _)| *u == user)
        .collect();
    for (user, conn) in crate::server::stale_sessions(&store, peers).await {
        registry.close_conn(&user, conn, crate::connection::close::REVOKED);
    }
}
