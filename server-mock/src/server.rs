//! The listener: binds, accepts under a connection cap, runs one task per
//! connection, and shuts down gracefully (every task watches one shutdown
//! signal; connections close with 1001; the writer finishes queued commits).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::connection::{Connection, close};
use crate::error::ServerError;
use crate::registry::Registry;
use crate::state::Shared;
use crate::store::{Store, delivery};
use crate::tls::{ServedCertificate, ServerTls};
use crate::{Config, handler};
use sync_core::protocol::{MAX_BODY_BYTES, MAX_FRAME_BYTES, PROTOCOL_VERSION, ServerFrame};

/// A started server. Dropping it without [`RunningServer::shutdown`] leaves
/// the tasks running until the runtime ends.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    accept: JoinHandle<()>,
    delivery: JoinHandle<()>,
    /// The cluster order task, with `--cluster`.
    order: Option<JoinHandle<()>>,
    permits: Arc<Semaphore>,
    max_connections: u32,
}

/// Binds, opens the database, spawns the tasks; returns once listening.
pub async fn start(config: Config) -> Result<RunningServer, ServerError> {
    // A bad certificate stops start-up before anything listens.
    let tls = config
        .tls
        .as_ref()
        .map(ServerTls::new)
        .transpose()?
        .map(Arc::new);
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.listen,
        source,
    })?;
    let registry = Arc::new(Registry::default());
    let db = config.db.clone();
    let features = config.features;
    // With a cluster bus, committed fan-out goes to the order task, which
    // publishes it and delivers it here in seq order.
    let bus = match &config.cluster {
        Some(url) => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let nats = crate::cluster::connect(url, config.cluster_ca.as_deref(), tx.clone())
                .await
                .map_err(ServerError::Cluster)?;
            Some((nats, tx, rx))
        }
        None => None,
    };
    let (deliveries, delivery) =
        delivery::spawn(registry.clone(), bus.as_ref().map(|(_, tx, _)| tx.clone()));
    let store = tokio::task::spawn_blocking(move || Store::open(&db, deliveries, features))
        .await
        .map_err(|e| crate::error::StoreError::Reader(e.to_string()))??;
    let cluster = bus.map(|(nats, tx, rx)| {
        crate::cluster::Cluster::start(
            nats,
            store.server_id(),
            store.clone(),
            registry.clone(),
            features,
            tx,
            rx,
        )
    });
    let hello = ServerFrame::Hello {
        protocol: PROTOCOL_VERSION,
        server: config.name.clone(),
        server_id: store.server_id().to_owned(),
        max_frame_bytes: MAX_FRAME_BYTES as u64,
        max_body_bytes: MAX_BODY_BYTES as u64,
        features: config.features.list(),
        register: Some(config.register.as_str().to_owned()),
    };
    let (cluster, order) = cluster.unzip();
    let shared = Arc::new(Shared::new(
        store,
        registry,
        hello.to_json().into(),
        &config,
        tls,
        cluster,
    ));
    if let Some(cluster) = &shared.cluster {
        tokio::spawn(cluster.clone().share_limits(Arc::downgrade(&shared)));
    }
    let max_connections = u32::try_from(config.max_connections.max(1)).unwrap_or(u32::MAX >> 3);
    let permits = Arc::new(Semaphore::new(max_connections as usize));
    let (shutdown, shutdown_rx) = watch::channel(false);
    tokio::spawn(watch_admin(shared.clone(), shutdown_rx.clone()));
    if let Some(tls) = &shared.tls {
        let served = tls.served();
        tracing::info!(
            cert = %served.cert.display(),
            chain = served.chain_len,
            sha256 = %served.sha256,
            "serving TLS"
        );
        tokio::spawn(crate::tls::watch_files(
            tls.clone(),
            config.tls_check_every,
            shutdown_rx.clone(),
        ));
    }
    let accept = tokio::spawn(accept_loop(
        listener,
        shared.clone(),
        permits.clone(),
        shutdown_rx,
    ));
    tracing::info!(addr = %local_addr, server_id = shared.store.server_id(), "listening");
    if cfg!(debug_assertions) {
        tracing::warn!("debug build: passwords use reduced argon2id parameters");
    }
    Ok(RunningServer {
        local_addr,
        shared,
        shutdown,
        accept,
        delivery,
        order,
        permits,
        max_connections,
    })
}

/// Applies `server-mock admin` changes made while the server runs: when the
/// admin epoch moves, every connection whose token was revoked or whose user
/// was disabled closes with 4001 (within [`crate::admin::ADMIN_POLL`]).
async fn watch_admin(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    async fn read_epoch(shared: &Shared) -> Result<i64, crate::error::Reject> {
        shared
            .store
            .read(|db| {
                crate::admin::epoch(db).map_err(|e| {
                    crate::error::Reject::from(crate::error::StoreError::Sql("read admin epoch", e))
                })
            })
            .await
    }
    let mut seen = read_epoch(&shared).await.unwrap_or(0);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(crate::admin::ADMIN_POLL) => {}
            _ = crate::connection::signalled(&mut shutdown, |s| *s) => return,
        }
        let Ok(now) = read_epoch(&shared).await else {
            continue;
        };
        if now == seen {
            continue;
        }
        seen = now;
        let peers = shared.registry.snapshot();
        for (user, conn) in stale_sessions(&shared.store, peers).await {
            tracing::info!(%user, conn, "session ended by an administrator");
            shared.registry.close_conn(&user, conn, close::REVOKED);
        }
    }
}

