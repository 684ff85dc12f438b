//! The write operations, each applied inside the writer's batch transaction:
//! accounts and tokens, conversations and membership, appends, read cursors.
//!
//! Every op checks its rules first and returns a [`Reject`] before writing
//! anything; the fan-out it causes is collected in [`Batch::events`] and only
//! sent after the batch commits.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};
use sync_core::protocol::{ConvId, ConvKind, EntryKind, ErrorCode, Message, Seq, ServerFrame};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::membership_op;
use super::rows::{self, conv_id};
use crate::error::{Reject, StoreError};

/// What a client-sent append adds.
#[derive(Debug, Clone)]
pub enum NewEntry {
    /// `send`.
    Text { body: String },
    /// `edit`.
    Edit { target: Seq, body: String },
    /// `redact`.
    Redact { target: Seq },
}

/// One write request for the writer thread.
#[derive(Debug)]
pub enum WriteOp {
    /// New account plus its first token.
    Register {
        user: String,
        pw_hash: String,
        device: String,
        token_hash: [u8; 32],
        /// Consumed in the same transaction (invite-only servers).
        invite: Option<String>,
    },
    /// New token after a verified login.
    AddToken {
        user: String,
        device: String,
        token_hash: [u8; 32],
    },
    /// `logout`.
    RevokeToken { token_hash: [u8; 32] },
    /// A token was used (its idle clock restarts).
    TouchToken { token_hash: [u8; 32] },
    /// `logout` with `all`: every token of the user.
    RevokeUser { user: String },
    /// `password`: the new hash; every token but `keep` is revoked.
    SetPassword {
        user: String,
        pw_hash: String,
        keep: Option<[u8; 32]>,
    },
    /// `create`.
    Create {
        user: String,
        kind: ConvKind,
        title: Option<String>,
        members: Vec<String>,
    },
    /// `invite`.
    Invite {
        user: String,
        conv: i64,
        users: Vec<String>,
    },
    /// `leave`.
    Leave { user: String, conv: i64 },
    /// `rename`.
    Rename {
        user: String,
        conv: i64,
        title: String,
    },
    /// `send`, `edit`, `redact`.
    Append {
        user: String,
        conv: i64,
        client_id: String,
        entry: NewEntry,
    },
    /// Nothing: completes after every job queued before it (ordering).
    Barrier,
    /// `read`.
    Read { user: String, conv: i64, seq: Seq },
}

/// The successful result of a [`WriteOp`].
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    /// `ok` (also register/login, whose `session` reply the caller builds).
    Ok,
    /// `conversation` reply to `create`.
    Conversation(Box<sync_core::protocol::Summary>),
    /// `sent` reply.
    Sent {
        conv: ConvId,
        client_id: String,
        seq: Seq,
        ts: i64,
    },
}

/// A frame for every connection of `users`, except connection `except`.
#[derive(Debug)]
pub struct Fanout {
    pub users: Arc<Vec<String>>,
    pub frame: Utf8Bytes,
    pub except: Option<u64>,
}

/// State of one batch transaction shared by its ops.
#[derive(Debug)]
pub struct Batch<'c> {
    /// The global change counter (last value handed out).
    pub counter: i64,
    /// Conversations whose members' summaries changed in this batch.
    pub touched: HashSet<i64>,
    /// Fan-out of the current op, sent after commit.
    pub events: Vec<Fanout>,
    /// conv → current members, in join order.
    pub members: &'c mut HashMap<i64, Arc<Vec<String>>>,
    /// Connection that sent the current op.
    pub origin: Option<u64>,
    /// Server clock for this batch.
    pub now: i64,
}

pub(super) type OpResult = Result<Done, Reject>;

pub(super) fn sql(step: &'static str) -> impl FnOnce(rusqlite::Error) -> Reject {
    move |e| Reject::from(StoreError::Sql(step, e))
}

pub(super) fn frame(f: &ServerFrame) -> Utf8Bytes {
    f.to_json().into()
}

