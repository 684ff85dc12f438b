//! The UI state model: everything the screen shows, plus the `Action`s that
//! change it and the `Effect`s (engine requests) that changing it produces.
//! No I/O here: tests build an `AppState`, feed actions, and inspect both.

use crossterm::event::{KeyEvent, MouseEvent};

use super::engine::{EngineCommand, EngineRequest};
use super::keys::KeyMap;
use super::model::{
    ConnState, ConvId, ConvRow, Message, OutboxItem, SearchHit, Seq, ThreadWindow, TimelineItem,
    TimelineQuery,
};

/// How long a typing indicator stays visible after the last `typing` event.
pub const TYPING_SHOW_MS: i64 = 5_000;
/// Minimum interval between two `typing` effects for one conversation.
pub const TYPING_SEND_EVERY_MS: i64 = 3_000;
/// Items read from the store when a conversation is opened.
pub const OPEN_WINDOW: usize = 200;

/// Everything on screen.
#[derive(Debug)]
pub struct AppState {
    pub user: String,
    pub server: String,
    pub keys: KeyMap,
    pub colors: bool,
    /// Emit OSC 8 hyperlinks over link text (the driver writes them).
    pub hyperlinks: bool,
    pub conn: ConnState,
    /// Outbox rows not yet acknowledged (shown in the status bar).
    pub queued: usize,
    /// Sorted by activity, newest first (as the engine returns them).
    pub convs: Vec<ConvRow>,
    /// Highlighted row in the conversation list.
    pub selected: usize,
    pub open: Option<OpenConv>,
    pub compose: Compose,
    pub overlay: Overlay,
    /// First help line shown (the help scrolls when the terminal is short).
    pub help_scroll: usize,
    /// One-line message under the timeline: command errors, engine errors, info.
    pub notice: Option<Notice>,
    /// (conversation, user, shown until ms).
    pub typing: Vec<(ConvId, String, i64)>,
    /// When we last sent `typing` and for which conversation.
    pub typing_sent: Option<(ConvId, i64)>,
    /// Wall clock in Unix ms, advanced by `Action::Tick`.
    pub now_ms: i64,
    /// Animation frame counter for spinners, advanced by `Action::Tick`.
    pub frame: u64,
    /// Terminal size (columns, rows), from `Action::Resize`.
    pub size: (u16, u16),
    pub quit: bool,
    /// When the next reconnect attempt is due (Unix ms), while Reconnecting:
    /// the status bar counts down to it.
    pub reconnect_at: Option<i64>,
    /// Direct conversations: how far the other member has read (receipts).
    pub seen: std::collections::HashMap<ConvId, Seq>,
    /// Unsent text per conversation (the open one's is in `compose`).
    pub drafts: super::drafts::DraftMap,
    /// Where `drafts` is kept between runs (None: only in memory).
    pub drafts_file: Option<std::path::PathBuf>,
    /// Logs in with a typed password (the CLI's token store behind it).
    pub login: Option<super::engine::LoginHook>,
    /// `/passwd` and `/logout [all]`.
    pub account: Option<super::engine::AccountHooks>,
    /// `--local` only: others connected to the server this process runs.
    pub local_peers: Option<super::engine::LocalPeers>,
    /// Quit was pressed once while others use the local server: a second
    /// press before this time (Unix ms) quits.
    pub quit_armed_until: Option<i64>,
    /// No valid session: started without one, or the server ended it. The
    /// log-in prompt (`/login`) is available while this is set.
    pub needs_login: bool,
    /// Protocol 1.1 features the server lists (empty: a v1 server). The
    /// controls of a feature not listed do not appear.
    pub features: Vec<String>,
    /// The server's body and frame limits (`hello`; the protocol's example
    /// values until one is known): the compose box counts against them.
    pub limits: sync_core::ServerLimits,
    /// Archived conversations (a collapsed section at the bottom of the list).
    pub archived: Vec<ConvRow>,
    /// The "Archived (N)" section is expanded: its rows follow the main ones
    /// in `convs` (so moving through the list reaches them).
    pub archived_open: bool,
    /// The thread panel, over the timeline.
    pub thread: Option<ThreadPanel>,
}

