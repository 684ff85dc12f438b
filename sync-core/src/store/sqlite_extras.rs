//! Read-side §9.1–9.3 queries of [`SqliteStore`]: reactions, reply counts
//! and mention flags of held texts, thread windows, standing reactions.

use rusqlite::{OptionalExtension, params};

use super::sqlite_query::Snap;
use super::{
    HeldReaction, LocalMessage, MetaKey, OutboxKind, RangeSet, SeqRange, SqliteStore, StoreError,
    ThreadWindow, assemble_thread, reaction_counts,
};
use crate::protocol::{ConvId, EntryKind, Seq};

impl SqliteStore {
    /// Fills in what is computed when read: a text's reactions (its
    /// snapshot plus held reaction entries above it), reply counts, and
    /// whether it mentions the user. `snaps` pairs with `msgs`.
    pub(super) fn decorate(
        &self,
        conv: &ConvId,
        msgs: &mut [LocalMessage],
        snaps: Vec<Snap>,
    ) -> Result<(), StoreError> {
        if !msgs.iter().any(|m| m.kind == EntryKind::Text) {
            return Ok(());
        }
        let me = self.meta_value(MetaKey::User)?.unwrap_or_default();
        let c = conv.as_str();
        let read = StoreError::Read;
        // Conversations without reactions or threads (all of them against a
        // version 1 server) skip the per-text lookups.
        let (any_reaction, any_reply): (bool, bool) = self
            .conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM messages INDEXED BY messages_by_target
                               WHERE conv = ?1 AND target IS NOT NULL AND kind = 'reaction'),
                        EXISTS(SELECT 1 FROM messages INDEXED BY messages_by_thread
                               WHERE conv = ?1 AND thread IS NOT NULL)",
            )
            .and_then(|mut st| st.query_row([c], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(read)?;
        let mut reactions = self
            .conn
            .prepare_cached(
                "SELECT r.seq, r.sender, r.rkey,
                        (SELECT MIN(x.seq) FROM messages x INDEXED BY messages_by_target
                         WHERE x.conv = ?1 AND x.target = r.seq AND x.kind = 'redact')
                 FROM messages r WHERE r.conv = ?1 AND r.target = ?2 AND r.kind = 'reaction'",
            )
            .map_err(read)?;
        let mut replies = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FILTER (WHERE seq > ?3), MAX(seq) FROM messages
                 WHERE conv = ?1 AND thread = ?2 AND kind = 'text' AND seq != ?2",
            )
            .map_err(read)?;
        let mut ts_of = self
            .conn
            .prepare_cached("SELECT ts FROM messages WHERE conv = ?1 AND seq = ?2")
            .map_err(read)?;
        for (m, snap) in msgs.iter_mut().zip(snaps) {
            if m.kind != EntryKind::Text {
                continue;
            }
            let seq = m.seq as i64;
            let (above, newest): (i64, Option<i64>) = if any_reply {
                replies
                    .query_row(params![c, seq, snap.seq as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .map_err(read)?
            } else {
                (0, None)
            };
            m.replies = snap.replies + above as u64;
            m.last_reply_seq = newest
                .map(|s| s as u64)
                .into_iter()
                .chain(snap.last_reply)
                .max();
            m.last_reply_ts = match m.last_reply_seq {
                Some(s) => ts_of
                    .query_row(params![c, s as i64], |r| r.get(0))
                    .optional()
                    .map_err(read)?,
                None => None,
            };
            if m.redacted {
                m.mentions.clear();
                continue;
            }
            m.mentions_me = snap.mentioned.contains(&me);
            if !any_reaction {
                m.reactions = reaction_counts(snap.seq, &snap.reactions, &[], &me);
                continue;
            }
            let held: Vec<HeldReaction> = reactions
                .query_map(params![c, seq], |r| {
                    Ok(HeldReaction {
                        seq: r.get::<_, i64>(0)? as u64,
                        sender: r.get(1)?,
                        key: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                        withdrawn: r.get::<_, Option<i64>>(3)?.map(|s| s as u64),
                    })
                })
                .map_err(read)?
                .collect::<Result<_, _>>()
                .map_err(read)?;
            m.reactions = reaction_counts(snap.seq, &snap.reactions, &held, &me);
        }
        Ok(())
    }

    /// §9.1: the held thread of `root`.
    pub(super) fn thread_window(
        &self,
        conv: &ConvId,
        root: Seq,
    ) -> Result<ThreadWindow, StoreError> {
        let c = conv.as_str();
        let r = root as i64;
        let (covered, thread_last) = self.thread_ranges(conv, root)?;
        let root_msg = self
            .messages(
                conv,
                "conv = ?1 AND seq = ?2 AND kind = 'text'",
                params![c, r],
            )?
            .pop();
        let replies = self.messages(
            conv,
            "conv = ?1 AND thread = ?2 AND kind = 'text' AND seq != ?2 ORDER BY seq",
            params![c, r],
        )?;
        let pending = self
            .outbox_rows(Some(conv))?
            .into_iter()
            .filter(|o| match o.kind {
                OutboxKind::Reply { reply_to } => {
                    reply_to == root
                        || self
                            .conn
                            .prepare_cached(
                                "SELECT thread FROM messages WHERE conv = ?1 AND seq = ?2",
                            )
                            .and_then(|mut st| {
                                st.query_row(params![c, reply_to as i64], |r| {
                                    r.get::<_, Option<i64>>(0)
                                })
                                .optional()
                            })
                            .ok()
                            .flatten()
                            .flatten()
                            == Some(r)
                }
                _ => false,
            })
            .collect();
        Ok(assemble_thread(
            root,
            root_msg,
            replies,
            &covered,
            thread_last,
            pending,
        ))
    }

    /// §9.1: held ranges plus completed `thread` pages, and the latest
    /// `thread_last_seq` (0 when never loaded).
    pub(super) fn thread_ranges(
        &self,
        conv: &ConvId,
        root: Seq,
    ) -> Result<(RangeSet, Seq), StoreError> {
        let c = conv.as_str();
        let read = StoreError::Read;
        let mut covered = RangeSet::default();
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT lo, hi FROM held_ranges WHERE conv = ?1
                 UNION ALL SELECT lo, hi FROM thread_ranges WHERE conv = ?1 AND root = ?2",
            )
            .map_err(read)?;
        let rows = st
            .query_map(params![c, root as i64], |r| {
                Ok(SeqRange::new(
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as u64,
                ))
            })
            .map_err(read)?;
        for row in rows {
            let g = row.map_err(read)?;
            covered.insert_range(g.from, g.to);
        }
        let last: Option<i64> = self
            .conn
            .prepare_cached("SELECT thread_last FROM threads WHERE conv = ?1 AND root = ?2")
            .and_then(|mut st| {
                st.query_row(params![c, root as i64], |r| r.get(0))
                    .optional()
            })
            .map_err(read)?;
        Ok((covered, last.map_or(0, |l| l as u64)))
    }

    /// §9.2: `user`'s standing reaction with `key` on `target`.
    pub(super) fn my_reaction(
        &self,
        conv: &ConvId,
        target: Seq,
        key: &str,
        user: &str,
    ) -> Result<Option<Seq>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT r.seq FROM messages r INDEXED BY messages_by_target WHERE r.conv = ?1 AND r.target = ?2
                     AND r.kind = 'reaction' AND r.rkey = ?3 AND r.sender = ?4
                     AND NOT EXISTS (SELECT 1 FROM messages x INDEXED BY messages_by_target
                                     WHERE x.conv = ?1 AND x.target = r.seq
                                     AND x.kind = 'redact')
                 ORDER BY r.seq LIMIT 1",
            )
            .and_then(|mut st| {
                st.query_row(params![conv.as_str(), target as i64, key, user], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()
            })
            .map(|s| s.map(|s| s as u64))
            .map_err(StoreError::Read)
    }
}
