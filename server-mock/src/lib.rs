//! server-mock: the reference timeline server for `shared/PROTOCOL.md`,
//! durable on SQLite.
//!
//! Modules, from the socket inwards:
//! - [`server`]: listener with a connection cap, [`start`] and
//!   [`RunningServer`] (graceful shutdown).
//! - [`handler`]: one connection's loop: hello, pings, idle timeout,
//!   authentication state, strikes, the send rate limit, dispatch.
//! - [`connection`]: WebSocket messages ⇄ decoded frames, the bounded
//!   [`connection::Outbox`] and out-of-band close. Nothing else sees bytes.
//! - [`cmd`]: one module per request family (`session`, `conversations`,
//!   `sync`, `timeline`, `send`, `read`): each parses its requests, defines
//!   its writer-side ops ([`store::batch::Apply`]) and builds its replies.
//! - [`registry`]: user → authenticated connections, for fan-out.
//! - [`store`]: the storage interface ops and reads use ([`store::sql::Db`],
//!   portable SQL, neutral values) and its SQLite implementation:
//!   schema/migrations, the writer thread with group
//!   commit and the batch state ops share, the delivery task that queues replies and pushes in commit
//!   order, reader pool, row mapping.
//! - [`features`]: which §9 extensions are on (all, none, or a list);
//!   [`mentions`]: the §9.3 parsing rule.
//! - [`tls`]: `wss://`: the acceptor and its certificate, re-read on
//!   SIGHUP ([`RunningServer::reload_tls`]) and when the files change.
//! - [`admin`], [`backup`]: the `admin`/`invite` and `backup` subcommands,
//!   straight on the database file (the server may be running).
//! - [`state`]: the shared state handle; [`rate`]: the token bucket;
//!   [`error`]: error types.

pub mod admin;
pub mod backup;
pub mod cluster;
pub mod cmd;
pub mod connection;
pub mod error;
pub mod features;
pub mod handler;
pub mod mentions;
pub mod proxy;
pub mod rate;
pub mod registry;
pub mod server;
pub mod state;
pub mod store;
pub mod throttle;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;

/// The default outbound queue per connection in bytes, beside its 1,024
/// frames: a reader that stops reading is closed with 1013 once more than
/// both wait for it (`connection::Outbox`).
pub const OUTBOUND_QUEUE_BYTES: usize = 4 * 1024 * 1024;
/// Most members a group holds: its `members` reply (at most 32 + 3 bytes a
/// name) then stays under the 1 MiB every server frame keeps to (§2).
pub const MAX_GROUP_MEMBERS: u64 = 25_000;

pub use error::{ServerError, StoreError};
pub use features::Features;
pub use server::{RunningServer, start};
pub use tls::{ServedCertificate, TlsFiles};

/// Test-only slow path: whether `SERVER_MOCK_FAILPOINT` names `point`
/// (cluster tests widen race windows with it; read once per process).
pub(crate) fn failpoint(point: &str) -> bool {
    static ARMED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    ARMED
        .get_or_init(|| std::env::var("SERVER_MOCK_FAILPOINT").ok())
        .as_deref()
        == Some(point)
}

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A throwaway database, gone when the server stops.
    Memory,
    /// A durable SQLite file (created if missing).
    Path(PathBuf),
    /// A PostgreSQL database (`postgres://user@host:port/db`), migrated at
    /// start.
    Postgres(String),
}

impl DbLocation {
    /// `:memory:` is [`DbLocation::Memory`]; `postgres://…` (or
    /// `postgresql://…`) is [`DbLocation::Postgres`]; another URL
    /// (`scheme://…`) is refused, so it does not become a directory named
    /// `sqlite:`; anything else is a path.
    pub fn parse(s: &str) -> Result<DbLocation, ServerError> {
        if s == ":memory:" {
            return Ok(DbLocation::Memory);
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(DbLocation::Postgres(s.to_owned()));
        }
        if let Some((scheme, _)) = s.split_once("://")
            && !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            return Err(ServerError::UnsupportedDb(scheme.to_owned()));
        }
        Ok(DbLocation::Path(PathBuf::from(s)))
    }

    /// The default durable location: `server.db` in the platform data dir.
    pub fn default_path() -> Result<DbLocation, ServerError> {
        let dirs = directories::ProjectDirs::from("", "", "convo-server-mock")
            .ok_or(ServerError::NoDataDir)?;
        Ok(DbLocation::Path(dirs.data_dir().join("server.db")))
    }
}

