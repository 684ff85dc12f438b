//! Ingest of [`SqliteStore`]: timeline entries with their relations (edits
//! and redactions in any order, §9.1 threads, §9.3 mentions) and the
//! full-text index.

use rusqlite::{OptionalExtension, params};

use crate::protocol::{ConvId, EntryKind, Message, Seq};

/// A mention list as stored: a JSON array, NULL when empty.
fn mentions_json(list: &[String]) -> Option<String> {
    if list.is_empty() {
        None
    } else {
        serde_json::to_string(list).ok()
    }
}

/// Adds `more` to the stored union of mentions of text `id`.
fn add_mentioned(tx: &rusqlite::Transaction<'_>, id: i64, more: &[String]) -> rusqlite::Result<()> {
    if more.is_empty() {
        return Ok(());
    }
    let stored: Option<String> = tx
        .prepare_cached("SELECT mentioned FROM messages WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    let mut all: std::collections::BTreeSet<String> = stored
        .and_then(|j| serde_json::from_str::<Vec<String>>(&j).ok())
        .unwrap_or_default()
        .into_iter()
        .collect();
    all.extend(more.iter().cloned());
    let all: Vec<String> = all.into_iter().collect();
    tx.prepare_cached("UPDATE messages SET mentioned = ?2 WHERE id = ?1")?
        .execute(params![id, mentions_json(&all)])?;
    Ok(())
}

/// Inserts a page of entries of one conversation (statements are cached, so a page of
/// 500 costs 500 executions, not 500 prepares), then bumps the conversation's activity once.
pub(super) fn insert_messages(
    tx: &rusqlite::Transaction<'_>,
    conv: &ConvId,
    msgs: &[Message],
) -> rusqlite::Result<()> {
    // Edits and redactions that arrived before their targets: one indexed probe
    // per page says whether any row of this page can have one, so the common
    // case skips the per-row lookup.
    let (lo, hi) = msgs
        .iter()
        .filter(|m| m.kind == EntryKind::Text)
        .fold((u64::MAX, 0), |(lo, hi), m| (lo.min(m.seq), hi.max(m.seq)));
    let relations = lo <= hi
        && tx
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM messages WHERE conv = ?1 AND target >= ?2
                                AND target <= ?3)",
            )?
            .query_row(params![conv.as_str(), lo as i64, hi as i64], |r| {
                r.get::<_, bool>(0)
            })?;
    // Replies held without a thread whose parent may be in this page: the
    // same kind of probe (or a reply in the page that may become one).
    let orphans = msgs
        .iter()
        .any(|m| m.reply_to.is_some() && m.thread.is_none())
        || (lo <= hi
            && tx
                .prepare_cached(
                    "SELECT EXISTS(SELECT 1 FROM messages INDEXED BY messages_orphan_replies
                                    WHERE conv = ?1 AND reply_to >= ?2 AND reply_to <= ?3
                                      AND thread IS NULL AND reply_to IS NOT NULL)",
                )?
                .query_row(params![conv.as_str(), lo as i64, hi as i64], |r| {
                    r.get::<_, bool>(0)
                })?);
    let probes = Probes { relations, orphans };
    let mut newest: Option<i64> = None;
    for m in msgs {
        if insert_message(tx, conv, m, probes)? && super::moves_activity(m.kind) {
            newest = Some(newest.map_or(m.ts, |t| t.max(m.ts)));
        }
    }
    if let Some(ts) = newest {
        tx.prepare_cached(
            "UPDATE conversations SET last_activity_ts = MAX(last_activity_ts, ?2) WHERE conv = ?1",
        )?
        .execute(params![conv.as_str(), ts])?;
    }
    Ok(())
}

