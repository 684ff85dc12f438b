//! The UI's port to the sync engine: the `EnginePort` trait with local-store
//! queries (fast, synchronous) as methods, and what the UI asks the engine to
//! do as values: `EngineCommand` (queued, answered at once) and
//! `EngineRequest` (network, a future the driver spawns, so the UI never
//! waits on the network) answered by `EngineReply`. `sync_core::Client`
//! implements it (see `engine_sync_core.rs`); tests use in-memory fakes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::model::{
    ConnState, ConvId, ConvRow, Message, OutboxItem, SearchHit, Seq, SettingsChange, ThreadWindow,
    TimelineItem, TimelineQuery,
};
use super::state::Action;

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

/// The engine surface used by the UI: store queries are methods; everything
/// the UI asks the engine to do is a value, an [`EngineCommand`] (queued,
/// answered at once) or an [`EngineRequest`] (network, answered later by an
/// [`EngineReply`]). Errors are display strings: the UI only shows them.
///
/// A new request is a variant of one of those enums, its arm in
/// `engine_sync_core.rs`, and the `update` step that produces it (see
/// "Adding a request (client side)" in ARCHITECTURE.md).
pub trait EnginePort: Send + Sync + 'static {
    fn conversations(&self) -> Result<Vec<ConvRow>, String>;
    fn timeline(&self, conv: &ConvId, query: TimelineQuery) -> Result<Vec<TimelineItem>, String>;
    fn timeline_len(&self, conv: &ConvId) -> Result<u64, String>;
    /// How far the other member has read (stored receipts), 0 when unknown.
    fn receipt(&self, conv: &ConvId) -> Result<Seq, String>;
    fn outbox(&self) -> Result<Vec<OutboxItem>, String>;
    fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>, String>;
    fn state(&self) -> ConnState;
    /// The server URL in use (with several, the one failed over to); None
    /// when the engine does not say (the status line keeps the configured one).
    fn server_url(&self) -> Option<String> {
        None
    }
    /// Protocol 1.1 features the server lists (`hello.features`; the last
    /// known list when offline). Empty: a v1 server, or not known yet.
    fn features(&self) -> Vec<String> {
        Vec::new()
    }
    /// The server's limits (`hello.max_body_bytes`, `max_frame_bytes`; the
    /// last known ones offline, the protocol's example values before any).
    fn limits(&self) -> sync_core::ServerLimits {
        sync_core::ServerLimits::default()
    }
    /// The archived conversations, by activity (left out of `conversations`).
    fn archived_conversations(&self) -> Result<Vec<ConvRow>, String> {
        Ok(Vec::new())
    }
    /// A thread's root and held replies (local only; see `LoadThread`).
    fn thread(&self, conv: &ConvId, root: Seq) -> Result<ThreadWindow, String> {
        let _ = (conv, root);
        Err("the server does not support replies".to_owned())
    }

    /// Hands a command to the engine; fails only when it was refused locally
    /// (invalid, store error). Never waits on the network.
    fn command(&self, command: EngineCommand) -> Result<(), String>;
    /// Starts a network request; the driver spawns the future.
    fn request(&self, request: EngineRequest) -> BoxFut<EngineReply>;
}

/// What the UI asks of the engine that is queued or local: accepted (or
/// refused) at once, carried out in the background.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineCommand {
    Send {
        conv: ConvId,
        body: String,
    },
    /// §9.1: a text replying to `reply_to` (queued like a send).
    Reply {
        conv: ConvId,
        reply_to: Seq,
        body: String,
    },
    /// §9.2: react to `target` with `key` (queued).
    React {
        conv: ConvId,
        target: Seq,
        key: String,
    },
    /// §9.2: withdraw my `key` reaction on `target` (a queued redaction).
    Unreact {
        conv: ConvId,
        target: Seq,
        key: String,
    },
    Edit {
        conv: ConvId,
        seq: Seq,
        body: String,
    },
    Redact {
        conv: ConvId,
        seq: Seq,
    },
    /// Retry a failed outbox item now.
    Retry {
        client_id: String,
    },
    /// Drop a failed outbox item.
    Discard {
        client_id: String,
    },
    MarkRead {
        conv: ConvId,
        seq: Seq,
    },
    MarkAllRead {
        conv: ConvId,
    },
    Typing {
        conv: ConvId,
    },
    /// While reconnecting: try now instead of waiting for the backoff.
    ReconnectNow,
    /// This conversation is on screen (eager fetch of its newest page).
    Open {
        conv: ConvId,
    },
}