/// Applies `op`. On `Err` the caller rolls the op's savepoint back.
pub fn apply(db: &Connection, b: &mut Batch<'_>, op: WriteOp) -> OpResult {
    match op {
        WriteOp::Register {
            user,
            pw_hash,
            device,
            token_hash,
            invite,
        } => {
            let exists: Option<i64> = db
                .query_row("SELECT 1 FROM users WHERE name = ?1", [&user], |r| r.get(0))
                .optional()
                .map_err(sql("check user"))?;
            if exists.is_some() {
                return Err(Reject::new(ErrorCode::Conflict, "user name taken"));
            }
            if let Some(code) = invite {
                use_invite(db, &code, b.now)?;
            }
            db.execute(
                "INSERT INTO users (name, pw_hash, created_ms) VALUES (?1, ?2, ?3)",
                params![user, pw_hash, b.now],
            )
            .map_err(sql("insert user"))?;
            insert_token(db, b, &user, &device, &token_hash)
        }
        WriteOp::AddToken {
            user,
            device,
            token_hash,
        } => insert_token(db, b, &user, &device, &token_hash),
        WriteOp::RevokeToken { token_hash } => {
            db.execute("DELETE FROM tokens WHERE hash = ?1", [&token_hash[..]])
                .map_err(sql("delete token"))?;
            Ok(Done::Ok)
        }
        WriteOp::TouchToken { token_hash } => {
            db.execute(
                "UPDATE tokens SET last_used_ms = ?2 WHERE hash = ?1",
                params![&token_hash[..], b.now],
            )
            .map_err(sql("touch token"))?;
            Ok(Done::Ok)
        }
        WriteOp::RevokeUser { user } => {
            db.execute("DELETE FROM tokens WHERE user = ?1", [&user])
                .map_err(sql("delete tokens"))?;
            Ok(Done::Ok)
        }
        WriteOp::SetPassword {
            user,
            pw_hash,
            keep,
        } => {
            let n = db
                .execute(
                    "UPDATE users SET pw_hash = ?2 WHERE name = ?1",
                    params![user, pw_hash],
                )
                .map_err(sql("set password"))?;
            if n == 0 {
                return Err(Reject::new(ErrorCode::NotFound, "no such user"));
            }
            db.execute(
                "DELETE FROM tokens WHERE user = ?1 AND hash IS NOT ?2",
                params![user, keep.as_ref().map(|k| &k[..])],
            )
            .map_err(sql("revoke other tokens"))?;
            Ok(Done::Ok)
        }
        WriteOp::Create {
            user,
            kind,
            title,
            members,
        } => membership_op::create(db, b, user, kind, title, members),
        WriteOp::Invite { user, conv, users } => membership_op::invite(db, b, &user, conv, users),
        WriteOp::Leave { user, conv } => membership_op::leave(db, b, &user, conv),
        WriteOp::Rename { user, conv, title } => {
            let c = group_conv(db, &user, conv)?;
            db.execute(
                "UPDATE convs SET title = ?1 WHERE id = ?2",
                params![title, conv],
            )
            .map_err(sql("rename"))?;
            let mut row = NewRow::new(&user, EntryKind::Title);
            row.body = Some(&title);
            let mut c = c;
            let msg = append(db, b, conv, &mut c, row)?;
            push_message(db, b, conv, &msg)?;
            Ok(Done::Ok)
        }
        WriteOp::Append {
            user,
            conv,
            client_id,
            entry,
        } => super::append_op::client_append(db, b, &user, conv, &client_id, entry),
        WriteOp::Barrier => Ok(Done::Ok),
        WriteOp::Read { user, conv, seq } => read(db, b, &user, conv, seq),
    }
}

/// Takes one use of an invite code, or says why it cannot be used.
fn use_invite(db: &Connection, code: &str, now: i64) -> Result<(), Reject> {
    let row: Option<(i64, Option<i64>)> = db
        .query_row(
            "SELECT uses_left, expires_ms FROM invites WHERE code = ?1",
            [code],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sql("read invite"))?;
    let forbidden = |m: &str| Reject::new(ErrorCode::Forbidden, m);
    match row {
        None => Err(forbidden("unknown invite code")),
        Some((_, Some(expires))) if expires <= now => {
            Err(forbidden("this invite code has expired"))
        }
        Some((uses, _)) if uses <= 0 => Err(forbidden("this invite code is used up")),
        Some(_) => {
            db.execute(
                "UPDATE invites SET uses_left = uses_left - 1 WHERE code = ?1",
                [code],
            )
            .map_err(sql("use invite"))?;
            Ok(())
        }
    }
}

