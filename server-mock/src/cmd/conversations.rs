//! `create`, `invite`, `leave`, `members`, `rename`.

use sync_core::protocol::{ConvId, ConvKind, ServerFrame, validate};

use super::{Ctx, conv};
use crate::error::Reject;
use crate::store::ops::WriteOp;
use crate::store::rows;

type Reply = Result<Option<ServerFrame>, Reject>;

/// `create`: title rules here; member rules (names, existence, the direct
/// pair) in the writer, which sees the users table.
pub fn create(ctx: &Ctx<'_>, kind: ConvKind, title: Option<String>, members: Vec<String>) -> Reply {
    let title = match kind {
        ConvKind::Group => {
            let t = title.ok_or_else(|| Reject::bad("a group needs a title"))?;
            validate::title(&t)?;
            Some(t)
        }
        // The title of a direct conversation is the other member's name.
        ConvKind::Direct => None,
    };
    for m in &members {
        validate::user_name(m)?;
    }
    ctx.submit(WriteOp::Create {
        user: ctx.user.to_owned(),
        kind,
        title,
        members,
    })
}

/// `invite` (group only; any member may invite).
pub fn invite(ctx: &Ctx<'_>, c: &ConvId, users: Vec<String>) -> Reply {
    let conv = conv(c)?;
    for u in &users {
        validate::user_name(u)?;
    }
    ctx.submit(WriteOp::Invite {
        user: ctx.user.to_owned(),
        conv,
        users,
    })
}

/// `leave` (group only).
pub fn leave(ctx: &Ctx<'_>, c: &ConvId) -> Reply {
    let conv = conv(c)?;
    ctx.submit(WriteOp::Leave {
        user: ctx.user.to_owned(),
        conv,
    })
}

/// `rename` (group only).
pub fn rename(ctx: &Ctx<'_>, c: &ConvId, title: String) -> Reply {
    let conv = conv(c)?;
    validate::title(&title)?;
    ctx.submit(WriteOp::Rename {
        user: ctx.user.to_owned(),
        conv,
        title,
    })
}

/// `members`: current members in join order.
pub async fn members(ctx: &Ctx<'_>, c: ConvId) -> Reply {
    let id = conv(&c)?;
    let user = ctx.user.to_owned();
    let members = ctx
        .shared
        .store
        .read(move |db| {
            if !rows::is_member(db, &user, id)? {
                return Err(Reject::no_conv());
            }
            Ok(rows::members(db, id)?)
        })
        .await?;
    Ok(Some(ServerFrame::Members {
        re: ctx.re,
        conv: c,
        members,
    }))
}
