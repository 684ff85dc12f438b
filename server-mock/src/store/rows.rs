//! Row mapping shared by the writer and the readers: timeline entries to
//! [`Message`], member+conversation rows to [`Summary`], conversation ids.

use sync_core::protocol::{ConvId, ConvKind, EntryKind, Message, Notify, Summary};

use super::sql::{Db, DbError, DbExt, Row};
use crate::Features;
use crate::error::StoreError;
use crate::params;

/// Columns of `entries` read into a [`Message`] (prefix `e.`-free).
pub const ENTRY_COLS: &str =
    "seq, sender, ts, kind, body, target, title, members, subject, client_id, redacted,
    reply_to, thread, key, mentions";

/// A JSON column this server wrote; unreadable means corruption, reported
/// as a conversion error naming the column rather than read as empty.
fn json_col<T: serde::de::DeserializeOwned>(r: &Row, i: usize) -> Result<Option<T>, DbError> {
    let Some(text) = r.get::<Option<String>>(i)? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| DbError::Decode(i, e.to_string()))
}

/// Maps a row selected with [`ENTRY_COLS`] starting at column `at`, as this
/// server's `features` show it: only the fields of extensions that are on; a
/// redacted text (and its edits) without content under §9.5, or, without
/// it, as stored with no `redacted` field (a version 1 redaction only flags
/// the row).
pub fn message_at(r: &Row, at: usize, features: Features) -> Result<Message, DbError> {
    let mut m = stored_message_at(r, at)?;
    // Fields a database may hold from a run with more extensions on.
    if !features.reply {
        m.reply_to = None;
        m.thread = None;
    }
    if !features.mentions {
        m.mentions.clear();
    }
    if !features.redaction {
        m.redacted = false;
    } else if m.redacted && matches!(m.kind, EntryKind::Text | EntryKind::Edit) {
        // Erased at redaction; a row flagged by a version 1 run of this
        // database is stripped here.
        m.body = None;
        m.mentions.clear();
    }
    Ok(m)
}

fn stored_message_at(r: &Row, at: usize) -> Result<Message, DbError> {
    let kind: String = r.get(at + 3)?;
    let members: Option<String> = r.get(at + 7)?;
    Ok(Message {
        seq: r.get(at)?,
        sender: r.get(at + 1)?,
        ts: r.get(at + 2)?,
        // Only this server writes `kind`; an unknown value means corruption,
        // shown as text rather than failing the whole reply.
        kind: EntryKind::parse(&kind).unwrap_or(EntryKind::Text),
        body: r.get(at + 4)?,
        target: r.get(at + 5)?,
        title: r.get(at + 6)?,
        members: members.and_then(|m| serde_json::from_str(&m).ok()),
        user: r.get(at + 8)?,
        client_id: r.get(at + 9)?,
        // Set on a redacted text (its content is gone) and on its edits.
        redacted: r.get::<Option<bool>>(at + 10)?.unwrap_or(false),
        reply_to: r.get(at + 11)?,
        thread: r.get(at + 12)?,
        key: r.get(at + 13)?,
        mentions: json_col(r, at + 14)?.unwrap_or_default(),
        replies: None,
        last_reply_seq: None,
        reactions: Default::default(),
    })
}

/// The conversation id on the wire (`c7`) for a row id.
pub fn conv_id(id: i64) -> ConvId {
    ConvId(format!("c{id}"))
}

