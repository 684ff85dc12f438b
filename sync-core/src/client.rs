//! The public handle: [`ClientBuilder`] opens the store and starts the
//! driver thread; [`Client`] (cheap to clone, `Send + Sync`) issues commands
//! and answers queries from the local store; [`Events`] streams changes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sync_core::Error> {
//! use sync_core::{ClientBuilder, TimelineQuery};
//! let (client, mut events) = ClientBuilder::new("ws://127.0.0.1:7878/v1", "/tmp/alice.db", "laptop-1").open()?;
//! client.login("alice", "password1").await?;
//! client.wait_live(std::time::Duration::from_secs(10)).await?;
//! for row in client.conversations()? {
//!     println!("{} ({} unread)", row.title, row.unread);
//! }
//! # let _ = events.try_recv();
//! # Ok(()) }
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc as std_mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot, watch};

use crate::driver::{self, DriverMsg, Status};
use crate::engine::{Command, Config, Engine, ReplyValue, Request};
use crate::error::Error;
use crate::events::{ConnState, Event, SyncReport};
use crate::protocol::{ConvId, ConvKind, Seq, validate};
use crate::store::{
    Batch, ConvRow, MetaKey, OutboxItem, OutboxKind, OutboxState, SearchHit, Session, SqliteStore,
    Store, TimelineItem, TimelineQuery, Write,
};

/// How long account and server requests wait for their reply.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Configures and opens a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    db: PathBuf,
    config: Config,
}

impl ClientBuilder {
    /// A builder for the server at `url` (e.g. `ws://127.0.0.1:7878/v1`),
    /// the store at `db` and this device's id.
    pub fn new(
        url: impl Into<String>,
        db: impl Into<PathBuf>,
        device: impl Into<String>,
    ) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            db: db.into(),
            config: Config {
                device: device.into(),
                ..Config::default()
            },
        }
    }

    /// Keeps the session token out of the store (see [`Config::persist_token`]): for apps
    /// that keep it in an OS keyring and pass it to [`Client::resume`].
    pub fn token_in_memory(mut self) -> ClientBuilder {
        self.config.persist_token = false;
        self
    }

    /// Overrides engine tunables (page sizes, timers); the device id is kept.
    pub fn config(mut self, config: Config) -> ClientBuilder {
        let device = std::mem::take(&mut self.config.device);
        self.config = Config { device, ..config };
        self
    }

    /// Opens (or creates) the store and starts the driver thread, offline.
    /// Call [`Client::start`] (or an account method) to connect.
    pub fn open(self) -> Result<(Client, Events), Error> {
        validate::device(&self.config.device).map_err(|e| Error::Invalid {
            field: "device",
            message: e.message,
        })?;
        let mut writer = SqliteStore::open(&self.db)?;
        let mut snapshot = writer.load()?;
        if !self.config.persist_token && snapshot.session.take().is_some() {
            // The app keeps the token elsewhere: erase the copy an earlier run stored.
            let mut erase = Batch::default();
            erase.writes.push(Write::Meta(MetaKey::Token, None));
            writer.apply(&erase)?;
        }
        let reader = SqliteStore::open(&self.db)?;
        let engine = Engine::new(self.config.clone(), snapshot);
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let (status_tx, status_rx) = watch::channel(Status {
            state: ConnState::Offline,
            report: None,
        });
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        driver::spawn(self.url, engine, writer, event_tx, status_tx, cmd_rx)?;
        let client = Client {
            inner: Arc::new(Inner {
                cmds: cmd_tx,
                reader: Mutex::new(reader),
                status: status_rx,
                next_token: AtomicU64::new(1),
            }),
        };
        Ok((client, Events { rx: event_rx }))
    }
}

/// The stream of [`Event`]s.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::UnboundedReceiver<Event>,
}

impl Events {
    /// The next event; None once the client is gone.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// The next event if one is ready.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }
}

#[derive(Debug)]
struct Inner {
    cmds: mpsc::UnboundedSender<DriverMsg>,
    reader: Mutex<SqliteStore>,
    status: watch::Receiver<Status>,
    next_token: AtomicU64,
}

/// Handle to the sync engine. Clone it freely; all clones share one driver.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

fn invalid(field: &'static str) -> impl FnOnce(validate::Invalid) -> Error {
    move |e| Error::Invalid {
        field,
        message: e.message,
    }
}

