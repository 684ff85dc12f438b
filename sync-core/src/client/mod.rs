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

mod account;
mod conversations;
mod queries;
mod sends;
pub(crate) use sends::validate_key;

use crate::committed::Committed;
use crate::driver::{self, DriverMsg, Status};
use crate::engine::{Command, Config, Engine, ReplyValue, Request};
use crate::error::Error;
use crate::events::{ConnState, Event, SyncReport};
use crate::protocol::{ConvId, validate};
use crate::store::{Batch, MetaKey, Session, SqliteStore, Store, Write};

/// Configures and opens a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    /// The server URLs, tried in this order (failover).
    urls: Vec<String>,
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
            urls: vec![url.into()],
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
            urls: vec![url.into()],
            store: StoreSource::Custom(Box::new(store)),
            config: Config {
                device: device.into(),
                ..Config::default()
            },
            ca_file: None,
        }
    }

    /// Several URLs of one service (nodes over one database, each saying the
    /// same `hello.server_id`), replacing the constructor's URL. The client
    /// connects to the first; when a connection attempt fails or a
    /// connection ends it moves to the next (wrapping around), trying each
    /// once quickly before backing off, and stays on a URL that works.
    /// A URL whose server says another `server_id` than the store's is
    /// skipped with [`ConnectError::WrongServer`](crate::ConnectError::WrongServer),
    /// never used. Every URL is checked in [`ClientBuilder::open`]; an empty
    /// list fails there. [`Client::current_url`] says which one is in use.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), sync_core::Error> {
    /// let urls = ["ws://10.0.0.1:7878/v1", "ws://10.0.0.2:7878/v1"];
    /// let (client, events) = sync_core::ClientBuilder::new(urls[0], "/tmp/alice.db", "laptop-1")
    ///     .servers(urls)
    ///     .open()?;
    /// # Ok(()) }
    /// ```
    pub fn servers<I, S>(mut self, urls: I) -> ClientBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.urls = urls.into_iter().map(Into::into).collect();
        self
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
        let Some(first) = self.urls.first().cloned() else {
            return Err(Error::Invalid {
                field: "servers",
                message: "no server URL given".into(),
            });
        };
        let mut any_tls = false;
        for url in &self.urls {
            let tls = check_url(url).map_err(|cause| Error::Connect {
                url: url.clone(),
                cause,
            })?;
            if !tls && !is_loopback_url(url) {
                tracing::warn!(target: "sync_core", url = %url, "ws:// to a host that is not loopback: the token and messages travel unencrypted");
            }
            any_tls |= tls;
        }
        #[cfg(not(feature = "tls"))]
        let _ = any_tls;
        let endpoint = driver::Endpoint {
            #[cfg(feature = "tls")]
            tls: if any_tls {
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
        let mut engine = Engine::new(self.config.clone(), snapshot);
        engine.set_servers(self.urls.clone());
        let (event_tx, event_rx) = crate::events::queue::channel();
        let (status_tx, status_rx) = watch::channel(Status {
            state: ConnState::Offline,
            report: None,
            url: first,
        });
        let (commit_tx, commit_rx) = watch::channel(0);
        let cmd_tx = driver::spawn(endpoint, engine, writer, event_tx, status_tx, commit_tx)?;
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

    /// The server URL in use: the one connected to, or, while not
    /// connected, the one the next attempt uses (with
    /// [`ClientBuilder::servers`], it changes as the client fails over).
    /// Updated with each [`Event::Connection`].
    pub fn current_url(&self) -> String {
        self.inner.status.borrow().url.clone()
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
                url: st.url,
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
