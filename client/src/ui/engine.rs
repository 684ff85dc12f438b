//! What the UI driver needs from the sync engine, as a trait: local-store
//! queries (fast, synchronous), queued commands, and network requests (as
//! futures the driver spawns, so the UI never waits on the network).
//! `sync_core::Client` implements it (see `engine_sync_core.rs`); tests and
//! benches use in-memory fakes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::model::{
    ConnState, ConvId, ConvRow, Message, OutboxItem, SearchHit, Seq, TimelineItem, TimelineQuery,
};

/// A network request running in the background.
pub type BoxFut<T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'static>>;

/// Logs in (`false`) or registers (`true`) the TUI's user with a typed password,
/// keeps the token where the CLI keeps tokens, and returns a line for the status
/// bar. Built by the CLI, which owns the token store.
#[derive(Clone)]
/// The log-in hook: `(password, register, invite code)` → the line to show,
/// or why it failed. A failure that starts with [`NEEDS_INVITE`] means the
/// server wants an invite code for `register` (the rest is its message).
#[allow(clippy::type_complexity)]
pub struct LoginHook(pub Arc<dyn Fn(String, bool, Option<String>) -> BoxFut<String> + Send + Sync>);

/// Account actions behind `/passwd` and `/logout [all]` (the CLI's token
/// store behind them): each answers the line to show, or why it failed.
#[derive(Clone)]
#[allow(clippy::type_complexity)]
pub struct AccountHooks {
    /// `(old, new)`: change the password; other devices are signed out.
    pub passwd: Arc<dyn Fn(String, String) -> BoxFut<String> + Send + Sync>,
    /// `all`: revoke this session (every session) and forget the token here.
    pub logout: Arc<dyn Fn(bool) -> BoxFut<String> + Send + Sync>,
}

impl std::fmt::Debug for AccountHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountHooks")
    }
}

/// Marks a log-in failure that asks for an invite code (see [`LoginHook`]).
pub const NEEDS_INVITE: &str = "\u{1}needs-invite\u{1}";

impl std::fmt::Debug for LoginHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginHook")
    }
}

/// `--local`: counts the authenticated connections to the embedded server
/// other than this TUI's own, so quitting (which stops that server) can warn.
#[derive(Clone)]
pub struct LocalPeers(pub Arc<dyn Fn() -> usize + Send + Sync>);

impl std::fmt::Debug for LocalPeers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalPeers")
    }
}

/// The engine surface used by the UI. Errors are display strings: the UI
/// only shows them.
pub trait Engine: Send + Sync + 'static {
    fn conversations(&self) -> Result<Vec<ConvRow>, String>;
    fn timeline(&self, conv: &ConvId, query: TimelineQuery) -> Result<Vec<TimelineItem>, String>;
    fn timeline_len(&self, conv: &ConvId) -> Result<u64, String>;
    /// How far the other member has read (stored receipts), 0 when unknown.
    fn receipt(&self, conv: &ConvId) -> Result<Seq, String>;
    fn outbox(&self) -> Result<Vec<OutboxItem>, String>;
    fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>, String>;
    fn state(&self) -> ConnState;

    fn send(&self, conv: &ConvId, body: &str) -> Result<(), String>;
    fn edit(&self, conv: &ConvId, seq: Seq, body: &str) -> Result<(), String>;
    fn redact(&self, conv: &ConvId, seq: Seq) -> Result<(), String>;
    fn retry(&self, client_id: &str) -> Result<(), String>;
    fn discard(&self, client_id: &str) -> Result<(), String>;
    fn mark_read(&self, conv: &ConvId, seq: Seq) -> Result<(), String>;
    fn mark_all_read(&self, conv: &ConvId) -> Result<(), String>;
    fn typing(&self, conv: &ConvId);
    /// While reconnecting: try now instead of waiting for the backoff.
    fn reconnect_now(&self);
    fn open(&self, conv: &ConvId);

    fn load_older(&self, conv: &ConvId) -> BoxFut<()>;
    fn create_direct(&self, user: &str) -> BoxFut<ConvId>;
    fn create_group(&self, title: &str, members: &[String]) -> BoxFut<ConvId>;
    fn invite(&self, conv: &ConvId, users: &[String]) -> BoxFut<()>;
    fn leave(&self, conv: &ConvId) -> BoxFut<()>;
}

/// Engine notifications, as the UI sees them (mirror of sync-core `Event`).
#[derive(Debug, Clone, PartialEq, Eq)]
// One entry per new message (as sync-core's `Event`); not worth a box.
#[allow(clippy::large_enum_variant)]
pub enum EngineEvent {
    Connection(ConnState),
    ConversationsChanged(Vec<ConvId>),
    TimelineChanged {
        conv: ConvId,
    },
    NewMessage {
        conv: ConvId,
        message: Message,
    },
    OutboxChanged,
    Typing {
        conv: ConvId,
        user: String,
    },
    Receipt {
        conv: ConvId,
        user: String,
        seq: Seq,
    },
    CacheReset {
        reason: String,
    },
    /// Notifications were dropped while the UI was busy: re-read everything.
    Lagged,
    Error(String),
}
