//! The sans-IO sync engine: a plain state machine with no socket, clock or
//! task inside.
//!
//! Inputs: [`Engine::handle_connected`], [`Engine::handle_frame`],
//! [`Engine::handle_disconnected`], [`Engine::handle_timeout`] and
//! [`Engine::handle_command`], each given `now`. Outputs: frames to send
//! ([`Engine::poll_transmit`]), store batches ([`Engine::poll_batch`]),
//! app events ([`Engine::poll_event`]), replies to API calls
//! ([`Engine::poll_reply`]), and connection wishes ([`Engine::poll_connect`],
//! [`Engine::poll_close`], [`Engine::poll_timeout`]). A driver (or a test)
//! applies each batch to a store before delivering the events that follow it.
//!
//! The engine keeps an in-memory mirror of what the store holds for every
//! conversation (counts, cursors, held ranges) and of the outbox, loaded once
//! from a [`Snapshot`]; it never reads the store afterwards.

mod command;
mod connect;
mod outbox;
mod requests;
mod servers;
mod session;
mod sync;
#[cfg(test)]
mod tests;
mod threads;
mod timeline;

pub use command::{
    Command, ConsumerAck, Reply, ReplyToken, ReplyValue, Request, ServerInfo, SettingsChange,
};

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::error::ConnectError;
use crate::error::Error;
use crate::events::{ConnState, ErrorEvent, Event, SyncReport};
use crate::protocol::{ClientFrame, ConvId, RequestId, Seq, ServerFrame};
use crate::store::{Batch, ConvRecord, MetaKey, OutboxItem, OutboxState, Session, Snapshot, Write};

/// Tunables. `Default` gives the documented production values.
#[derive(Debug, Clone)]
pub struct Config {
    /// Device id sent with `register`, `login` and `auth`.
    pub device: String,
    /// `limit` of eager `pull`s (the protocol caps it at 500).
    pub pull_page: u32,
    /// `limit` of `history` pages (about one screen).
    pub history_page: u32,
    /// Conversations pulled in parallel during catch-up.
    pub max_parallel_pulls: usize,
    /// Silence after which the connection counts as dead.
    pub dead_after: Duration,
    /// Interval of background `sync`s while Live.
    pub resync_every: Duration,
    /// Ceiling of the first reconnect delays (the ceiling then grows with
    /// the outage's length).
    pub backoff_min: Duration,
    /// Largest ceiling of a reconnect delay (each delay is drawn uniformly
    /// below its ceiling: full jitter).
    pub backoff_max: Duration,
    /// A connection Live this long resets the backoff.
    pub stable_after: Duration,
    /// Minimum interval between two `typing` frames for one conversation.
    pub typing_every: Duration,
    /// How long `login`, `register`, `resume` and server requests wait for
    /// their reply. A connection cut meanwhile is retried within it; a
    /// server that cannot be reached fails them at once.
    pub request_timeout: Duration,
    /// Seed of the jitter generator (tests pass a fixed one).
    pub seed: u64,
    /// Keep the session token in the store, so a restart can `resume(None)`. An app that
    /// keeps the token elsewhere (an OS keyring) sets this to `false`: the token then lives
    /// only in memory, any token an earlier run stored is erased, and the app passes it to
    /// `resume(Some(token))`.
    pub persist_token: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            device: "device".into(),
            pull_page: 500,
            history_page: 50,
            max_parallel_pulls: 4,
            dead_after: Duration::from_secs(60),
            resync_every: Duration::from_secs(180),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            stable_after: Duration::from_secs(30),
            typing_every: Duration::from_secs(3),
            request_timeout: Duration::from_secs(30),
            seed: 0x5eed,
            persist_token: true,
        }
    }
}

