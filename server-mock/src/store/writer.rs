//! The writer thread: the only connection that writes. It drains every queued
//! job (up to [`MAX_BATCH`]) into one `BEGIN IMMEDIATE` transaction ("group
//! commit"), so durable throughput is not one fsync per message. Only after
//! `COMMIT` does it hand the batch's replies and fan-out, in commit order, to
//! the [`delivery`](super::delivery) task as one message, then goes straight
//! back to committing: queueing frames on connections is not its work.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::Receiver;

use sync_core::protocol::{ErrorCode, RequestId};
use tokio::sync::oneshot;

use super::batch::{Batch, Done, Fanout, MemberCache, WriteOp, sql};
use super::delivery::{Deliveries, Delivery};
use super::prefetch::Prefetch;
use super::rows::now_ms;
use super::sql::{Db, DbExt, Value, bulk_update};
use crate::connection::Outbox;
use crate::error::{Reject, StoreError};
use crate::params;

/// Most jobs in one transaction.
pub const MAX_BATCH: usize = 256;

/// How long a PostgreSQL writer under load waits to fill a batch.
const GATHER: std::time::Duration = std::time::Duration::from_micros(500);

/// Where the result of a job goes.
#[derive(Debug)]
pub enum ReplyTo {
    /// Straight into the requesting connection's queue as the reply to `re`.
    Conn { outbox: Outbox, re: RequestId },
    /// Back to an awaiting task.
    Chan(oneshot::Sender<Result<Done, Reject>>),
}

/// One queued write.
#[derive(Debug)]
pub struct Job {
    pub op: WriteOp,
    /// The requesting connection (its own `read` events skip it).
    pub origin: Option<u64>,
    pub reply: ReplyTo,
}

/// Messages to the writer thread.
#[derive(Debug)]
pub enum Cmd {
    Job(Job),
    /// Finish what is queued before this, then exit.
    Stop,
}

/// Whether other processes write to the same database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writers {
    /// This thread is the only writer (SQLite: one process per file).
    One,
    /// Other nodes write too (PostgreSQL): each batch first locks the change
    /// counter row and reads it, so batches of all nodes commit one after
    /// another, in counter order.
    Many,
}

/// Runs until [`Cmd::Stop`] or until every sender is dropped.
pub fn run<D: Db>(
    db: D,
    rx: Receiver<Cmd>,
    deliveries: Deliveries,
    mut counter: i64,
    features: crate::Features,
    writers: Writers,
) {
    let mut cache = MemberCache::default();
    let mut last_batch = 1;
    loop {
        let first = match rx.recv() {
            Ok(Cmd::Job(j)) => j,
            Ok(Cmd::Stop) | Err(_) => break,
        };
        let mut jobs = vec![first];
        let mut stop = false;
        // On PostgreSQL a batch costs round trips and an fsync whatever its
        // size, so under load (the last batch had several jobs) the writer
        // waits up to GATHER for as many jobs as the last batch had: the
        // clients answered by that batch are sending their next ones.
        let gather = (writers == Writers::Many && last_batch > 1)
            .then(|| std::time::Instant::now() + GATHER);
        while jobs.len() < MAX_BATCH {
            let next = match gather {
                Some(until) if jobs.len() < last_batch => {
                    let left = until.saturating_duration_since(std::time::Instant::now());
                    rx.recv_timeout(left).map_err(|_| ())
                }
                _ => rx.try_recv().map_err(|_| ()),
            };
            match next {
                Ok(Cmd::Job(j)) => jobs.push(j),
                Ok(Cmd::Stop) => {
                    stop = true;
                    break;
                }
                Err(()) => break,
            }
        }
        last_batch = jobs.len();
        let done = run_batch(&db, &mut counter, &mut cache, features, writers, jobs);
        // The task is gone only when the runtime is: nobody is left to answer.
        let _ = deliveries.send(done);
        if stop {
            break;
        }
    }
    tracing::debug!("writer thread stopped");
}

/// An op's result and the fan-out it causes once committed.
type Applied = (Result<Done, Reject>, Vec<Fanout>);

