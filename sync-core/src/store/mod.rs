//! The local cache: the [`Store`] trait, its value types, and the two
//! implementations ([`SqliteStore`] for real use, [`MemoryStore`] for tests).
//!
//! The engine never reads the store while it runs: it starts from a
//! [`Snapshot`] and afterwards only emits [`Batch`]es of [`Write`]s, each of
//! which a store applies in one transaction. Queries (`conversations`,
//! `timeline`, `search`, …) read committed state only, so they work offline.

mod aggregates;
pub mod memory;
pub mod ranges;
pub mod sqlite;
mod sqlite_extras;
mod sqlite_insert;
mod sqlite_query;
pub mod suite;

pub(crate) use aggregates::{HeldReaction, assemble_thread, reaction_counts};
pub use aggregates::{ReactionCount, TextTotals, ThreadWindow, display_mentions};
pub use memory::MemoryStore;
pub use ranges::{RangeSet, SeqRange};
pub use sqlite::SqliteStore;

use std::collections::BTreeMap;

use crate::protocol::{ConvId, ConvKind, EntryKind, Message, Notify, Seq, Summary};

/// A store failure, naming the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Opening the database file or setting its pragmas failed.
    #[error("opening the store at {path}: {source}")]
    Open {
        /// The database path.
        path: String,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// A schema migration failed (the database is left at the previous version).
    #[error("applying migration {version}: {source}")]
    Migrate {
        /// The migration number that failed.
        version: usize,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The database is newer than this code understands.
    #[error("store schema version {found} is newer than supported {supported}")]
    TooNew {
        /// Version found in the database.
        found: usize,
        /// Newest version this build knows.
        supported: usize,
    },
    /// Writing a batch failed; the transaction was rolled back.
    #[error("writing to the store: {0}")]
    Write(rusqlite::Error),
    /// The disk holding the store is full: nothing of the failed write (or
    /// open) is stored; it works again once space is freed.
    #[error("the disk holding {dir} is full: free some space there")]
    DiskFull {
        /// The store's directory.
        dir: String,
    },
    /// Reading from the store failed.
    #[error("reading from the store: {0}")]
    Read(rusqlite::Error),
    /// A stored value could not be decoded.
    #[error("decoding a stored value: {0}")]
    Decode(String),
}

/// The logged-in account, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// User name.
    pub user: String,
    /// Device id the token belongs to.
    pub device: String,
    /// Session token.
    pub token: String,
}

/// Global values kept in the store's `meta` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaKey {
    /// The `server_id` of the server the cache came from.
    ServerId,
    /// The latest fully applied sync token.
    Since,
    /// Logged-in user name.
    User,
    /// Device of the session.
    Device,
    /// Session token.
    Token,
    /// `hello.features` of the latest connection, comma-separated (absent
    /// before the first connection).
    Features,
    /// `hello.max_body_bytes,max_frame_bytes` of the latest connection
    /// (absent before the first one: the protocol's example values apply).
    Limits,
}

impl MetaKey {
    /// Column value used in the `meta` table.
    pub fn as_str(self) -> &'static str {
        match self {
            MetaKey::ServerId => "server_id",
            MetaKey::Since => "since",
            MetaKey::User => "user",
            MetaKey::Device => "device",
            MetaKey::Token => "token",
            MetaKey::Features => "features",
            MetaKey::Limits => "limits",
        }
    }
}

/// What an outbox row asks the server to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxKind {
    /// A new text.
    Send,
    /// Replace the body of an earlier text.
    Edit {
        /// The text being edited.
        target: Seq,
    },
    /// Delete an earlier text, or withdraw one of the user's reactions
    /// (the `reaction` entry's seq).
    Redact {
        /// The text (or reaction) being deleted.
        target: Seq,
    },
    /// §9.1: a new text replying to an earlier one.
    Reply {
        /// The text replied to.
        reply_to: Seq,
    },
    /// §9.2: a reaction to a text.
    React {
        /// The text reacted to.
        target: Seq,
        /// The reaction (an emoji or `:shortcode:`).
        key: String,
    },
}

