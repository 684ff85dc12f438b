//! What the engine tells the app: connection states, change notifications
//! and the catch-up report.

pub(crate) mod queue;

use crate::error::ConnectError;
use crate::protocol::{ConvId, ErrorCode, Message, Seq};

/// Connection state as the app should show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    /// Not connected and not trying (before `start`, after `stop`).
    Offline,
    /// Opening the socket, waiting for `hello`, authenticating.
    Connecting,
    /// Authenticated; syncing summaries and pulling history.
    CatchingUp {
        /// Conversations still to fetch.
        remaining: usize,
    },
    /// Caught up; pushes arrive as they happen.
    Live,
    /// Disconnected; the next attempt starts in `in_ms`.
    Reconnecting {
        /// Milliseconds until the next attempt.
        in_ms: u64,
        /// Why the last attempt failed or the connection ended, when known.
        last_error: Option<ConnectError>,
    },
    /// Connected but without a valid session: register or log in.
    LoggedOut,
    /// Stopped for good: retrying cannot help (a rejected certificate, a
    /// server that refuses the WebSocket upgrade). `start` tries again.
    Failed {
        /// Why.
        error: ConnectError,
    },
}

/// Figures of one completed catch-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Conversations known after the sync.
    pub conversations: usize,
    /// Conversations the sync reported as changed.
    pub changed: usize,
    /// Entries pulled (pull and history replies) during catch-up.
    pub pulled_messages: u64,
    /// Outbox rows sent at the end of catch-up.
    pub flushed: usize,
    /// The server answered with a full listing.
    pub full: bool,
}

/// A notification for the app. Events are delivered after the store writes
/// they describe are committed, so a query made on receipt sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
// `NewMessage` carries the entry as received (about 300 bytes with the
// protocol 1.1 fields); boxing it would change the public pattern for one
// move per event.
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// The connection state changed.
    Connection(ConnState),
    /// These conversations' list rows changed (added, counts, preview, left,
    /// §9.4 settings).
    ConversationsChanged(Vec<ConvId>),
    /// This conversation's timeline changed (entries, gaps, edits).
    TimelineChanged {
        /// The conversation.
        conv: ConvId,
    },
    /// A new entry by someone else arrived by push (for notifications): of
    /// any kind, texts, edits and §9.2 reactions included.
    NewMessage {
        /// The conversation.
        conv: ConvId,
        /// The entry.
        message: Message,
    },
    /// Outbox rows were added, sent, acknowledged or failed.
    OutboxChanged,
    /// Another member is typing.
    Typing {
        /// The conversation.
        conv: ConvId,
        /// Who types.
        user: String,
    },
    /// The other member of a direct conversation read up to `seq`.
    Receipt {
        /// The conversation.
        conv: ConvId,
        /// The reader.
        user: String,
        /// Their read cursor.
        seq: Seq,
    },
    /// Cached data was discarded (server changed, or a conversation was reset).
    CacheReset {
        /// Why.
        reason: String,
    },
    /// Something failed that the user may want to know about.
    Error(ErrorEvent),
    /// The app fell behind and this many notifications were merged away
    /// or dropped (`NewMessage`, `Typing`, `Receipt`): re-query what is on
    /// screen. Messages are never lost: read them through a
    /// [`crate::MessageStream`].
    Lagged {
        /// Notifications dropped.
        dropped: u64,
    },
}

/// A failure the app may want to show; `Display` gives one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorEvent {
    /// A connection attempt failed, or an open connection ended.
    #[error("connecting to {url}: {cause}")]
    Connection {
        /// The server URL.
        url: String,
        /// What failed.
        cause: ConnectError,
    },
    /// The server is shutting down (close code 1001); the engine reconnects.
    #[error("the server closed the connection: it is shutting down (1001)")]
    ServerClosing,
    /// No frame for this long: the connection was closed and is retried.
    #[error("no frame for {secs} s: connection considered dead")]
    Dead {
        /// Seconds of silence.
        secs: u64,
    },
    /// The session was refused or revoked: log in again.
    #[error("logged out: {reason}")]
    LoggedOut {
        /// Why.
        reason: String,
    },
    /// The server answered a background request with an error.
    #[error("{context}: server error {code}: {message}")]
    Server {
        /// What was being done (`sync`, `fetching c1`, …).
        context: String,
        /// Protocol error code.
        code: ErrorCode,
        /// The server's text.
        message: String,
    },
    /// The server sent something this client cannot use.
    #[error("{0}")]
    Protocol(String),
    /// A store write failed (a full disk, a broken file). What it held is
    /// kept in memory while the process runs.
    #[error("store write failed: {0}")]
    Store(String),
}
