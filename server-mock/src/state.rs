//! The state every connection task shares, behind one cheap cloneable
//! `Arc<Shared>`: the store handle, the connection registry, limits and the
//! pre-serialized `hello` frame.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::registry::Registry;
use crate::store::Store;

/// Shared server state.
#[derive(Debug)]
pub struct Shared {
    /// The database.
    pub store: Store,
    /// Authenticated connections, for fan-out.
    pub registry: Arc<Registry>,
    /// The `hello` frame, serialized once.
    pub hello: Utf8Bytes,
    /// Who may `register`.
    pub register: crate::RegisterMode,
    /// A token unused for this many days stops working.
    pub token_idle_days: u32,
    /// Token bucket refill rate for send/edit/redact, per connection.
    pub send_rate_per_sec: f64,
    /// Token bucket size.
    pub send_burst: u32,
    /// Outbound queue length per connection.
    pub outbound_queue: usize,
    /// Ping interval.
    pub ping_every: std::time::Duration,
    /// Silence after which a connection is closed.
    pub idle_limit: std::time::Duration,
    /// The TLS acceptor when serving `wss://`.
    pub tls: Option<Tls>,
    next_conn: AtomicU64,
}

/// A TLS acceptor (rustls's type has no `Debug`).
#[derive(Clone)]
pub struct Tls(pub tokio_rustls::TlsAcceptor);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

impl Shared {
    /// Builds the shared state.
    pub fn new(
        store: Store,
        registry: Arc<Registry>,
        hello: Utf8Bytes,
        config: &crate::Config,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Shared {
        Shared {
            store,
            registry,
            hello,
            register: config.register,
            token_idle_days: config.token_idle_days,
            send_rate_per_sec: config.send_rate_per_sec,
            send_burst: config.send_burst,
            outbound_queue: config.outbound_queue,
            ping_every: config.ping_every,
            idle_limit: config.idle_limit,
            tls: tls.map(Tls),
            next_conn: AtomicU64::new(1),
        }
    }

    /// A fresh connection id.
    pub fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}
