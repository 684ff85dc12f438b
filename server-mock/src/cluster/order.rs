//! The order task: one per node. It publishes this node's fan-out, and
//! delivers local and remote entry pushes of each tracked conversation in
//! seq order with none skipped, reading from the database whatever the bus
//! did not bring in time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sync_core::protocol::ServerFrame;
use tokio::sync::mpsc;

use super::sequence::Sequencer;
use super::{Cluster, Inbound, decode, lists, read_heads};
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

struct Order {
    cluster: Arc<Cluster>,
    registry: Arc<Registry>,
    features: crate::Features,
    seq: Sequencer,
    /// Fan-outs due for delivery (reused).
    out: Vec<Fanout>,
    /// Large groups' lists sent whole, and those received.
    sent: lists::Sent,
    known: lists::Known,
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
        seq: Sequencer::default(),
        out: Vec::new(),
        sent: lists::Sent::default(),
        known: lists::Known::default(),
    };
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = o.seq.waiting_since().map(|at| at + GAP_WAIT);
        tokio::select! {
            m = rx.recv() => match m {
                Some(m) => o.handle(m).await,
                None => break,
            },
            _ = sweep.tick() => o.sweep(false).await,
            _ = sleep_until(deadline) => o.fill_overdue().await,
        }
        o.flush();
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
                    let whole = self.sent.whole(&f, Instant::now());
                    self.cluster.publish(&f, whole);
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
                Some((h, Some(mut f))) => {
                    match h.v {
                        // A large group's list by its id: one seen whole,
                        // else the push counts as lost (read from the
                        // database after GAP_WAIT).
                        Some(id) if f.users.is_empty() => match self.known.get(id) {
                            Some(users) => f.users = users,
                            None => return,
                        },
                        Some(_) => self.known.learn(&f.users),
                        None => {}
                    }
                    self.deliver(f);
                }
                _ => tracing::warn!(subject = %msg.subject, "undecodable cluster message"),
            },
            Inbound::Track(conv) => self.seq.follow(conv),
            Inbound::Untrack(conv) => self.seq.unfollow(conv, &mut self.out),
            Inbound::Settle(conv) => self.seq.settle(conv, &mut self.out),
            Inbound::Start { conv, start, head } => {
                if self
                    .seq
                    .start(conv, start, &mut self.out)
                    .is_some_and(|next| head >= next)
                {
                    self.fill(conv, head).await;
                }
            }
            Inbound::Sweep { force } => self.sweep(force).await,
        }
    }

    /// Delivers `f` here, in order when it is an entry push of a tracked
    /// conversation. A `conversation` event holds its conversation's
    /// pushes until the refresh of the user's interest it starts is over,
    /// and is itself held until the node listens to the conversation.
    fn deliver(&mut self, f: Fanout) {
        if let Route::User {
            joined: joined @ Some((conv, _)),
        } = f.route
        {
            for user in f.users.iter() {
                self.seq.pend(conv);
                let cluster = self.cluster.clone();
                let user = user.clone();
                tokio::spawn(async move { cluster.refresh(&user, joined).await });
            }
        }
        self.seq.push(f, &mut self.out);
    }

    /// Sends what is due.
    fn flush(&mut self) {
        for f in self.out.drain(..) {
            self.registry.send_to_members(&f.users, &f.frame, f.except);
        }
    }

    /// Reads from the database the seqs that held pushes waited for too long.
    async fn fill_overdue(&mut self) {
        for (conv, upto) in self.seq.overdue(Instant::now() - GAP_WAIT) {
            self.fill(conv, upto).await;
        }
    }

    /// Checks tracked conversations' heads in the database; fills those that
    /// stayed behind since the last sweep (or at once when `force`).
    async fn sweep(&mut self, force: bool) {
        let ids = self.seq.started();
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
            if self.seq.sweep(conv, last, force) {
                self.fill(conv, last).await;
            }
        }
    }

    /// Delivers `next..=upto` of `conv` from the database, then what was
    /// held behind it (nothing when `next` is already past `upto`).
    async fn fill(&mut self, conv: i64, upto: u64) {
        while let Some(next) = self.seq.next(conv).filter(|&n| n <= upto) {
            let to = upto.min(next + FILL_CHUNK - 1);
            let features = self.features;
            let read = self
                .cluster
                .store
                .read(move |db| read_range(db, conv, next, to, features))
                .await;
            let frames = match read {
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
            self.seq.filled(conv, to, frames, &mut self.out);
        }
    }
}

/// The `message` pushes of `conv`'s entries `from..=to`, to its current
/// members.
fn read_range(
    db: &dyn crate::store::sql::Db,
    conv: i64,
    from: u64,
    to: u64,
    features: crate::Features,
) -> Result<Vec<Fanout>, Reject> {
    let users = Arc::new(Members::new(rows::members(db, conv)?));
    let sql_text = format!(
        "SELECT {ENTRY_COLS} FROM entries WHERE conv = ?1 AND seq >= ?2 AND seq <= ?3 ORDER BY seq"
    );
    let frames = db
        .query_map(&sql_text, params![conv, from, to], |r| {
            let m = rows::message_at(r, 0, features)?;
            let seq = Some(m.seq);
            let frame = ServerFrame::Message {
                conv: conv_id(conv),
                message: m,
            };
            Ok(Fanout {
                users: users.clone(),
                frame: frame.to_json().into(),
                except: None,
                route: Route::Conv { conv, seq },
            })
        })
        .map_err(sql("read missed entries"))?;
    Ok(frames)
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
