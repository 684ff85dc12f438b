//! `pull` (ascending after a seq) and `history` (the newest before a seq),
//! both cut to fit one 1 MiB frame: `pull` drops the newest, `history` the
//! oldest, so each page stays contiguous with where the client stands.

use rusqlite::Connection;
use sync_core::protocol::{
    ConvId, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, MAX_SERVER_FRAME_BYTES, Message, Seq, ServerFrame,
};

use super::{Ctx, conv};
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

fn sql(step: &'static str) -> impl FnOnce(rusqlite::Error) -> Reject {
    move |e| Reject::from(StoreError::Sql(step, e))
}

fn seq_param(s: Seq) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

/// Reads `last_seq` and up to `n` entries (ascending or descending) within one snapshot.
fn load(
    db: &mut Connection,
    user: &str,
    conv: i64,
    bound: i64,
    n: i64,
    ascending: bool,
) -> Result<(Vec<Message>, Seq), Reject> {
    let tx = db.transaction().map_err(sql("begin timeline read"))?;
    if !rows::is_member(&tx, user, conv)? {
        return Err(Reject::no_conv());
    }
    let last_seq: Seq = tx
        .query_row("SELECT last_seq FROM convs WHERE id = ?1", [conv], |r| {
            r.get(0)
        })
        .map_err(sql("read last seq"))?;
    let q = if ascending {
        format!(
            "SELECT {ENTRY_COLS} FROM entries WHERE conv = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
        )
    } else {
        format!(
            "SELECT {ENTRY_COLS} FROM entries WHERE conv = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3"
        )
    };
    let mut stmt = tx.prepare_cached(&q).map_err(sql("prepare timeline"))?;
    let iter = stmt
        .query_map(rusqlite::params![conv, bound, n], |r| {
            rows::message_at(r, 0)
        })
        .map_err(sql("query timeline"))?;
    // Stop at the frame budget, never returning zero entries while some remain.
    let mut budget = MAX_SERVER_FRAME_BYTES - ENVELOPE;
    let mut out = Vec::new();
    for m in iter {
        let m = m.map_err(sql("read entry"))?;
        let size = serde_json::to_string(&m).map(|j| j.len() + 1).unwrap_or(0);
        if size > budget && !out.is_empty() {
            break;
        }
        budget = budget.saturating_sub(size);
        out.push(m);
    }
    Ok((out, last_seq))
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
    let user = ctx.user.to_owned();
    let (messages, last_seq) = ctx
        .shared
        .store
        .read(move |db| load(db, &user, id, seq_param(after), n, true))
        .await?;
    Ok(Some(ServerFrame::Messages {
        re: ctx.re,
        conv: c,
        messages,
        last_seq,
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
    let user = ctx.user.to_owned();
    let bound = before.map_or(i64::MAX, seq_param);
    let (mut messages, last_seq) = ctx
        .shared
        .store
        .read(move |db| load(db, &user, id, bound, n, false))
        .await?;
    messages.reverse();
    Ok(Some(ServerFrame::Messages {
        re: ctx.re,
        conv: c,
        messages,
        last_seq,
        root: None,
        thread_last_seq: None,
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