impl EngineCommand {
    /// Names the command in the error line when the engine refuses it.
    pub fn label(&self) -> &'static str {
        match self {
            EngineCommand::Send { .. } => "send",
            EngineCommand::Reply { .. } => "reply",
            EngineCommand::React { .. } => "react",
            EngineCommand::Unreact { .. } => "remove reaction",
            EngineCommand::Edit { .. } => "edit",
            EngineCommand::Redact { .. } => "delete",
            EngineCommand::Retry { .. } => "retry",
            EngineCommand::Discard { .. } => "discard",
            EngineCommand::MarkRead { .. } | EngineCommand::MarkAllRead { .. } => "mark read",
            EngineCommand::Typing { .. } => "typing",
            EngineCommand::ReconnectNow => "reconnect",
            EngineCommand::Open { .. } => "open",
        }
    }

    /// The outbox (and so the open timeline's pending rows) changed: the
    /// driver re-reads both without waiting for the engine's event.
    pub fn changes_outbox(&self) -> bool {
        matches!(
            self,
            EngineCommand::Send { .. }
                | EngineCommand::Reply { .. }
                | EngineCommand::React { .. }
                | EngineCommand::Unreact { .. }
                | EngineCommand::Edit { .. }
                | EngineCommand::Redact { .. }
                | EngineCommand::Retry { .. }
                | EngineCommand::Discard { .. }
        )
    }

    /// Unread counts in the conversation list changed: the driver re-reads it.
    pub fn changes_list(&self) -> bool {
        matches!(self, EngineCommand::MarkAllRead { .. })
    }
}

/// What the UI asks of the server: answered by an [`EngineReply`] when the
/// server has answered (the UI keeps running meanwhile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineRequest {
    /// The page before the oldest stored message of the open conversation.
    LoadOlder {
        conv: ConvId,
    },
    /// Answered with [`EngineReply::Conv`].
    CreateDirect {
        user: String,
    },
    /// Answered with [`EngineReply::Conv`].
    CreateGroup {
        title: String,
        members: Vec<String>,
    },
    Invite {
        conv: ConvId,
        users: Vec<String>,
    },
    Leave {
        conv: ConvId,
    },
    /// §9.4: change my notify / pinned / archived setting of `conv`.
    Settings {
        conv: ConvId,
        change: SettingsChange,
    },
    /// §9.1: fetch a thread's replies until its newest is held.
    LoadThread {
        conv: ConvId,
        root: Seq,
    },
}

/// The answer values of [`EngineRequest`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineReply {
    /// Done; nothing to show but the fact.
    Done,
    /// The conversation created or found.
    Conv(ConvId),
}

impl EngineRequest {
    /// Whether it is answered by the server alone (nothing local stands
    /// in while offline, and nothing queues it).
    pub fn needs_server(&self) -> bool {
        matches!(
            self,
            EngineRequest::CreateDirect { .. }
                | EngineRequest::CreateGroup { .. }
                | EngineRequest::Invite { .. }
                | EngineRequest::Leave { .. }
                | EngineRequest::Settings { .. }
        )
    }