impl OutboxKind {
    /// The request that carries the row on the wire (a §9.1 reply is a
    /// `send` with `reply_to`).
    pub fn request(&self) -> &'static str {
        match self {
            OutboxKind::Send | OutboxKind::Reply { .. } => "send",
            OutboxKind::Edit { .. } => "edit",
            OutboxKind::Redact { .. } => "redact",
            OutboxKind::React { .. } => "react",
        }
    }

    /// The section 9 feature the server must list for this row, if any.
    pub fn feature(&self) -> Option<&'static str> {
        match self {
            OutboxKind::Reply { .. } => Some(crate::protocol::features::REPLY),
            OutboxKind::React { .. } => Some(crate::protocol::features::REACTIONS),
            _ => None,
        }
    }
}

/// Delivery state of an outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxState {
    /// Waiting to be sent (or resent after a reconnect).
    Pending,
    /// On the wire, waiting for `sent`.
    Sending,
    /// Refused permanently; the app may `retry` or `discard` it.
    Failed {
        /// Why.
        code: FailCode,
        /// Human text (from the server, or the engine's reason).
        message: String,
    },
}

/// Why an outbox row failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailCode {
    /// The server refused it with this code (e.g. `too_large`).
    Server(crate::protocol::ErrorCode),
    /// The server was replaced (a new `server_id`): the row names a
    /// conversation of the old one and was never sent.
    ServerReplaced,
    /// The row needs a section 9 feature (a reply or a reaction) that the
    /// server does not list in `hello.features`; it was never sent. Queued
    /// before the first connection, or before a server downgrade.
    Unsupported,
}

impl FailCode {
    /// The stored (and displayed) name: the protocol code, or `server_changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailCode::Server(c) => c.as_str(),
            FailCode::ServerReplaced => "server_changed",
            FailCode::Unsupported => "unsupported",
        }
    }

    /// The code for a stored name; an unknown name reads as `internal`.
    pub fn parse(s: &str) -> FailCode {
        match s {
            "server_changed" => FailCode::ServerReplaced,
            "unsupported" => FailCode::Unsupported,
            other => FailCode::Server(
                crate::protocol::ErrorCode::parse(other)
                    .unwrap_or(crate::protocol::ErrorCode::Internal),
            ),
        }
    }
}

impl std::fmt::Display for FailCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message the user sent that the server has not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Idempotency key; the same on every retry.
    pub client_id: String,
    /// Target conversation.
    pub conv: ConvId,
    /// Send, edit or redact.
    pub kind: OutboxKind,
    /// Text of a send or edit.
    pub body: Option<String>,
    /// Delivery state.
    pub state: OutboxState,
    /// Wall clock (Unix ms) when the user sent it.
    pub created_ts: i64,
}

/// A conversation's cached state as the engine tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvRecord {
    /// Conversation id.
    pub conv: ConvId,
    /// Direct or group.
    pub kind: ConvKind,
    /// Title (the other user for direct conversations).
    pub title: String,
    /// Member count from the latest summary.
    pub member_count: u32,
    /// The server's last_seq (max of summaries and entries seen).
    pub last_seq: Seq,
    /// The server's read cursor from the latest summary (or acknowledged read).
    pub read_seq: Seq,
    /// The server's unread count relative to `read_seq`.
    pub unread: u64,
    /// The local read cursor: max of `read_seq` and what the user marked.
    pub local_read: Seq,
    /// Newest text, for the list preview.
    pub last: Option<Message>,
    /// The user left: read-only, history kept.
    pub left: bool,
    /// Held seqs.
    pub held: RangeSet,
    /// §9.3: the server's count of unread texts mentioning the user,
    /// relative to `read_seq` (like `unread`).
    pub mentions: u64,
    /// §9.3: unread texts (above `read_seq`) known to mention the user,
    /// ascending: what a local read subtracts, and what an edit or a
    /// redaction must not count twice.
    pub mention_seqs: Vec<Seq>,
    /// §9.4: notification level.
    pub notify: Notify,
    /// §9.4: pinned to the top of the list.
    pub pinned: bool,
    /// §9.4: archived (listed apart).
    pub archived: bool,
}