fn insert_token(
    db: &Connection,
    b: &Batch<'_>,
    user: &str,
    device: &str,
    hash: &[u8; 32],
) -> OpResult {
    db.execute(
        "INSERT INTO tokens (hash, user, device, created_ms, last_used_ms)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![&hash[..], user, device, b.now],
    )
    .map_err(sql("insert token"))?;
    Ok(Done::Ok)
}

/// The mutable counters of a conversation row.
#[derive(Debug, Clone)]
pub struct ConvRow {
    pub direct: bool,
    pub last_seq: u64,
    pub last_text_seq: u64,
    pub text_count: u64,
}

/// The conversation row if `user` is a current member (else `not_found`).
pub fn member_conv(db: &Connection, user: &str, conv: i64) -> Result<ConvRow, Reject> {
    if !rows::is_member(db, user, conv)? {
        return Err(Reject::no_conv());
    }
    let mut stmt = db
        .prepare_cached("SELECT kind, last_seq, last_text_seq, text_count FROM convs WHERE id = ?1")
        .map_err(sql("prepare conv"))?;
    stmt.query_row([conv], |r| {
        Ok(ConvRow {
            direct: r.get::<_, String>(0)? == "direct",
            last_seq: r.get(1)?,
            last_text_seq: r.get(2)?,
            text_count: r.get(3)?,
        })
    })
    .optional()
    .map_err(sql("read conv"))?
    .ok_or_else(Reject::no_conv)
}

pub(super) fn group_conv(db: &Connection, user: &str, conv: i64) -> Result<ConvRow, Reject> {
    let c = member_conv(db, user, conv)?;
    if c.direct {
        return Err(Reject::bad("only group conversations can do this"));
    }
    Ok(c)
}

/// Fields of an entry to append.
#[derive(Debug)]
pub struct NewRow<'a> {
    pub sender: &'a str,
    pub kind: EntryKind,
    pub body: Option<&'a str>,
    pub target: Option<Seq>,
    pub title: Option<&'a str>,
    pub members: Option<Vec<String>>,
    pub subject: Option<&'a str>,
    pub client_id: Option<&'a str>,
}

impl<'a> NewRow<'a> {
    pub fn new(sender: &'a str, kind: EntryKind) -> Self {
        NewRow {
            sender,
            kind,
            body: None,
            target: None,
            title: None,
            members: None,
            subject: None,
            client_id: None,
        }
    }
}

