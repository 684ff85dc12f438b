//! `send`, `edit`, `redact`: field rules here; dedup, target rules and the
//! append itself in the writer (`store::append_op`).

use sync_core::protocol::{ConvId, Seq, ServerFrame, validate};

use super::{Ctx, conv};
use crate::error::Reject;
use crate::store::ops::{NewEntry, WriteOp};

type Reply = Result<Option<ServerFrame>, Reject>;

fn append(ctx: &Ctx<'_>, c: &ConvId, client_id: String, entry: NewEntry) -> Reply {
    let conv = conv(c)?;
    validate::client_id(&client_id)?;
    ctx.submit(WriteOp::Append {
        user: ctx.user.to_owned(),
        conv,
        client_id,
        entry,
    })
}

/// `send`.
pub fn send(ctx: &Ctx<'_>, c: &ConvId, client_id: String, body: String) -> Reply {
    validate::default_body(&body)?;
    append(ctx, c, client_id, NewEntry::Text { body })
}

/// `edit`.
pub fn edit(ctx: &Ctx<'_>, c: &ConvId, client_id: String, target: Seq, body: String) -> Reply {
    validate::default_body(&body)?;
    append(ctx, c, client_id, NewEntry::Edit { target, body })
}

/// `redact`.
pub fn redact(ctx: &Ctx<'_>, c: &ConvId, client_id: String, target: Seq) -> Reply {
    append(ctx, c, client_id, NewEntry::Redact { target })
}