impl ConvRecord {
    /// A record built from a server summary, holding nothing yet.
    pub fn from_summary(s: &Summary) -> ConvRecord {
        ConvRecord {
            conv: s.conv.clone(),
            kind: s.kind,
            title: s.title.clone(),
            member_count: s.member_count,
            last_seq: s.last_seq,
            read_seq: s.read_seq,
            unread: s.unread,
            local_read: s.read_seq,
            last: s.last.clone(),
            left: s.left,
            held: RangeSet::default(),
            mentions: s.mentions.unwrap_or(0),
            mention_seqs: Vec::new(),
            notify: s.notify.unwrap_or_default(),
            pinned: s.pinned.unwrap_or(false),
            archived: s.archived.unwrap_or(false),
        }
    }

    /// The cursor: newest held seq (0 when nothing is held).
    pub fn cursor(&self) -> Seq {
        self.held.cursor()
    }
}

/// One change to the store. A [`Batch`] of them is one transaction.
#[derive(Debug, Clone, PartialEq)]
// `Conv` holds a summary with its `last` entry; writes are built once and
// moved into one batch, so their size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Write {
    /// Set (or clear) a global value.
    Meta(MetaKey, Option<String>),
    /// Discard every cached conversation and message (the server changed).
    ResetAll,
    /// Insert or replace a conversation's state, held ranges included. The
    /// store derives the cursor and the explicit gap rows from it.
    Conv(ConvRecord),
    /// Drop a conversation's cached timeline (server reset of that conversation).
    ClearTimeline(ConvId),
    /// Forget a conversation entirely (absent from a full sync listing).
    RemoveConv(ConvId),
    /// Insert timeline entries (ignoring ones already held) and apply edits
    /// and redactions to their targets. Always paired with a `Conv` write
    /// carrying the new held ranges in the same batch.
    Messages(ConvId, Vec<Message>),
    /// Insert or replace an outbox row.
    OutboxPut(OutboxItem),
    /// Delete an outbox row (acknowledged or discarded).
    OutboxRemove(String),
    /// Another member's read receipt (kept as a max).
    Receipt(ConvId, String, Seq),
    /// These entries (already written by a `Messages` write of the same
    /// batch) arrived by live push, not by a pull.
    Live(ConvId, Vec<Seq>),
    /// §9.1/§9.2 totals from a `messages` reply, as of `as_of` (the reply's
    /// `last_seq`): each held text listed takes them as its snapshot unless
    /// it holds a fresher one. Reaction entries and replies held with a seq
    /// above the snapshot are counted on top when read.
    Totals {
        /// The conversation.
        conv: ConvId,
        /// The reply's `last_seq`.
        as_of: Seq,
        /// Per text of the reply.
        texts: Vec<TextTotals>,
    },
    /// §9.1: a completed `thread` page: every entry of the thread with a
    /// seq in `from..=to` is held now.
    ThreadPage {
        /// The conversation.
        conv: ConvId,
        /// The thread's root.
        root: Seq,
        /// First seq the page covers.
        from: Seq,
        /// Last seq the page covers.
        to: Seq,
        /// The reply's `thread_last_seq` (kept as a max).
        thread_last: Seq,
    },
    /// Creates the stream consumer `name` if it does not exist (or, with
    /// `reset`, forgets its positions), then sets each given position unless
    /// one is stored already.
    ConsumerStart {
        /// Consumer name.
        name: String,
        /// Starting positions per conversation.
        positions: Vec<(ConvId, Seq)>,
        /// Forget stored positions first (a `from: Beginning` or `Now` start).
        reset: bool,
    },
    /// The consumer has handled `conv` up to `seq` (kept as a max).
    ConsumerAck {
        /// Consumer name.
        name: String,
        /// The conversation.
        conv: ConvId,
        /// Handled up to here.
        seq: Seq,
    },
}