/// Runs one batch transaction; returns every job's delivery in job order.
fn run_batch(
    db: &dyn Db,
    counter: &mut i64,
    cache: &mut MemberCache,
    features: crate::Features,
    writers: Writers,
    jobs: Vec<Job>,
) -> Vec<Delivery> {
    let n = jobs.len();
    let mut replies = Vec::with_capacity(n);
    let mut ops_in = Vec::with_capacity(n);
    for j in jobs {
        replies.push(j.reply);
        ops_in.push((j.op, j.origin));
    }
    match transact(db, counter, cache, features, writers, ops_in) {
        Ok(results) => replies
            .into_iter()
            .zip(results)
            .map(|(reply, (result, events))| Delivery {
                reply,
                result,
                events,
            })
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, jobs = n, "batch transaction failed");
            let reject = Reject::store_failed(&e);
            // Nothing of the batch is stored; in-memory state may be ahead of
            // the database, so forget it.
            let _ = db.batch("ROLLBACK");
            cache.clear();
            if let Ok(v) = read_counter(db) {
                *counter = v;
            }
            replies
                .into_iter()
                .map(|reply| Delivery {
                    reply,
                    result: Err(reject.clone()),
                    events: Vec::new(),
                })
                .collect()
        }
    }
}

fn read_counter(db: &dyn Db) -> Result<i64, StoreError> {
    let v: String = db
        .query_row(
            "SELECT value FROM meta WHERE key = 'change_seq'",
            params![],
            |r| r.get(0),
        )
        .map_err(|e| StoreError::Sql("read change counter", e))?;
    parse_counter(&v)
}

/// The change counter as `meta` stores it (text).
fn parse_counter(v: &str) -> Result<i64, StoreError> {
    v.parse()
        .map_err(|_| StoreError::Corrupt(format!("change counter {v:?}")))
}

/// Loads the change counter at start-up.
pub fn load_counter(db: &dyn Db) -> Result<i64, StoreError> {
    read_counter(db)
}

