//! `create`, `invite`, `leave`, `members`, `rename`: field rules, then the
//! writer-side ops (member rows and their cache, the membership entries,
//! `conversation` events).

use std::sync::Arc;

use crate::params;
use crate::store::sql::{Db, DbExt};
use sync_core::protocol::{ConvId, ConvKind, EntryKind, ErrorCode, ServerFrame, validate};

use super::{Ctx, conv};
use crate::error::Reject;
use crate::store::batch::{
    Apply, Batch, ConvRow, Done, NewRow, OpResult, append, bump_user, conversation_event,
    group_conv, members_of, next_change, push_message, sql,
};
use crate::store::members::Members;
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
    ctx.submit(Create {
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
    ctx.submit(Invite {
        user: ctx.user.to_owned(),
        conv,
        users,
        max: ctx.shared.max_group_members,
    })
}

/// `leave` (group only).
pub fn leave(ctx: &Ctx<'_>, c: &ConvId) -> Reply {
    let conv = conv(c)?;
    ctx.submit(Leave {
        user: ctx.user.to_owned(),
        conv,
    })
}

/// `rename` (group only).
pub fn rename(ctx: &Ctx<'_>, c: &ConvId, title: String) -> Reply {
    let conv = conv(c)?;
    validate::title(&title)?;
    ctx.submit(Rename {
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

// ---- Writer-side ops ----

/// `create`.
#[derive(Debug)]
struct Create {
    user: String,
    kind: ConvKind,
    title: Option<String>,
    members: Vec<String>,
}

impl Apply for Create {
    fn apply(self: Box<Self>, db: &dyn Db, b: &mut Batch<'_>) -> OpResult {
        create_op(db, b, self.user, self.kind, self.title, self.members)
    }
}

/// `invite`.
#[derive(Debug)]
struct Invite {
    user: String,
    conv: i64,
    users: Vec<String>,
    /// Most members the group may hold.
    max: u64,
}

impl Apply for Invite {
    fn apply(self: Box<Self>, db: &dyn Db, b: &mut Batch<'_>) -> OpResult {
        invite_op(db, b, &self.user, self.conv, self.users, self.max)
    }
}

/// `leave`.
#[derive(Debug)]
struct Leave {
    user: String,
    conv: i64,
}

impl Apply for Leave {
    fn apply(self: Box<Self>, db: &dyn Db, b: &mut Batch<'_>) -> OpResult {
        leave_op(db, b, &self.user, self.conv)
    }
}

/// `rename`: the new title and a `title` entry.
#[derive(Debug)]
struct Rename {
    user: String,
    conv: i64,
    title: String,
}

impl Apply for Rename {
    fn apply(self: Box<Self>, db: &dyn Db, b: &mut Batch<'_>) -> OpResult {
        let mut c = group_conv(db, &self.user, self.conv)?;
        db.execute(
            "UPDATE convs SET title = ?1 WHERE id = ?2",
            params![self.title, self.conv],
        )
        .map_err(sql("rename"))?;
        let mut row = NewRow::new(&self.user, EntryKind::Title);
        row.body = Some(&self.title);
        let msg = append(db, b, self.conv, &mut c, row)?;
        push_message(db, b, self.conv, &msg)?;
        Ok(Done::Ok)
    }
}

/// Checks name rules; returns the names deduplicated in request order
/// without `me`.
fn other_names(me: &str, names: Vec<String>) -> Result<Vec<String>, Reject> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        sync_core::protocol::validate::user_name(&n)?;
        if n != me && !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// `not_found` unless every user in `names` exists.
fn check_exist(db: &dyn Db, names: &[String]) -> Result<(), Reject> {
    for n in names {
        let found: Option<i64> = db
            .query_opt("SELECT 1 FROM users WHERE name = ?1", params![n], |r| {
                r.get(0)
            })
            .map_err(sql("check user"))?;
        if found.is_none() {
            return Err(Reject::new(ErrorCode::NotFound, format!("no user {n}")));
        }
    }
    Ok(())
}

fn add_member(db: &dyn Db, b: &mut Batch<'_>, user: &str, conv: i64) -> Result<(), Reject> {
    let ord: i64 = db
        .query_row(
            "SELECT COALESCE(MAX(ord), 0) + 1 FROM members WHERE conv = ?1",
            params![conv],
            |r| r.get(0),
        )
        .map_err(sql("next member ord"))?;
    let v = next_change(b);
    // A user who left and is invited again keeps their old read cursor.
    db.execute(
        "INSERT INTO members (\"user\", conv, ord, active, read_seq, read_text_n, change_seq)
         VALUES (?1, ?2, ?3, 1, 0, 0, ?4)
         ON CONFLICT (\"user\", conv) DO UPDATE SET active = 1, ord = ?3, change_seq = ?4,
             left_seq = 0, left_text_seq = 0, left_text_n = 0",
        params![user, conv, ord, v],
    )
    .map_err(sql("insert member"))?;
    db.execute(
        "UPDATE convs SET member_count = member_count + 1, members_v = members_v + 1 WHERE id = ?1",
        params![conv],
    )
    .map_err(sql("count member"))?;
    // Cached now; changed in place unless a queued push still holds it.
    members_of(db, b, conv)?;
    if let Some(cached) = b.members.lists.get_mut(&conv) {
        // A cache reloaded after this row was inserted already lists the user.
        Arc::make_mut(cached).add(user);
    }
    b.members.changed(conv);
    Ok(())
}

fn create_op(
    db: &dyn Db,
    b: &mut Batch<'_>,
    me: String,
    kind: ConvKind,
    title: Option<String>,
    members: Vec<String>,
) -> OpResult {
    // Shape rules (bad_request) come before existence (not_found).
    let others = other_names(&me, members)?;
    let direct_key = match kind {
        ConvKind::Direct => {
            if others.len() != 1 {
                return Err(Reject::bad(
                    "a direct conversation needs exactly one other user",
                ));
            }
            let mut pair = [me.as_str(), others[0].as_str()];
            pair.sort_unstable();
            let key = pair.join("|");
            let existing: Option<i64> = db
                .query_opt(
                    "SELECT id FROM convs WHERE direct_key = ?1",
                    params![&key],
                    |r| r.get(0),
                )
                .map_err(sql("find direct"))?;
            if let Some(id) = existing {
                let s = rows::summary(db, &me, id, b.features)?.ok_or_else(Reject::no_conv)?;
                return Ok(Done::Conversation(Box::new(s)));
            }
            Some(key)
        }
        ConvKind::Group => None,
    };
    check_exist(db, &others)?;
    let title_col = title.clone().unwrap_or_default();
    let conv: i64 = db
        .query_row(
            "INSERT INTO convs (kind, title, direct_key, member_count, last_seq, last_text_seq, text_count)
             VALUES (?1, ?2, ?3, 0, 0, 0, 0) RETURNING id",
            params![kind.as_str(), title_col, direct_key],
            |r| r.get(0),
        )
        .map_err(sql("insert conv"))?;
    b.members.put(conv, Arc::new(Members::default()));
    let mut all = vec![me.clone()];
    all.extend(others.iter().cloned());
    for u in &all {
        add_member(db, b, u, conv)?;
    }
    let mut c = ConvRow {
        direct: direct_key.is_some(),
        last_seq: 0,
        last_text_seq: 0,
        text_count: 0,
    };
    let mut row = NewRow::new(&me, EntryKind::Create);
    row.title = if kind == ConvKind::Group {
        title.as_deref()
    } else {
        None
    };
    row.members = Some(all.clone());
    append(db, b, conv, &mut c, row)?;
    // The create entry itself is not pushed: the summary carries last_seq.
    let origin = b.origin;
    let next = c.last_seq + 1;
    conversation_event(db, b, &me, conv, origin, next)?;
    for u in &others {
        conversation_event(db, b, u, conv, None, next)?;
    }
    let s = rows::summary(db, &me, conv, b.features)?.ok_or_else(Reject::no_conv)?;
    Ok(Done::Conversation(Box::new(s)))
}

fn invite_op(
    db: &dyn Db,
    b: &mut Batch<'_>,
    me: &str,
    conv: i64,
    users: Vec<String>,
    max: u64,
) -> OpResult {
    let mut c = group_conv(db, me, conv)?;
    let users = other_names(me, users)?;
    check_exist(db, &users)?;
    let mut new = Vec::with_capacity(users.len());
    for u in users {
        if !rows::is_member(db, &u, conv)? {
            new.push(u);
        }
    }
    let count: u64 = db
        .query_opt(
            "SELECT member_count FROM convs WHERE id = ?1",
            params![conv],
            |r| r.get(0),
        )
        .map_err(sql("count members"))?
        .unwrap_or(0);
    if count + new.len() as u64 > max {
        return Err(Reject::new(
            ErrorCode::TooLarge,
            format!(
                "a group holds at most {max} members ({count} now, {} invited)",
                new.len()
            ),
        ));
    }
    for u in new {
        add_member(db, b, &u, conv)?;
        let mut row = NewRow::new(me, EntryKind::Join);
        row.subject = Some(&u);
        let msg = append(db, b, conv, &mut c, row)?;
        // The join entry is pushed to the new member too.
        conversation_event(db, b, &u, conv, None, msg.seq)?;
        push_message(db, b, conv, &msg)?;
    }
    Ok(Done::Ok)
}

fn leave_op(db: &dyn Db, b: &mut Batch<'_>, me: &str, conv: i64) -> OpResult {
    let mut c = group_conv(db, me, conv)?;
    let mut row = NewRow::new(me, EntryKind::Leave);
    row.subject = Some(me);
    let msg = append(db, b, conv, &mut c, row)?;
    db.execute(
        "UPDATE members SET active = 0, left_seq = ?1, left_text_seq = ?2, left_text_n = ?3
         WHERE \"user\" = ?4 AND conv = ?5",
        params![c.last_seq, c.last_text_seq, c.text_count, me, conv],
    )
    .map_err(sql("leave"))?;
    db.execute(
        "UPDATE convs SET member_count = member_count - 1, members_v = members_v + 1 WHERE id = ?1",
        params![conv],
    )
    .map_err(sql("count member"))?;
    // The leaver's row gets its own change value now; the batch-end bump
    // only touches active members, so the left row is reported once.
    bump_user(db, b, me, conv)?;
    let list: Vec<String> = members_of(db, b, conv)?
        .iter()
        .filter(|u| *u != me)
        .cloned()
        .collect();
    b.members.put(conv, Arc::new(Members::new(list)));
    push_message(db, b, conv, &msg)?;
    Ok(Done::Ok)
}
