//! `sync`: a full listing (paged by conversation id) or the conversations
//! whose summary changed since a token, answered from the user's memberships
//! (primary key prefix) joined to their conversations, each compared by its
//! change value ([`CHANGE`]): the cost grows with what changed plus the
//! user's memberships, never with the database or the group sizes. Tokens: `s<counter>`
//! (incremental) and `f<counter>:c<conv>` (inside a paged full listing);
//! anything else gets a full listing.

use crate::params;
use crate::store::sql::{Db, DbExt};
use sync_core::protocol::{MAX_SERVER_FRAME_BYTES, ServerFrame, Summary};

use super::Ctx;
use crate::error::{Reject, StoreError};
use crate::store::rows::{self, CHANGE, SUMMARY_FROM};

/// Summaries per page (fewer if the frame would pass 1 MiB).
pub const PAGE: usize = 200;
/// Room left for the reply envelope around the summaries.
const ENVELOPE: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Incremental(i64),
    Full { at: i64, after: i64 },
}

fn parse(token: &str) -> Option<Token> {
    if let Some(n) = token.strip_prefix('s') {
        return n.parse().ok().filter(|n| *n >= 0).map(Token::Incremental);
    }
    let (at, after) = token.strip_prefix('f')?.split_once(":c")?;
    Some(Token::Full {
        at: at.parse().ok()?,
        after: after.parse().ok()?,
    })
}

/// One reply page.
#[derive(Debug)]
struct Page {
    token: String,
    full: bool,
    more: bool,
    conversations: Vec<Summary>,
}

/// `sync`.
pub async fn sync(ctx: &Ctx<'_>, since: Option<String>) -> Result<Option<ServerFrame>, Reject> {
    let user = ctx.user.to_owned();
    let features = ctx.shared.features;
    let p = ctx
        .shared
        .store
        .read(move |db| page(db, &user, since.as_deref(), features))
        .await?;
    Ok(Some(ServerFrame::Sync {
        re: ctx.re,
        since: p.token,
        full: p.full,
        more: p.more,
        conversations: p.conversations,
    }))
}

fn sql(step: &'static str) -> impl FnOnce(crate::store::sql::DbError) -> Reject {
    move |e| Reject::from(StoreError::Sql(step, e))
}

fn page(
    db: &dyn Db,
    user: &str,
    since: Option<&str>,
    features: crate::Features,
) -> Result<Page, Reject> {
    // `Store::read` runs this in one read transaction: the counter and the
    // rows come from the same snapshot, so nothing committed in between is
    // lost.
    let counter: i64 = db
        .query_row(
            "SELECT value FROM meta WHERE key = 'change_seq'",
            params![],
            |r| r.get::<String>(0),
        )
        .map_err(sql("read change counter"))
        .and_then(|v| {
            v.parse()
                .map_err(|_| StoreError::Corrupt(format!("change counter {v:?}")).into())
        })?;
    // A token from the future (another database) is unknown: full listing.
    let token = since.and_then(parse).filter(|t| match t {
        Token::Incremental(n) => *n <= counter,
        Token::Full { at, .. } => *at <= counter,
    });
    let limit = i64::try_from(PAGE + 1).unwrap_or(i64::MAX);
    let (full, at, after) = match token {
        Some(Token::Incremental(n)) => (false, counter, n),
        Some(Token::Full { at, after }) => (true, at, after),
        None => (true, counter, 0),
    };
    let sql_text = if full {
        format!(
            "{SUMMARY_FROM} WHERE m.user = ?1 AND m.active = 1 AND m.conv > ?2 ORDER BY m.conv LIMIT ?3"
        )
    } else {
        format!("{SUMMARY_FROM} WHERE m.user = ?1 AND {CHANGE} > ?2 ORDER BY {CHANGE} LIMIT ?3")
    };
    let found = db
        .query_map(&sql_text, params![user, after, limit], |r| {
            rows::summary_row(r, user, features)
        })
        .map_err(sql("read sync rows"))?;
    let mut more = found.len() > PAGE;
    let mut budget = MAX_SERVER_FRAME_BYTES - ENVELOPE;
    let mut conversations = Vec::new();
    let mut last_key = after;
    for (s, change) in found.into_iter().take(PAGE) {
        let size = serde_json::to_string(&s).map(|j| j.len() + 1).unwrap_or(0);
        if size > budget && !conversations.is_empty() {
            more = true;
            break;
        }
        budget = budget.saturating_sub(size);
        last_key = if full {
            rows::parse_conv(&s.conv).unwrap_or(last_key)
        } else {
            change
        };
        conversations.push(s);
    }
    let token = match (full, more) {
        (true, true) => format!("f{at}:c{last_key}"),
        (false, true) => format!("s{last_key}"),
        (_, false) => format!("s{at}"),
    };
    Ok(Page {
        token,
        full,
        more,
        conversations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert_eq!(parse("s12"), Some(Token::Incremental(12)));
        assert_eq!(parse("f7:c45"), Some(Token::Full { at: 7, after: 45 }));
        assert_eq!(parse("s-1"), None);
        assert_eq!(parse("x"), None);
        assert_eq!(parse("f7"), None);
        assert_eq!(parse(""), None);
    }
}
