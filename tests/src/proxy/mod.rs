//! An in-process, WebSocket-aware TCP fault proxy for chaos tests and byte counting.
//!
//! It listens on `127.0.0.1:0` and forwards every accepted connection to an upstream address
//! (resolved again for each connection, so the server behind it can be killed and restarted on
//! the same port). It reads the HTTP upgrade and then RFC 6455 frame boundaries in both
//! directions, so a seeded fault plan can cut a connection between two frames or inside one,
//! stall a direction, delay whole frames, or drop the connection after N frames. It counts the
//! bytes and frames it forwards each way, which the benchmarks use to measure traffic.
//!
//! With [`Proxy::record`] it also logs every frame in both directions ([`record::FrameLog`]),
//! which the wire checks ([`crate::wire_check`]) read against PROTOCOL.md.
//!
//! `tc netem` is not available on the CI kernel; this is the replacement.

mod conn;
pub mod frame;
pub mod record;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use record::{FrameLog, Logged, WireEvent, WireFrame};

/// Which way a frame travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server.
    Up,
    /// Server → client.
    Down,
}

/// Sees every forwarded frame: direction, opcode, unmasked payload. Used to classify traffic
/// (e.g. count the bytes of one reply type); it must be quick, it runs inside the pump.
pub type Tap = Arc<dyn Fn(Direction, u8, &[u8]) + Send + Sync>;

/// What can go wrong on a proxied connection. Each new connection draws its own plan from the
/// proxy's seeded RNG; per-frame faults are drawn from a per-connection RNG.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Chance that a connection is cut at all.
    pub cut_probability: f64,
    /// A cut connection dies when this many frames (both directions together, counted from 1
    /// after the upgrade) have been seen; drawn uniformly. 0 cuts it right after accept.
    pub cut_after_frames: Range<u64>,
    /// Chance that a cut forwards a strict prefix of the fatal frame instead of nothing.
    pub mid_frame_probability: f64,
    /// Per-frame chance of holding the frame (and everything behind it) back.
    pub delay_probability: f64,
    /// Upper bound of one delay.
    pub max_delay: Duration,
    /// Per-frame chance of a stall: the direction stops moving for a while.
    pub stall_probability: f64,
    /// Upper bound of one stall.
    pub max_stall: Duration,
}

impl Faults {
    /// A clean pipe: no cuts, no delays.
    pub fn none() -> Faults {
        Faults {
            cut_probability: 0.0,
            cut_after_frames: 0..1,
            mid_frame_probability: 0.0,
            delay_probability: 0.0,
            max_delay: Duration::ZERO,
            stall_probability: 0.0,
            max_stall: Duration::ZERO,
        }
    }

    /// Every connection is dropped when frame `n` arrives (that frame is not forwarded).
    pub fn cut_after(n: u64) -> Faults {
        Faults {
            cut_probability: 1.0,
            cut_after_frames: n..n + 1,
            ..Faults::none()
        }
    }
}

impl Default for Faults {
    fn default() -> Faults {
        Faults::none()
    }
}

/// Counters since the proxy started or since the last [`Proxy::reset_stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Bytes client → server, HTTP upgrade included.
    pub bytes_up: u64,
    /// Bytes server → client, HTTP upgrade included.
    pub bytes_down: u64,
    /// Whole frames forwarded client → server.
    pub frames_up: u64,
    /// Whole frames forwarded server → client.
    pub frames_down: u64,
    /// Connections accepted.
    pub connections: u64,
    /// Connections refused because the upstream did not accept.
    pub upstream_failures: u64,
    /// Connections the fault plan (or [`Proxy::cut_all`]) cut.
    pub cuts: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    frames_up: AtomicU64,
    frames_down: AtomicU64,
    connections: AtomicU64,
    upstream_failures: AtomicU64,
    cuts: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> ProxyStats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ProxyStats {
            bytes_up: g(&self.bytes_up),
            bytes_down: g(&self.bytes_down),
            frames_up: g(&self.frames_up),
            frames_down: g(&self.frames_down),
            connections: g(&self.connections),
            upstream_failures: g(&self.upstream_failures),
            cuts: g(&self.cuts),
        }
    }

    fn reset(&self) {
        for a in [
            &self.bytes_up,
            &self.bytes_down,
            &self.frames_up,
            &self.frames_down,
            &self.connections,
            &self.upstream_failures,
            &self.cuts,
        ] {
            a.store(0, Ordering::Relaxed);
        }
    }
}

impl std::fmt::Debug for TapSlot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Some(tap)"
        } else {
            "None"
        })
    }
}

/// Debug view of an optional tap (closures have no Debug).
struct TapSlot<'a>(&'a Option<Tap>);

