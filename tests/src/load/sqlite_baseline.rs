//! Baseline for scenario 2: a bare rusqlite insert loop on server-mock's own
//! schema and pragmas (`server_mock::store::{MIGRATIONS, PRAGMAS}`), inserting
//! the `entries` rows scenario 2 makes, with no protocol, no sockets and no
//! other bookkeeping.
//!
//! Two variants, labelled in the output:
//! - per-row: every insert is its own transaction (one WAL fsync per row),
//!   what a naive durable server does. This is the stated baseline.
//! - batched: one transaction per round of `senders` rows (one row from each
//!   concurrent sender), the best a group-committing server could do.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rusqlite::{Connection, params};

/// How rows are grouped into transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// One transaction (and fsync) per row.
    PerRow,
    /// One transaction per round of one row per sender.
    PerRound,
}

/// What one baseline run measured.
#[derive(Debug, Clone, Copy)]
pub struct InsertResult {
    /// Rows inserted and committed (read back with `count(*)`).
    pub rows: u64,
    /// Time of the insert loop, commits included.
    pub elapsed: Duration,
}

impl InsertResult {
    /// Committed rows per second.
    pub fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Creates a fresh database at `path` with `migrations` and `pragmas`, one
/// conversation per sender, then inserts `senders × per_sender` text entries
/// round-robin (as concurrent senders would) and counts them back.
pub fn run_inserts(
    path: &Path,
    migrations: &[&str],
    pragmas: &str,
    senders: usize,
    per_sender: usize,
    body_bytes: usize,
    commit: Commit,
) -> Result<InsertResult> {
    let conn = Connection::open(path).context("baseline db: open")?;
    conn.execute_batch(pragmas)
        .context("baseline db: pragmas")?;
    for sql in migrations {
        conn.execute_batch(sql).context("baseline db: migration")?;
    }
    for s in 0..senders {
        conn.execute(
            "INSERT INTO convs (id, kind, title, member_count, last_seq, last_text_seq, text_count)
             VALUES (?1, 'group', 'baseline', 1, 1, 0, 0)",
            params![s as i64 + 1],
        )
        .context("baseline db: creating a conversation")?;
    }
    let insert_sql = "INSERT INTO entries (conv, seq, sender, ts, kind, body, client_id, text_n)
                      VALUES (?1, ?2, ?3, ?4, 'text', ?5, ?6, ?7)";
    let names: Vec<String> = (0..senders).map(|s| format!("baseline{s:05}")).collect();
    let start = Instant::now();
    for index in 0..per_sender {
        // A plain BEGIN/COMMIT pair rather than rusqlite's Transaction guard,
        // so one prepared statement serves both variants.
        if commit == Commit::PerRound {
            conn.execute_batch("BEGIN")
                .context("baseline db: begin round")?;
        }
        let mut stmt = conn
            .prepare_cached(insert_sql)
            .context("baseline db: prepare insert")?;
        for (s, name) in names.iter().enumerate() {
            let body = super::fanout::make_body(0, index, body_bytes);
            // Outside BEGIN each execute autocommits: one fsync per row.
            stmt.execute(params![
                s as i64 + 1,
                index as i64 + 2,
                name,
                1_763_800_000_000_i64 + index as i64,
                body,
                format!("b{s}-{index}"),
                index as i64 + 1,
            ])
            .context("baseline db: insert")?;
        }
        drop(stmt);
        if commit == Commit::PerRound {
            conn.execute_batch("COMMIT")
                .context("baseline db: commit round")?;
        }
    }
    let elapsed = start.elapsed();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
        .context("baseline db: counting rows")?;
    Ok(InsertResult {
        rows: u64::try_from(rows).unwrap_or(0),
        elapsed,
    })
}
