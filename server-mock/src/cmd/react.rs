//! §9.2 `react`: key and field rules, then the writer-side append of a
//! `reaction` entry: `client_id` dedup, target rules, the one-standing-
//! reaction rule, the per-(text, key) total. A reaction is withdrawn with
//! `redact` (see `send`). It never moves the read cursor and is never
//! unread or `last`: only texts are.

use crate::params;
use crate::store::sql::{Db, DbExt};
use sync_core::protocol::{ConvId, EntryKind, ErrorCode, Seq, ServerFrame, validate};

use super::{Ctx, conv};
use crate::error::Reject;
use crate::store::batch::{
    Apply, Batch, NewRow, OpResult, append, first_sent, member_conv, push_sent, sql, target,
};

/// `react`.
pub fn react(ctx: &Ctx<'_>, c: &ConvId, client_id: String, target: Seq, key: String) -> Reply {
    let conv = conv(c)?;
    validate::client_id(&client_id)?;
    validate::reaction_key(&key)?;
    ctx.submit(React {
        user: ctx.user.to_owned(),
        conv,
        client_id,
        target,
        key,
    })
}

type Reply = Result<Option<ServerFrame>, Reject>;

/// `react` in the writer.
#[derive(Debug)]
struct React {
    user: String,
    conv: i64,
    client_id: String,
    target: Seq,
    key: String,
}

/// My standing reaction with a key on a text, if any: answered by the
/// `entries_reactions` index alone (migration 6), never a scan of the
/// conversation.
const STANDING: &str = "SELECT seq FROM entries WHERE conv = ?1 AND target = ?2 AND sender = ?3
     AND key = ?4 AND kind = 'reaction' AND redacted = 0";

impl Apply for React {
    fn apply(self: Box<Self>, db: &dyn Db, b: &mut Batch<'_>) -> OpResult {
        let (me, conv) = (self.user.as_str(), self.conv);
        let mut c = member_conv(db, me, conv)?;
        // A retry gets the first `sent`, even if that reaction was withdrawn since.
        if let Some(first) = first_sent(db, me, conv, &self.client_id)? {
            return Ok(first);
        }
        let t = target(db, conv, self.target)?;
        if t.kind != EntryKind::Text {
            return Err(Reject::bad("reactions target text entries"));
        }
        if t.redacted {
            return Err(Reject::new(ErrorCode::Conflict, "the message was redacted"));
        }
        let standing: Option<i64> = db
            .query_opt(STANDING, params![conv, t.seq, me, self.key], |r| r.get(0))
            .map_err(sql("find standing reaction"))?;
        if let Some(seq) = standing {
            return Err(Reject::new(
                ErrorCode::Conflict,
                format!("your reaction {} (seq {seq}) already stands", self.key),
            ));
        }
        let mut row = NewRow::new(me, EntryKind::Reaction);
        row.client_id = Some(&self.client_id);
        row.target = Some(t.seq);
        row.key = Some(&self.key);
        let msg = append(db, b, conv, &mut c, row)?;
        db.execute(
            "INSERT INTO reaction_counts (conv, target, key, n) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (conv, target, key) DO UPDATE SET n = reaction_counts.n + 1",
            params![conv, t.seq, self.key],
        )
        .map_err(sql("count reaction"))?;
        push_sent(db, b, conv, &self.client_id, &msg)
    }
}

#[cfg(test)]
mod tests {
    /// The standing-reaction lookup searches the partial index and reads
    /// no entry row (the plan was a scan of the whole conversation).
    #[test]
    fn the_standing_reaction_lookup_is_an_index_search() {
        assert_eq!(
            crate::store::query_plan(super::STANDING, rusqlite::params![1, 2, "a", "k"]),
            ["SEARCH entries USING COVERING INDEX entries_reactions \
                 (conv=? AND target=? AND sender=? AND key=? AND redacted=?)"]
        );
    }
}
