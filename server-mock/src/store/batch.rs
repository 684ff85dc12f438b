//! What every write op shares inside the writer's batch transaction: the
//! [`Apply`] trait each request family implements next to its request
//! handling (`cmd/*`), the batch state, the reply values, and the helpers ops
//! build on (the one place that assigns seqs, pushes, change counters).
//!
//! Every op checks its rules first and returns a [`Reject`] before writing
//! anything; the fan-out it causes is collected in [`Batch::events`] and only
//! sent after the batch commits.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sync_core::protocol::{ConvId, EntryKind, ErrorCode, Message, Seq, ServerFrame};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::members::Members;
use super::rows::{self, conv_id};
use super::sql::{Db, DbError, DbExt};
use crate::error::{Reject, StoreError};
use crate::params;

/// A write, applied by the writer thread inside its batch transaction (in a
/// savepoint of its own: an `Err` undoes everything the op wrote). Each
/// request family defines its ops next to its parsing and replies.
pub trait Apply: Send + std::fmt::Debug + 'static {
    /// Checks the op's rules, writes, and queues its fan-out in `b.events`.
    fn apply(self: Box<Self>, db: &dyn Db, b: &mut Batch<'_>) -> OpResult;

    /// For a plain text send: what the batch's fast path prefetches
    /// ([`super::prefetch`]).
    fn text_key(&self) -> Option<super::prefetch::TextKey> {
        None
    }
}

/// One write request for the writer thread.
#[derive(Debug)]
pub struct WriteOp(Box<dyn Apply>);

impl WriteOp {
    /// Wraps a family's op.
    pub fn new(op: impl Apply) -> WriteOp {
        WriteOp(Box::new(op))
    }

    /// Applies the op. On `Err` the caller rolls the op's savepoint back.
    pub fn apply(self, db: &dyn Db, b: &mut Batch<'_>) -> OpResult {
        self.0.apply(db, b)
    }

    /// See [`Apply::text_key`].
    pub fn text_key(&self) -> Option<super::prefetch::TextKey> {
        self.0.text_key()
    }
}

impl<T: Apply> From<T> for WriteOp {
    fn from(op: T) -> WriteOp {
        WriteOp::new(op)
    }
}

/// Nothing: completes after every job queued before it (ordering).
#[derive(Debug)]
pub struct Barrier;

impl Apply for Barrier {
    fn apply(self: Box<Self>, _: &dyn Db, _: &mut Batch<'_>) -> OpResult {
        Ok(Done::Ok)
    }
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
#[derive(Debug, Clone)]
pub struct Fanout {
    pub users: Arc<Members>,
    pub frame: Utf8Bytes,
    pub except: Option<u64>,
    /// How the frame travels between nodes ([`crate::cluster`]).
    pub route: Route,
}

/// What the cluster bus needs to know about a [`Fanout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// About conversation `conv`; `seq` for a timeline entry's `message`
    /// push, which nodes deliver in seq order, none skipped.
    Conv { conv: i64, seq: Option<u64> },
    /// To one user's connections. `joined` for a `conversation` event
    /// (the conversations the user belongs to may have changed): the
    /// conversation and the first of its seqs pushed to the user after it.
    User { joined: Option<(i64, u64)> },
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
    pub members: &'c mut MemberCache,
    /// Connection that sent the current op.
    pub origin: Option<u64>,
    /// Server clock for this batch.
    pub now: i64,
    /// The §9 extensions served (what ops store and summaries carry).
    pub features: crate::Features,
    /// While set, the current op is one of the batch's leading plain texts,
    /// checked against rows read up front and written without a savepoint.
    pub prefetch: Option<super::prefetch::Prefetch>,
    /// §9.3 mention rows of the batch's texts, written before anything
    /// reads them.
    pub mentions: super::mention_rows::PendingMentions,
}

pub type OpResult = Result<Done, Reject>;

pub fn sql(step: &'static str) -> impl FnOnce(DbError) -> Reject {
    move |e| Reject::from(StoreError::Sql(step, e))
}

pub fn frame(f: &ServerFrame) -> Utf8Bytes {
    f.to_json().into()
}

/// The mutable counters of a conversation row.
#[derive(Debug, Clone)]
pub struct ConvRow {
    pub direct: bool,
    pub last_seq: u64,
    pub last_text_seq: u64,
    pub text_count: u64,
}