/// Parses a wire conversation id; `None` for anything this server never issued.
pub fn parse_conv(conv: &ConvId) -> Option<i64> {
    let digits = conv.as_str().strip_prefix('c')?;
    // Only ids as issued: `c07` is no conversation (it would alias `c7`).
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

/// A member row's change value, `m` and `c` as in [`SUMMARY_FROM`]: while
/// active, the later of its own last change (join, read, settings) and the
/// conversation's last append batch; after a leave, its own (the leave).
/// Values are unique per user (each counter value goes to one row), so sync
/// pages over them.
macro_rules! change_of {
    () => {
        "CASE WHEN m.active = 1 AND c.change_seq > m.change_seq THEN c.change_seq ELSE m.change_seq END"
    };
}

/// [`change_of!`] as a constant, for queries built with `format!`.
pub const CHANGE: &str = change_of!();

/// Select list for summaries: `members m JOIN convs c LEFT JOIN entries e`
/// where `e` is the newest text the user can see (as of the leave for a left
/// conversation).
pub const SUMMARY_FROM: &str = concat!(
    "SELECT m.conv, c.kind, c.title, c.direct_key, c.member_count,
        c.last_seq, c.text_count, m.active, m.read_seq, m.read_text_n,
        m.left_seq, m.left_text_n, ",
    change_of!(),
    ",
        m.mention_n - m.read_mention_n,
        m.notify, m.pinned, m.archived,
        e.seq, e.sender, e.ts, e.kind, e.body, e.target, e.title, e.members, e.subject, e.client_id,
        e.redacted, e.reply_to, e.thread, e.key, e.mentions
    FROM members m
    JOIN convs c ON c.id = m.conv
    LEFT JOIN entries e ON e.conv = m.conv
        AND e.seq = CASE WHEN m.active = 1 THEN c.last_text_seq ELSE m.left_text_seq END"
);

/// Where the `last` entry's columns start in [`SUMMARY_FROM`].
const SUMMARY_LAST: usize = 17;

/// Maps a row of [`SUMMARY_FROM`] for `user`; also returns its [`CHANGE`] value.
/// The §9.3/§9.4 fields are present only when those features are on.
pub fn summary_row(r: &Row, user: &str, features: Features) -> Result<(Summary, i64), DbError> {
    let id: i64 = r.get(0)?;
    let kind: String = r.get(1)?;
    let kind = if kind == "direct" {
        ConvKind::Direct
    } else {
        ConvKind::Group
    };
    let title: String = r.get(2)?;
    let direct_key: Option<String> = r.get(3)?;
    let title = match (kind, direct_key) {
        (ConvKind::Direct, Some(key)) => key
            .split('|')
            .find(|n| *n != user)
            .unwrap_or(user)
            .to_owned(),
        _ => title,
    };
    let active: bool = r.get(7)?;
    let read_seq: u64 = r.get(8)?;
    let read_text_n: u64 = r.get(9)?;
    let (last_seq, text_count): (u64, u64) = if active {
        (r.get(5)?, r.get(6)?)
    } else {
        (r.get(10)?, r.get(11)?)
    };
    let has_last: Option<i64> = r.get(SUMMARY_LAST)?;
    let last = match has_last {
        Some(_) => Some(message_at(r, SUMMARY_LAST, features)?),
        None => None,
    };
    let notify: String = r.get(14)?;
    let notify = Notify::parse(&notify)
        .ok_or_else(|| DbError::Decode(14, format!("unknown notify value {notify:?}")))?;
    let summary = Summary {
        conv: conv_id(id),
        kind,
        title,
        member_count: r.get(4)?,
        last_seq,
        read_seq,
        unread: text_count.saturating_sub(read_text_n),
        last,
        left: !active,
        mentions: if features.mentions {
            Some(r.get(13)?)
        } else {
            None
        },
        notify: features.settings.then_some(notify),
        pinned: if features.settings {
            Some(r.get(15)?)
        } else {
            None
        },
        archived: if features.settings {
            Some(r.get(16)?)
        } else {
            None
        },
    };
    Ok((summary, r.get(12)?))
}

/// The summary of `conv` for `user`, or `None` when the user never joined it.
pub fn summary(
    conn: &dyn Db,
    user: &str,
    conv: i64,
    features: Features,
) -> Result<Option<Summary>, StoreError> {
    let sql = format!("{SUMMARY_FROM} WHERE m.user = ?1 AND m.conv = ?2");
    conn.query_opt(&sql, params![user, conv], |r| {
        summary_row(r, user, features)
    })
    .map(|o| o.map(|(s, _)| s))
    .map_err(|e| StoreError::Sql("read summary", e))
}

/// Whether `user` is a current member of `conv`.
pub fn is_member(conn: &dyn Db, user: &str, conv: i64) -> Result<bool, StoreError> {
    let active: Option<bool> = conn
        .query_opt(
            "SELECT active FROM members WHERE \"user\" = ?1 AND conv = ?2",
            params![user, conv],
            |r| r.get(0),
        )
        .map_err(|e| StoreError::Sql("read membership", e))?;
    Ok(active == Some(true))
}

/// Current members of `conv` in join order.
pub fn members(conn: &dyn Db, conv: i64) -> Result<Vec<String>, StoreError> {
    conn.query_map(
        "SELECT \"user\" FROM members WHERE conv = ?1 AND active = 1 ORDER BY ord",
        params![conv],
        |r| r.get(0),
    )
    .map_err(|e| StoreError::Sql("read members", e))
}

/// Server clock in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