/// A new ULID-like client id: 10 Crockford base32 chars of Unix ms, then 16
/// of randomness. Sortable by time and unique in practice.
pub fn new_client_id() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let ms = now_ms().max(0) as u128;
    let value = (ms << 80) | (rand::random::<u128>() & ((1u128 << 80) - 1));
    (0..26)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Client {
    fn send_cmd(&self, cmd: Command) -> Result<(), Error> {
        self.inner
            .cmds
            .send(DriverMsg {
                cmd,
                ack: None,
                reply: None,
            })
            .map_err(|_| Error::DriverGone)
    }

    /// Runs a command and waits (blocking briefly) until its writes are committed.
    fn cmd_committed(&self, cmd: Command) -> Result<(), Error> {
        let (tx, rx) = std_mpsc::channel();
        self.inner
            .cmds
            .send(DriverMsg {
                cmd,
                ack: Some(tx),
                reply: None,
            })
            .map_err(|_| Error::DriverGone)?;
        rx.recv().map_err(|_| Error::DriverGone)?
    }

    fn token(&self) -> u64 {
        self.inner.next_token.fetch_add(1, Ordering::Relaxed)
    }

    async fn ask(
        &self,
        make: impl FnOnce(u64) -> Command,
        timeout: Duration,
    ) -> Result<ReplyValue, Error> {
        let token = self.token();
        let (tx, rx) = oneshot::channel();
        self.inner
            .cmds
            .send(DriverMsg {
                cmd: make(token),
                ack: None,
                reply: Some((token, tx)),
            })
            .map_err(|_| Error::DriverGone)?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Error::DriverGone),
            Err(_) => Err(Error::Timeout),
        }
    }

    async fn request(&self, request: Request) -> Result<ReplyValue, Error> {
        self.ask(|token| Command::Request { request, token }, REQUEST_TIMEOUT)
            .await
    }

    // ---- accounts ------------------------------------------------------

    /// Creates an account, stores the session, and goes online.
    pub async fn register(&self, user: &str, password: &str) -> Result<Session, Error> {
        validate::user_name(user).map_err(invalid("user"))?;
        validate::password(password).map_err(invalid("password"))?;
        let (user, password) = (user.to_owned(), password.to_owned());
        session_of(
            self.ask(
                |token| Command::Register {
                    user,
                    password,
                    token,
                },
                REQUEST_TIMEOUT,
            )
            .await?,
        )
    }

    /// Logs in with a password, stores the session, and goes online.
    pub async fn login(&self, user: &str, password: &str) -> Result<Session, Error> {
        let (user, password) = (user.to_owned(), password.to_owned());
        session_of(
            self.ask(
                |token| Command::Login {
                    user,
                    password,
                    token,
                },
                REQUEST_TIMEOUT,
            )
            .await?,
        )
    }

    /// Authenticates with `token`, or the stored one when None, and goes online.
    pub async fn resume(&self, token: Option<&str>) -> Result<Session, Error> {
        let session_token = token.map(str::to_owned);
        session_of(
            self.ask(
                |token| Command::Resume {
                    session_token,
                    token,
                },
                REQUEST_TIMEOUT,
            )
            .await?,
        )
    }

    /// Revokes the session on the server and forgets the token.
    pub async fn logout(&self) -> Result<(), Error> {
        self.request(Request::Logout).await.map(|_| ())
    }

    /// The stored session, if any.
    pub fn session(&self) -> Option<Session> {
        self.reader().ok()?.session().ok().flatten()
    }

    // ---- connection ----------------------------------------------------

    /// Goes online: connect, authenticate with the stored token, catch up,
    /// flush the outbox, stay Live, reconnect with backoff. Idempotent.
    pub fn start(&self) {
        let _ = self.send_cmd(Command::Connect);
    }

    /// Goes offline (closes the connection; no reconnect).
    pub async fn stop(&self) {
        let _ = self.send_cmd(Command::Disconnect);
        let mut status = self.inner.status.clone();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            status.wait_for(|s| matches!(s.state, ConnState::Offline | ConnState::LoggedOut)),
        )
        .await;
    }

    /// The current connection state.
    pub fn state(&self) -> ConnState {
        self.inner.status.borrow().state.clone()
    }

    /// Waits until catch-up has finished (state Live) and returns its report.
    pub async fn wait_live(&self, timeout: Duration) -> Result<SyncReport, Error> {
        let mut status = self.inner.status.clone();
        let wait = status.wait_for(|s| matches!(s.state, ConnState::Live | ConnState::LoggedOut));
        let st = match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(st)) => st.clone(),
            Ok(Err(_)) => return Err(Error::DriverGone),
            Err(_) => return Err(Error::Timeout),
        };
        match st.state {
            ConnState::LoggedOut => Err(Error::LoggedOut),
            _ => Ok(st.report.unwrap_or_default()),
        }
    }

    // ---- commands ------------------------------------------------------

    fn enqueue(
        &self,
        conv: &ConvId,
        kind: OutboxKind,
        body: Option<&str>,
        wait: Option<u64>,
    ) -> Result<(String, DriverMsg), Error> {
        if let Some(b) = body {
            validate::default_body(b).map_err(invalid("body"))?;
        }
        let item = OutboxItem {
            client_id: new_client_id(),
            conv: conv.clone(),
            kind,
            body: body.map(str::to_owned),
            state: OutboxState::Pending,
            created_ts: now_ms(),
        };
        let id = item.client_id.clone();
        Ok((
            id,
            DriverMsg {
                cmd: Command::Enqueue { item, wait },
                ack: None,
                reply: None,
            },
        ))
    }

    fn enqueue_committed(
        &self,
        conv: &ConvId,
        kind: OutboxKind,
        body: Option<&str>,
    ) -> Result<String, Error> {
        let (id, msg) = self.enqueue(conv, kind, body, None)?;
        self.cmd_committed(msg.cmd)?;
        Ok(id)
    }

    /// Queues a text. Returns its client id once the outbox row is durably
    /// committed; the message shows at once as a pending echo and is sent
    /// (and resent) until the server acknowledges it.
    pub fn send(&self, conv: &ConvId, body: &str) -> Result<String, Error> {
        self.enqueue_committed(conv, OutboxKind::Send, Some(body))
    }

    /// Queues a text and waits for the server's `sent` reply; returns its seq.
    pub async fn send_and_wait(
        &self,
        conv: &ConvId,
        body: &str,
        timeout: Duration,
    ) -> Result<Seq, Error> {
        let token = self.token();
        let (_, mut msg) = self.enqueue(conv, OutboxKind::Send, Some(body), Some(token))?;
        let (tx, rx) = oneshot::channel();
        let (ack_tx, ack_rx) = std_mpsc::channel();
        msg.reply = Some((token, tx));
        msg.ack = Some(ack_tx);
        self.inner.cmds.send(msg).map_err(|_| Error::DriverGone)?;
        ack_rx.recv().map_err(|_| Error::DriverGone)??;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(ReplyValue::Seq(seq)))) => Ok(seq),
            Ok(Ok(Ok(_))) => Err(Error::DriverGone),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err(Error::DriverGone),
            Err(_) => Err(Error::Timeout),
        }
    }

    /// Queues an edit of one of the user's texts.
    pub fn edit(&self, conv: &ConvId, target: Seq, body: &str) -> Result<String, Error> {
        self.enqueue_committed(conv, OutboxKind::Edit { target }, Some(body))
    }

    /// Queues the deletion of one of the user's texts.
    pub fn redact(&self, conv: &ConvId, target: Seq) -> Result<String, Error> {
        self.enqueue_committed(conv, OutboxKind::Redact { target }, None)
    }

    /// Puts a failed outbox row back in the queue.
    pub fn retry(&self, client_id: &str) -> Result<(), Error> {
        self.cmd_committed(Command::Retry(client_id.to_owned()))
    }

    /// Drops an outbox row.
    pub fn discard(&self, client_id: &str) -> Result<(), Error> {
        self.cmd_committed(Command::Discard(client_id.to_owned()))
    }

    /// Moves the read cursor to `seq` (never backwards). Local at once,
    /// sent to the server when online.
    pub fn mark_read(&self, conv: &ConvId, seq: Seq) -> Result<(), Error> {
        self.cmd_committed(Command::MarkRead {
            conv: conv.clone(),
            seq: Some(seq),
        })
    }

    /// Marks everything in the conversation read.
    pub fn mark_all_read(&self, conv: &ConvId) -> Result<(), Error> {
        self.cmd_committed(Command::MarkRead {
            conv: conv.clone(),
            seq: None,
        })
    }

    /// Tells the other members the user is typing (throttled).
    pub fn typing(&self, conv: &ConvId) {
        let _ = self.send_cmd(Command::Typing(conv.clone()));
    }

    /// While `Reconnecting`, tries to connect now instead of waiting for
    /// the backoff (a "reconnect now" key). Does nothing in other states.
    pub fn reconnect_now(&self) {
        let _ = self.send_cmd(Command::ReconnectNow);
    }

    /// Marks this conversation as the one on screen: it is kept complete
    /// from its newest page on. Opening a group costs one `history` page.
    pub fn open(&self, conv: &ConvId) {
        let _ = self.send_cmd(Command::Open(Some(conv.clone())));
    }

    /// No conversation is on screen any more.
    pub fn close_conversation(&self) {
        let _ = self.send_cmd(Command::Open(None));
    }

    /// Loads one older page: the newest part of the highest gap.
    pub async fn load_older(&self, conv: &ConvId) -> Result<(), Error> {
        let conv = conv.clone();
        self.ask(|token| Command::LoadOlder { conv, token }, REQUEST_TIMEOUT)
            .await
            .map(|_| ())
    }

    /// Creates a group; returns its id.
    pub async fn create_group(&self, title: &str, members: &[&str]) -> Result<ConvId, Error> {
        validate::title(title).map_err(invalid("title"))?;
        let members = members.iter().map(|m| (*m).to_owned()).collect();
        conv_of(
            self.request(Request::CreateGroup {
                title: title.to_owned(),
                members,
            })
            .await?,
        )
    }

    /// Finds or creates the direct conversation with `user`.
    pub async fn create_direct(&self, user: &str) -> Result<ConvId, Error> {
        conv_of(
            self.request(Request::CreateDirect {
                user: user.to_owned(),
            })
            .await?,
        )
    }

    /// Adds users to a group.
    pub async fn invite(&self, conv: &ConvId, users: &[&str]) -> Result<(), Error> {
        let users = users.iter().map(|u| (*u).to_owned()).collect();
        self.request(Request::Invite {
            conv: conv.clone(),
            users,
        })
        .await
        .map(|_| ())
    }

    /// Leaves a group; it stays readable locally.
    pub async fn leave(&self, conv: &ConvId) -> Result<(), Error> {
        self.request(Request::Leave { conv: conv.clone() })
            .await
            .map(|_| ())
    }

    /// Renames a group.
    pub async fn rename(&self, conv: &ConvId, title: &str) -> Result<(), Error> {
        validate::title(title).map_err(invalid("title"))?;
        self.request(Request::Rename {
            conv: conv.clone(),
            title: title.to_owned(),
        })
        .await
        .map(|_| ())
    }

    /// Current members, from the server.
    pub async fn members(&self, conv: &ConvId) -> Result<Vec<String>, Error> {
        match self
            .request(Request::Members { conv: conv.clone() })
            .await?
        {
            ReplyValue::Members(m) => Ok(m),
            _ => Err(Error::DriverGone),
        }
    }

    // ---- queries (local store only) -------------------------------------

    fn reader(&self) -> Result<std::sync::MutexGuard<'_, SqliteStore>, Error> {
        // A panic while holding the lock cannot leave SQLite inconsistent: reuse it.
        Ok(self.inner.reader.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// How far the other member of a direct conversation has read (the
    /// highest `receipt` stored, kept across restarts); 0 when unknown.
    pub fn receipt(&self, conv: &ConvId) -> Result<Seq, Error> {
        Ok(self.reader()?.receipt(conv)?)
    }

    /// The id of the server the local cache belongs to (`hello.server_id`);
    /// None before the first connection. An app compares it across a
    /// connection to tell the user that the server was reset.
    pub fn server_id(&self) -> Result<Option<String>, Error> {
        Ok(self.reader()?.server_id()?)
    }

    /// Conversations, most recent activity first.
    pub fn conversations(&self) -> Result<Vec<ConvRow>, Error> {
        Ok(self.reader()?.conversations()?)
    }

    /// One conversation.
    pub fn conversation(&self, conv: &ConvId) -> Result<Option<ConvRow>, Error> {
        Ok(self.reader()?.conversation(conv)?)
    }

    /// Finds a conversation by id, title (case-insensitive) or `@user` (direct).
    pub fn find_conversation(&self, query: &str) -> Result<Option<ConvRow>, Error> {
        let rows = self.conversations()?;
        if let Some(user) = query.strip_prefix('@') {
            return Ok(rows
                .into_iter()
                .find(|r| r.kind == ConvKind::Direct && r.title == user));
        }
        if let Some(r) = rows.iter().find(|r| r.conv.as_str() == query) {
            return Ok(Some(r.clone()));
        }
        Ok(rows
            .into_iter()
            .find(|r| r.title.eq_ignore_ascii_case(query)))
    }

    /// A timeline window with explicit gaps and pending echoes.
    pub fn timeline(&self, conv: &ConvId, q: TimelineQuery) -> Result<Vec<TimelineItem>, Error> {
        Ok(self.reader()?.timeline(conv, q)?)
    }

    /// Number of held entries.
    pub fn timeline_len(&self, conv: &ConvId) -> Result<u64, Error> {
        Ok(self.reader()?.timeline_len(conv)?)
    }

    /// Local full-text search over held texts, newest first.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>, Error> {
        Ok(self.reader()?.search(text, limit)?)
    }

    /// Outbox rows in send order.
    pub fn outbox(&self) -> Result<Vec<OutboxItem>, Error> {
        Ok(self.reader()?.outbox()?)
    }
}

fn session_of(v: ReplyValue) -> Result<Session, Error> {
    match v {
        ReplyValue::Session(s) => Ok(s),
        _ => Err(Error::DriverGone),
    }
}

fn conv_of(v: ReplyValue) -> Result<ConvId, Error> {
    match v {
        ReplyValue::Conv(c) => Ok(c),
        _ => Err(Error::DriverGone),
    }
}