/// The thread panel: a root and its replies; sends from the compose box go
/// to the thread while it is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadPanel {
    pub conv: ConvId,
    pub root: Seq,
    /// As last read from the store (None until the first read).
    pub window: Option<ThreadWindow>,
    /// `load_thread` in flight.
    pub loading: bool,
    /// The compose box's text when the panel opened (given back on close).
    pub saved_draft: String,
    /// Lines scrolled up from the newest (PgUp / PgDn while the panel is open).
    pub scroll: usize,
    /// The panel's own selection (Ctrl+Up / Ctrl+Down while it is open):
    /// replies quote it and reactions go to it; `None` means its newest.
    pub selected: Option<Seq>,
}

/// The message a draft replies to (shown above the compose box).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTarget {
    pub seq: Seq,
    pub sender: String,
    /// The first line of its body (or "message deleted").
    pub preview: String,
}

/// A one-line status message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
    /// Cleared by the `Tick` at or after this time (None: kept until replaced).
    pub expires_ms: Option<i64>,
    /// About the connection: cleared as soon as the client is Live again.
    pub until_live: bool,
    /// Reported by the connection (not said about something the user did):
    /// the next connection error may replace it.
    pub from_connection: bool,
}

/// How long a notice stays: long enough to read, short enough not to linger
/// once it no longer holds.
pub const INFO_NOTICE_MS: i64 = 8_000;
/// Errors stay longer than notices: they may need acting on.
pub const ERROR_NOTICE_MS: i64 = 30_000;

/// The open conversation and its window onto the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenConv {
    pub conv: ConvId,
    /// A contiguous window of the timeline, oldest first. Never the whole
    /// timeline: the store is queried for a window around what is visible.
    pub items: Vec<TimelineItem>,
    /// Messages held in the store for this conversation.
    pub total: u64,
    /// Whether the store holds entries newer than the window.
    pub has_newer: bool,
    pub scroll: ScrollPos,
    /// `load_older` in flight: a spinner shows at the top.
    pub loading_older: bool,
    /// Older history was requested: the next window read grows by a page
    /// at the top (cleared when a window arrives).
    pub grow_window: bool,
    /// Read cursor when the conversation was opened: the "new messages" line
    /// goes above the first message after it, and stays put while open.
    pub read_marker: Seq,
    /// Highest seq we asked the engine to mark read.
    pub marked_read: Seq,
    /// The newest entry of the window, including the edits, deletions and
    /// reactions that `items` leaves out: read up to here at the bottom.
    pub newest_entry: Seq,
    /// Message selected with Ctrl+Up/Down (for /edit, /delete, retry).
    pub selected: Option<ItemKey>,
    /// Show the first message at or after this seq at the top of the screen
    /// once the window holds it, loading older history until it does (the
    /// first unread of a long unread stretch; seq 1 for Home).
    pub top_on: Option<Seq>,
    /// Parents of replies in the window that the window does not hold,
    /// read from the store for the reply quotes (§9.1).
    pub parents: std::collections::BTreeMap<Seq, super::model::LocalMessage>,
}

/// Identifies an item across window reloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKey {
    Seq(Seq),
    Gap(Seq),
    Pending(String),
}

impl ItemKey {
    pub fn of(item: &TimelineItem) -> ItemKey {
        match item {
            TimelineItem::Message(m) => ItemKey::Seq(m.seq),
            TimelineItem::Gap { from, .. } => ItemKey::Gap(*from),
            TimelineItem::Pending(p) => ItemKey::Pending(p.client_id.clone()),
        }
    }
}

/// Scroll position of the timeline. Anchored to an item (not a line number)
/// so it survives the window being reloaded or growing at the top, and so
/// rendering only lays out the items that are actually visible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScrollPos {
    /// Following the newest message.
    Bottom,
    /// `item` is the lowest visible item; `below` of its lines are hidden
    /// under the bottom edge.
    Anchored { item: ItemKey, below: usize },
}

/// The compose box: text and a cursor (char index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compose {
    pub text: String,
    pub cursor: usize,
    /// Editing this message instead of sending a new one.
    pub editing: Option<Seq>,
    /// Replying to this message (Esc cancels).
    pub reply_to: Option<ReplyTarget>,
}

/// A password being typed: never drawn, never in `Debug` output.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Password(<{} chars>)", self.0.chars().count())
    }
}

