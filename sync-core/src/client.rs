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
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot, watch};

use crate::committed::Committed;
use crate::driver::{self, DriverMsg, Status};
use crate::engine::{Command, Config, ConsumerAck, Engine, ReplyValue, Request, ServerInfo};
use crate::error::Error;
use crate::events::{ConnState, Event, SyncReport};
use crate::protocol::{ConvId, ConvKind, Seq, validate};
use crate::store::{
    Batch, ConvRow, MetaKey, OutboxItem, OutboxKind, OutboxState, SearchHit, Session, SqliteStore,
    Store, TimelineItem, TimelineQuery, Write,
};

/// Configures and opens a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    url: String,
    store: StoreSource,
    config: Config,
    ca_file: Option<PathBuf>,
}

/// Where the client's cache lives.
enum StoreSource {
    /// A SQLite file (created if missing).
    Path(PathBuf),
    /// Any [`Store`] implementation.
    Custom(Box<dyn Store>),
}

impl std::fmt::Debug for StoreSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreSource::Path(p) => f.debug_tuple("Path").field(p).finish(),
            StoreSource::Custom(_) => f.write_str("Custom(..)"),
        }
    }
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
            store: StoreSource::Path(db.into()),
            config: Config {
                device: device.into(),
                ..Config::default()
            },
            ca_file: None,
        }
    }

    /// A builder whose cache is `store`, any [`Store`] implementation (one
    /// that passes [`crate::store_integration_tests!`]). The client writes
    /// through `store` on its store thread and queries through
    /// [`Store::reader`]s.
    pub fn with_store(
        url: impl Into<String>,
        store: impl Store + 'static,
        device: impl Into<String>,
    ) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            store: StoreSource::Custom(Box::new(store)),
            config: Config {
                device: device.into(),
                ..Config::default()
            },
            ca_file: None,
        }
    }

    /// Keeps the session token out of the store (see [`Config::persist_token`]): for apps
    /// that keep it in an OS keyring and pass it to [`Client::resume`].
    pub fn token_in_memory(mut self) -> ClientBuilder {
        self.config.persist_token = false;
        self
    }

    /// Also trusts the CA certificates in this PEM file for `wss://` (a
    /// private or self-signed CA), besides the platform's roots. Read in
    /// [`ClientBuilder::open`]: an unreadable file fails there.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> ClientBuilder {
        self.ca_file = Some(path.into());
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
        let tls = check_url(&self.url).map_err(|cause| Error::Connect {
            url: self.url.clone(),
            cause,
        })?;
        if !tls && !is_loopback_url(&self.url) {
            tracing::warn!(target: "sync_core", url = %self.url, "ws:// to a host that is not loopback: the token and messages travel unencrypted");
        }
        let endpoint = driver::Endpoint {
            url: self.url.clone(),
            #[cfg(feature = "tls")]
            tls: if tls {
                Some(crate::tls::client_config(self.ca_file.as_deref())?)
            } else {
                None
            },
        };
        let mut writer: Box<dyn Store> = match self.store {
            StoreSource::Path(p) => Box::new(SqliteStore::open(p)?),
            StoreSource::Custom(s) => s,
        };
        let mut snapshot = writer.load()?;
        if !self.config.persist_token && snapshot.session.take().is_some() {
            // The app keeps the token elsewhere: erase the copy an earlier run stored.
            let mut erase = Batch::default();
            erase.writes.push(Write::Meta(MetaKey::Token, None));
            writer.apply(&erase)?;
        }
        let reader = writer.reader()?;
        let spare = writer.reader()?;
        let user = snapshot.session.as_ref().map(|s| s.user.clone());
        let engine = Engine::new(self.config.clone(), snapshot);
        let (event_tx, event_rx) = crate::events::queue::channel();
        let (status_tx, status_rx) = watch::channel(Status {
            state: ConnState::Offline,
            report: None,
        });
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (commit_tx, commit_rx) = watch::channel(0);
        driver::spawn(
            endpoint, engine, writer, event_tx, status_tx, commit_tx, cmd_rx,
        )?;
        let client = Client {
            inner: Arc::new(Inner {
                cmds: cmd_tx,
                spare: Mutex::new(spare),
                readers: Mutex::new(vec![reader]),
                status: status_rx,
                commits: commit_rx,
                next_token: AtomicU64::new(1),
                user: Mutex::new(user),
                request_timeout: self.config.request_timeout,
                url: self.url.clone(),
            }),
        };
        Ok((client, Events { rx: event_rx }))
    }
}

