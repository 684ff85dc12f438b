//! Read-side queries of [`SqliteStore`]: conversation list, timeline windows
//! with explicit gaps, full-text search and the outbox.

use rusqlite::{Row, params};

use super::{
    ConvRecord, ConvRow, LocalMessage, MetaKey, OutboxItem, OutboxKind, OutboxState, RangeSet,
    SearchHit, SeqRange, SqliteStore, StoreError, TimelineItem, TimelineQuery, assemble_window,
    display_unread, fts_query, sql_limit, window_bounds,
};
use crate::protocol::{ConvId, ConvKind, EntryKind, Message, Seq};

const CONV_COLS: &str = "conv, kind, title, member_count, last_seq, read_seq, unread, local_read,
                         last_json, left_conv, last_activity_ts, mentions, mention_seqs, notify,
                         pinned, archived";
pub(super) const MSG_COLS: &str =
    "seq, sender, ts, kind, body, edited, redacted, client_id, user_name, title, members, target,
     live, reply_to, thread, rkey, mentions, mentioned, snap_seq, snap_reactions, snap_replies,
     snap_last_reply";

/// A seq as an SQL integer (saturating: seqs above `i64::MAX` do not exist).
fn seq_param(seq: Seq) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn dec(e: impl std::fmt::Display) -> StoreError {
    StoreError::Decode(e.to_string())
}

/// A stored value that does not decode, as a rusqlite error naming it.
fn bad_value(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("stored {what} {value:?}").into(),
    )
}

fn json_col<T: serde::de::DeserializeOwned + Default>(
    r: &Row<'_>,
    i: usize,
    what: &str,
) -> rusqlite::Result<T> {
    match r.get::<_, Option<String>>(i)? {
        None => Ok(T::default()),
        Some(j) => serde_json::from_str(&j).map_err(|_| bad_value(what, &j)),
    }
}

fn conv_record(r: &Row<'_>) -> rusqlite::Result<(ConvRecord, String, i64)> {
    let kind: String = r.get(1)?;
    let last_json: Option<String> = r.get(8)?;
    let notify: String = r.get(13)?;
    let rec = ConvRecord {
        conv: ConvId(r.get(0)?),
        kind: if kind == "direct" {
            ConvKind::Direct
        } else {
            ConvKind::Group
        },
        title: r.get(2)?,
        member_count: r.get(3)?,
        last_seq: r.get::<_, i64>(4)? as u64,
        read_seq: r.get::<_, i64>(5)? as u64,
        unread: r.get::<_, i64>(6)? as u64,
        local_read: r.get::<_, i64>(7)? as u64,
        last: None,
        left: r.get(9)?,
        held: RangeSet::default(),
        mentions: r.get::<_, i64>(11)? as u64,
        mention_seqs: json_col(r, 12, "mention seqs")?,
        notify: crate::protocol::Notify::parse(&notify)
            .ok_or_else(|| bad_value("notify", &notify))?,
        pinned: r.get(14)?,
        archived: r.get(15)?,
    };
    Ok((rec, last_json.unwrap_or_default(), r.get(10)?))
}

/// A text's stored totals snapshot and mentions union (§9.1–9.3).
#[derive(Debug, Default)]
pub(super) struct Snap {
    pub seq: Seq,
    pub reactions: std::collections::BTreeMap<String, u64>,
    pub replies: u64,
    pub last_reply: Option<Seq>,
    pub mentioned: Vec<String>,
}

pub(super) type MsgRow = (LocalMessage, String, Option<String>, Snap);