/// The membership check of [`member_conv`].
pub(crate) const MEMBER_CONV: &str = "SELECT c.kind, c.last_seq, c.last_text_seq, c.text_count
     FROM members m JOIN convs c ON c.id = m.conv
     WHERE m.\"user\" = ?1 AND m.conv = ?2 AND m.active = 1";

/// The conversation row if `user` is a current member (else `not_found`),
/// in one query.
pub fn member_conv(db: &dyn Db, user: &str, conv: i64) -> Result<ConvRow, Reject> {
    db.query_opt(MEMBER_CONV, params![user, conv], |r| {
        Ok(ConvRow {
            direct: r.get::<String>(0)? == "direct",
            last_seq: r.get(1)?,
            last_text_seq: r.get(2)?,
            text_count: r.get(3)?,
        })
    })
    .map_err(sql("read conv"))?
    .ok_or_else(Reject::no_conv)
}

pub fn group_conv(db: &dyn Db, user: &str, conv: i64) -> Result<ConvRow, Reject> {
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
    /// §9.1: the text replied to and its thread root.
    pub reply_to: Option<Seq>,
    pub thread: Option<Seq>,
    /// §9.2: a reaction's key.
    pub key: Option<&'a str>,
    /// §9.3: the members a text or edit mentions (sorted, no duplicates).
    pub mentions: Vec<String>,
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
            reply_to: None,
            thread: None,
            key: None,
            mentions: Vec::new(),
        }
    }
}

/// Appends one entry: the seq is assigned here, inside the transaction that
/// stores it, so seqs never skip or repeat. Marks the conversation touched.
pub fn append(
    db: &dyn Db,
    b: &mut Batch<'_>,
    conv: i64,
    c: &mut ConvRow,
    row: NewRow<'_>,
) -> Result<Message, Reject> {
    try_append(db, b, conv, c, row)?.ok_or_else(|| {
        Reject::from(StoreError::Corrupt(
            "an entry with this client id exists".into(),
        ))
    })
}

/// [`append`], or `None` (nothing written) when the row's `client_id` was
/// already used by its sender in `conv`: the insert is the dedup check, so
/// a new text costs no lookup first. On the batch's fast path (while
/// `b.prefetch` is set; its client id is known to be new) the row and the
/// conversation's counters are written by
/// [`super::prefetch::Prefetch::flush`] with the batch's other fast texts,
/// and a conflict fails the batch.
pub fn try_append(
    db: &dyn Db,
    b: &mut Batch<'_>,
    conv: i64,
    c: &mut ConvRow,
    row: NewRow<'_>,
) -> Result<Option<Message>, Reject> {
    let seq = c.last_seq + 1;
    let is_text = row.kind == EntryKind::Text;
    let text_n = c.text_count + u64::from(is_text);
    let members_json = row
        .members
        .as_ref()
        .map(|m| serde_json::Value::from(m.clone()).to_string());
    let mentions_json = (!row.mentions.is_empty())
        .then(|| serde_json::to_string(&row.mentions).unwrap_or_default());
    let insert = "INSERT INTO entries (conv, seq, sender, ts, kind, body, target, title, members,
            subject, client_id, text_n, reply_to, thread, key, mentions)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
         ON CONFLICT (conv, sender, client_id) WHERE client_id IS NOT NULL DO NOTHING";
    let now = b.now;
    let params = params![
        conv,
        seq,
        row.sender,
        now,
        row.kind.as_str(),
        row.body,
        row.target,
        row.title,
        members_json,
        row.subject,
        row.client_id,
        text_n,
        row.reply_to,
        row.thread,
        row.key,
        mentions_json
    ];
    let deferred = b.prefetch.is_some();
    let inserted = match b.prefetch.as_mut() {
        // The fast path writes its rows and counters once, at its end.
        Some(p) => {
            let row = params
                .iter()
                .map(|v| v.value())
                .collect::<Result<Vec<_>, _>>()
                .map_err(sql("insert entry"))?;
            p.insert(row);
            1
        }
        None => db.execute(insert, params).map_err(sql("insert entry"))?,
    };
    if inserted == 0 {
        return Ok(None);
    }
    c.last_seq = seq;
    c.text_count = text_n;
    if is_text {
        c.last_text_seq = seq;
    }
    b.touched.insert(conv);
    if deferred {
        return Ok(Some(new_message(b, seq, row)));
    }
    db.execute_later(
        "UPDATE convs SET last_seq = ?1, last_text_seq = ?2, text_count = ?3 WHERE id = ?4",
        params![c.last_seq, c.last_text_seq, c.text_count, conv],
    )
    .map_err(sql("update conv"))?;
    Ok(Some(new_message(b, seq, row)))
}