/// A modal overlay over the main screen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Overlay {
    #[default]
    None,
    Help,
    /// First use on a server: no session stored, so ask for the password.
    Login {
        password: Password,
        /// Why the last attempt failed.
        error: Option<String>,
        /// A log-in or registration is on the wire.
        busy: bool,
        /// The server wants an invite code to register: what is typed goes
        /// here (None until it asks).
        invite: Option<String>,
    },
    /// `/passwd`: the current password, the new one twice.
    Passwd {
        fields: [Password; 3],
        /// Which field is being typed (0, 1, 2).
        at: usize,
        error: Option<String>,
        busy: bool,
    },
    Switcher {
        query: String,
        selected: usize,
    },
    Search {
        query: String,
        hits: Vec<SearchHit>,
        selected: usize,
        /// (conversations searched fully, conversations).
        coverage: (usize, usize),
    },
    /// The links of a message: Enter opens one, `c` copies it.
    Links {
        urls: Vec<String>,
        selected: usize,
    },
    /// The draft as it will be shown once sent.
    Preview,
    /// Reaction picker for message `target`: common emoji, or a typed
    /// `:shortcode:` / emoji in `typed`.
    React {
        target: Seq,
        typed: String,
        selected: usize,
    },
    /// The conversation menu: notify level, pin, archive.
    ConvMenu {
        selected: usize,
    },
}

impl Overlay {
    /// An empty log-in prompt, with why it is shown (if not first use).
    pub fn login(error: Option<String>) -> Overlay {
        Overlay::Login {
            password: Password::default(),
            error,
            busy: false,
            invite: None,
        }
    }
}

/// Inputs to `update`: user input and engine data.
#[derive(Debug, Clone, PartialEq)]
// One entry per new message (as sync-core's `Event`); not worth a box.
#[allow(clippy::large_enum_variant)]
pub enum Action {
    Key(KeyEvent),
    /// The external editor exited: the edited text, or why the draft is
    /// unchanged.
    EditorDone(Result<String, String>),
    /// The server wants an invite code to register (its message).
    NeedsInvite(String),
    /// The answer to `Effect::Passwd` / `Effect::Logout`.
    AccountResult(Result<String, String>),
    /// The answer to `Effect::Login`: a line to show, or why it failed.
    LoginResult(Result<String, String>),
    Mouse(MouseEvent),
    Paste(String),
    Resize(u16, u16),
    Tick {
        now_ms: i64,
    },
    Conversations(Vec<ConvRow>),
    /// A window read from the store for `conv` (with the query that produced it).
    Timeline {
        conv: ConvId,
        query: TimelineQuery,
        items: Vec<TimelineItem>,
        total: u64,
    },
    /// `load_older` finished (successfully or not).
    OlderLoaded {
        conv: ConvId,
        error: Option<String>,
    },
    Connection(ConnState),
    Outbox(Vec<OutboxItem>),
    Typing {
        conv: ConvId,
        user: String,
    },
    /// The other member of a direct conversation has read up to `seq`.
    Receipt {
        conv: ConvId,
        seq: Seq,
    },
    NewMessage {
        conv: ConvId,
        message: Message,
    },
    SearchResults {
        query: String,
        hits: Vec<SearchHit>,
        /// (conversations whose whole history is held locally, conversations).
        coverage: (usize, usize),
    },
    /// A conversation was created or found: open it.
    Opened(ConvId),
    /// The features the server lists (read after every list refresh).
    Features(Vec<String>),
    /// The server URL in use (read with the features): the status line's.
    ServerUrl(String),
    /// The archived conversations, read from the store.
    Archived(Vec<ConvRow>),
    /// The open thread as read from the store.
    Thread {
        conv: ConvId,
        root: Seq,
        window: ThreadWindow,
    },
    /// Reply parents read from the store (outside the window).
    Parents {
        conv: ConvId,
        found: Vec<super::model::LocalMessage>,
    },
    /// `load_thread` finished (successfully or not).
    ThreadLoaded {
        conv: ConvId,
        root: Seq,
        error: Option<String>,
    },
    Error(String),
    /// The server refused a command the compose box sent (`/dm`, `/group`,
    /// `/invite`): `why` shows, and `retype` (the command) goes back into
    /// the compose box unless something new was typed there meanwhile.
    Refused {
        retype: String,
        why: String,
    },
    /// An error the engine reported about the connection (cleared once Live).
    ConnectionError(String),
    Info(String),
}