/// Who may create an account (`--register`; `hello.register` says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegisterMode {
    /// Anyone who can reach the server.
    #[default]
    Open,
    /// Only with an invite code (`server-mock invite create`).
    InviteOnly,
    /// Nobody; accounts already in the database still work.
    Closed,
}

impl RegisterMode {
    /// The `hello.register` value: `open`, `invite` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RegisterMode::Open => "open",
            RegisterMode::InviteOnly => "invite",
            RegisterMode::Closed => "closed",
        }
    }

    /// The `--register` value: `open`, `invite-only` (or `invite`) or `closed`.
    pub fn parse(s: &str) -> Option<RegisterMode> {
        match s {
            "open" => Some(RegisterMode::Open),
            "invite-only" | "invite" => Some(RegisterMode::InviteOnly),
            "closed" => Some(RegisterMode::Closed),
            _ => None,
        }
    }
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The database.
    pub db: DbLocation,
    /// Who may `register`.
    pub register: RegisterMode,
    /// Connection cap; connections over it are closed with 1013.
    pub max_connections: usize,
    /// send/edit/redact token bucket refill per connection.
    pub send_rate_per_sec: f64,
    /// Token bucket size.
    pub send_burst: u32,
    /// Most members a group holds (an `invite` past it is `too_large`):
    /// [`MAX_GROUP_MEMBERS`] keeps the `members` reply under 1 MiB.
    pub max_group_members: u64,
    /// Outbound queue per connection, in frames not yet written to the
    /// socket: past it and past `outbound_queue_bytes` the connection is
    /// closed with 1013.
    pub outbound_queue: usize,
    /// Outbound queue per connection, in bytes (see `outbound_queue`).
    pub outbound_queue_bytes: usize,
    /// `NAME/VERSION` in `hello`.
    pub name: String,
    /// A WebSocket Ping goes to every connection this often (PROTOCOL.md: at
    /// least every 30 s).
    pub ping_every: std::time::Duration,
    /// A connection the server has heard nothing from (no frame, no pong) for
    /// this long is closed with 1000 (PROTOCOL.md: may close after 90 s).
    pub idle_limit: std::time::Duration,
    /// Serve `wss://` with this certificate and key (None: plain `ws://`).
    pub tls: Option<TlsFiles>,
    /// How often the certificate and key files are looked at; when either
    /// changed (modification time, size, inode) they are read again
    /// ([`RunningServer::reload_tls`] does it at once).
    pub tls_check_every: std::time::Duration,
    /// A token unused for this many days stops working.
    pub token_idle_days: u32,
    /// Browser origins allowed to open a WebSocket (`--allow-origin`); an
    /// upgrade with any other `Origin` header is refused (non-browser
    /// clients send none).
    pub allowed_origins: Vec<String>,
    /// Connections one source address may hold (IPv6 grouped by /64); more
    /// are closed with 1013 right after the upgrade.
    pub max_per_address: usize,
    /// A connection that has not authenticated within this time is closed
    /// (1008), whether or not it answers pings.
    pub auth_timeout: std::time::Duration,
    /// Log-in throttling across connections.
    pub login_limits: throttle::LoginLimits,
    /// Proxies whose PROXY protocol header or `X-Forwarded-For` names the
    /// client's address (`--trusted-proxy`).
    pub trusted_proxies: Vec<proxy::Cidr>,
    /// The §9 extensions served (`--features`); [`Features::NONE`] is a pure
    /// protocol version 1 server.
    pub features: Features,
    /// `--cluster nats://HOST:PORT`: the bus to the other nodes on the same
    /// database.
    pub cluster: Option<String>,
    /// `--cluster-ca`: the CA that signed the NATS server's certificate;
    /// the bus then requires TLS.
    pub cluster_ca: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 7878)),
            db: DbLocation::Memory,
            register: RegisterMode::Open,
            max_connections: 10_000,
            send_rate_per_sec: 50.0,
            send_burst: 100,
            max_group_members: MAX_GROUP_MEMBERS,
            outbound_queue: 1024,
            outbound_queue_bytes: OUTBOUND_QUEUE_BYTES,
            name: concat!("server-mock/", env!("CARGO_PKG_VERSION")).to_owned(),
            ping_every: std::time::Duration::from_secs(20),
            idle_limit: std::time::Duration::from_secs(90),
            tls: None,
            tls_check_every: std::time::Duration::from_secs(60),
            token_idle_days: 90,
            allowed_origins: Vec::new(),
            max_per_address: 256,
            auth_timeout: std::time::Duration::from_secs(30),
            login_limits: throttle::LoginLimits::default(),
            trusted_proxies: Vec::new(),
            features: Features::ALL,
            cluster: None,
            cluster_ca: None,
        }
    }
}