/// The connections among `peers` (user, connection id, token hash) whose
/// token is no longer valid (revoked, expired, user disabled).
pub async fn stale_sessions(
    store: &Store,
    peers: Vec<(String, u64, [u8; 32])>,
) -> Vec<(String, u64)> {
    store
        .read(move |db| {
            let mut stale = Vec::new();
            for (user, conn, hash) in peers {
                let valid = crate::admin::token_valid(db, &hash).map_err(|e| {
                    crate::error::Reject::from(crate::error::StoreError::Sql("check token", e))
                })?;
                if !valid {
                    stale.push((user, conn));
                }
            }
            Ok(stale)
        })
        .await
        .unwrap_or_default()
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = crate::connection::signalled(&mut shutdown, |s| *s) => break,
        };
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let shared = shared.clone();
                let rx = shutdown.clone();
                tokio::spawn(async move {
                    handler::serve(tcp, shared, rx).await;
                    drop(permit);
                });
            }
            Err(_) => {
                tracing::warn!(%peer, "connection cap reached");
                let shared = shared.clone();
                // Tell the client why (1013) instead of a bare reset; bounded.
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                        if let Ok(io) =
                            Connection::upgrade(tcp, shared.tls.as_ref().map(|t| t.acceptor()))
                                .await
                            && let Ok(conn) = Connection::accept(
                                io,
                                crate::connection::QueueLimit {
                                    frames: 1,
                                    bytes: 0,
                                },
                                &shared.allowed_origins,
                            )
                            .await
                        {
                            conn.finish(close::TRY_LATER).await;
                        }
                    })
                    .await;
                });
            }
        }
    }
    // Dropping the listener frees the port for an immediate restart.
    drop(listener);
}

impl RunningServer {
    /// The bound address (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `ws://IP:PORT/v1`, or `wss://IP:PORT/v1` when serving TLS.
    pub fn url(&self) -> String {
        let scheme = if self.shared.tls.is_some() {
            "wss"
        } else {
            "ws"
        };
        format!("{scheme}://{}/v1", self.local_addr)
    }

    /// The id stored with the database.
    pub fn server_id(&self) -> &str {
        self.shared.store.server_id()
    }

    /// Number of authenticated connections right now.
    pub fn authenticated_connections(&self) -> usize {
        self.shared.registry.len()
    }

    /// A counter of authenticated connections that outlives `&self` (for an
    /// embedding app that asks before stopping a server others use).
    pub fn connection_counter(&self) -> impl Fn() -> usize + Send + Sync + 'static {
        let registry = self.shared.registry.clone();
        move || registry.len()
    }

    /// Re-reads `--tls-cert`/`--tls-key` (what SIGHUP does): new
    /// connections get the new certificate, open ones keep theirs. A
    /// certificate or key that cannot be used leaves the previous one in
    /// service; the error names the file and the problem. Either outcome is
    /// also logged. `Ok(None)` when the server serves plain `ws://`.
    pub async fn reload_tls(&self) -> Result<Option<ServedCertificate>, ServerError> {
        let Some(tls) = self.shared.tls.clone() else {
            return Ok(None);
        };
        tokio::task::spawn_blocking(move || tls.reload_logged("reload requested"))
            .await
            .map_err(|e| ServerError::Tls(format!("reload task failed: {e}")))?
            .map(Some)
    }

    /// Graceful stop: no new connections, every connection closes with 1001
    /// after its in-flight request, queued commits finish, the database closes.
    /// A connection still open [`DRAIN_LIMIT`] after the signal (each close
    /// is bounded well within it, so that would be a bug) does not hold the
    /// stop up: it is logged and counted. Returns how many there were.
    pub async fn shutdown(self) -> usize {
        let _ = self.shutdown.send(true);
        let _ = self.accept.await;
        // Every connection task holds a permit until it is done.
        let all = self.permits.acquire_many(self.max_connections);
        let lingering = match tokio::time::timeout(DRAIN_LIMIT, all).await {
            Ok(_) => 0,
            Err(_) => {
                let open = (self.max_connections as usize)
                    .saturating_sub(self.permits.available_permits());
                tracing::error!(
                    open,
                    "connections still open {} s after the stop signal; stopping without them",
                    DRAIN_LIMIT.as_secs()
                );
                open
            }
        };
        let store = self.shared.store.clone();
        drop(self.shared);
        let _ = tokio::task::spawn_blocking(move || store.stop_blocking()).await;
        // The writer has stopped, so the delivery task ends once it has
        // delivered the last batch.
        let _ = self.delivery.await;
        if let Some(order) = self.order {
            order.abort();
        }
        tracing::info!("server stopped");
        lingering
    }
}

/// How long [`RunningServer::shutdown`] waits for its connections to close.
pub const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(20);
