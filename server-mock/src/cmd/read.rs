//! `read` (a stored cursor move, done by the writer) and `typing` (ephemeral:
//! straight to the other members' connections, nothing stored).

use std::sync::Arc;

use crate::params;
use crate::store::sql::{Db, DbExt};

use sync_core::protocol::{ConvId, Seq, ServerFrame};

use super::{Ctx, conv};
use crate::error::Reject;
use crate::store::batch::{
    Apply, Batch, Done, Fanout, OpResult, Route, bump_user, frame, member_conv, members_of,
    set_read, sql, to_user,
};
use crate::store::members::Members;
use crate::store::rows::{self, conv_id};

type Reply = Result<Option<ServerFrame>, Reject>;

/// `read`: `read_seq = max(read_seq, min(seq, last_seq))`.
pub fn read(ctx: &Ctx<'_>, c: &ConvId, seq: Seq) -> Reply {
    let conv = conv(c)?;
    ctx.submit(Read {
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
    let users = Arc::new(Members::new(others));
    match &ctx.shared.cluster {
        // Best effort across nodes.
        Some(cluster) => cluster.fan_out(Fanout {
            users,
            frame,
            except: None,
            route: Route::Conv {
                conv: id,
                seq: None,
            },
        }),
        None => ctx.shared.registry.send_to_members(&users, &frame, None),
    }
    Ok(Some(ServerFrame::Ok { re: ctx.re }))
}

/// A `read` op, for the writer's tests.
#[cfg(test)]
pub(crate) fn read_write_op(user: &str, conv: i64, seq: Seq) -> crate::store::batch::WriteOp {
    crate::store::batch::WriteOp::new(Read {
        user: user.to_owned(),
        conv,
        seq,
    })
}

/// `read` in the writer.
#[derive(Debug)]
struct Read {
    user: String,
    conv: i64,
    seq: Seq,
}

impl Apply for Read {
    fn apply(self: Box<Self>, db: &dyn Db, b: &mut Batch<'_>) -> OpResult {
        read_op(db, b, &self.user, self.conv, self.seq)
    }
}

fn read_op(db: &dyn Db, b: &mut Batch<'_>, me: &str, conv: i64, seq: Seq) -> OpResult {
    let c = member_conv(db, me, conv)?;
    let (read_seq,): (u64,) = db
        .query_row(
            "SELECT read_seq FROM members WHERE \"user\" = ?1 AND conv = ?2",
            params![me, conv],
            |r| Ok((r.get(0)?,)),
        )
        .map_err(sql("read cursor"))?;
    let new = read_seq.max(seq.min(c.last_seq));
    if new == read_seq {
        return Ok(Done::Ok);
    }
    set_read(db, me, conv, new)?;
    bump_user(db, b, me, conv)?;
    let origin = b.origin;
    to_user(
        b,
        me,
        &ServerFrame::Read {
            conv: conv_id(conv),
            seq: new,
        },
        origin,
    );
    if c.direct {
        let others: Vec<String> = members_of(db, b, conv)?
            .iter()
            .filter(|u| *u != me)
            .cloned()
            .collect();
        let f = frame(&ServerFrame::Receipt {
            conv: conv_id(conv),
            user: me.to_owned(),
            seq: new,
        });
        b.events.push(Fanout {
            users: Arc::new(Members::new(others)),
            frame: f,
            except: None,
            route: Route::Conv { conv, seq: None },
        });
    }
    Ok(Done::Ok)
}