/// What an outstanding request id is waiting for.
#[derive(Debug, Clone)]
enum Pending {
    /// A log-in; the request is kept so that a cut connection can ask again.
    Account(Option<ReplyToken>, Option<AccountReq>),
    Sync,
    Fetch {
        conv: ConvId,
        req: FetchReq,
    },
    Older {
        conv: ConvId,
        token: ReplyToken,
    },
    Out {
        client_id: String,
    },
    Read {
        conv: ConvId,
        seq: Seq,
    },
    Request {
        token: ReplyToken,
        request: Request,
    },
    Thread {
        conv: ConvId,
        root: Seq,
        after: Seq,
        token: ReplyToken,
    },
    /// §9.2: the one entry a pushed `redact` targets, fetched because it is
    /// not held (a withdrawn reaction a snapshot counted).
    /// Also a new group's newest entry, fetched to date it.
    Target {
        conv: ConvId,
        seq: Seq,
    },
    Ignore,
}

/// One fetch of missing entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FetchReq {
    Pull { after: Seq, limit: u32 },
    History { before: Seq, limit: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Offline,
    WaitingHello,
    Unauthenticated,
    Authenticating,
    Syncing,
    Fetching,
    Live,
}

#[derive(Debug, Default)]
struct SyncRun {
    background: bool,
    full: bool,
    /// Conversations a full listing named (or a `conversation` event
    /// announced while it ran): the rest are gone when it ends.
    listed: HashSet<ConvId>,
    changed: usize,
}

/// An account request waiting for a connection.
#[derive(Debug, Clone)]
enum AccountReq {
    Register {
        user: String,
        password: String,
        invite: Option<String>,
    },
    Login {
        user: String,
        password: String,
    },
    Auth {
        session_token: String,
    },
}

/// The sync state machine. See the module docs. Its state, by concern:
/// the cache mirror (top level), the connection (`link`), requests in
/// flight (`calls`), the catch-up (`catchup`), timeline fetching (`fetch`)
/// and what waits to be polled out (`out`).
#[derive(Debug)]
pub struct Engine {
    cfg: Config,
    server_id: Option<String>,
    since: Option<String>,
    session: Option<Session>,
    convs: BTreeMap<ConvId, ConvRecord>,
    outbox: Vec<OutboxItem>,
    /// Client ids of the rows that left the outbox lately (delivered or
    /// discarded): a store read from before their removal committed must
    /// not bring them back ([`Command::AdoptOutbox`]).
    outbox_done: std::collections::VecDeque<String>,
    /// `hello.features` of the current (or last) connection, kept in the
    /// store so that a cold start knows them before connecting.
    features: Vec<String>,
    /// A server has said its features (now or in an earlier run).
    features_known: bool,
    /// `hello.register` (a server extension), when the server says it.
    register_mode: Option<String>,
    /// The `hello` limits of the current (or last) server, as stored; None
    /// before any (the protocol's example values apply: [`Engine::limits`]).
    /// No outbox frame over them is sent: the server would close the
    /// connection (1009) at every resend.
    limits: Option<crate::protocol::ServerLimits>,
    link: Link,
    /// The server URLs and the failover round.
    servers: servers::Servers,
    calls: Calls,
    catchup: CatchUp,
    fetch: Fetches,
    out: Outputs,
}

/// The connection's lifecycle and the reconnect backoff.
#[derive(Debug)]
struct Link {
    want_online: bool,
    phase: Phase,
    state: ConnState,
    last_rx: Option<Instant>,
    live_since: Option<Instant>,
    attempt: u32,
    /// When the current outage began (the first failed connection after a
    /// stable one): the reconnect ceiling grows with its length.
    offline_since: Option<Instant>,
    reconnect_at: Option<Instant>,
    connect_now: bool,
    close_now: bool,
    /// Why the last connection attempt failed or the connection ended.
    last_error: Option<ConnectError>,
    /// Jitter generator state.
    rng: u64,
}