/// True when `url`'s host is loopback (127.0.0.0/8, ::1, localhost): plain
/// `ws://` there never crosses a network.
pub fn is_loopback_url(url: &str) -> bool {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let Ok(request) = url.into_client_request() else {
        return false;
    };
    let Some(host) = request.uri().host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A server URL the driver can use: `ws://host[:port]/path`, or `wss://`
/// with the `tls` feature, with a host. Returns whether it is `wss://`.
fn check_url(url: &str) -> Result<bool, crate::error::ConnectError> {
    use crate::error::ConnectError;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let request = url
        .into_client_request()
        .map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
    let uri = request.uri();
    let tls = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") if cfg!(feature = "tls") => true,
        Some("wss") => return Err(ConnectError::TlsUnavailable),
        _ => {
            return Err(ConnectError::InvalidUrl(
                "the URL must start with ws:// (or wss://)".into(),
            ));
        }
    };
    if uri.host().is_none_or(str::is_empty) {
        return Err(ConnectError::InvalidUrl("the URL has no host".into()));
    }
    Ok(tls)
}

/// Change notifications ([`Event`]s), in the order things happened, each
/// delivered after the store writes it describes are committed.
///
/// Bounded and coalescing: the engine never waits for the app, and an app
/// that falls behind (or never reads) costs at most about a thousand queued
/// notifications. Repeated ones merge (one `TimelineChanged` per
/// conversation, one `ConversationsChanged`, one `OutboxChanged`); when the
/// queue is still full, `NewMessage`, `Typing` and `Receipt` are dropped
/// and an [`Event::Lagged`] says how many. What must not be lost (every
/// message) is read through a [`crate::MessageStream`], never from here.
#[derive(Debug)]
pub struct Events {
    rx: crate::events::queue::EventReceiver,
}

impl Events {
    /// The next event; None once the client is gone.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// The next event if one is ready.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.rx.try_recv()
    }

    /// Notifications queued and not read yet.
    pub fn pending(&self) -> usize {
        self.rx.len()
    }
}

#[derive(Debug)]
struct Inner {
    cmds: mpsc::UnboundedSender<DriverMsg>,
    /// Makes more readers ([`Store::reader`]) when every idle one is busy.
    spare: Mutex<Box<dyn Store>>,
    /// Idle reader connections: a query takes one (or opens one) and puts
    /// it back, so concurrent queries never wait for each other and the
    /// lock is held only to pop and push.
    readers: Mutex<Vec<Box<dyn Store>>>,
    status: watch::Receiver<Status>,
    /// Bumped by the store thread after every commit (streams wait on it).
    commits: watch::Receiver<u64>,
    next_token: AtomicU64,
    /// The logged-in user, once known.
    user: Mutex<Option<String>>,
    /// [`Config::request_timeout`].
    request_timeout: Duration,
    /// The server URL.
    url: String,
}