pub(super) fn local_message(r: &Row<'_>) -> rusqlite::Result<MsgRow> {
    Ok((
        LocalMessage {
            seq: r.get::<_, i64>(0)? as u64,
            sender: r.get(1)?,
            ts: r.get(2)?,
            kind: EntryKind::Text,
            body: r.get(4)?,
            edited: r.get(5)?,
            redacted: r.get(6)?,
            client_id: r.get(7)?,
            user: r.get(8)?,
            title: r.get(9)?,
            members: None,
            target: r.get::<_, Option<i64>>(11)?.map(|t| t as u64),
            live: r.get(12)?,
            reply_to: r.get::<_, Option<i64>>(13)?.map(|t| t as u64),
            thread: r.get::<_, Option<i64>>(14)?.map(|t| t as u64),
            key: r.get(15)?,
            mentions: json_col(r, 16, "mentions")?,
            mentions_me: false,
            reactions: Vec::new(),
            replies: 0,
            last_reply_seq: None,
            last_reply_ts: None,
        },
        r.get(3)?,
        r.get(10)?,
        Snap {
            seq: r.get::<_, i64>(18)? as u64,
            reactions: json_col(r, 19, "reaction totals")?,
            replies: r.get::<_, i64>(20)? as u64,
            last_reply: r.get::<_, Option<i64>>(21)?.map(|t| t as u64),
            mentioned: json_col(r, 17, "mentions")?,
        },
    ))
}

impl SqliteStore {
    /// How far the other members of `conv` have read: the highest stored
    /// receipt (0 when none; receipts exist in direct conversations).
    pub(super) fn receipt_seq(&self, conv: &ConvId) -> Result<Seq, StoreError> {
        let seq: i64 = self
            .conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM receipts WHERE conv = ?1")
            .and_then(|mut st| st.query_row([conv.as_str()], |r| r.get(0)))
            .map_err(StoreError::Read)?;
        Ok(seq as Seq)
    }

    /// A stream consumer's stored positions; None when it was never started.
    pub(super) fn consumer_positions(
        &self,
        name: &str,
    ) -> Result<Option<std::collections::BTreeMap<ConvId, Seq>>, StoreError> {
        let exists: bool = self
            .conn
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM consumers WHERE name = ?1)")
            .and_then(|mut st| st.query_row([name], |r| r.get(0)))
            .map_err(StoreError::Read)?;
        if !exists {
            return Ok(None);
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT conv, pos FROM consumer_pos WHERE name = ?1")
            .map_err(StoreError::Read)?;
        let rows = stmt
            .query_map([name], |r| {
                Ok((ConvId(r.get(0)?), r.get::<_, i64>(1)? as Seq))
            })
            .map_err(StoreError::Read)?;
        rows.collect::<Result<_, _>>()
            .map(Some)
            .map_err(StoreError::Read)
    }

    pub(super) fn conv_records(&self) -> Result<Vec<ConvRecord>, StoreError> {
        Ok(self
            .conv_records_with_activity(None)?
            .into_iter()
            .map(|(r, _)| r)
            .collect())
    }

    fn conv_records_with_activity(
        &self,
        only: Option<&ConvId>,
    ) -> Result<Vec<(ConvRecord, i64)>, StoreError> {
        let sql = match only {
            Some(_) => format!("SELECT {CONV_COLS} FROM conversations WHERE conv = ?1"),
            None => format!("SELECT {CONV_COLS} FROM conversations WHERE ?1 IS NULL"),
        };
        let mut stmt = self.conn.prepare_cached(&sql).map_err(StoreError::Read)?;
        let rows = stmt
            .query_map([only.map(ConvId::as_str)], conv_record)
            .map_err(StoreError::Read)?;
        let mut out = Vec::new();
        for row in rows {
            let (mut rec, last_json, activity) = row.map_err(StoreError::Read)?;
            if !last_json.is_empty() {
                rec.last = Some(serde_json::from_str::<Message>(&last_json).map_err(dec)?);
            }
            out.push((rec, activity));
        }
        Ok(out)
    }