/// Requests on the wire and the callers waiting for them.
#[derive(Debug, Default)]
struct Calls {
    next_id: RequestId,
    pending: HashMap<RequestId, Pending>,
    /// The request whose reply is being handled (None for events).
    answering: Option<RequestId>,
    account_queue: VecDeque<(AccountReq, Option<ReplyToken>)>,
    /// `send_and_wait`/`wait_sent` callers, by client id.
    waiters: HashMap<String, ReplyToken>,
    /// Conversations whose outbox waits after a transient error.
    retry_at: HashMap<ConvId, Instant>,
    typing_last: HashMap<ConvId, Instant>,
}

/// `sync` runs and the catch-up report.
#[derive(Debug, Default)]
struct CatchUp {
    next_resync: Option<Instant>,
    sync_run: Option<SyncRun>,
    report: SyncReport,
    last_report: Option<SyncReport>,
}

/// Takes out of `at` the conversations whose time has come.
fn take_due(at: &mut HashMap<ConvId, Instant>, now: Instant) -> Vec<ConvId> {
    let due: Vec<ConvId> = at
        .iter()
        .filter(|(_, t)| now >= **t)
        .map(|(c, _)| c.clone())
        .collect();
    for c in &due {
        at.remove(c);
    }
    due
}

/// Unknown conversations whose pushes are held, at most.
const EARLY_CONVS: usize = 16;
/// Pushes held per unknown conversation, at most.
const EARLY_PUSHES: usize = 64;

/// Which conversations are fetched, and what is on the wire.
#[derive(Debug, Default)]
struct Fetches {
    fetch_queue: VecDeque<ConvId>,
    /// Members of `fetch_queue`, for O(1) membership checks.
    queued: HashSet<ConvId>,
    /// Fetches on the wire, per conversation (a direct conversation's catch-up
    /// may have several consecutive pulls in flight).
    fetching: HashMap<ConvId, Vec<FetchReq>>,
    /// Single entries pulled on the wire (`fetch_entry`): a fetch planned
    /// meanwhile counts them as asked for, so nothing is pulled twice.
    entries: HashSet<(ConvId, Seq)>,
    stalled: HashSet<ConvId>,
    /// Per conversation, the id the next request would have got when its
    /// cursor last rose on this connection (by push, `sent` reply or page).
    /// A reply to a request sent before that may have been built before
    /// the entry was committed (replies and events come in any order, §2):
    /// its `last_seq` below the cursor is an older snapshot, not a reset.
    rose_at: HashMap<ConvId, RequestId>,
    /// Conversations whose fetch got `rate_limited` or `internal`: asked
    /// again at this time (they are `stalled` meanwhile).
    retry_at: HashMap<ConvId, Instant>,
    /// Such failures in a row, per conversation (reset by a page).
    failures: HashMap<ConvId, u32>,
    /// Pushes of conversations not known yet, applied as pushes once their
    /// `conversation` event or summary arrives (§4 and §7 do not order the
    /// two), so that they still notify. Bounded by [`EARLY_CONVS`] and
    /// [`EARLY_PUSHES`]; beyond that the pull after the summary has them.
    early: HashMap<ConvId, Vec<crate::protocol::Message>>,
    /// A push of an unknown conversation came while a `sync` was under way
    /// (whose reply may have been built before the conversation was): one
    /// more background `sync` follows it.
    early_resync: bool,
    open: Option<ConvId>,
    /// Conversations a message stream covers, kept complete above these
    /// seqs (groups are otherwise lazy).
    follow: HashMap<ConvId, Seq>,
    /// A stream covers every conversation, including ones that appear later.
    follow_all: bool,
    /// `open` calls waiting for a conversation's fetches to finish.
    open_waiters: HashMap<ConvId, Vec<ReplyToken>>,
    /// §9.1: threads loaded in this run, complete up to this seq.
    threads: HashMap<(ConvId, Seq), Seq>,
}

/// What the driver polls out.
#[derive(Debug, Default)]
struct Outputs {
    transmits: VecDeque<ClientFrame>,
    batch: Batch,
    batches: VecDeque<Batch>,
    events: VecDeque<Event>,
    replies: VecDeque<Reply>,
}