/// Writes that must commit together, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// The writes.
    pub writes: Vec<Write>,
    /// Commit with `synchronous=FULL` (outbox rows the user just sent).
    pub durable: bool,
}

/// Everything the engine needs to start, read once at open.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Cached server id.
    pub server_id: Option<String>,
    /// Latest applied sync token.
    pub since: Option<String>,
    /// Stored session, if logged in.
    pub session: Option<Session>,
    /// Every cached conversation.
    pub convs: Vec<ConvRecord>,
    /// Outbox rows in send order.
    pub outbox: Vec<OutboxItem>,
    /// `hello.features` of the latest connection; None before the first.
    pub features: Option<Vec<String>>,
    /// `hello`'s limits of the latest connection; None before the first.
    pub limits: Option<crate::protocol::ServerLimits>,
}

/// The stored `limits` meta value of `l` (read back by [`parse_limits`]).
pub(crate) fn limits_meta(l: crate::protocol::ServerLimits) -> String {
    format!("{},{}", l.max_body_bytes, l.max_frame_bytes)
}

/// Parses the stored `limits` meta value (`max_body_bytes,max_frame_bytes`).
pub(crate) fn parse_limits(v: Option<String>) -> Option<crate::protocol::ServerLimits> {
    let v = v?;
    let (body, frame) = v.split_once(',')?;
    Some(crate::protocol::ServerLimits {
        max_body_bytes: body.parse().ok()?,
        max_frame_bytes: frame.parse().ok()?,
    })
}