    pub(super) fn conv_rows(&self, only: Option<&ConvId>) -> Result<Vec<ConvRow>, StoreError> {
        let me = self.meta_value(MetaKey::User)?.unwrap_or_default();
        let mut pending: std::collections::HashMap<String, (u32, i64)> = Default::default();
        for item in self.outbox_rows(only)? {
            let e = pending.entry(item.conv.0).or_default();
            e.0 += 1;
            e.1 = e.1.max(item.created_ts);
        }
        let mut rows = Vec::new();
        for (rec, activity) in self.conv_records_with_activity(only)? {
            let others_between = if rec.local_read > rec.read_seq && rec.local_read < rec.last_seq {
                self.conn
                    .query_row(
                        "SELECT COUNT(*) FROM messages WHERE conv = ?1 AND kind = 'text'
                         AND sender != ?2 AND seq > ?3 AND seq <= ?4",
                        params![
                            rec.conv.as_str(),
                            me,
                            rec.read_seq as i64,
                            rec.local_read as i64
                        ],
                        |r| r.get::<_, i64>(0),
                    )
                    .map_err(StoreError::Read)? as u64
            } else {
                0
            };
            let (n_pending, pending_ts) = pending.get(rec.conv.as_str()).copied().unwrap_or((0, 0));
            rows.push(ConvRow {
                mentions: super::display_mentions(&rec),
                unread: display_unread(&rec, others_between),
                conv: rec.conv,
                kind: rec.kind,
                title: rec.title,
                member_count: rec.member_count,
                last_seq: rec.last_seq,
                read_seq: rec.local_read.max(rec.read_seq),
                last: rec.last,
                left: rec.left,
                last_activity_ts: activity.max(pending_ts),
                pending: n_pending,
                notify: rec.notify,
                pinned: rec.pinned,
                archived: rec.archived,
            });
        }
        super::sort_rows(&mut rows);
        Ok(rows)
    }

    /// Held entries of `conv` (`?1`) matching `sql_tail`, decorated with
    /// their reactions, reply counts and mention flag.
    pub(super) fn messages(
        &self,
        conv: &ConvId,
        sql_tail: &str,
        p: impl rusqlite::Params,
    ) -> Result<Vec<LocalMessage>, StoreError> {
        let sql = format!("SELECT {MSG_COLS} FROM messages WHERE {sql_tail}");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(StoreError::Read)?;
        let rows = stmt.query_map(p, local_message).map_err(StoreError::Read)?;
        let mut out = Vec::new();
        let mut snaps = Vec::new();
        for row in rows {
            let (mut m, kind, members, snap) = row.map_err(StoreError::Read)?;
            m.kind = EntryKind::parse(&kind).ok_or_else(|| dec(format!("entry kind {kind:?}")))?;
            if let Some(j) = members {
                m.members = Some(serde_json::from_str(&j).map_err(dec)?);
            }
            out.push(m);
            snaps.push(snap);
        }
        drop(stmt);
        self.decorate(conv, &mut out, snaps)?;
        Ok(out)
    }

