//! `read` (a stored cursor move, done by the writer) and `typing` (ephemeral:
//! straight to the other members' connections, nothing stored).

use std::sync::Arc;

use sync_core::protocol::{ConvId, Seq, ServerFrame};

use super::{Ctx, conv};
use crate::error::Reject;
use crate::store::ops::WriteOp;
use crate::store::rows;

type Reply = Result<Option<ServerFrame>, Reject>;

/// `read`: `read_seq = max(read_seq, min(seq, last_seq))`.
pub fn read(ctx: &Ctx<'_>, c: &ConvId, seq: Seq) -> Reply {
    let conv = conv(c)?;
    ctx.submit(WriteOp::Read {
        user: ctx.user.to_owned(),
        conv,
        seq,
    })
}

/// `typing`: to the other members' connections, not the sender's own.
pub async fn typing(ctx: &Ctx<'_>, c: ConvId) -> Reply {
    let id = conv(&c)?;
    let user = ctx.user.to_owned();
    let others = ctx
        .shared
        .store
        .read(move |db| {
            if !rows::is_member(db, &user, id)? {
                return Err(Reject::no_conv());
            }
            let mut m = rows::members(db, id)?;
            m.retain(|u| *u != user);
            Ok(m)
        })
        .await?;
    let frame = ServerFrame::Typing {
        conv: c,
        user: ctx.user.to_owned(),
    }
    .to_json()
    .into();
    ctx.shared
        .registry
        .send_to(Arc::new(others).iter(), &frame, None);
    Ok(Some(ServerFrame::Ok { re: ctx.re }))
}
