//! `pull` (ascending after a seq), `history` (the newest before a seq) and
//! §9.1 `thread` (a root and its replies after a seq), all cut to fit one
//! 1 MiB frame: `pull` and `thread` drop the newest, `history` the oldest, so
//! each page stays contiguous with where the client stands. The §9.1/§9.2
//! totals on texts come from the aggregate tables, one range read per page.

use std::collections::HashMap;

use crate::params;
use crate::store::sql::{Db, DbExt};
use sync_core::protocol::{
    ConvId, DEFAULT_PAGE_LIMIT, EntryKind, MAX_PAGE_LIMIT, MAX_SERVER_FRAME_BYTES, Message, Seq,
    ServerFrame,
};

use super::{Ctx, conv};
use crate::Features;
use crate::error::{Reject, StoreError};
use crate::store::rows::{self, ENTRY_COLS};

const ENVELOPE: usize = 1024;

fn limit(l: Option<i64>) -> Result<i64, Reject> {
    match l {
        None => Ok(i64::from(DEFAULT_PAGE_LIMIT)),
        Some(n) if n <= 0 => Err(Reject::bad("limit must be positive")),
        Some(n) => Ok(n.min(i64::from(MAX_PAGE_LIMIT))),
    }
}

fn sql(step: &'static str) -> impl FnOnce(crate::store::sql::DbError) -> Reject {
    move |e| Reject::from(StoreError::Sql(step, e))
}

fn seq_param(s: Seq) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

/// Which entries a page holds.
#[derive(Debug, Clone, Copy)]
enum Window {
    /// `pull`: `seq > after`, ascending.
    After(i64),
    /// `history`: `seq < before`, descending (reversed by the caller).
    Before(i64),
    /// `thread`: the root and its replies with `seq > after`, ascending.
    Thread { root: i64, after: i64 },
}

/// A page and the conversation's `last_seq`, read in one snapshot.
struct Page {
    messages: Vec<Message>,
    last_seq: Seq,
    /// `thread` only: the thread's newest seq.
    thread_last_seq: Option<Seq>,
}

/// Reads up to `n` entries of `w` within one snapshot, with their totals.
fn load(
    db: &dyn Db,
    user: &str,
    conv: i64,
    w: Window,
    n: i64,
    features: Features,
) -> Result<Page, Reject> {
    // `Store::read` runs this in one read transaction: the page and its
    // totals come from one snapshot.
    if !rows::is_member(db, user, conv)? {
        return Err(Reject::no_conv());
    }
    let last_seq: Seq = db
        .query_row(
            "SELECT last_seq FROM convs WHERE id = ?1",
            params![conv],
            |r| r.get(0),
        )
        .map_err(sql("read last seq"))?;
    let mut thread_last_seq = None;
    let (q, a, b) = match w {
        Window::After(after) => (
            format!(
                "SELECT {ENTRY_COLS} FROM entries WHERE conv = ?1 AND seq > ?2 AND seq > ?3 ORDER BY seq LIMIT ?4"
            ),
            after,
            0,
        ),
        Window::Before(before) => (
            format!(
                "SELECT {ENTRY_COLS} FROM entries WHERE conv = ?1 AND seq < ?2 AND seq > ?3 ORDER BY seq DESC LIMIT ?4"
            ),
            before,
            0,
        ),
        Window::Thread { root, after } => {
            thread_last_seq = Some(thread_root(db, conv, root)?);
            (
                format!(
                    "SELECT {ENTRY_COLS} FROM entries WHERE conv = ?1 AND seq = ?2 AND seq > ?3
                     UNION ALL
                     SELECT {ENTRY_COLS} FROM entries WHERE conv = ?1 AND thread = ?2 AND seq > ?3
                     ORDER BY seq LIMIT ?4"
                ),
                root,
                after,
            )
        }
    };
    // Every query uses all four parameters (PostgreSQL must infer each
    // one's type): `?3` is a lower bound, 0 outside a thread.
    let mut messages = db
        .query_map(&q, params![conv, a, b, n], |r| {
            rows::message_at(r, 0, features)
        })
        .map_err(sql("read timeline"))?;
    add_totals(db, conv, &mut messages, features)?;
    Ok(Page {
        messages: fit(messages),
        last_seq,
        thread_last_seq,
    })
}

/// Keeps the leading entries that fit the frame budget, never zero while
/// some remain.
fn fit(messages: Vec<Message>) -> Vec<Message> {
    let mut budget = MAX_SERVER_FRAME_BYTES - ENVELOPE;
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        let size = serde_json::to_string(&m).map(|j| j.len() + 1).unwrap_or(0);
        if size > budget && !out.is_empty() {
            break;
        }
        budget = budget.saturating_sub(size);
        out.push(m);
    }
    out
}