/// Appends one entry: the seq is assigned here, inside the transaction that
/// stores it, so seqs never skip or repeat. Marks the conversation touched.
pub fn append(
    db: &Connection,
    b: &mut Batch<'_>,
    conv: i64,
    c: &mut ConvRow,
    row: NewRow<'_>,
) -> Result<Message, Reject> {
    let seq = c.last_seq + 1;
    let is_text = row.kind == EntryKind::Text;
    let text_n = c.text_count + u64::from(is_text);
    let members_json = row
        .members
        .as_ref()
        .map(|m| serde_json::Value::from(m.clone()).to_string());
    let mut stmt = db
        .prepare_cached(
            "INSERT INTO entries (conv, seq, sender, ts, kind, body, target, title, members, subject, client_id, text_n)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .map_err(sql("prepare append"))?;
    stmt.execute(params![
        conv,
        seq,
        row.sender,
        b.now,
        row.kind.as_str(),
        row.body,
        row.target,
        row.title,
        members_json,
        row.subject,
        row.client_id,
        text_n
    ])
    .map_err(sql("insert entry"))?;
    c.last_seq = seq;
    c.text_count = text_n;
    if is_text {
        c.last_text_seq = seq;
    }
    let mut stmt = db
        .prepare_cached(
            "UPDATE convs SET last_seq = ?1, last_text_seq = ?2, text_count = ?3 WHERE id = ?4",
        )
        .map_err(sql("prepare conv update"))?;
    stmt.execute(params![c.last_seq, c.last_text_seq, c.text_count, conv])
        .map_err(sql("update conv"))?;
    b.touched.insert(conv);
    Ok(Message {
        seq,
        sender: row.sender.to_owned(),
        ts: b.now,
        kind: row.kind,
        body: row.body.map(str::to_owned),
        target: row.target,
        title: row.title.map(str::to_owned),
        members: row.members,
        user: row.subject.map(str::to_owned),
        client_id: row.client_id.map(str::to_owned),
        redacted: false,
        reply_to: None,
        thread: None,
        key: None,
        mentions: Vec::new(),
        replies: None,
        last_reply_seq: None,
        reactions: Default::default(),
    })
}

/// Current members of `conv` (cached; the writer is the only one changing them).
pub fn members_of(
    db: &Connection,
    b: &mut Batch<'_>,
    conv: i64,
) -> Result<Arc<Vec<String>>, Reject> {
    if let Some(m) = b.members.get(&conv) {
        return Ok(m.clone());
    }
    let m = Arc::new(rows::members(db, conv)?);
    if b.members.len() > 100_000 {
        b.members.clear();
    }
    b.members.insert(conv, m.clone());
    Ok(m)
}

/// Queues the `message` push of `msg` to every current member's connections.
pub fn push_message(
    db: &Connection,
    b: &mut Batch<'_>,
    conv: i64,
    msg: &Message,
) -> Result<(), Reject> {
    let users = members_of(db, b, conv)?;
    let f = frame(&ServerFrame::Message {
        conv: conv_id(conv),
        message: msg.clone(),
    });
    b.events.push(Fanout {
        users,
        frame: f,
        except: None,
    });
    Ok(())
}

pub(super) fn to_user(b: &mut Batch<'_>, user: &str, f: &ServerFrame, except: Option<u64>) {
    b.events.push(Fanout {
        users: Arc::new(vec![user.to_owned()]),
        frame: frame(f),
        except,
    });
}

/// Hands out the next change counter value.
pub fn next_change(b: &mut Batch<'_>) -> i64 {
    b.counter += 1;
    b.counter
}

pub(super) fn bump_user(
    db: &Connection,
    b: &mut Batch<'_>,
    user: &str,
    conv: i64,
) -> Result<(), Reject> {
    let v = next_change(b);
    db.execute(
        "UPDATE members SET change_seq = ?1 WHERE user = ?2 AND conv = ?3",
        params![v, user, conv],
    )
    .map_err(sql("bump member"))?;
    Ok(())
}

pub(super) fn conversation_event(
    db: &Connection,
    b: &mut Batch<'_>,
    user: &str,
    conv: i64,
    except: Option<u64>,
) -> Result<(), Reject> {
    if let Some(s) = rows::summary(db, user, conv)? {
        to_user(
            b,
            user,
            &ServerFrame::Conversation {
                re: None,
                conversation: s,
            },
            except,
        );
    }
    Ok(())
}

fn read(db: &Connection, b: &mut Batch<'_>, me: &str, conv: i64, seq: Seq) -> OpResult {
    let c = member_conv(db, me, conv)?;
    let (read_seq,): (u64,) = db
        .query_row(
            "SELECT read_seq FROM members WHERE user = ?1 AND conv = ?2",
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
            users: Arc::new(others),
            frame: f,
            except: None,
        });
    }
    Ok(Done::Ok)
}

/// Moves `user`'s cursor to `seq` (callers ensure it moves forward).
pub fn set_read(db: &Connection, user: &str, conv: i64, seq: Seq) -> Result<(), Reject> {
    let mut stmt = db
        .prepare_cached(
            "UPDATE members SET read_seq = ?1,
                read_text_n = COALESCE((SELECT text_n FROM entries WHERE conv = ?3 AND seq = ?1), 0)
             WHERE user = ?2 AND conv = ?3",
        )
        .map_err(sql("prepare cursor"))?;
    stmt.execute(params![seq, user, conv])
        .map_err(sql("move cursor"))?;
    Ok(())
}