fn transact(
    db: &dyn Db,
    counter: &mut i64,
    cache: &mut MemberCache,
    features: crate::Features,
    writers: Writers,
    ops_in: Vec<(WriteOp, Option<u64>)>,
) -> Result<Vec<Applied>, StoreError> {
    let s = |step| move |e| StoreError::Sql(step, e);
    if writers == Writers::Many {
        // The row lock is held until COMMIT: another node's batch waits
        // here, then reads (READ COMMITTED) everything this one wrote. So
        // seqs read from `convs` are current, `client_id` dedup sees every
        // node's appends, and counter values commit in increasing order
        // (a sync token never passes an uncommitted change).
        let v = db
            .begin_write_and_read("SELECT value FROM meta WHERE key = 'change_seq' FOR UPDATE")
            .map_err(s("begin batch and lock the change counter"))?;
        let now = parse_counter(&v)?;
        if now != *counter {
            // Another node wrote since our last batch: its membership
            // changes are not in the cache, so every list is checked
            // against its version before use.
            cache.others_wrote();
            *counter = now;
        }
    } else {
        db.begin_write().map_err(s("begin batch"))?;
    }
    let mut b = Batch {
        counter: *counter,
        touched: HashSet::new(),
        events: Vec::new(),
        members: cache,
        origin: None,
        now: now_ms(),
        features,
        prefetch: None,
        mentions: Default::default(),
    };
    // The leading plain texts: checked against rows read here in one
    // query, and written without savepoints (`store::prefetch`).
    let keys: Vec<_> = ops_in.iter().map_while(|(op, _)| op.text_key()).collect();
    if writers == Writers::Many && !keys.is_empty() {
        b.prefetch = Some(Prefetch::load(db, &keys).map_err(s("prefetch texts"))?);
    }
    let mut out = Vec::with_capacity(ops_in.len());
    let n = ops_in.len();
    let fast_n = if b.prefetch.is_some() { keys.len() } else { 0 };
    let mut ops = ops_in.into_iter().enumerate().peekable();
    for (_, (op, origin)) in ops.by_ref().take(fast_n) {
        b.origin = origin;
        let res = op.apply(db, &mut b);
        // A text checks every rule before writing, so a refused one wrote
        // nothing; a database error leaves no savepoint to return to.
        if let Err(r) = &res
            && r.code == ErrorCode::Internal
        {
            return Err(StoreError::Corrupt(format!(
                "a prefetched text failed: {}",
                r.message
            )));
        }
        out.push((res, std::mem::take(&mut b.events)));
    }
    let mut counters = HashMap::new();
    if let Some(p) = b.prefetch.take() {
        // The fast path moves its senders' cursors, which count mention rows.
        b.mentions
            .write_outside_ops(db)
            .map_err(s("write mention rows"))?;
        counters = p
            .flush(db, ops.peek().is_none())
            .map_err(s("write prefetched texts"))?;
    }
    // Each other op runs inside the savepoint `op`, set in the same round
    // trip that releases the previous op's (a failed op's `ROLLBACK TO`
    // keeps the savepoint for the next op): one round trip per op, not two.
    if ops.peek().is_some() {
        db.batch("SAVEPOINT op").map_err(s("savepoint"))?;
    }
    for (i, (op, origin)) in ops {
        b.origin = origin;
        let last = i + 1 == n;
        // Anything but a plain text may read mention rows: the batch's
        // collected ones are written first (inside this op's savepoint).
        let res = match op.text_key() {
            None => b.mentions.write(db).map_err(sql("write mention rows")),
            Some(_) => Ok(()),
        }
        .and_then(|()| op.apply(db, &mut b));
        if res.is_ok() {
            let next = if last {
                "RELEASE op"
            } else {
                "RELEASE op; SAVEPOINT op"
            };
            db.batch(next).map_err(s("release savepoint"))?;
            b.mentions.released();
        } else {
            let next = if last {
                "ROLLBACK TO op; RELEASE op"
            } else {
                "ROLLBACK TO op"
            };
            db.batch(next).map_err(s("rollback savepoint"))?;
            b.mentions.rolled_back();
            b.events.clear();
            // The cache may hold this op's undone membership changes.
            b.members.clear();
        }
        out.push((res, std::mem::take(&mut b.events)));
    }
    // One bump per touched conversation per batch, not per message, and on
    // the conversation row, not on its members: every active member's
    // summary changed, and sync reads the later of the member's and the
    // conversation's change value (read diffusion: an append's cost does not
    // grow with the group).
    b.mentions
        .write_outside_ops(db)
        .map_err(s("write mention rows"))?;
    let mut touched: Vec<i64> = b.touched.drain().collect();
    touched.sort_unstable();
    let mut bumps: Vec<[Value; 2]> = Vec::new();
    // The fast path's conversations: counters and change position at once.
    let mut full: Vec<[Value; 5]> = Vec::new();
    for conv in touched {
        b.counter += 1;
        match counters.get(&conv) {
            Some(c) => full.push([
                Value::Int(conv),
                Value::Int(b.counter),
                Value::Int(c.last_seq as i64),
                Value::Int(c.last_text_seq as i64),
                Value::Int(c.text_count as i64),
            ]),
            None => bumps.push([Value::Int(conv), Value::Int(b.counter)]),
        }
    }
    bulk_update(
        db,
        "UPDATE convs SET change_seq = v.column2",
        "convs.id = v.column1",
        &bumps,
    )
    .map_err(s("bump conversations"))?;
    bulk_update(
        db,
        "UPDATE convs SET change_seq = v.column2, last_seq = v.column3,
            last_text_seq = v.column4, text_count = v.column5",
        "convs.id = v.column1",
        &full,
    )
    .map_err(s("bump conversations"))?;
    db.execute_later(
        "UPDATE meta SET value = ?1 WHERE key = 'change_seq'",
        params![b.counter.to_string()],
    )
    .map_err(s("store change counter"))?;
    let new_counter = b.counter;
    db.batch("COMMIT").map_err(s("commit batch"))?;
    *counter = new_counter;
    Ok(out)
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