/// `root` must be a `text` of the conversation (`not_found` otherwise);
/// returns the thread's newest seq (the root's own while it has no replies).
fn thread_root(db: &dyn Db, conv: i64, root: i64) -> Result<Seq, Reject> {
    let row: Option<(String, Option<Seq>)> = db
        .query_opt(
            "SELECT e.kind, t.last_reply_seq FROM entries e
             LEFT JOIN thread_stats t ON t.conv = e.conv AND t.root = e.seq
             WHERE e.conv = ?1 AND e.seq = ?2",
            params![conv, root],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(sql("read thread root"))?;
    match row {
        Some((kind, last)) if kind == EntryKind::Text.as_str() => {
            Ok(last.unwrap_or(root.unsigned_abs()))
        }
        _ => Err(Reject::new(
            sync_core::protocol::ErrorCode::NotFound,
            format!("no text {root} to be a thread root"),
        )),
    }
}

/// §9.1 `replies`/`last_reply_seq` and §9.2 `reactions` on the page's texts,
/// as of this snapshot: one range read of each aggregate table over the
/// page's seq span (never a scan of the timeline).
fn add_totals(
    db: &dyn Db,
    conv: i64,
    messages: &mut [Message],
    features: Features,
) -> Result<(), Reject> {
    let (Some(lo), Some(hi)) = (
        messages.iter().map(|m| m.seq).min(),
        messages.iter().map(|m| m.seq).max(),
    ) else {
        return Ok(());
    };
    let at: HashMap<Seq, usize> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind == EntryKind::Text)
        .map(|(i, m)| (m.seq, i))
        .collect();
    if features.reply {
        let found = db
            .query_map(
                "SELECT root, replies, last_reply_seq FROM thread_stats
                     WHERE conv = ?1 AND root BETWEEN ?2 AND ?3",
                params![conv, lo, hi],
                |r| Ok((r.get::<Seq>(0)?, r.get::<u64>(1)?, r.get::<Seq>(2)?)),
            )
            .map_err(sql("read reply totals"))?;
        for row in found {
            let (root, replies, last) = row;
            if let Some(&i) = at.get(&root) {
                messages[i].replies = Some(replies);
                messages[i].last_reply_seq = Some(last);
            }
        }
    }
    if features.reactions {
        let found = db
            .query_map(
                "SELECT target, key, n FROM reaction_counts
                     WHERE conv = ?1 AND target BETWEEN ?2 AND ?3 AND n > 0",
                params![conv, lo, hi],
                |r| Ok((r.get::<Seq>(0)?, r.get::<String>(1)?, r.get::<u64>(2)?)),
            )
            .map_err(sql("read reaction totals"))?;
        for row in found {
            let (target, key, n) = row;
            if let Some(&i) = at.get(&target)
                && !messages[i].redacted
            {
                messages[i].reactions.insert(key, n);
            }
        }
    }
    Ok(())
}

async fn page(ctx: &Ctx<'_>, id: i64, w: Window, n: i64) -> Result<Page, Reject> {
    let user = ctx.user.to_owned();
    let features = ctx.shared.features;
    ctx.shared
        .store
        .read(move |db| load(db, &user, id, w, n, features))
        .await
}

/// `pull`: entries with `seq > after`, ascending, contiguous from `after + 1`.
pub async fn pull(
    ctx: &Ctx<'_>,
    c: ConvId,
    after: Seq,
    l: Option<i64>,
) -> Result<Option<ServerFrame>, Reject> {
    let id = conv(&c)?;
    let n = limit(l)?;
    let p = page(ctx, id, Window::After(seq_param(after)), n).await?;
    Ok(Some(ServerFrame::Messages {
        re: ctx.re,
        conv: c,
        messages: p.messages,
        last_seq: p.last_seq,
        root: None,
        thread_last_seq: None,
    }))
}

/// `history`: the newest `limit` entries below `before`, ascending.
pub async fn history(
    ctx: &Ctx<'_>,
    c: ConvId,
    before: Option<Seq>,
    l: Option<i64>,
) -> Result<Option<ServerFrame>, Reject> {
    let id = conv(&c)?;
    let n = limit(l)?;
    let bound = before.map_or(i64::MAX, seq_param);
    let mut p = page(ctx, id, Window::Before(bound), n).await?;
    p.messages.reverse();
    Ok(Some(ServerFrame::Messages {
        re: ctx.re,
        conv: c,
        messages: p.messages,
        last_seq: p.last_seq,
        root: None,
        thread_last_seq: None,
    }))
}

/// §9.1 `thread`: the root and the entries whose `thread` is `root`, with
/// `seq > after`, ascending.
pub async fn thread(
    ctx: &Ctx<'_>,
    c: ConvId,
    root: Seq,
    after: Seq,
    l: Option<i64>,
) -> Result<Option<ServerFrame>, Reject> {
    let id = conv(&c)?;
    let n = limit(l)?;
    let w = Window::Thread {
        root: seq_param(root),
        after: seq_param(after),
    };
    let p = page(ctx, id, w, n).await?;
    Ok(Some(ServerFrame::Messages {
        re: ctx.re,
        conv: c,
        messages: p.messages,
        last_seq: p.last_seq,
        root: Some(root),
        thread_last_seq: p.thread_last_seq,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(limit(None), Ok(100));
        assert_eq!(limit(Some(1000)), Ok(500));
        assert_eq!(limit(Some(7)), Ok(7));
        assert_eq!(
            limit(Some(0)).unwrap_err().code,
            sync_core::protocol::ErrorCode::BadRequest
        );
        assert_eq!(
            limit(Some(-3)).unwrap_err().code,
            sync_core::protocol::ErrorCode::BadRequest
        );
    }
}
