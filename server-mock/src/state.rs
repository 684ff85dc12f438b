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
    /// The §9 extensions served.
    pub features: crate::Features,
    /// A token unused for this many days stops working.
    pub token_idle_days: u32,
    /// Token bucket refill rate for send/edit/redact, per connection.
    pub send_rate_per_sec: f64,
    /// Token bucket size.
    pub send_burst: u32,
    /// Most members a group holds.
    pub max_group_members: u64,
    /// Outbound queue length per connection.
    pub outbound_queue: crate::connection::QueueLimit,
    /// Ping interval.
    pub ping_every: std::time::Duration,
    /// Silence after which a connection is closed.
    pub idle_limit: std::time::Duration,
    /// This node's cluster membership (`--cluster`).
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// The TLS acceptor and its reloadable certificate when serving `wss://`.
    pub tls: Option<Arc<crate::tls::ServerTls>>,
    /// Browser origins allowed to upgrade.
    pub allowed_origins: Vec<String>,
    /// Proxies believed about the client's address.
    pub trusted_proxies: Vec<crate::proxy::Cidr>,
    /// Connections per source address, at most.
    pub max_per_address: usize,
    /// Authenticate within this time or be closed.
    pub auth_timeout: std::time::Duration,
    /// Send buckets per user (every connection of a user draws from one).
    pub send_buckets: std::sync::Mutex<
        std::collections::HashMap<
            String,
            std::sync::Weak<std::sync::Mutex<crate::rate::TokenBucket>>,
        >,
    >,
    /// Log-in throttling across connections.
    pub throttle: crate::throttle::Throttle,
    /// The bounded pool password hashing runs on.
    pub hashing: crate::throttle::HashPool,
    /// Open connections per source address (IPv6 by /64).
    pub per_address: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
    next_conn: AtomicU64,
}

impl Shared {
    /// Builds the shared state.
    pub fn new(
        store: Store,
        registry: Arc<Registry>,
        hello: Utf8Bytes,
        config: &crate::Config,
        tls: Option<Arc<crate::tls::ServerTls>>,
        cluster: Option<Arc<crate::cluster::Cluster>>,
    ) -> Shared {
        Shared {
            store,
            registry,
            cluster,
            hello,
            register: config.register,
            features: config.features,
            token_idle_days: config.token_idle_days,
            send_rate_per_sec: config.send_rate_per_sec,
            send_burst: config.send_burst,
            max_group_members: config.max_group_members.min(crate::MAX_GROUP_MEMBERS),
            outbound_queue: crate::connection::QueueLimit {
                frames: config.outbound_queue.max(1),
                bytes: config.outbound_queue_bytes,
            },
            ping_every: config.ping_every,
            idle_limit: config.idle_limit,
            tls,
            allowed_origins: config.allowed_origins.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            max_per_address: config.max_per_address.max(1),
            auth_timeout: config.auth_timeout,
            per_address: Default::default(),
            throttle: crate::throttle::Throttle::new(config.login_limits),
            send_buckets: Default::default(),
            hashing: {
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
                crate::throttle::HashPool::new(cores, 8 * cores)
            },
            next_conn: AtomicU64::new(1),
        }
    }

    /// Counts a new connection from `addr`; None when the address already
    /// holds `max_per_address` connections. The guard uncounts it.
    pub fn admit(self: &Arc<Self>, addr: std::net::IpAddr) -> Option<AddressSlot> {
        let key = address_key(addr);
        let mut map = self.per_address.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(key).or_insert(0);
        if *n >= self.max_per_address {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            shared: self.clone(),
            key,
        })
    }

    /// The send bucket of `user`, shared by all of their connections (kept
    /// while one of them holds it).
    pub fn send_bucket(&self, user: &str) -> Arc<std::sync::Mutex<crate::rate::TokenBucket>> {
        let mut map = self.send_buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = map.get(user).and_then(std::sync::Weak::upgrade) {
            return b;
        }
        if map.len() >= 64 && map.len().is_power_of_two() {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let b = Arc::new(std::sync::Mutex::new(crate::rate::TokenBucket::new(
            self.send_rate_per_sec,
            self.send_burst,
        )));
        map.insert(user.to_owned(), Arc::downgrade(&b));
        b
    }

    /// A fresh connection id.
    pub fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}

/// An IPv4-mapped IPv6 address as plain IPv4; anything else unchanged.
pub fn canonical(addr: std::net::IpAddr) -> std::net::IpAddr {
    match addr {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, std::net::IpAddr::V4),
        v4 => v4,
    }
}

/// The source address a limit counts: IPv4 as is, IPv6 by its /64 (one
/// host usually holds a whole /64).
pub fn address_key(addr: std::net::IpAddr) -> std::net::IpAddr {
    match addr {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => std::net::IpAddr::V4(v4),
            None => {
                let seg = v6.segments();
                std::net::IpAddr::V6(std::net::Ipv6Addr::new(
                    seg[0], seg[1], seg[2], seg[3], 0, 0, 0, 0,
                ))
            }
        },
        v4 => v4,
    }
}

/// One counted connection of an address; uncounted when dropped.
#[derive(Debug)]
pub struct AddressSlot {
    shared: Arc<Shared>,
    key: std::net::IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut map = self
            .shared
            .per_address
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}