/// Parses the stored `features` meta value (comma-separated).
pub(crate) fn parse_features(v: Option<String>) -> Option<Vec<String>> {
    v.map(|s| {
        s.split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

/// One row of the conversation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvRow {
    /// Conversation id.
    pub conv: ConvId,
    /// Direct or group.
    pub kind: ConvKind,
    /// Title (the other user for direct conversations).
    pub title: String,
    /// Members.
    pub member_count: u32,
    /// Newest seq known.
    pub last_seq: Seq,
    /// Local read cursor (never behind the server's).
    pub read_seq: Seq,
    /// Unread texts by others after `read_seq`.
    pub unread: u64,
    /// Newest text, for the preview.
    pub last: Option<Message>,
    /// The user left: read-only.
    pub left: bool,
    /// Unix ms of the newest activity (message or outbox row); list sort key.
    pub last_activity_ts: i64,
    /// Outbox rows for this conversation.
    pub pending: u32,
    /// §9.3: unread texts that mention the user.
    pub mentions: u64,
    /// §9.4: notification level.
    pub notify: Notify,
    /// §9.4: pinned (listed first).
    pub pinned: bool,
    /// §9.4: archived (left out of [`crate::Client::conversations`]).
    pub archived: bool,
}

/// A held timeline entry with edits and redactions applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMessage {
    /// Position.
    pub seq: Seq,
    /// Author.
    pub sender: String,
    /// Server time, Unix ms.
    pub ts: i64,
    /// Entry kind. `edit` and `redact` entries are included; views usually skip them.
    pub kind: EntryKind,
    /// Current text (latest edit applied; None once redacted).
    pub body: Option<String>,
    /// An edit was applied.
    pub edited: bool,
    /// The text was redacted: show a "deleted" placeholder.
    pub redacted: bool,
    /// The sender's idempotency key, when present.
    pub client_id: Option<String>,
    /// Subject of join/leave.
    pub user: Option<String>,
    /// Title of a create.
    pub title: Option<String>,
    /// Members of a create.
    pub members: Option<Vec<String>>,
    /// Target of edit/redact.
    pub target: Option<Seq>,
    /// Stored from a live push (false: pulled by catch-up, a gap fill or a
    /// history page).
    pub live: bool,
    /// §9.1: the text this one replies to.
    pub reply_to: Option<Seq>,
    /// §9.1: its thread's root.
    pub thread: Option<Seq>,
    /// §9.2: the key of a `reaction` entry.
    pub key: Option<String>,
    /// §9.3: who the text mentions (its newest edit's list; empty once
    /// redacted; for the user's own text, empty from its `sent` reply until
    /// the push of the same entry fills it in).
    pub mentions: Vec<String>,
    /// §9.3: the text or one of its edits mentions the user (false once
    /// redacted, and always against a server without `mentions`: the server
    /// computes it).
    pub mentions_me: bool,
    /// §9.2: standing reactions, by count (descending) then key; empty
    /// once redacted.
    pub reactions: Vec<ReactionCount>,
    /// §9.1: replies in the thread this text is the root of.
    pub replies: u64,
    /// §9.1: the thread's newest reply.
    pub last_reply_seq: Option<Seq>,
    /// §9.1: its time, when that reply is held.
    pub last_reply_ts: Option<i64>,
}

impl LocalMessage {
    /// Whether this entry makes `user` a member of its conversation (§4: a
    /// `join` naming them, or the `create` listing them).
    pub fn adds_member(&self, user: &str) -> bool {
        match self.kind {
            EntryKind::Join => self.user.as_deref() == Some(user),
            EntryKind::Create => self
                .members
                .as_ref()
                .is_some_and(|l| l.iter().any(|u| u == user)),
            _ => false,
        }
    }

    /// A held entry as it arrived, before edits, redactions and totals.
    pub fn from_entry(m: &Message) -> LocalMessage {
        LocalMessage {
            seq: m.seq,
            sender: m.sender.clone(),
            ts: m.ts,
            kind: m.kind,
            body: m.body.clone(),
            edited: false,
            redacted: false,
            client_id: m.client_id.clone(),
            user: m.user.clone(),
            title: m.title.clone(),
            members: m.members.clone(),
            target: m.target,
            live: false,
            reply_to: m.reply_to,
            thread: m.thread,
            key: m.key.clone(),
            mentions: m.mentions.clone(),
            mentions_me: false,
            reactions: Vec::new(),
            replies: 0,
            last_reply_seq: None,
            last_reply_ts: None,
        }
    }
}

/// One item of a timeline window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimelineItem {
    /// A held entry.
    Message(LocalMessage),
    /// Seqs `from..=to` are not held; exactly `to - from + 1` entries are missing.
    Gap {
        /// First missing seq.
        from: Seq,
        /// Last missing seq (inclusive).
        to: Seq,
    },
    /// Local echo of an outbox row, after the newest held entry.
    Pending(OutboxItem),
}

/// Which part of a timeline to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineQuery {
    /// The newest `limit` held entries, with gaps and pending echoes.
    Latest {
        /// Number of held entries.
        limit: usize,
    },
    /// Up to `before` held entries below `seq` and `after` from `seq` on.
    Around {
        /// Anchor seq.
        seq: Seq,
        /// Entries below the anchor.
        before: usize,
        /// Entries at and after the anchor.
        after: usize,
    },
    /// Up to `limit` held entries after `seq` (exclusive), ascending, with
    /// the gaps among them; pending echoes when it reaches the newest.
    After {
        /// Entries above this seq.
        seq: Seq,
        /// Number of held entries.
        limit: usize,
    },
}

/// A query limit as an SQL `LIMIT` (saturating: `usize::MAX` means all).
pub(crate) fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A full-text search hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// Conversation.
    pub conv: ConvId,
    /// Position of the text.
    pub seq: Seq,
    /// Author.
    pub sender: String,
    /// Server time.
    pub ts: i64,
    /// Current text.
    pub body: String,
}