/// Idle reader connections kept for reuse.
const IDLE_READERS: usize = 4;

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
        self.ask(
            |token| Command::Request { request, token },
            self.inner.request_timeout,
        )
        .await
    }

    // ---- accounts ------------------------------------------------------

    /// Creates an account, stores the session, and goes online.
    pub async fn register(&self, user: &str, password: &str) -> Result<Session, Error> {
        self.register_with_invite(user, password, None).await
    }

    /// [`Client::register`] with an invite code, for a server whose
    /// registration is invite-only ([`ServerInfo::register`] is `invite`).
    pub async fn register_with_invite(
        &self,
        user: &str,
        password: &str,
        invite: Option<&str>,
    ) -> Result<Session, Error> {
        validate::user_name(user).map_err(invalid("user"))?;
        validate::password(password).map_err(invalid("password"))?;
        let (user, password) = (user.to_owned(), password.to_owned());
        let invite = invite.map(str::to_owned);
        session_of(
            self.ask(
                |token| Command::Register {
                    user,
                    password,
                    invite,
                    token,
                },
                self.inner.request_timeout,
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
                self.inner.request_timeout,
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
                self.inner.request_timeout,
            )
            .await?,
        )
    }

    /// Revokes the session on the server and forgets the token.
    pub async fn logout(&self) -> Result<(), Error> {
        self.request(Request::Logout { all: false })
            .await
            .map(|_| ())
    }

    /// Revokes every session of the user (all devices) and forgets the
    /// token here (§9.6; [`Error::Unsupported`] when the server lacks
    /// `account`).
    pub async fn logout_all(&self) -> Result<(), Error> {
        self.request(Request::Logout { all: true })
            .await
            .map(|_| ())
    }

    /// Changes the password (§9.6). The user's other sessions end (their
    /// connections close with 4001); this one stays. `Server { code:
    /// Unauthorized }` when `old` is wrong.
    pub async fn change_password(&self, old: &str, new: &str) -> Result<(), Error> {
        validate::password(new).map_err(invalid("new password"))?;
        self.request(Request::Password {
            old: old.to_owned(),
            new: new.to_owned(),
        })
        .await
        .map(|_| ())
    }

    /// What the server said about itself in its latest `hello`: its
    /// features and whether registration is open.
    pub async fn server_info(&self) -> Result<ServerInfo, Error> {
        match self
            .ask(
                |token| Command::ServerInfo { token },
                self.inner.request_timeout,
            )
            .await?
        {
            ReplyValue::ServerInfo(info) => Ok(info),
            _ => Err(Error::DriverGone),
        }
    }

    /// The stored session, if any.
    pub fn session(&self) -> Option<Session> {
        self.read(|r| r.session()).ok().flatten()
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
            status.wait_for(|s| {
                matches!(
                    s.state,
                    ConnState::Offline | ConnState::LoggedOut | ConnState::Failed { .. }
                )
            }),
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
        let wait = status.wait_for(|s| {
            matches!(
                s.state,
                ConnState::Live | ConnState::LoggedOut | ConnState::Failed { .. }
            )
        });
        let st = match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(st)) => st.clone(),
            Ok(Err(_)) => return Err(Error::DriverGone),
            Err(_) => return Err(Error::Timeout),
        };
        match st.state {
            ConnState::LoggedOut => Err(Error::LoggedOut),
            ConnState::Failed { error } => Err(Error::Connect {
                url: self.inner.url.clone(),
                cause: error,
            }),
            _ => Ok(st.report.unwrap_or_default()),
        }
    }

    /// Waits until the connection state satisfies `pred`.
    pub(crate) async fn wait_state(&self, pred: impl Fn(&ConnState) -> bool) -> Result<(), Error> {
        let mut status = self.inner.status.clone();
        status
            .wait_for(|s| pred(&s.state))
            .await
            .map(drop)
            .map_err(|_| Error::DriverGone)
    }

    // ---- commands ------------------------------------------------------

    /// Hands `cmd` to the engine now; the future resolves after its writes
    /// commit (group-committed with whatever else is queued).
    pub(crate) fn submit<T>(&self, cmd: Command, value: T) -> Committed<T> {
        let (tx, rx) = oneshot::channel();
        let sent = self.inner.cmds.send(DriverMsg {
            cmd,
            ack: Some(tx),
            reply: None,
        });
        match sent {
            Ok(()) => Committed::waiting(rx, value),
            Err(_) => Committed::done(Err(Error::DriverGone)),
        }
    }

    fn outbox_item(
        conv: &ConvId,
        client_id: String,
        kind: OutboxKind,
        body: Option<&str>,
    ) -> Result<OutboxItem, Error> {
        if let Some(b) = body {
            validate::default_body(b).map_err(invalid("body"))?;
        }
        validate::client_id(&client_id).map_err(invalid("client_id"))?;
        Ok(OutboxItem {
            client_id,
            conv: conv.clone(),
            kind,
            body: body.map(str::to_owned),
            state: OutboxState::Pending,
            created_ts: now_ms(),
        })
    }

    /// Queues an outbox row (with a stream consumer's ack in the same
    /// transaction, for [`crate::MessageStream::reply`]).
    pub(crate) fn enqueue(
        &self,
        conv: &ConvId,
        client_id: String,
        kind: OutboxKind,
        body: Option<&str>,
        ack: Option<ConsumerAck>,
    ) -> Committed<String> {
        match Self::outbox_item(conv, client_id, kind, body) {
            Ok(item) => {
                let id = item.client_id.clone();
                self.submit(
                    Command::Enqueue {
                        item,
                        wait: None,
                        ack,
                    },
                    id,
                )
            }
            Err(e) => Committed::done(Err(e)),
        }
    }

    /// Queues a text. The command is handed to the engine at once (calls
    /// keep their order); the future resolves with the message's client id
    /// once the outbox row is durably committed. The message shows at once
    /// as a pending echo and is sent (and resent) until the server
    /// acknowledges it.
    pub fn send(&self, conv: &ConvId, body: &str) -> Committed<String> {
        self.send_with_id(conv, &new_client_id(), body)
    }

    /// [`Client::send`] with a client id the caller chose (1–64 printable
    /// ASCII characters). The server stores one message per client id, so
    /// sending again with the same id, even from another run, never makes a
    /// second copy. Fails with [`Error::AlreadyQueued`] while a row with
    /// this id is still in the outbox.
    pub fn send_with_id(&self, conv: &ConvId, client_id: &str, body: &str) -> Committed<String> {
        self.enqueue(
            conv,
            client_id.to_owned(),
            OutboxKind::Send,
            Some(body),
            None,
        )
    }

    /// Queues a text and waits for the server's `sent` reply; returns its
    /// seq. On timeout the message is still queued and still goes out:
    /// the error ([`Error::SendTimeout`]) carries its client id, to wait
    /// again with [`Client::wait_sent`] or drop it with [`Client::discard`].
    pub async fn send_and_wait(
        &self,
        conv: &ConvId,
        body: &str,
        timeout: Duration,
    ) -> Result<Seq, Error> {
        let item = Self::outbox_item(conv, new_client_id(), OutboxKind::Send, Some(body))?;
        let client_id = item.client_id.clone();
        let token = self.token();
        let (tx, rx) = oneshot::channel();
        let (ack_tx, ack_rx) = oneshot::channel();
        self.inner
            .cmds
            .send(DriverMsg {
                cmd: Command::Enqueue {
                    item,
                    wait: Some(token),
                    ack: None,
                },
                ack: Some(ack_tx),
                reply: Some((token, tx)),
            })
            .map_err(|_| Error::DriverGone)?;
        Committed::waiting(ack_rx, ()).await?;
        self.await_sent(client_id, rx, timeout).await
    }

    /// Waits (again) for the acknowledgement of a queued message, e.g.
    /// after [`Error::SendTimeout`]. Fails with [`Error::UnknownOutboxRow`]
    /// when no such row is queued (it was acknowledged or discarded).
    pub async fn wait_sent(&self, client_id: &str, timeout: Duration) -> Result<Seq, Error> {
        let client_id = client_id.to_owned();
        let token = self.token();
        let (tx, rx) = oneshot::channel();
        self.inner
            .cmds
            .send(DriverMsg {
                cmd: Command::WaitSent {
                    client_id: client_id.clone(),
                    token,
                },
                ack: None,
                reply: Some((token, tx)),
            })
            .map_err(|_| Error::DriverGone)?;
        self.await_sent(client_id, rx, timeout).await
    }

    async fn await_sent(
        &self,
        client_id: String,
        rx: oneshot::Receiver<Result<ReplyValue, Error>>,
        timeout: Duration,
    ) -> Result<Seq, Error> {
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(ReplyValue::Seq(seq)))) => Ok(seq),
            Ok(Ok(Ok(_))) => Err(Error::DriverGone),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err(Error::DriverGone),
            Err(_) => Err(Error::SendTimeout { client_id }),
        }
    }

    /// Queues an edit of one of the user's texts; resolves with its client
    /// id once committed.
    pub fn edit(&self, conv: &ConvId, target: Seq, body: &str) -> Committed<String> {
        self.enqueue(
            conv,
            new_client_id(),
            OutboxKind::Edit { target },
            Some(body),
            None,
        )
    }

    /// Queues the deletion of one of the user's texts.
    pub fn redact(&self, conv: &ConvId, target: Seq) -> Committed<String> {
        self.enqueue(
            conv,
            new_client_id(),
            OutboxKind::Redact { target },
            None,
            None,
        )
    }

    /// Puts a failed outbox row back in the queue.
    pub fn retry(&self, client_id: &str) -> Committed<()> {
        self.submit(Command::Retry(client_id.to_owned()), ())
    }

    /// Drops an outbox row.
    pub fn discard(&self, client_id: &str) -> Committed<()> {
        self.submit(Command::Discard(client_id.to_owned()), ())
    }

    /// Moves the read cursor to `seq` (never backwards). Local at once,
    /// sent to the server when online.
    pub fn mark_read(&self, conv: &ConvId, seq: Seq) -> Committed<()> {
        self.submit(
            Command::MarkRead {
                conv: conv.clone(),
                seq: Some(seq),
            },
            (),
        )
    }

    /// Marks everything in the conversation read.
    pub fn mark_all_read(&self, conv: &ConvId) -> Committed<()> {
        self.submit(
            Command::MarkRead {
                conv: conv.clone(),
                seq: None,
            },
            (),
        )
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
    ///
    /// The command is handed to the engine at once; the returned future
    /// resolves when the newest page is stored (at once when nothing was
    /// missing), with [`Error::Offline`] when there is no connection to
    /// fetch it (the cached part is there to show), or with the server's
    /// refusal. Dropping the future does not undo the open.
    pub fn open(
        &self,
        conv: &ConvId,
    ) -> impl std::future::Future<Output = Result<(), Error>> + Send + use<> {
        let _ = self.send_cmd(Command::Open(Some(conv.clone())));
        let token = self.token();
        let (tx, rx) = oneshot::channel();
        let sent = self.inner.cmds.send(DriverMsg {
            cmd: Command::WaitOpened {
                conv: conv.clone(),
                token,
            },
            ack: None,
            reply: Some((token, tx)),
        });
        let timeout = self.inner.request_timeout;
        async move {
            sent.map_err(|_| Error::DriverGone)?;
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(r)) => r.map(drop),
                Ok(Err(_)) => Err(Error::DriverGone),
                Err(_) => Err(Error::Timeout),
            }
        }
    }

    /// No conversation is on screen any more.
    pub fn close_conversation(&self) {
        let _ = self.send_cmd(Command::Open(None));
    }

    /// Loads one older page: the newest part of the highest gap.
    pub async fn load_older(&self, conv: &ConvId) -> Result<(), Error> {
        let conv = conv.clone();
        self.ask(
            |token| Command::LoadOlder { conv, token },
            self.inner.request_timeout,
        )
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

    /// Runs a read on an idle reader connection (WAL: it never waits for
    /// the store thread's writes).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, crate::store::StoreError>,
    ) -> Result<T, Error> {
        let reader = self.take_reader()?;
        let out = f(&*reader);
        self.put_reader(reader);
        Ok(out?)
    }

    pub(crate) fn take_reader(&self) -> Result<Box<dyn Store>, Error> {
        // A panic while holding the lock cannot leave the pool inconsistent.
        let idle = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        match idle {
            Some(r) => Ok(r),
            None => Ok(self
                .inner
                .spare
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .reader()?),
        }
    }

    pub(crate) fn put_reader(&self, reader: Box<dyn Store>) {
        let mut idle = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(reader);
        }
    }

    /// A receiver bumped after every store commit.
    pub(crate) fn commits(&self) -> watch::Receiver<u64> {
        self.inner.commits.clone()
    }

    /// The logged-in user's name (None before a session exists).
    pub fn user(&self) -> Option<String> {
        let mut cached = self.inner.user.lock().unwrap_or_else(|p| p.into_inner());
        if cached.is_none() {
            *cached = self.session().map(|s| s.user);
        }
        cached.clone()
    }

    /// How far the other member of a direct conversation has read (the
    /// highest `receipt` stored, kept across restarts); 0 when unknown.
    pub fn receipt(&self, conv: &ConvId) -> Result<Seq, Error> {
        self.read(|r| r.receipt(conv))
    }

    /// The id of the server the local cache belongs to (`hello.server_id`);
    /// None before the first connection. An app compares it across a
    /// connection to tell the user that the server was reset.
    pub fn server_id(&self) -> Result<Option<String>, Error> {
        self.read(|r| r.meta(MetaKey::ServerId))
    }

    /// Conversations, most recent activity first.
    pub fn conversations(&self) -> Result<Vec<ConvRow>, Error> {
        self.read(|r| r.conversations())
    }

    /// One conversation.
    pub fn conversation(&self, conv: &ConvId) -> Result<Option<ConvRow>, Error> {
        self.read(|r| r.conversation(conv))
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
        self.read(|r| r.timeline(conv, q))
    }

    /// Number of held entries.
    pub fn timeline_len(&self, conv: &ConvId) -> Result<u64, Error> {
        self.read(|r| r.timeline_len(conv))
    }

    /// Local full-text search over held texts, newest first.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>, Error> {
        self.read(|r| r.search(text, limit))
    }

    /// Outbox rows in send order.
    pub fn outbox(&self) -> Result<Vec<OutboxItem>, Error> {
        self.read(|r| r.outbox())
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