/// §9.1: replies held without a thread (stored from our own `sent` before
/// the text they answer was held) take the thread of `parent`, now held,
/// and so do replies to them, down the chain.
fn adopt_replies(
    tx: &rusqlite::Transaction<'_>,
    c: &str,
    parent: Seq,
    root: Seq,
) -> rusqlite::Result<()> {
    let mut parents = vec![parent];
    while let Some(p) = parents.pop() {
        let orphans: Vec<i64> = tx
            .prepare_cached(
                "SELECT seq FROM messages INDEXED BY messages_orphan_replies
                  WHERE conv = ?1 AND reply_to = ?2 AND thread IS NULL AND reply_to IS NOT NULL
                    AND kind = 'text'",
            )?
            .query_map(params![c, p as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for seq in orphans {
            tx.prepare_cached("UPDATE messages SET thread = ?3 WHERE conv = ?1 AND seq = ?2")?
                .execute(params![c, seq, root as i64])?;
            parents.push(seq as Seq);
        }
    }
    Ok(())
}

/// What one probe per page found possible for its texts.
#[derive(Debug, Clone, Copy)]
struct Probes {
    /// An edit or redaction of one of them may be held already.
    relations: bool,
    /// A reply to one of them may be held without a thread.
    orphans: bool,
}

/// Inserts one entry unless held, then applies edit/redact relations in both
/// directions (an edit may arrive before or after its target), and hands
/// its thread down to replies held before it. Returns whether the entry
/// was new.
fn insert_message(
    tx: &rusqlite::Transaction<'_>,
    conv: &ConvId,
    m: &Message,
    probes: Probes,
) -> rusqlite::Result<bool> {
    let c = conv.as_str();
    let members = m
        .members
        .as_ref()
        .and_then(|v| serde_json::to_string(v).ok());
    // §9.1: a reply stored from our own `sent` reply names no thread: it is
    // the thread of the text replied to, when that is held and its own
    // thread is known (a held reply without one leaves it unknown too).
    let thread = match (m.thread, m.reply_to) {
        (Some(t), _) => Some(t as i64),
        (None, Some(r)) if m.kind == EntryKind::Text => tx
            .prepare_cached(
                "SELECT CASE WHEN thread IS NULL AND reply_to IS NOT NULL THEN NULL
                             ELSE COALESCE(thread, seq) END
                   FROM messages WHERE conv = ?1 AND seq = ?2 AND kind = 'text'",
            )?
            .query_row(params![c, r as i64], |r| r.get::<_, Option<i64>>(0))
            .optional()?
            .flatten(),
        _ => None,
    };
    let mentions = mentions_json(&m.mentions);
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO messages (conv, seq, sender, ts, kind, body, target, title,
                                             members, user_name, client_id, reply_to, thread,
                                             rkey, mentions, mentioned, snap_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?2)",
        )?
        .execute(params![
            c,
            m.seq as i64,
            m.sender,
            m.ts,
            m.kind.as_str(),
            m.body,
            m.target.map(|t| t as i64),
            m.title,
            members,
            m.user,
            m.client_id,
            m.reply_to.map(|r| r as i64),
            thread,
            m.key,
            mentions
        ])?;
    if n == 0 {
        if m.kind == EntryKind::Text && (m.thread.is_some() || mentions.is_some()) {
            // A copy of a text stored from our own `sent` reply: fill in what
            // that reply did not carry.
            tx.prepare_cached(
                "UPDATE messages SET thread = COALESCE(thread, ?3),
                     mentions = CASE WHEN edited = 0 AND mentions IS NULL THEN ?4
                                     ELSE mentions END,
                     mentioned = COALESCE(mentioned, ?4)
                 WHERE conv = ?1 AND seq = ?2 AND kind = 'text' AND redacted = 0",
            )?
            .execute(params![c, m.seq as i64, thread, mentions])?;
        }
        return Ok(false);
    }
    let id = tx.last_insert_rowid();
    match m.kind {
        EntryKind::Text => {
            // A reply whose own thread is unknown has no thread to hand down.
            if probes.orphans && (thread.is_some() || m.reply_to.is_none()) {
                adopt_replies(tx, c, m.seq, thread.map_or(m.seq, |t| t as u64))?;
            }
            let held = if probes.relations {
                held_relations(tx, c, m.seq)?
            } else {
                HeldRelations::default()
            };
            add_mentioned(tx, id, &held.mentioned)?;
            // §9.5: the server says it was redacted (its content is gone).
            let redacted = held.redacted || m.redacted;
            if redacted {
                mark_redacted(tx, c, m.seq, id)?;
            } else if let Some((body, mentions)) = held.edit {
                set_edited(tx, id, &body, &mentions)?;
            } else if let Some(body) = &m.body {
                index_body(tx, id, body)?;
            }
        }
        EntryKind::Edit => {
            let Some(target) = m.target else {
                return Ok(true);
            };
            // Apply only if no newer edit of the same target is already held.
            let newer: bool = tx
                .prepare_cached(
                    "SELECT EXISTS(SELECT 1 FROM messages WHERE conv = ?1 AND kind = 'edit'
                                    AND target = ?2 AND +seq > ?3)",
                )?
                .query_row(params![c, target as i64, m.seq as i64], |r| r.get(0))?;
            let held: Option<(i64, bool)> = tx
                .prepare_cached(
                    "SELECT id, redacted FROM messages WHERE conv = ?1 AND seq = ?2
                     AND kind = 'text'",
                )?
                .query_row(params![c, target as i64], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if m.redacted || held.is_some_and(|(_, redacted)| redacted) {
                // An edit of a redacted text (the server says so, or it is
                // redacted here already and this is an older page loaded
                // later): its content is gone too (§9.5).
                tx.prepare_cached(
                    "UPDATE messages SET body = NULL, mentions = NULL, redacted = 1 WHERE id = ?1",
                )?
                .execute([id])?;
                return Ok(true);
            }
            let tid = held.map(|(tid, _)| tid);
            if let Some(tid) = tid {
                add_mentioned(tx, tid, &m.mentions)?;
            }
            if let (false, Some(tid), Some(body)) = (newer, tid, m.body.as_ref()) {
                tx.prepare_cached("DELETE FROM messages_fts WHERE rowid = ?1")?
                    .execute([tid])?;
                set_edited(tx, tid, body, &m.mentions)?;
            }
        }
        EntryKind::Redact => {
            let Some(target) = m.target else {
                return Ok(true);
            };
            let tid: Option<i64> = tx
                .prepare_cached(
                    "SELECT id FROM messages WHERE conv = ?1 AND seq = ?2 AND kind = 'text'",
                )?
                .query_row(params![c, target as i64], |r| r.get(0))
                .optional()?;
            if let Some(tid) = tid {
                tx.prepare_cached("DELETE FROM messages_fts WHERE rowid = ?1")?
                    .execute([tid])?;
                mark_redacted(tx, c, target, tid)?;
            }
        }
        _ => {}
    }
    Ok(true)
}

/// What held edits and redactions of a text that arrived before it say.
#[derive(Debug, Default)]
struct HeldRelations {
    redacted: bool,
    /// The newest edit's body and mentions.
    edit: Option<(String, Vec<String>)>,
    /// Everyone any of the edits mentions.
    mentioned: Vec<String>,
}

/// A redaction or edits of text `seq` that arrived before it. (The newest
/// edit is picked here, not with `ORDER BY`: that form of the query is
/// re-prepared by SQLite on every execution.)
fn held_relations(
    tx: &rusqlite::Transaction<'_>,
    conv: &str,
    seq: u64,
) -> rusqlite::Result<HeldRelations> {
    let mut stmt = tx.prepare_cached(
        "SELECT kind, body, seq, mentions FROM messages
         WHERE conv = ?1 AND target = ?2 AND kind IN ('edit', 'redact')",
    )?;
    let mut rows = stmt.query(params![conv, seq as i64])?;
    let mut out = HeldRelations::default();
    let mut newest: Option<(i64, Option<String>, Vec<String>)> = None;
    while let Some(r) = rows.next()? {
        if r.get::<_, String>(0)? == "redact" {
            out.redacted = true;
            continue;
        }
        let mentions: Vec<String> = r
            .get::<_, Option<String>>(3)?
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default();
        out.mentioned.extend(mentions.iter().cloned());
        let edit_seq: i64 = r.get(2)?;
        if newest.as_ref().is_none_or(|(s, _, _)| edit_seq > *s) {
            newest = Some((edit_seq, r.get(1)?, mentions));
        }
    }
    if !out.redacted {
        out.edit = newest.and_then(|(_, body, mentions)| body.map(|b| (b, mentions)));
    }
    Ok(out)
}

/// Adds a text's current body to the full-text index.
fn index_body(tx: &rusqlite::Transaction<'_>, id: i64, body: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO messages_fts (rowid, body) VALUES (?1, ?2)")?
        .execute(params![id, body])?;
    Ok(())
}

/// Shows `body` (and its mentions) as the text's edited body (and indexes it).
fn set_edited(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    body: &str,
    mentions: &[String],
) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE messages SET body = ?2, edited = 1, mentions = ?3 WHERE id = ?1")?
        .execute(params![id, body, mentions_json(mentions)])?;
    index_body(tx, id, body)
}

/// Replaces the text's body with the redaction placeholder (not indexed),
/// and erases the bodies and mentions of the edits of it held, which are
/// flagged redacted as a server sends them (§9.5: its content is gone,
/// every version of it).
fn mark_redacted(
    tx: &rusqlite::Transaction<'_>,
    conv: &str,
    seq: Seq,
    id: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE messages SET body = NULL, redacted = 1, mentions = NULL, mentioned = NULL,
             snap_reactions = NULL WHERE id = ?1",
    )?
    .execute([id])?;
    tx.prepare_cached(
        "UPDATE messages SET body = NULL, mentions = NULL, redacted = 1
          WHERE conv = ?1 AND target = ?2 AND kind = 'edit' AND redacted = 0",
    )?
    .execute(params![conv, seq as i64])?;
    Ok(())
}