/// State shared by the listener task and the handle. A std Mutex is enough: it is held only
/// to copy a value out, never across an await.
struct Shared {
    upstream: Mutex<SocketAddr>,
    faults: Mutex<Faults>,
    rng: Mutex<StdRng>,
    tap: Mutex<Option<Tap>>,
    log: Mutex<Option<FrameLog>>,
    /// Connections accepted so far: the next one's number in the log is this + 1.
    accepted: AtomicU64,
    counters: Arc<Counters>,
    /// Bumped by `cut_all`; every live connection watches it.
    generation: watch::Sender<u64>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("upstream", &self.upstream)
            .field("faults", &self.faults)
            .field("tap", &TapSlot(&lock(&self.tap)))
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

/// Handle to a running proxy. Dropping it stops accepting; [`Proxy::shutdown`] also cuts
/// every open connection.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    listener: JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy on `127.0.0.1:0` forwarding to `upstream`. `seed` drives every fault.
    pub async fn start(upstream: SocketAddr, faults: Faults, seed: u64) -> std::io::Result<Proxy> {
        Proxy::bind(
            "127.0.0.1:0".parse().expect("a socket address"),
            upstream,
            faults,
            seed,
        )
        .await
    }

    /// Starts a proxy on `listen` (e.g. a fixed port a CLI was configured with).
    pub async fn bind(
        listen: SocketAddr,
        upstream: SocketAddr,
        faults: Faults,
        seed: u64,
    ) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (generation, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            faults: Mutex::new(faults),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            tap: Mutex::new(None),
            log: Mutex::new(None),
            accepted: AtomicU64::new(0),
            counters: Arc::new(Counters::default()),
            generation,
        });
        let listener = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Proxy {
            addr,
            shared,
            listener,
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://127.0.0.1:PORT/v1`, the protocol's endpoint through this proxy.
    pub fn url(&self) -> String {
        format!("ws://{}/v1", self.addr)
    }

    /// Points new connections at another upstream (open ones keep theirs).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *lock(&self.shared.upstream) = upstream;
    }

    /// Replaces the fault plan for connections accepted from now on.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    /// Installs (or removes) a tap for connections accepted from now on.
    pub fn set_tap(&self, tap: Option<Tap>) {
        *lock(&self.shared.tap) = tap;
    }

    /// Logs every frame of the connections accepted from now on; returns the log. Calling it
    /// again starts a new log.
    pub fn record(&self) -> FrameLog {
        let log = FrameLog::new();
        *lock(&self.shared.log) = Some(log.clone());
        log
    }

    /// Cuts every open connection now (both sides see the TCP connection die).
    pub fn cut_all(&self) {
        self.shared.generation.send_modify(|g| *g += 1);
    }

    /// Current counters.
    pub fn stats(&self) -> ProxyStats {
        self.shared.counters.snapshot()
    }

    /// Zeroes the counters (connections stay open).
    pub fn reset_stats(&self) {
        self.shared.counters.reset();
    }

    /// Stops accepting and cuts every open connection.
    pub async fn shutdown(mut self) {
        self.listener.abort();
        self.cut_all();
        // Wait until the listening socket is really closed (Drop's abort is then a no-op).
        let _ = (&mut self.listener).await;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them half-updated (plain copies), so a
    // poisoned lock is still safe to use.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The fault plan drawn for one connection.
#[derive(Clone)]
pub(crate) struct ConnPlan {
    pub cut_at: Option<u64>,
    pub faults: Faults,
    pub seed: u64,
    pub tap: Option<Tap>,
    /// The log and this connection's number in it.
    pub log: Option<(FrameLog, u64)>,
}

impl std::fmt::Debug for ConnPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnPlan")
            .field("cut_at", &self.cut_at)
            .field("faults", &self.faults)
            .field("seed", &self.seed)
            .field("tap", &TapSlot(&self.tap))
            .field("log", &self.log.as_ref().map(|(_, n)| n))
            .finish()
    }
}

impl Shared {
    fn draw_plan(&self) -> ConnPlan {
        let faults = lock(&self.faults).clone();
        let tap = lock(&self.tap).clone();
        let conn = self.accepted.fetch_add(1, Ordering::Relaxed) + 1;
        let log = lock(&self.log).clone().map(|l| (l, conn));
        let mut rng = lock(&self.rng);
        let cut = faults.cut_probability > 0.0 && rng.random_bool(faults.cut_probability.min(1.0));
        let cut_at = (cut && !faults.cut_after_frames.is_empty())
            .then(|| rng.random_range(faults.cut_after_frames.clone()));
        ConnPlan {
            cut_at,
            faults,
            seed: rng.random(),
            tap,
            log,
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Accept errors (e.g. out of descriptors) are transient; don't spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        shared.counters.connections.fetch_add(1, Ordering::Relaxed);
        let plan = shared.draw_plan();
        let upstream = *lock(&shared.upstream);
        let counters = shared.counters.clone();
        let kill = shared.generation.subscribe();
        tokio::spawn(async move {
            let _ = client.set_nodelay(true);
            let log = plan.log.clone();
            let note = |event| {
                if let Some((log, n)) = &log {
                    log.push(*n, event);
                }
            };
            match TcpStream::connect(upstream).await {
                Ok(server) => {
                    let _ = server.set_nodelay(true);
                    note(WireEvent::Opened);
                    conn::run(client, server, plan, counters, kill).await;
                    note(WireEvent::Ended);
                }
                // The server is down (e.g. being restarted): the client sees its connection
                // closed before the upgrade, as it would with no proxy.
                Err(_) => {
                    counters.upstream_failures.fetch_add(1, Ordering::Relaxed);
                    note(WireEvent::Refused);
                }
            }
        });
    }
}
