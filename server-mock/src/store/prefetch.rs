//! The PostgreSQL writer's fast path for plain texts. On PostgreSQL every
//! statement is a round trip on the writer's connection, so a batch reads
//! up front, in one query, what its leading `send`s check one by one:
//! the senders' memberships with their conversations' rows, and which of
//! their `client_id`s were already used. Those texts then need no read of
//! their own and no savepoint (they check every rule before writing, and
//! their writes are deferred to the batch's COMMIT), so a batch of texts
//! costs a handful of round trips instead of several per text.
//!
//! The prefetched rows stay true while only these texts run: the batch
//! holds the change-counter lock (no other node writes), and the texts
//! update the conversation rows here as they append. The first op of any
//! other kind ends the fast path for the rest of the batch.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sync_core::protocol::Seq;

use super::batch::{ConvRow, Done};
use super::rows::conv_id;
use super::sql::{Db, DbError, Param, Value, bulk_insert, bulk_update, values_list};
use crate::error::Reject;

/// What a plain text send checks: its sender, conversation and client id.
#[derive(Debug, Clone)]
pub struct TextKey {
    pub user: String,
    pub conv: i64,
    pub client_id: String,
}

/// The rows a batch's leading texts check, read in one query.
#[derive(Debug, Default)]
pub struct Prefetch {
    /// (user, conv) of each current membership asked about.
    members: HashSet<(String, i64)>,
    /// Rows of those conversations, kept current by the texts' appends.
    convs: HashMap<i64, ConvRow>,
    /// (conv, sender, client_id) already used → the first `sent`'s seq, ts.
    sent: HashMap<(i64, String, String), (Seq, i64)>,
    /// Entry rows appended, in order (the 16 columns of an insert).
    rows: Vec<Vec<Value>>,
    /// Conversations whose row moved on.
    dirty: BTreeSet<i64>,
    /// Each sender's cursor after its texts: (user, conv) → (seq, text_n).
    reads: BTreeMap<(String, i64), (Seq, u64)>,
}

/// Rows per multi-row insert (16 parameters each).
const ROWS_PER_INSERT: usize = 64;

