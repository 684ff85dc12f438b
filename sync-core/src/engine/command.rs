//! The commands an app gives the engine and the replies it gets back.

use crate::error::Error;
use crate::protocol::{ConvId, Notify, Seq};
use crate::store::{OutboxItem, Session};

/// Token chosen by the caller to match a [`Reply`] to its command.
pub type ReplyToken = u64;

/// A request to the server made on behalf of an API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Create a group with a title and members.
    CreateGroup {
        /// Title.
        title: String,
        /// Other members.
        members: Vec<String>,
    },
    /// Find or create the direct conversation with a user.
    CreateDirect {
        /// The other user.
        user: String,
    },
    /// Add users to a group.
    Invite {
        /// The group.
        conv: ConvId,
        /// Users to add.
        users: Vec<String>,
    },
    /// Leave a group.
    Leave {
        /// The group.
        conv: ConvId,
    },
    /// Rename a group.
    Rename {
        /// The group.
        conv: ConvId,
        /// New title.
        title: String,
    },
    /// List members.
    Members {
        /// The conversation.
        conv: ConvId,
    },
    /// Revoke the session (`all`: every session of the user, §9.6).
    Logout {
        /// Every token of the user.
        all: bool,
    },
    /// §9.6: change the password; the user's other sessions end.
    Password {
        /// Current password.
        old: String,
        /// New password.
        new: String,
    },
    /// §9.4: change the user's settings for a conversation.
    Settings {
        /// The conversation.
        conv: ConvId,
        /// What to change.
        change: SettingsChange,
    },
}

/// §9.4: a change of the user's settings for one conversation; `None`
/// leaves a setting as it is (at least one must be `Some`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettingsChange {
    /// When the conversation notifies.
    pub notify: Option<Notify>,
    /// Pinned to the top of the list.
    pub pinned: Option<bool>,
    /// Archived (left out of the main list).
    pub archived: Option<bool>,
}

impl SettingsChange {
    /// Nothing would change.
    pub fn is_empty(&self) -> bool {
        self.notify.is_none() && self.pinned.is_none() && self.archived.is_none()
    }
}

/// A user command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Go online (connect, and reconnect forever).
    Connect,
    /// The store's outbox rows, read after another process committed to
    /// it: the pending ones this engine does not hold are queued here too.
    AdoptOutbox(Vec<crate::store::OutboxItem>),
    /// Go offline and stay offline.
    Disconnect,
    /// Create an account (connects if needed).
    Register {
        /// User name.
        user: String,
        /// Password.
        password: String,
        /// Invite code, for a server that requires one.
        invite: Option<String>,
        /// Reply token.
        token: ReplyToken,
    },
    /// Reply with what the server said about itself in `hello`.
    ServerInfo {
        /// Reply token.
        token: ReplyToken,
    },
    /// Log in with a password (connects if needed).
    Login {
        /// User name.
        user: String,
        /// Password.
        password: String,
        /// Reply token.
        token: ReplyToken,
    },
    /// Authenticate with a token, or the stored one (connects if needed).
    Resume {
        /// Token to use instead of the stored one.
        session_token: Option<String>,
        /// Reply token.
        token: ReplyToken,
    },
    /// Add a row to the outbox (send, edit or redact). Its batch is durable.
    Enqueue {
        /// The row (state Pending).
        item: OutboxItem,
        /// Reply with the seq once acknowledged (or the failure).
        wait: Option<ReplyToken>,
        /// A stream consumer's position committed in the same transaction
        /// as the row (an exactly-once reply).
        ack: Option<ConsumerAck>,
    },
    /// Add several rows to the outbox and a consumer's ack, all in one
    /// durable batch (several effects of one stream item): every row is
    /// checked first, and one refused row queues nothing.
    EnqueueAll {
        /// The rows (state Pending), in send order.
        items: Vec<OutboxItem>,
        /// A stream consumer's position committed with them.
        ack: Option<ConsumerAck>,
    },
    /// A message stream starts: store its starting positions (for a named
    /// consumer) and keep the conversations it covers complete above them.
    Follow {
        /// Named consumer whose positions are stored; None for an
        /// in-memory stream.
        consumer: Option<String>,
        /// Starting position per conversation known now.
        positions: Vec<(ConvId, Seq)>,
        /// Forget the consumer's stored positions first.
        reset: bool,
        /// Also every conversation that appears later (from seq 0).
        all: bool,
    },
    /// A stream consumer handled a conversation up to a seq.
    Ack(ConsumerAck),
    /// Reply with the seq once this queued row is acknowledged.
    WaitSent {
        /// The row.
        client_id: String,
        /// Reply token.
        token: ReplyToken,
    },
    /// Put a failed row back in the queue (at the end of its conversation).
    Retry(String),
    /// Drop an outbox row.
    Discard(String),
    /// Move the local read cursor (None: to the newest entry).
    MarkRead {
        /// The conversation.
        conv: ConvId,
        /// Seq read up to.
        seq: Option<Seq>,
    },
    /// The user is typing.
    Typing(ConvId),
    /// Waiting to reconnect: try now instead (the user is impatient).
    ReconnectNow,
    /// The conversation now on screen (eagerly fetched), or none.
    Open(Option<ConvId>),
    /// Reply once the conversation's fetches on the wire are done (after
    /// `Open`: its newest page is stored), at once if none is, or with
    /// `Offline`.
    WaitOpened {
        /// The conversation.
        conv: ConvId,
        /// Reply token.
        token: ReplyToken,
    },
    /// Load one older page / fill the highest gap of a conversation.
    LoadOlder {
        /// The conversation.
        conv: ConvId,
        /// Reply token.
        token: ReplyToken,
    },
    /// §9.1: fetch a thread with `thread` requests until its newest entry
    /// is held.
    LoadThread {
        /// The conversation.
        conv: ConvId,
        /// The thread's root.
        root: Seq,
        /// Reply token.
        token: ReplyToken,
    },
    /// A server request answered through a [`Reply`].
    Request {
        /// What to ask.
        request: Request,
        /// Reply token.
        token: ReplyToken,
    },
}

/// A stream consumer's position: `name` has handled `conv` up to `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerAck {
    /// Consumer name.
    pub name: String,
    /// The conversation.
    pub conv: ConvId,
    /// Handled up to here.
    pub seq: Seq,
}

/// The successful answer to a command with a reply token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyValue {
    /// Plain success.
    Done,
    /// A session (register, login, resume).
    Session(Session),
    /// A conversation id (create).
    Conv(ConvId),
    /// Members.
    Members(Vec<String>),
    /// The seq a sent row got.
    Seq(Seq),
    /// What the server said in `hello`.
    ServerInfo(ServerInfo),
}

/// What the server said about itself in its latest `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerInfo {
    /// Its `server_id` (None before the first connection).
    pub server_id: Option<String>,
    /// `hello.features`: the section 9 extensions it implements.
    pub features: Vec<String>,
    /// `hello.register` (server extension): `open`, `invite` or `closed`;
    /// None when the server does not say.
    pub register: Option<String>,
}

/// The answer to a command with a reply token.
pub type Reply = (ReplyToken, Result<ReplyValue, Error>);
