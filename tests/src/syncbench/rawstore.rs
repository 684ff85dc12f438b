//! The baseline of the catch-up bench: the same rows bulk-inserted with plain rusqlite into a
//! database with sync-core's schema and pragmas, in one transaction, in the same process.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use rusqlite::{Connection, params};
use sync_core::protocol::{ConvId, Message};

/// sync-core's schema, so the baseline writes the same tables and indexes.
const SCHEMA: &str = include_str!("../../../sync-core/src/store/migrations/0001_init.sql");

/// Inserts `rows` into a fresh database at `path`; returns the time the transaction took.
pub fn bulk_insert(
    path: &Path,
    conv: &ConvId,
    rows: &[Message],
    fts: bool,
) -> anyhow::Result<Duration> {
    let mut conn = Connection::open(path).context("open baseline db")?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(SCHEMA).context("baseline schema")?;
    let start = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut msg = tx.prepare_cached(
            "INSERT OR IGNORE INTO messages (conv, seq, sender, ts, kind, body, target, title, members,
                                             user_name, client_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        let mut idx =
            tx.prepare_cached("INSERT INTO messages_fts (rowid, body) VALUES (?1, ?2)")?;
        for m in rows {
            let members = m.members.as_ref().map(|v| v.join(","));
            msg.execute(params![
                conv.as_str(),
                m.seq as i64,
                m.sender,
                m.ts,
                m.kind.as_str(),
                m.body,
                m.target.map(|t| t as i64),
                m.title,
                members,
                m.user,
                m.client_id
            ])?;
            if let (true, Some(body)) = (fts, &m.body) {
                idx.execute(params![tx.last_insert_rowid(), body])?;
            }
        }
    }
    tx.commit()?;
    Ok(start.elapsed())
}

/// Replaces the FTS table of a sync-core store with a plain table of the same name and
/// columns, so inserts keep working but nothing is indexed. sync-core has no switch to turn
/// FTS off; this measures what the index costs.
pub fn disable_fts(store: &Path) -> anyhow::Result<()> {
    let conn = Connection::open(store).context("open store")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch("DROP TABLE messages_fts; CREATE TABLE messages_fts (body TEXT);")
        .context("swap the FTS table")?;
    Ok(())
}

/// The same rows through sync-core's own store, without the network and the engine: pages
/// of 500 entries, each with the conversation row, as the engine writes them. Returns the
/// time the writes took (FTS on, as in a real store).
pub fn store_only(path: &Path, conv: &ConvId, rows: &[Message]) -> anyhow::Result<Duration> {
    use sync_core::protocol::{ConvKind, Summary};
    use sync_core::store::{Batch, ConvRecord, SqliteStore, Store, Write};
    let mut store = SqliteStore::open(path).context("open store")?;
    let mut rec = ConvRecord::from_summary(&Summary {
        member_count: 2,
        last_seq: rows.last().map_or(0, |m| m.seq),
        ..Summary::new(conv.clone(), ConvKind::Direct, "catch-up")
    });
    let start = Instant::now();
    for page in rows.chunks(500) {
        for m in page {
            rec.held.insert(m.seq);
        }
        store.apply(&Batch {
            writes: vec![
                Write::Messages(conv.clone(), page.to_vec()),
                Write::Conv(rec.clone()),
            ],
            durable: false,
        })?;
    }
    Ok(start.elapsed())
}