/// The cache: applies engine batches atomically and answers local queries.
///
/// Implementations must apply a [`Batch`] all-or-nothing; that is what keeps
/// a cursor from ever being ahead of its messages.
pub trait Store: Send + std::fmt::Debug {
    /// Everything the engine needs to start.
    fn load(&self) -> Result<Snapshot, StoreError>;
    /// Applies one batch in one transaction.
    fn apply(&mut self, batch: &Batch) -> Result<(), StoreError>;
    /// Applies several batches in order, all or nothing, ideally in one
    /// transaction (the driver group-commits what is queued). The default
    /// applies them one by one, each atomic on its own.
    fn apply_all(&mut self, batches: &[Batch]) -> Result<(), StoreError> {
        batches.iter().try_for_each(|b| self.apply(b))
    }
    /// Another handle on the same data, for queries from other threads
    /// while this one writes (the client keeps a few; streams use them).
    fn reader(&self) -> Result<Box<dyn Store>, StoreError>;
    /// Whether another process committed to the same data since the last
    /// call (the first: since the store was opened). The client checks it
    /// while idle and sends what another process queued in the outbox
    /// (`convo send --no-wait` beside a running app). The default, for a
    /// store no other process shares, is never.
    fn changed_elsewhere(&mut self) -> Result<bool, StoreError> {
        Ok(false)
    }
    /// A global value (`server_id`, the sync token, …).
    fn meta(&self, key: MetaKey) -> Result<Option<String>, StoreError>;
    /// How far the other members of `conv` have read: the highest stored
    /// receipt (0 when none).
    fn receipt(&self, conv: &ConvId) -> Result<Seq, StoreError>;
    /// Conversations sorted by last activity, newest first.
    fn conversations(&self) -> Result<Vec<ConvRow>, StoreError>;
    /// One conversation.
    fn conversation(&self, conv: &ConvId) -> Result<Option<ConvRow>, StoreError>;
    /// A window of a timeline with explicit gaps.
    fn timeline(&self, conv: &ConvId, q: TimelineQuery) -> Result<Vec<TimelineItem>, StoreError>;
    /// Number of held entries of a conversation.
    fn timeline_len(&self, conv: &ConvId) -> Result<u64, StoreError>;
    /// The stored explicit gaps of a conversation, ascending.
    fn gaps(&self, conv: &ConvId) -> Result<Vec<SeqRange>, StoreError>;
    /// Local full-text search over held texts, newest first.
    fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>, StoreError>;
    /// Outbox rows in send order.
    fn outbox(&self) -> Result<Vec<OutboxItem>, StoreError>;
    /// The stored session.
    fn session(&self) -> Result<Option<Session>, StoreError>;
    /// A stream consumer's stored positions; None when it was never started.
    fn consumer(&self, name: &str) -> Result<Option<BTreeMap<ConvId, Seq>>, StoreError>;
    /// §9.1: the thread of `root` as held: replies, gaps where replies may
    /// be missing, pending reply echoes.
    fn thread(&self, conv: &ConvId, root: Seq) -> Result<ThreadWindow, StoreError>;
    /// §9.1: the seqs of `root`'s thread known to be complete (held
    /// ranges and completed `thread` pages), and its `thread_last_seq`
    /// from the latest page (0 when never loaded).
    fn thread_coverage(&self, conv: &ConvId, root: Seq) -> Result<(RangeSet, Seq), StoreError>;
    /// §9.2: the seq of `user`'s standing `reaction` entry with `key` on
    /// `target`, when held.
    fn standing_reaction(
        &self,
        conv: &ConvId,
        target: Seq,
        key: &str,
        user: &str,
    ) -> Result<Option<Seq>, StoreError>;
}