/// The `message` an appended row is pushed as.
fn new_message(b: &Batch<'_>, seq: Seq, row: NewRow<'_>) -> Message {
    Message {
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
        reply_to: row.reply_to,
        thread: row.thread,
        key: row.key.map(str::to_owned),
        mentions: row.mentions,
        replies: None,
        last_reply_seq: None,
        reactions: Default::default(),
    }
}

/// The writer's member lists, kept across batches: the writer is the only
/// one changing them, or, on a cluster, one of the nodes' writers, whose
/// batches take turns. After another node's batch a list is checked
/// against its conversation's `members_v` before it is used again.
#[derive(Debug, Default)]
pub struct MemberCache {
    /// conv → current members, in join order.
    pub lists: HashMap<i64, Arc<Members>>,
    /// conv → the `members_v` its list was read at (none once this node
    /// changed the list itself: checked by reading it whole).
    versions: HashMap<i64, i64>,
    /// Lists to check before use (another node wrote since).
    unchecked: HashSet<i64>,
}

impl MemberCache {
    /// Forgets every list.
    pub fn clear(&mut self) {
        self.lists.clear();
        self.versions.clear();
        self.unchecked.clear();
    }

    /// Another node wrote: every list is checked before its next use.
    pub fn others_wrote(&mut self) {
        self.unchecked.extend(self.lists.keys().copied());
    }

    /// Sets `conv`'s list, as this batch changed it.
    pub fn put(&mut self, conv: i64, m: Arc<Members>) {
        self.lists.insert(conv, m);
        self.changed(conv);
    }

    /// This batch changed `conv`'s membership: its version is not known.
    pub fn changed(&mut self, conv: i64) {
        self.versions.remove(&conv);
        self.unchecked.remove(&conv);
    }
}

/// Current members of `conv` (cached; see [`MemberCache`]).
pub fn members_of(db: &dyn Db, b: &mut Batch<'_>, conv: i64) -> Result<Arc<Members>, Reject> {
    let cache = &mut *b.members;
    if let Some(m) = cache.lists.get(&conv)
        && !cache.unchecked.contains(&conv)
    {
        return Ok(m.clone());
    }
    let v: i64 = db
        .query_row(
            "SELECT members_v FROM convs WHERE id = ?1",
            params![conv],
            |r| r.get(0),
        )
        .map_err(sql("read membership version"))?;
    let m = match cache.lists.get(&conv) {
        Some(m) if cache.versions.get(&conv) == Some(&v) => m.clone(),
        _ => {
            let m = Arc::new(Members::new(rows::members(db, conv)?));
            if cache.lists.len() > 100_000 {
                cache.clear();
            }
            cache.lists.insert(conv, m.clone());
            cache.versions.insert(conv, v);
            m
        }
    };
    cache.unchecked.remove(&conv);
    Ok(m)
}

/// Queues the `message` push of `msg` to every current member's connections.
pub fn push_message(
    db: &dyn Db,
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
        route: Route::Conv {
            conv,
            seq: Some(msg.seq),
        },
    });
    Ok(())
}

pub fn to_user(b: &mut Batch<'_>, user: &str, f: &ServerFrame, except: Option<u64>) {
    user_fanout(b, user, f, except, None);
}

/// Queues `f` for `user`'s connections ([`Route::User`]).
fn user_fanout(
    b: &mut Batch<'_>,
    user: &str,
    f: &ServerFrame,
    except: Option<u64>,
    joined: Option<(i64, u64)>,
) {
    b.events.push(Fanout {
        users: Arc::new(Members::new(vec![user.to_owned()])),
        frame: frame(f),
        except,
        route: Route::User { joined },
    });
}

/// Hands out the next change counter value.
pub fn next_change(b: &mut Batch<'_>) -> i64 {
    b.counter += 1;
    b.counter
}

pub fn bump_user(db: &dyn Db, b: &mut Batch<'_>, user: &str, conv: i64) -> Result<(), Reject> {
    let v = next_change(b);
    db.execute(
        "UPDATE members SET change_seq = ?1 WHERE \"user\" = ?2 AND conv = ?3",
        params![v, user, conv],
    )
    .map_err(sql("bump member"))?;
    Ok(())
}

