//! §9.3 mention rows of a batch's new texts, written once per batch.
//!
//! A new text's mentions are a row per (text, user) and a `mention_n`
//! bump on each user's member row. Written text by text that is two
//! statements per text; a batch instead collects them and writes them all
//! in two statements (a multi-row insert and one counter update), before
//! anything in the batch reads them: before every op other than a plain
//! text (reads, edits and redactions count or look up mention rows), before
//! a text whose sender is mentioned by a collected row (its send moves the
//! sender's cursor, which counts the rows it passes), before the PostgreSQL
//! fast path moves its senders' cursors, and before COMMIT.
//!
//! Rows written inside an op's savepoint are undone with it when the op
//! fails: [`PendingMentions::rolled_back`] collects them again.

use std::collections::BTreeMap;

use sync_core::protocol::Seq;

use super::sql::{Db, DbError, Param, bulk_insert, bulk_update};

/// Rows per multi-row insert (3 parameters each).
const ROWS_PER_INSERT: usize = 256;

/// The batch's mention rows not yet written, and those written inside the
/// current op's savepoint.
#[derive(Debug, Default)]
pub struct PendingMentions {
    rows: Vec<(i64, Seq, String)>,
    written: Vec<(i64, Seq, String)>,
}

impl PendingMentions {
    /// Collects the mentions of a new text (distinct users, a new seq).
    pub fn add(&mut self, conv: i64, seq: Seq, users: Vec<String>) {
        self.rows
            .extend(users.into_iter().map(|user| (conv, seq, user)));
    }

    /// Whether a collected row mentions `user` in `conv`.
    pub fn mentions(&self, conv: i64, user: &str) -> bool {
        self.rows.iter().any(|(c, _, u)| *c == conv && u == user)
    }

    /// Writes every collected row and its counter bump.
    pub fn write(&mut self, db: &dyn Db) -> Result<(), DbError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let args: Vec<&dyn Param> = self
            .rows
            .iter()
            .flat_map(|(conv, seq, user)| [conv as &dyn Param, seq, user])
            .collect();
        bulk_insert(
            db,
            "INSERT INTO mentions (conv, seq, \"user\")",
            3,
            &args,
            ROWS_PER_INSERT,
        )?;
        let mut bumps: BTreeMap<(i64, &str), i64> = BTreeMap::new();
        for (conv, _, user) in &self.rows {
            *bumps.entry((*conv, user.as_str())).or_default() += 1;
        }
        let bumps: Vec<[&dyn Param; 3]> = bumps
            .iter()
            .map(|((conv, user), n)| [conv as &dyn Param, user, n])
            .collect();
        bulk_update(
            db,
            "UPDATE members SET mention_n = members.mention_n + v.column3",
            "members.conv = v.column1 AND members.\"user\" = v.column2",
            &bumps,
        )?;
        self.written.append(&mut self.rows);
        Ok(())
    }

    /// [`PendingMentions::write`] outside any op's savepoint: what it
    /// writes stays whatever a later op does.
    pub fn write_outside_ops(&mut self, db: &dyn Db) -> Result<(), DbError> {
        self.write(db)?;
        self.released();
        Ok(())
    }

    /// The current op's savepoint was released: what it wrote stays.
    pub fn released(&mut self) {
        self.written.clear();
    }

    /// The current op's savepoint was rolled back: what was written inside
    /// it is gone, so it is collected again.
    pub fn rolled_back(&mut self) {
        self.rows.append(&mut self.written);
    }
}