/// What `update` asks the driver to do: engine commands and requests, store
/// queries, hooks, terminal output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// A queued command for the engine (send, edit, mark read...).
    Command(EngineCommand),
    /// A network request; its answer comes back as an `Action`
    /// (see `EngineRequest::answer`).
    Request(EngineRequest),
    /// Something outside the TUI: an editor, a pager, the URL opener, the
    /// clipboard (the driver suspends the screen where needed).
    External(super::external::External),
    /// Write the drafts file (after a conversation switch).
    SaveDrafts(super::drafts::DraftMap),
    LoadTimeline {
        conv: ConvId,
        query: TimelineQuery,
    },
    /// Read the thread of `root` from the store (and fetch it when not
    /// complete).
    LoadThread {
        conv: ConvId,
        root: Seq,
    },
    Search {
        query: String,
    },
    /// Log in (or register) with the typed password; the driver's log-in hook
    /// stores the token.
    Login {
        password: Password,
        register: bool,
        /// Invite code for `register`, once the server asked for one.
        invite: Option<String>,
    },
    /// `/passwd` confirmed.
    Passwd {
        old: Password,
        new: Password,
    },
    /// `/logout [all]`.
    Logout {
        all: bool,
    },
    /// Bell and/or OSC 9 (the driver applies the user's switches).
    Notify {
        title: String,
        body: String,
    },
    Quit,
}

impl AppState {
    pub fn new(user: &str, server: &str, keys: KeyMap, colors: bool) -> AppState {
        AppState {
            user: user.to_owned(),
            server: server.to_owned(),
            keys,
            colors,
            hyperlinks: false,
            conn: ConnState::Offline,
            queued: 0,
            convs: Vec::new(),
            selected: 0,
            open: None,
            compose: Compose::default(),
            overlay: Overlay::None,
            help_scroll: 0,
            notice: None,
            typing: Vec::new(),
            typing_sent: None,
            now_ms: 0,
            reconnect_at: None,
            seen: Default::default(),
            drafts: Default::default(),
            drafts_file: None,
            local_peers: None,
            quit_armed_until: None,
            frame: 0,
            size: (80, 24),
            quit: false,
            login: None,
            account: None,
            needs_login: false,
            features: Vec::new(),
            limits: sync_core::ServerLimits::default(),
            archived: Vec::new(),
            archived_open: false,
            thread: None,
        }
    }

    /// The server lists protocol 1.1 feature `feature` (`features::REPLY`...).
    pub fn supports(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    /// Rows of `convs` that are the main list (the rest are archived rows
    /// shown because the archived section is expanded).
    pub fn main_len(&self) -> usize {
        self.convs.iter().take_while(|r| !r.archived).count()
    }

    /// The row of the open conversation: in the list, or in the archived
    /// section (collapsed or not: archiving the open one keeps its title).
    pub fn open_row(&self) -> Option<&ConvRow> {
        let open = self.open.as_ref()?;
        self.convs
            .iter()
            .chain(self.archived.iter())
            .find(|c| c.conv == open.conv)
    }

    /// The query that re-reads the current window (used after `TimelineChanged`).
    pub fn window_query(&self) -> Option<(ConvId, TimelineQuery)> {
        let open = self.open.as_ref()?;
        let held = open
            .items
            .iter()
            .filter(|i| !matches!(i, TimelineItem::Pending(_)))
            .count();
        if let Some(seq) = open.top_on {
            let query = TimelineQuery::Around {
                seq,
                before: OPEN_WINDOW,
                after: OPEN_WINDOW,
            };
            return Some((open.conv.clone(), query));
        }
        let query = match (&open.scroll, open.has_newer) {
            (
                ScrollPos::Anchored {
                    item: ItemKey::Seq(seq),
                    ..
                },
                true,
            ) => TimelineQuery::Around {
                seq: *seq,
                before: OPEN_WINDOW,
                after: OPEN_WINDOW,
            },
            _ => TimelineQuery::Latest {
                limit: held.max(OPEN_WINDOW) + if open.grow_window { OPEN_WINDOW } else { 0 },
            },
        };
        Some((open.conv.clone(), query))
    }

    /// Users typing in `conv` right now.
    pub fn typing_in(&self, conv: &ConvId) -> Vec<&str> {
        self.typing
            .iter()
            .filter(|(c, _, until)| c == conv && *until > self.now_ms)
            .map(|(_, u, _)| u.as_str())
            .collect()
    }

    pub fn set_error(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            error: true,
            expires_ms: Some(self.now_ms + ERROR_NOTICE_MS),
            until_live: false,
            from_connection: false,
        });
    }

    pub fn set_info(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            error: false,
            expires_ms: Some(self.now_ms + INFO_NOTICE_MS),
            until_live: false,
            from_connection: false,
        });
    }

    /// A connection problem: shown until the client is Live again.
    pub fn set_connection_error(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            error: true,
            expires_ms: None,
            until_live: true,
            from_connection: true,
        });
    }
}