impl Engine {
    /// An engine starting from what the store holds.
    pub fn new(cfg: Config, snap: Snapshot) -> Engine {
        let rng = cfg.seed | 1;
        let outbox = snap
            .outbox
            .into_iter()
            .map(|mut o| {
                // A row that was on the wire when we stopped is pending again.
                if o.state == OutboxState::Sending {
                    o.state = OutboxState::Pending;
                }
                o
            })
            .collect();
        Engine {
            cfg,
            server_id: snap.server_id,
            since: snap.since,
            session: snap.session,
            convs: snap
                .convs
                .into_iter()
                .map(|c| (c.conv.clone(), c))
                .collect(),
            outbox,
            outbox_done: Default::default(),
            features_known: snap.features.is_some(),
            limits: snap.limits,
            features: snap.features.unwrap_or_default(),
            register_mode: None,
            link: Link {
                want_online: false,
                phase: Phase::Offline,
                state: ConnState::Offline,
                last_rx: None,
                live_since: None,
                attempt: 0,
                offline_since: None,
                reconnect_at: None,
                connect_now: false,
                close_now: false,
                last_error: None,
                rng,
            },
            servers: servers::Servers::default(),
            calls: Calls {
                next_id: 1,
                ..Calls::default()
            },
            catchup: CatchUp::default(),
            fetch: Fetches::default(),
            out: Outputs::default(),
        }
    }

    // ---- outputs -------------------------------------------------------

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<ClientFrame> {
        self.out.transmits.pop_front()
    }

    /// The next batch to commit (one transaction). Apply every batch before
    /// delivering the events polled after it.
    pub fn poll_batch(&mut self) -> Option<Batch> {
        self.seal();
        self.out.batches.pop_front()
    }

    /// The next app event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// The next reply to a command with a reply token.
    pub fn poll_reply(&mut self) -> Option<Reply> {
        self.out.replies.pop_front()
    }

    /// True once when the engine wants a connection opened now.
    pub fn poll_connect(&mut self) -> bool {
        std::mem::take(&mut self.link.connect_now)
    }

    /// True once when the engine wants the current connection closed
    /// (dead, logged out, or going offline). Call
    /// [`Engine::handle_disconnected`] once it is closed.
    pub fn poll_close(&mut self) -> bool {
        std::mem::take(&mut self.link.close_now)
    }