    pub(super) fn gap_rows(
        &self,
        conv: &ConvId,
        lo: Seq,
        hi: Seq,
    ) -> Result<Vec<SeqRange>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT lo, hi FROM gaps WHERE conv = ?1 AND hi >= ?2 AND lo <= ?3 ORDER BY lo",
            )
            .map_err(StoreError::Read)?;
        let hi = i64::try_from(hi).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![conv.as_str(), lo as i64, hi], |r| {
                Ok(SeqRange::new(
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as u64,
                ))
            })
            .map_err(StoreError::Read)?;
        rows.collect::<Result<_, _>>().map_err(StoreError::Read)
    }

    pub(super) fn timeline_window(
        &self,
        conv: &ConvId,
        q: TimelineQuery,
    ) -> Result<Vec<TimelineItem>, StoreError> {
        let c = conv.as_str();
        let Some((rec, _)) = self
            .conv_records_with_activity(Some(conv))?
            .into_iter()
            .next()
        else {
            return Ok(Vec::new());
        };
        let cursor: i64 = self
            .conn
            .query_row(
                "SELECT cursor FROM conversations WHERE conv = ?1",
                [c],
                |r| r.get(0),
            )
            .map_err(StoreError::Read)?;
        let top = rec.last_seq.max(cursor as u64);
        let (mut below, from_anchor) = match q {
            TimelineQuery::Latest { limit } => (
                self.messages(
                    conv,
                    "conv = ?1 ORDER BY seq DESC LIMIT ?2",
                    params![c, sql_limit(limit)],
                )?,
                Vec::new(),
            ),
            TimelineQuery::Around { seq, before, after } => (
                self.messages(
                    conv,
                    "conv = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
                    params![c, seq_param(seq), sql_limit(before)],
                )?,
                self.messages(
                    conv,
                    "conv = ?1 AND seq >= ?2 ORDER BY seq ASC LIMIT ?3",
                    params![c, seq_param(seq), sql_limit(after.saturating_add(1))],
                )?,
            ),
            TimelineQuery::After { seq, limit } => (
                Vec::new(),
                self.messages(
                    conv,
                    "conv = ?1 AND seq > ?2 ORDER BY seq ASC LIMIT ?3",
                    params![c, seq_param(seq), sql_limit(limit.saturating_add(1))],
                )?,
            ),
        };
        let below_seqs: Vec<Seq> = below.iter().map(|m| m.seq).collect();
        let anchor_seqs: Vec<Seq> = from_anchor.iter().map(|m| m.seq).collect();
        let (lo, hi, reaches_top) = window_bounds(&below_seqs, &anchor_seqs, q, top);
        below.extend(from_anchor.into_iter().filter(|m| m.seq <= hi));
        let gaps = self.gap_rows(conv, lo, hi)?;
        let pending = if reaches_top {
            self.outbox_rows(Some(conv))?
        } else {
            Vec::new()
        };
        Ok(assemble_window(below, gaps, pending))
    }

    pub(super) fn search_fts(
        &self,
        text: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let Some(query) = fts_query(text) else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT m.conv, m.seq, m.sender, m.ts, m.body FROM messages_fts f
                 JOIN messages m ON m.id = f.rowid
                 WHERE messages_fts MATCH ?1 ORDER BY m.ts DESC, m.seq DESC LIMIT ?2",
            )
            .map_err(StoreError::Read)?;
        let rows = stmt
            .query_map(params![query, limit as i64], |r| {
                Ok(SearchHit {
                    conv: ConvId(r.get(0)?),
                    seq: r.get::<_, i64>(1)? as u64,
                    sender: r.get(2)?,
                    ts: r.get(3)?,
                    body: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                })
            })
            .map_err(StoreError::Read)?;
        rows.collect::<Result<_, _>>().map_err(StoreError::Read)
    }

    pub(super) fn outbox_rows(&self, only: Option<&ConvId>) -> Result<Vec<OutboxItem>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT client_id, conv, kind, target, body, state, err_code, err_message, created_ts,
                        rkey
                 FROM outbox WHERE ?1 IS NULL OR conv = ?1 ORDER BY ord",
            )
            .map_err(StoreError::Read)?;
        let rows = stmt
            .query_map([only.map(ConvId::as_str)], |r| {
                let kind: String = r.get(2)?;
                let target = r.get::<_, Option<i64>>(3)?.map(|t| t as u64);
                let need_target = || target.ok_or_else(|| bad_value("outbox target of", &kind));
                let state: String = r.get(5)?;
                Ok(OutboxItem {
                    client_id: r.get(0)?,
                    conv: ConvId(r.get(1)?),
                    kind: match kind.as_str() {
                        "send" => OutboxKind::Send,
                        "edit" => OutboxKind::Edit {
                            target: need_target()?,
                        },
                        "redact" => OutboxKind::Redact {
                            target: need_target()?,
                        },
                        "reply" => OutboxKind::Reply {
                            reply_to: need_target()?,
                        },
                        "react" => OutboxKind::React {
                            target: need_target()?,
                            key: r
                                .get::<_, Option<String>>(9)?
                                .ok_or_else(|| bad_value("reaction key", "NULL"))?,
                        },
                        other => return Err(bad_value("outbox kind", other)),
                    },
                    body: r.get(4)?,
                    state: match state.as_str() {
                        "failed" => OutboxState::Failed {
                            code: super::FailCode::parse(
                                &r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                            ),
                            message: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                        },
                        "sending" => OutboxState::Sending,
                        _ => OutboxState::Pending,
                    },
                    created_ts: r.get(8)?,
                })
            })
            .map_err(StoreError::Read)?;
        rows.collect::<Result<_, _>>().map_err(StoreError::Read)
    }
}