impl Prefetch {
    /// Reads memberships, conversation rows and used client ids for `keys`.
    pub fn load(db: &dyn Db, keys: &[TextKey]) -> Result<Prefetch, DbError> {
        let mut p = Prefetch::default();
        if keys.is_empty() {
            return Ok(p);
        }
        // One round trip: memberships with their conversation rows (kind
        // 0), and the client ids already used (kind 1).
        let triples = values_list(keys.len(), &["BIGINT", "TEXT", "TEXT"]);
        let mut args: Vec<&dyn Param> = Vec::with_capacity(keys.len() * 3);
        for k in keys {
            args.push(&k.conv);
            args.push(&k.user);
            args.push(&k.client_id);
        }
        let rows = db.query(
            &format!(
                "WITH k (conv, usr, cid) AS (VALUES {triples})
                 SELECT 0, m.\"user\", c.id, c.kind, c.last_seq, c.last_text_seq, c.text_count,
                        CAST(NULL AS TEXT)
                 FROM members m JOIN convs c ON c.id = m.conv
                 WHERE m.active = 1 AND (m.conv, m.\"user\") IN (SELECT conv, usr FROM k)
                 UNION ALL
                 SELECT 1, e.sender, e.conv, CAST(NULL AS TEXT), e.seq, e.ts,
                        CAST(NULL AS BIGINT), e.client_id
                 FROM entries e
                 WHERE (e.conv, e.sender, e.client_id) IN (SELECT conv, usr, cid FROM k)"
            ),
            &args,
        )?;
        for r in &rows {
            let user: String = r.get(1)?;
            let conv: i64 = r.get(2)?;
            if r.get::<i64>(0)? == 0 {
                p.members.insert((user, conv));
                let row = ConvRow {
                    direct: r.get::<String>(3)? == "direct",
                    last_seq: r.get(4)?,
                    last_text_seq: r.get(5)?,
                    text_count: r.get(6)?,
                };
                p.convs.insert(conv, row);
            } else {
                p.sent.insert(
                    (conv, user, r.get(7)?),
                    (r.get::<Seq>(4)?, r.get::<i64>(5)?),
                );
            }
        }
        Ok(p)
    }

    /// The conversation row, if `user` is a current member (else
    /// `not_found`, as [`super::batch::member_conv`] says).
    pub fn member_conv(&self, user: &str, conv: i64) -> Result<ConvRow, Reject> {
        if !self.members.contains(&(user.to_owned(), conv)) {
            return Err(Reject::no_conv());
        }
        self.convs.get(&conv).cloned().ok_or_else(Reject::no_conv)
    }

    /// The first `sent` of a repeated `(sender, conv, client_id)`.
    pub fn first_sent(&self, me: &str, conv: i64, client_id: &str) -> Option<Done> {
        self.sent
            .get(&(conv, me.to_owned(), client_id.to_owned()))
            .map(|&(seq, ts)| Done::Sent {
                conv: conv_id(conv),
                client_id: client_id.to_owned(),
                seq,
                ts,
            })
    }

    /// A text appended: its conversation row moved on, its client id is
    /// used, its sender has read it.
    pub fn appended(&mut self, me: &str, conv: i64, client_id: &str, row: &ConvRow, ts: i64) {
        self.convs.insert(conv, row.clone());
        self.dirty.insert(conv);
        self.sent.insert(
            (conv, me.to_owned(), client_id.to_owned()),
            (row.last_seq, ts),
        );
        self.reads
            .insert((me.to_owned(), conv), (row.last_seq, row.text_count));
    }

    /// An entry row to insert at [`Prefetch::flush`].
    pub fn insert(&mut self, row: Vec<Value>) {
        self.rows.push(row);
    }

    /// Queues the fast texts' writes (deferred: they travel with the next
    /// round trip): the rows in multi-row inserts, each conversation's
    /// counters and each sender's cursor once. With `keep_counters` (no
    /// other op follows) the conversations' counters are returned instead,
    /// for the batch to write with their change positions in one update.
    pub fn flush(self, db: &dyn Db, keep_counters: bool) -> Result<HashMap<i64, ConvRow>, DbError> {
        let args: Vec<&dyn Param> = self
            .rows
            .iter()
            .flatten()
            .map(|v| v as &dyn Param)
            .collect();
        bulk_insert(
            db,
            "INSERT INTO entries (conv, seq, sender, ts, kind, body, target, title, members,
                subject, client_id, text_n, reply_to, thread, key, mentions)",
            16,
            &args,
            ROWS_PER_INSERT,
        )?;
        let mut convs = self.convs;
        convs.retain(|c, _| self.dirty.contains(c));
        let counters: Vec<[Value; 4]> = convs
            .iter()
            .filter(|_| !keep_counters)
            .map(|(conv, c)| {
                [
                    Value::Int(*conv),
                    Value::Int(c.last_seq as i64),
                    Value::Int(c.last_text_seq as i64),
                    Value::Int(c.text_count as i64),
                ]
            })
            .collect();
        bulk_update(
            db,
            "UPDATE convs SET last_seq = v.column2, last_text_seq = v.column3,
                text_count = v.column4",
            "convs.id = v.column1",
            &counters,
        )?;
        let reads: Vec<[Value; 4]> = self
            .reads
            .into_iter()
            .map(|((user, conv), (seq, text_n))| {
                [
                    Value::Text(user),
                    Value::Int(conv),
                    Value::Int(seq as i64),
                    Value::Int(text_n as i64),
                ]
            })
            .collect();
        bulk_update(
            db,
            "UPDATE members SET read_seq = v.column3, read_text_n = v.column4,
                read_mention_n = members.read_mention_n + (SELECT COUNT(*) FROM mentions x
                    WHERE x.conv = members.conv AND x.seq > members.read_seq
                        AND x.seq <= v.column3 AND x.\"user\" = members.\"user\")",
            "members.\"user\" = v.column1 AND members.conv = v.column2",
            &reads,
        )?;
        Ok(if keep_counters { convs } else { HashMap::new() })
    }
}

#[cfg(test)]
mod tests {
    use super::super::sql::values_list;

    #[test]
    fn a_values_list_numbers_its_parameters_in_order() {
        assert_eq!(
            values_list(2, &["BIGINT", "TEXT"]),
            "(CAST(?1 AS BIGINT), CAST(?2 AS TEXT)), (CAST(?3 AS BIGINT), CAST(?4 AS TEXT))"
        );
    }
}
