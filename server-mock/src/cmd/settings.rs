//! §9.4 `settings`: per (user, conversation) `notify`, `pinned`, `archived`,
//! stored on the member row. A change bumps the user's change counter (an
//! incremental `sync` lists the conversation) and reaches the user's other
//! connections as a `settings` event with all three values; a request that
//! changes nothing sends nothing.

use crate::params;
use crate::store::sql::{Db, DbExt};
use sync_core::protocol::{ConvId, Notify, ServerFrame};

use super::{Ctx, conv};
use crate::error::Reject;
use crate::store::batch::{Apply, Batch, Done, OpResult, bump_user, member_conv, sql, to_user};
use crate::store::rows::conv_id;

type Reply = Result<Option<ServerFrame>, Reject>;

/// `settings`: at least one field (a `null` already failed to decode).
pub fn settings(
    ctx: &Ctx<'_>,
    c: &ConvId,
    notify: Option<Notify>,
    pinned: Option<bool>,
    archived: Option<bool>,
) -> Reply {
    let conv = conv(c)?;
    if notify.is_none() && pinned.is_none() && archived.is_none() {
        return Err(Reject::bad(
            "settings needs at least one of notify, pinned, archived",
        ));
    }
    ctx.submit(Settings {
        user: ctx.user.to_owned(),
        conv,
        notify,
        pinned,
        archived,
    })
}

/// `settings` in the writer.
#[derive(Debug)]
struct Settings {
    user: String,
    conv: i64,
    notify: Option<Notify>,
    pinned: Option<bool>,
    archived: Option<bool>,
}

impl Apply for Settings {
    fn apply(self: Box<Self>, db: &dyn Db, b: &mut Batch<'_>) -> OpResult {
        let (me, conv) = (self.user.as_str(), self.conv);
        member_conv(db, me, conv)?;
        let (notify, pinned, archived): (String, bool, bool) = db
            .query_row(
                "SELECT notify, pinned, archived FROM members WHERE \"user\" = ?1 AND conv = ?2",
                params![me, conv],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(sql("read settings"))?;
        let old = (
            Notify::parse(&notify).ok_or_else(|| {
                Reject::from(crate::error::StoreError::Corrupt(format!(
                    "notify {notify:?} of {me} in c{conv}"
                )))
            })?,
            pinned,
            archived,
        );
        let new = (
            self.notify.unwrap_or(old.0),
            self.pinned.unwrap_or(old.1),
            self.archived.unwrap_or(old.2),
        );
        if new == old {
            return Ok(Done::Ok);
        }
        db.execute(
            "UPDATE members SET notify = ?1, pinned = ?2, archived = ?3 WHERE \"user\" = ?4 AND conv = ?5",
            params![new.0.as_str(), new.1, new.2, me, conv],
        )
        .map_err(sql("store settings"))?;
        bump_user(db, b, me, conv)?;
        let origin = b.origin;
        to_user(
            b,
            me,
            &ServerFrame::Settings {
                conv: conv_id(conv),
                notify: new.0,
                pinned: new.1,
                archived: new.2,
            },
            origin,
        );
        Ok(Done::Ok)
    }
}