    /// The action the request's answer becomes (fed back to `update`).
    pub fn answer(self, reply: Result<EngineReply, String>) -> Action {
        match (self, reply) {
            (EngineRequest::LoadOlder { conv }, reply) => {
                let error = match reply {
                    Ok(EngineReply::Done) => None,
                    Err(e) => Some(e),
                    // Still an answer: the spinner stops, the mistake shows.
                    Ok(other) => Some(wrong_reply(&other, "LoadOlder")),
                };
                Action::OlderLoaded { conv, error }
            }
            (
                EngineRequest::CreateDirect { .. } | EngineRequest::CreateGroup { .. },
                Ok(EngineReply::Conv(conv)),
            ) => Action::Opened(conv),
            (EngineRequest::Invite { users, .. }, Ok(EngineReply::Done)) => {
                Action::Info(format!("invited {}", users.join(", ")))
            }
            (EngineRequest::Leave { .. }, Ok(EngineReply::Done)) => {
                Action::Info("left the conversation".to_owned())
            }
            (EngineRequest::Settings { change, .. }, Ok(EngineReply::Done)) => {
                Action::Info(super::features::describe_change(&change))
            }
            (EngineRequest::LoadThread { conv, root }, reply) => {
                let error = match reply {
                    Ok(EngineReply::Done) => None,
                    Err(e) => Some(e),
                    Ok(other) => Some(wrong_reply(&other, "LoadThread")),
                };
                Action::ThreadLoaded { conv, root, error }
            }
            (EngineRequest::Settings { .. }, Err(e)) => Action::Error(format!("settings: {e}")),
            // Refused (no such user, …): the command comes back to fix.
            (EngineRequest::CreateDirect { user }, Err(why)) => Action::Refused {
                retype: format!("/dm {user}"),
                why,
            },
            (EngineRequest::CreateGroup { title, members }, Err(why)) => {
                let title = if title.contains(char::is_whitespace) {
                    format!("\"{title}\"")
                } else {
                    title
                };
                Action::Refused {
                    retype: format!("/group {title} {}", members.join(" ")),
                    why,
                }
            }
            (EngineRequest::Invite { users, .. }, Err(why)) => Action::Refused {
                retype: format!("/invite {}", users.join(" ")),
                why: format!("invite: {why}"),
            },
            (EngineRequest::Leave { .. }, Err(e)) => Action::Error(format!("leave: {e}")),
            // Only a wrong `EnginePort` implementation gets here.
            (request, Ok(reply)) => Action::Error(wrong_reply(&reply, &format!("{request:?}"))),
        }
    }
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

fn wrong_reply(reply: &EngineReply, request: &str) -> String {
    format!("engine answered {reply:?} to {request}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c1() -> ConvId {
        ConvId::from("c1")
    }

    #[test]
    fn each_answer_becomes_the_action_the_user_sees() {
        let invite = EngineRequest::Invite {
            conv: c1(),
            users: vec!["bob".into(), "dave".into()],
        };
        assert_eq!(
            invite.clone().answer(Ok(EngineReply::Done)),
            Action::Info("invited bob, dave".into())
        );
        assert_eq!(
            invite.answer(Err("not_found".into())),
            Action::Refused {
                retype: "/invite bob dave".into(),
                why: "invite: not_found".into()
            }
        );
        let leave = EngineRequest::Leave { conv: c1() };
        assert_eq!(
            leave.clone().answer(Ok(EngineReply::Done)),
            Action::Info("left the conversation".into())
        );
        assert_eq!(
            leave.answer(Err("offline".into())),
            Action::Error("leave: offline".into())
        );
        let dm = EngineRequest::CreateDirect { user: "bob".into() };
        assert_eq!(
            dm.clone().answer(Ok(EngineReply::Conv(c1()))),
            Action::Opened(c1())
        );
        assert_eq!(
            dm.answer(Err("no user bob".into())),
            Action::Refused {
                retype: "/dm bob".into(),
                why: "no user bob".into()
            }
        );
        let group = EngineRequest::CreateGroup {
            title: "ops team".into(),
            members: vec!["bob".into(), "zed".into()],
        };
        assert_eq!(
            group.answer(Err("no user zed".into())),
            Action::Refused {
                retype: "/group \"ops team\" bob zed".into(),
                why: "no user zed".into()
            }
        );
        let older = EngineRequest::LoadOlder { conv: c1() };
        assert_eq!(
            older.clone().answer(Ok(EngineReply::Done)),
            Action::OlderLoaded {
                conv: c1(),
                error: None
            }
        );
        assert_eq!(
            older.clone().answer(Ok(EngineReply::Conv(c1()))),
            Action::OlderLoaded {
                conv: c1(),
                error: Some("engine answered Conv(ConvId(\"c1\")) to LoadOlder".into())
            }
        );
        assert_eq!(
            older.answer(Err("offline".into())),
            Action::OlderLoaded {
                conv: c1(),
                error: Some("offline".into())
            }
        );
    }

    #[test]
    fn a_reply_of_the_wrong_kind_is_an_error_not_a_guess() {
        let group = EngineRequest::CreateGroup {
            title: "team".into(),
            members: vec!["bob".into()],
        };
        assert_eq!(
            group.answer(Ok(EngineReply::Done)),
            Action::Error(
                "engine answered Done to CreateGroup { title: \"team\", members: [\"bob\"] }"
                    .into()
            )
        );
    }

    #[test]
    fn commands_that_change_the_outbox_or_the_list_say_so() {
        let send = EngineCommand::Send {
            conv: c1(),
            body: "hi".into(),
        };
        assert!(send.changes_outbox() && !send.changes_list());
        assert_eq!(send.label(), "send");
        let all = EngineCommand::MarkAllRead { conv: c1() };
        assert!(all.changes_list() && !all.changes_outbox());
        let read = EngineCommand::MarkRead { conv: c1(), seq: 3 };
        assert!(!read.changes_list() && !read.changes_outbox());
        assert_eq!(
            EngineCommand::Redact { conv: c1(), seq: 3 }.label(),
            "delete"
        );
    }
}