/// Queues a `conversation` event for `user`, whose pushes of `conv` start
/// at seq `pushed_from` (what a node that starts following the
/// conversation for them owes them, [`crate::cluster`]).
pub fn conversation_event(
    db: &dyn Db,
    b: &mut Batch<'_>,
    user: &str,
    conv: i64,
    except: Option<u64>,
    pushed_from: Seq,
) -> Result<(), Reject> {
    if let Some(s) = rows::summary(db, user, conv, b.features)? {
        let f = ServerFrame::Conversation {
            re: None,
            conversation: s,
        };
        user_fanout(b, user, &f, except, Some((conv, pushed_from)));
    }
    Ok(())
}

/// Moves `user`'s cursor to `seq` (callers ensure it moves forward).
pub fn set_read(db: &dyn Db, user: &str, conv: i64, seq: Seq) -> Result<(), Reject> {
    db.execute_later(
        "UPDATE members SET read_seq = ?1,
            read_text_n = COALESCE((SELECT text_n FROM entries WHERE conv = ?3 AND seq = ?1), 0),
            read_mention_n = read_mention_n + (SELECT COUNT(*) FROM mentions x
                WHERE x.conv = ?3 AND x.seq > members.read_seq AND x.seq <= ?1
                    AND x.\"user\" = ?2)
         WHERE \"user\" = ?2 AND conv = ?3",
        params![seq, user, conv],
    )
    .map_err(sql("move cursor"))?;
    Ok(())
}

/// The first `sent` reply of a repeated `(sender, conv, client_id)`, if
/// that request already appended (a retry appends nothing).
pub fn first_sent(
    db: &dyn Db,
    me: &str,
    conv: i64,
    client_id: &str,
) -> Result<Option<Done>, Reject> {
    let first: Option<(u64, i64)> = db
        .query_opt(
            "SELECT seq, ts FROM entries WHERE conv = ?1 AND sender = ?2 AND client_id = ?3",
            params![conv, me, client_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(sql("dedup lookup"))?;
    Ok(first.map(|(seq, ts)| Done::Sent {
        conv: conv_id(conv),
        client_id: client_id.to_owned(),
        seq,
        ts,
    }))
}

/// The entry a request targets (`edit`, `redact`, `react`, `reply_to`,
/// `thread`).
#[derive(Debug, Clone)]
pub struct Target {
    pub seq: Seq,
    pub kind: EntryKind,
    pub sender: String,
    pub redacted: bool,
    /// For a text: its thread root, if it is a reply.
    pub thread: Option<Seq>,
    /// For a reaction: the text it reacts to and its key.
    pub target: Option<Seq>,
    pub key: Option<String>,
}

/// `kind, sender, redacted, thread, target, key` of an entry.
type TargetRow = (
    String,
    String,
    bool,
    Option<Seq>,
    Option<Seq>,
    Option<String>,
);

/// The entry `seq` of `conv`, or `not_found`.
pub fn target(db: &dyn Db, conv: i64, seq: Seq) -> Result<Target, Reject> {
    let missing = || Reject::new(ErrorCode::NotFound, format!("no entry {seq}"));
    let Ok(at) = i64::try_from(seq) else {
        return Err(missing());
    };
    let row: Option<TargetRow> = db
        .query_opt(
            "SELECT kind, sender, redacted, thread, target, key FROM entries
             WHERE conv = ?1 AND seq = ?2",
            params![conv, at],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .map_err(sql("read target"))?;
    let (kind, sender, redacted, thread, target, key) = row.ok_or_else(missing)?;
    let kind = EntryKind::parse(&kind).ok_or_else(|| {
        Reject::from(StoreError::Corrupt(format!(
            "entry {seq} has kind {kind:?}"
        )))
    })?;
    Ok(Target {
        seq,
        kind,
        sender,
        redacted,
        thread,
        target,
        key,
    })
}

/// Pushes `msg` and returns its `sent` reply.
pub fn push_sent(
    db: &dyn Db,
    b: &mut Batch<'_>,
    conv: i64,
    client_id: &str,
    msg: &Message,
) -> OpResult {
    push_message(db, b, conv, msg)?;
    Ok(Done::Sent {
        conv: conv_id(conv),
        client_id: client_id.to_owned(),
        seq: msg.seq,
        ts: msg.ts,
    })
}