/// Unread count shown to the user: the server's count, minus texts by others
/// the user has marked read locally but the server has not confirmed yet.
/// `others_between` counts held texts by others in `(read_seq, local_read]`.
pub fn display_unread(rec: &ConvRecord, others_between: u64) -> u64 {
    if rec.local_read >= rec.last_seq {
        0
    } else if rec.local_read <= rec.read_seq {
        rec.unread
    } else {
        rec.unread.saturating_sub(others_between)
    }
}

/// Turns user text into an FTS5 query: each word quoted (so punctuation can't
/// break the syntax), the last one as a prefix. None when there is no word.
pub fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    if words.is_empty() {
        return None;
    }
    Some(format!("{}*", words.join(" ")))
}

/// Orders timeline window pieces: held entries and gaps by seq, then echoes.
pub(crate) fn assemble_window(
    msgs: Vec<LocalMessage>,
    gaps: Vec<SeqRange>,
    pending: Vec<OutboxItem>,
) -> Vec<TimelineItem> {
    let mut items: Vec<(Seq, TimelineItem)> = msgs
        .into_iter()
        .map(|m| (m.seq, TimelineItem::Message(m)))
        .chain(gaps.into_iter().map(|g| {
            (
                g.from,
                TimelineItem::Gap {
                    from: g.from,
                    to: g.to,
                },
            )
        }))
        .collect();
    items.sort_by_key(|(seq, _)| *seq);
    let mut out: Vec<TimelineItem> = items.into_iter().map(|(_, i)| i).collect();
    out.extend(pending.into_iter().map(TimelineItem::Pending));
    out
}

/// Computes the seq window `[lo, hi]` a query covers from the held seqs
/// bounding it, and whether it reaches the newest entry.
pub(crate) fn window_bounds(
    below: &[Seq],
    from_anchor: &[Seq],
    q: TimelineQuery,
    top: Seq,
) -> (Seq, Seq, bool) {
    match q {
        TimelineQuery::Latest { limit } => {
            // `below` holds the newest `limit` seqs, descending.
            let lo = if below.len() < limit {
                1
            } else {
                below.last().copied().unwrap_or(1)
            };
            (lo, top, true)
        }
        TimelineQuery::Around {
            seq, before, after, ..
        } => {
            let lo = if below.len() < before {
                1
            } else {
                below.last().copied().unwrap_or(seq)
            };
            let reaches_top = from_anchor.len() <= after;
            let hi = if reaches_top {
                top
            } else {
                from_anchor.get(after).map_or(top, |s| s.saturating_sub(1))
            };
            (lo, hi, reaches_top)
        }
        TimelineQuery::After { seq, limit } => {
            // `from_anchor` holds up to `limit + 1` seqs above `seq`, ascending.
            let reaches_top = from_anchor.len() <= limit;
            let hi = if reaches_top {
                top
            } else {
                from_anchor.get(limit).map_or(top, |s| s.saturating_sub(1))
            };
            (seq.saturating_add(1), hi, reaches_top)
        }
    }
}

/// Whether an entry counts as activity for the conversation list's order.
/// Edits and redactions change an older message; they do not move its
/// conversation above one with newer messages (as in Slack or Element).
/// Reactions change an older message too. A kind this client does not
/// know is not shown, so it does not move the conversation either.
pub(crate) fn moves_activity(kind: crate::protocol::EntryKind) -> bool {
    !matches!(
        kind,
        crate::protocol::EntryKind::Edit
            | crate::protocol::EntryKind::Redact
            | crate::protocol::EntryKind::Reaction
            | crate::protocol::EntryKind::Unknown
    )
}

/// Conversation list order: pinned first, then newest activity, then id.
pub(crate) fn sort_rows(rows: &mut [ConvRow]) {
    rows.sort_by(|a, b| {
        b.pinned
            .cmp(&a.pinned)
            .then_with(|| b.last_activity_ts.cmp(&a.last_activity_ts))
            .then_with(|| a.conv.cmp(&b.conv))
    });
}