    /// When [`Engine::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = self.link.reconnect_at;
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        if self.link.phase != Phase::Offline {
            consider(self.link.last_rx.map(|r| r + self.cfg.dead_after));
        }
        if self.link.phase == Phase::Live {
            consider(self.catchup.next_resync);
            consider(self.calls.retry_at.values().min().copied());
        }
        if matches!(self.link.phase, Phase::Fetching | Phase::Live) {
            consider(self.fetch.retry_at.values().min().copied());
        }
        t
    }

    /// Current connection state.
    #[cfg(test)]
    pub fn state(&self) -> &ConnState {
        &self.link.state
    }

    /// The report of the latest completed catch-up.
    pub fn last_report(&self) -> Option<&SyncReport> {
        self.catchup.last_report.as_ref()
    }

    /// The stored session, if any.
    #[cfg(test)]
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// The engine's view of one conversation (for tests and diagnostics).
    #[cfg(test)]
    pub fn conv(&self, conv: &ConvId) -> Option<&ConvRecord> {
        self.convs.get(conv)
    }

    // ---- inputs --------------------------------------------------------

    /// A server text frame arrived.
    pub fn handle_frame(&mut self, now: Instant, text: &str) {
        self.link.last_rx = Some(now);
        match crate::protocol::decode_server_frame(text) {
            Ok(frame) => self.on_frame(now, frame),
            // An event type of a later protocol: nothing to do, nothing wrong.
            Err(e) if crate::protocol::is_unknown_event(text, &e) => {
                tracing::debug!(target: "sync_core", error = %e, "ignored an unknown event");
            }
            Err(e) => self.emit(Event::Error(ErrorEvent::Protocol(format!(
                "ignored a malformed server frame: {e}"
            )))),
        }
        self.mark_live_since(now);
        self.seal();
    }

    /// Any other sign of life (a WebSocket ping or pong).
    pub fn handle_activity(&mut self, now: Instant) {
        self.link.last_rx = Some(now);
    }

    /// A user command.
    pub fn handle_command(&mut self, now: Instant, cmd: Command) -> Result<(), Error> {
        let r = self.on_command(now, cmd);
        self.seal();
        r
    }

    fn on_frame(&mut self, now: Instant, frame: ServerFrame) {
        match frame {
            ServerFrame::Hello {
                server_id,
                features,
                register,
                max_frame_bytes,
                max_body_bytes,
                ..
            } => {
                let limits =
                    crate::protocol::ServerLimits::from_hello(max_body_bytes, max_frame_bytes);
                if self.limits != Some(limits) {
                    // Kept for cold starts and the app's own checks
                    // (`Client::server_limits`).
                    self.write_meta(MetaKey::Limits, Some(crate::store::limits_meta(limits)));
                    self.limits = Some(limits);
                }
                if self.link.phase == Phase::WaitingHello
                    && let Some(cause) = self.wrong_server(&server_id)
                {
                    // Not our database: nothing of it is stored.
                    self.refuse_server(cause);
                    return;
                }
                if self.link.phase == Phase::WaitingHello {
                    if !self.features_known || self.features != features {
                        self.write_meta(MetaKey::Features, Some(features.join(",")));
                    }
                    self.features = features;
                    self.features_known = true;
                    self.register_mode = register;
                }
                self.on_hello(now, server_id);
            }
            ServerFrame::Message { conv, message } => self.on_push(conv, message),
            ServerFrame::Read { conv, seq } => self.on_read_event(&conv, seq),
            ServerFrame::Receipt { conv, user, seq } => {
                self.write(Write::Receipt(conv.clone(), user.clone(), seq));
                self.emit(Event::Receipt { conv, user, seq });
            }
            ServerFrame::Typing { conv, user } => self.emit(Event::Typing { conv, user }),
            ServerFrame::Settings {
                conv,
                notify,
                pinned,
                archived,
            } => self.apply_settings(
                &conv,
                SettingsChange {
                    notify: Some(notify),
                    pinned: Some(pinned),
                    archived: Some(archived),
                },
            ),
            ServerFrame::Conversation {
                re: None,
                conversation,
            } => {
                let conv = conversation.conv.clone();
                let new = !self.convs.contains_key(&conv);
                if let Some(run) = self.catchup.sync_run.as_mut() {
                    // A full listing under way may have been built before
                    // this conversation was: it is not gone for being left out.
                    run.listed.insert(conv.clone());
                }
                self.apply_summary(&conversation);
                self.emit(Event::ConversationsChanged(vec![conv.clone()]));
                if new && conversation.last.is_none() {
                    // A group just created or joined, with no text yet: its
                    // newest entry (the create or the join) dates it, so it
                    // lists as the newest activity, not below every other.
                    self.fetch_entry(&conv, conversation.last_seq);
                }
                self.queue_fetch(conv);
                self.plan_fetches();
            }
            ServerFrame::Error {
                re: None,
                code,
                message,
                ..
            } => {
                self.emit(Event::Error(ErrorEvent::Server {
                    context: "server".into(),
                    code,
                    message,
                }));
            }
            other => {
                // Replies to requests we no longer track (from before a
                // reconnect) are dropped.
                if let Some((re, p)) = other
                    .re()
                    .and_then(|re| self.calls.pending.remove(&re).map(|p| (re, p)))
                {
                    self.calls.answering = Some(re);
                    self.on_reply(now, p, other);
                    self.calls.answering = None;
                }
            }
        }
    }

    fn on_reply(&mut self, now: Instant, p: Pending, frame: ServerFrame) {
        match p {
            Pending::Account(token, req) => {
                let request = req.as_ref().map_or("auth", AccountReq::name);
                self.on_session_reply(now, token, request, frame)
            }
            Pending::Sync => self.on_sync_reply(now, frame),
            Pending::Fetch { conv, req } => self.on_fetch_reply(now, conv, Some(req), None, frame),
            Pending::Older { conv, token } => {
                self.on_fetch_reply(now, conv, None, Some(token), frame)
            }
            Pending::Out { client_id } => self.on_send_reply(now, client_id, frame),
            Pending::Read { conv, seq } => self.on_read_reply(&conv, seq, frame),
            Pending::Request { token, request } => self.on_request_reply(token, request, frame),
            Pending::Thread {
                conv,
                root,
                after,
                token,
            } => self.on_thread_reply(conv, root, after, token, frame),
            Pending::Target { conv, seq } => {
                self.fetch.entries.remove(&(conv.clone(), seq));
                if let ServerFrame::Messages {
                    messages, last_seq, ..
                } = frame
                {
                    self.apply_entries(&conv, messages, Some(last_seq));
                }
                // A fetch that counted this entry as asked for goes on (or
                // asks again, if the pull failed).
                self.queue_fetch(conv);
                self.plan_fetches();
            }
            Pending::Ignore => {}
        }
    }

    fn on_command(&mut self, now: Instant, cmd: Command) -> Result<(), Error> {
        match cmd {
            Command::Connect => {
                self.link.want_online = true;
                if self.link.phase == Phase::Offline && self.link.reconnect_at.is_none() {
                    self.link.connect_now = true;
                }
            }
            Command::Disconnect => {
                self.link.want_online = false;
                self.link.reconnect_at = None;
                if self.link.phase != Phase::Offline {
                    self.link.close_now = true;
                } else {
                    self.set_state(ConnState::Offline);
                }
            }
            Command::Register {
                user,
                password,
                invite,
                token,
            } => self.account(
                now,
                AccountReq::Register {
                    user,
                    password,
                    invite,
                },
                Some(token),
            ),
            Command::ServerInfo { token } => {
                let info = ReplyValue::ServerInfo(ServerInfo {
                    server_id: self.server_id.clone(),
                    features: self.features.clone(),
                    register: self.register_mode.clone(),
                });
                self.reply(token, Ok(info));
            }
            Command::Login {
                user,
                password,
                token,
            } => self.account(now, AccountReq::Login { user, password }, Some(token)),
            Command::Resume {
                session_token,
                token,
            } => {
                let Some(t) =
                    session_token.or_else(|| self.session.as_ref().map(|s| s.token.clone()))
                else {
                    self.out.replies.push_back((token, Err(Error::LoggedOut)));
                    return Ok(());
                };
                self.account(now, AccountReq::Auth { session_token: t }, Some(token));
            }
            Command::Enqueue { item, wait, ack } => return self.enqueue(now, item, wait, ack),
            Command::EnqueueAll { items, ack } => return self.enqueue_all(items, ack),
            Command::Follow {
                consumer,
                positions,
                reset,
                all,
            } => self.follow(consumer, positions, reset, all),
            Command::Ack(ack) => self.write(Write::ConsumerAck {
                name: ack.name,
                conv: ack.conv,
                seq: ack.seq,
            }),
            Command::WaitSent { client_id, token } => self.wait_sent(client_id, token),
            Command::Retry(id) => return self.retry(now, &id),
            Command::Discard(id) => return self.discard(&id),
            Command::MarkRead { conv, seq } => return self.mark_read(&conv, seq),
            Command::ReconnectNow => {
                // Due now: the driver runs `handle_timeout` at once.
                if self.link.reconnect_at.is_some() {
                    self.link.reconnect_at = Some(now);
                }
            }
            Command::Typing(conv) => {
                let due = self
                    .calls
                    .typing_last
                    .get(&conv)
                    .is_none_or(|t| now.duration_since(*t) >= self.cfg.typing_every);
                if self.link.phase == Phase::Live && due {
                    self.calls.typing_last.insert(conv.clone(), now);
                    let id = self.track(Pending::Ignore);
                    self.transmit(ClientFrame::Typing { id, conv });
                }
            }
            Command::Open(conv) => {
                self.fetch.open = conv.clone();
                if let Some(c) = conv {
                    self.fetch.stalled.remove(&c);
                    self.queue_fetch(c);
                    self.plan_fetches();
                }
            }
            Command::WaitOpened { conv, token } => self.wait_opened(conv, token),
            Command::LoadOlder { conv, token } => self.load_older(conv, token),
            Command::Request { request, token } => self.request(request, token),
            Command::LoadThread { conv, root, token } => self.load_thread(conv, root, token),
            Command::AdoptOutbox(rows) => self.adopt_outbox(rows),
        }
        Ok(())
    }

    // ---- helpers shared by the submodules -------------------------------

    fn me(&self) -> &str {
        self.session.as_ref().map_or("", |s| s.user.as_str())
    }

    /// The server lists this section 9 feature (false before any server
    /// said; see `features_known`).
    fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    fn authenticated(&self) -> bool {
        matches!(
            self.link.phase,
            Phase::Syncing | Phase::Fetching | Phase::Live
        )
    }

    /// The server's limits: the last `hello`'s, else the protocol's
    /// example values.
    fn limits(&self) -> crate::protocol::ServerLimits {
        self.limits.unwrap_or_default()
    }

    fn track(&mut self, p: Pending) -> RequestId {
        let id = self.calls.next_id;
        self.calls.next_id += 1;
        self.calls.pending.insert(id, p);
        id
    }

    fn transmit(&mut self, f: ClientFrame) {
        self.out.transmits.push_back(f);
    }

    fn write(&mut self, w: Write) {
        self.out.batch.writes.push(w);
    }

    fn write_conv(&mut self, conv: &ConvId) {
        if let Some(rec) = self.convs.get(conv) {
            let rec = rec.clone();
            self.write(Write::Conv(rec));
        }
    }

    fn write_meta(&mut self, key: MetaKey, value: Option<String>) {
        self.write(Write::Meta(key, value));
    }

    /// Closes the current batch so that events emitted afterwards are
    /// delivered after it commits.
    fn seal(&mut self) {
        if !self.out.batch.writes.is_empty() {
            self.out
                .batches
                .push_back(std::mem::take(&mut self.out.batch));
        }
    }

    fn emit(&mut self, e: Event) {
        self.out.events.push_back(e);
    }

    fn set_state(&mut self, s: ConnState) {
        if self.link.state != s {
            self.link.state = s.clone();
            self.emit(Event::Connection(s));
        }
    }

    fn reply(&mut self, token: ReplyToken, r: Result<ReplyValue, Error>) {
        self.out.replies.push_back((token, r));
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: jitter only needs to be cheap and seedable.
        let mut x = self.link.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.link.rng = x;
        x
    }
}

/// The background failure a non-success reply describes.
fn error_event(context: impl Into<String>, frame: ServerFrame) -> ErrorEvent {
    match frame {
        ServerFrame::Error { code, message, .. } => ErrorEvent::Server {
            context: context.into(),
            code,
            message,
        },
        other => ErrorEvent::Protocol(format!("{}: unexpected reply {other:?}", context.into())),
    }
}

fn server_error(request: &'static str, frame: ServerFrame) -> Error {
    match frame {
        ServerFrame::Error { code, message, .. } => Error::Server {
            request,
            code,
            message,
        },
        other => Error::Server {
            request,
            code: crate::protocol::ErrorCode::Internal,
            message: format!("unexpected reply {:?}", other),
        },
    }
}
