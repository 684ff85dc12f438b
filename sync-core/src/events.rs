//! What the engine tells the app: connection states, change notifications
//! and the catch-up report.

use crate::protocol::{ConvId, Message, Seq};

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
    },
    /// Connected but without a valid session: register or log in.
    LoggedOut,
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
pub enum Event {
    /// The connection state changed.
    Connection(ConnState),
    /// These conversations' list rows changed (added, counts, preview, left).
    ConversationsChanged(Vec<ConvId>),
    /// This conversation's timeline changed (entries, gaps, edits).
    TimelineChanged {
        /// The conversation.
        conv: ConvId,
    },
    /// A new entry by someone else arrived (for notifications).
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
    Error(String),
}
