//! Multi-node server-mock for tests and benchmarks: `server-mock` processes
//! ([`Node`]) spawned on fixed loopback ports, and a [`Cluster`] of N of them
//! on one throwaway PostgreSQL database ([`crate::pg`]) with pushes crossing
//! nodes through one throwaway NATS ([`crate::nats`]):
//!
//! ```text
//! server-mock --listen 127.0.0.1:PORT --db postgres://…/DB --cluster nats://127.0.0.1:NATSPORT
//! ```
//!
//! Nodes are processes, not in-process servers, so a test can SIGKILL one
//! (a crash, not a graceful shutdown) and read its CPU time from `/proc`.
//! A node that exits at start fails with its own stderr in the error (for
//! instance a server that does not know `--cluster` yet).

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::nats::NatsServer;
use crate::pg::PgCluster;

/// Per-address connection and failed log-in budgets given to every node
/// (every test client comes from 127.0.0.1), and the send rate of a node
/// whose [`NodeSpec::unlimited_sends`] is set (benchmarks measure
/// throughput, not the limiter).
pub const UNLIMITED: u32 = 1_000_000;

/// How long a node may take to print its listening line.
const START_WITHIN: Duration = Duration::from_secs(30);

/// Why a node did not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The process could not be spawned.
    #[error("spawning {bin}: {source}")]
    Spawn {
        /// The binary.
        bin: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The process exited before listening.
    #[error("server-mock on {listen} exited at start ({status}): {stderr}")]
    Exited {
        /// The listen address asked for.
        listen: String,
        /// Its exit status.
        status: String,
        /// The last lines it wrote to stderr.
        stderr: String,
    },
    /// The process printed no listening line in time.
    #[error("server-mock on {listen} printed no `listening on` line within {secs} s: {stderr}")]
    Silent {
        /// The listen address asked for.
        listen: String,
        /// The wait.
        secs: u64,
        /// What it wrote to stderr so far.
        stderr: String,
    },
}

/// How to run one node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// The `server-mock` binary.
    pub bin: PathBuf,
    /// `--db`: a SQLite path or a `postgres://` URL.
    pub db: String,
    /// `--cluster`: the NATS URL, for a node of a multi-node service.
    pub cluster: Option<String>,
    /// `--listen`: `127.0.0.1:PORT`; a restart reuses it.
    pub listen: String,
    /// `--send-rate` [`UNLIMITED`] instead of the default (which the
    /// conformance scenario `send_rate_limited` pins).
    pub unlimited_sends: bool,
    /// `SERVER_MOCK_FAILPOINT` for the process (a test-only slow path).
    pub failpoint: Option<&'static str>,
}

/// A running `server-mock` process; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Node {
    spec: NodeSpec,
    child: Option<Child>,
    stderr: Arc<Mutex<String>>,
}

/// A free loopback port (bound, then released for the node to take).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The `server-mock` binary of this workspace's `target/debug`, built first
/// (`cargo build -p server-mock`, a no-op when fresh). Tests of this crate
/// run from `target/debug/deps`, so the target dir is found from there.
pub fn debug_server_bin() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let profile_dir = exe
        .parent()
        .and_then(|deps| {
            if deps.ends_with("deps") {
                deps.parent()
            } else {
                Some(deps)
            }
        })
        .ok_or("no target directory above the test executable")?;
    let target = profile_dir
        .parent()
        .ok_or("no target directory above the profile directory")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "-q", "-p", "server-mock", "--bin", "server-mock"])
        .env("CARGO_TARGET_DIR", target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .map_err(|e| format!("running cargo build -p server-mock: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build -p server-mock failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(target.join("debug").join("server-mock"))
}

impl Node {
    /// Spawns the node and waits for its `listening on` line.
    pub fn start(spec: NodeSpec) -> Result<Node, NodeError> {
        let mut node = Node {
            spec,
            child: None,
            stderr: Arc::new(Mutex::new(String::new())),
        };
        node.spawn()?;
        Ok(node)
    }

    /// [`Node::start`] off the async executor.
    pub async fn start_async(spec: NodeSpec) -> Result<Node, NodeError> {
        tokio::task::spawn_blocking(move || Node::start(spec))
            .await
            .expect("the node start task panicked")
    }

    /// `ws://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        format!("ws://{}/v1", self.spec.listen)
    }

    /// The process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What the node wrote to stderr (its last 64 KiB).
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// SIGKILL: the node dies mid-work, as in a crash. Idempotent.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the node if running, then starts it again on the same port.
    pub fn restart(&mut self) -> Result<(), NodeError> {
        self.kill();
        // The port was just released; retries cover a slow close.
        let mut last = None;
        for _ in 0..20 {
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(last.expect("at least one attempt"))
    }

    fn spawn(&mut self) -> Result<(), NodeError> {
        let s = &self.spec;
        let mut cmd = Command::new(&s.bin);
        cmd.args(["--listen", &s.listen, "--db", &s.db])
            .args(["--max-per-address", &UNLIMITED.to_string()])
            .args(["--login-fails-per-address", &UNLIMITED.to_string()]);
        if s.unlimited_sends {
            cmd.args(["--send-rate", &format!("{UNLIMITED}/{UNLIMITED}")]);
        }
        if let Some(nats) = &s.cluster {
            cmd.args(["--cluster", nats]);
        }
        if let Some(point) = s.failpoint {
            cmd.env("SERVER_MOCK_FAILPOINT", point);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| NodeError::Spawn {
                bin: s.bin.display().to_string(),
                source,
            })?;
        if let Ok(mut log) = self.stderr.lock() {
            log.clear();
        }
        if let Some(err) = child.stderr.take() {
            let log = Arc::clone(&self.stderr);
            std::thread::spawn(move || keep_tail(err, &log));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(out) = child.stdout.take() {
            // Reads the listening line, then keeps draining stdout so the
            // node never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if line.contains("listening on") {
                        let _ = tx.send(());
                    }
                }
            });
        }
        let deadline = std::time::Instant::now() + START_WITHIN;
        loop {
            if rx.recv_timeout(Duration::from_millis(50)).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                // Let the stderr thread catch the last words.
                std::thread::sleep(Duration::from_millis(100));
                return Err(NodeError::Exited {
                    listen: s.listen.clone(),
                    status: status.to_string(),
                    stderr: self.stderr().trim().to_owned(),
                });
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(NodeError::Silent {
                    listen: s.listen.clone(),
                    secs: START_WITHIN.as_secs(),
                    stderr: self.stderr().trim().to_owned(),
                });
            }
        }
    }
}

/// Appends everything `from` yields to `log`, keeping the last 64 KiB.
fn keep_tail(mut from: impl Read, log: &Mutex<String>) {
    const KEEP: usize = 64 * 1024;
    let mut buf = [0u8; 4096];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        let Ok(mut log) = log.lock() else { break };
        log.push_str(&String::from_utf8_lossy(&buf[..n]));
        if log.len() > 2 * KEEP {
            let mut cut = log.len() - KEEP;
            while !log.is_char_boundary(cut) {
                cut += 1;
            }
            log.drain(..cut);
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How a [`Cluster`] is run.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// [`NodeSpec::unlimited_sends`] for every node.
    pub unlimited_sends: bool,
    /// PostgreSQL with `fsync` on ([`PgCluster::start_durable`]).
    pub durable: bool,
    /// [`NodeSpec::failpoint`] for every node.
    pub failpoint: Option<&'static str>,
}

impl Tuning {
    /// For tests: server-mock's default limits, PostgreSQL without fsync.
    pub const TESTS: Tuning = Tuning {
        unlimited_sends: false,
        durable: false,
        failpoint: None,
    };
    /// For benchmarks: no send limit, PostgreSQL with fsync.
    pub const BENCH: Tuning = Tuning {
        unlimited_sends: true,
        durable: true,
        failpoint: None,
    };
}

/// N server-mock nodes on one PostgreSQL database, joined by one NATS.
/// Dropped in order: nodes, then NATS, then PostgreSQL.
#[derive(Debug)]
pub struct Cluster {
    /// The nodes, in start order.
    pub nodes: Vec<Node>,
    /// The NATS server the nodes publish pushes through.
    pub nats: NatsServer,
    /// The PostgreSQL cluster holding the database.
    pub pg: PgCluster,
    /// `--db` of every node.
    pub db: String,
}

impl Cluster {
    /// Starts PostgreSQL, NATS and `nodes` nodes of `bin`, or `Ok(None)`
    /// when PostgreSQL or nats-server is not installed (after their loud
    /// SKIPPED line; under `CI=true` they panic instead).
    pub fn start(bin: &Path, nodes: usize, tuning: Tuning) -> Result<Option<Cluster>, NodeError> {
        let pg = if tuning.durable {
            PgCluster::start_durable()
        } else {
            PgCluster::start()
        };
        let Some(pg) = pg else {
            return Ok(None);
        };
        let Some(nats) = NatsServer::start() else {
            return Ok(None);
        };
        let db = pg.database("convo");
        let mut cluster = Cluster {
            nodes: Vec::new(),
            nats,
            pg,
            db,
        };
        for _ in 0..nodes {
            let port = free_port().map_err(|source| NodeError::Spawn {
                bin: "a free port".into(),
                source,
            })?;
            cluster.nodes.push(Node::start(NodeSpec {
                bin: bin.to_owned(),
                db: cluster.db.clone(),
                cluster: Some(cluster.nats.url()),
                listen: format!("127.0.0.1:{port}"),
                unlimited_sends: tuning.unlimited_sends,
                failpoint: tuning.failpoint,
            })?);
        }
        Ok(Some(cluster))
    }

    /// [`Cluster::start`] off the async executor.
    pub async fn start_async(
        bin: PathBuf,
        nodes: usize,
        tuning: Tuning,
    ) -> Result<Option<Cluster>, NodeError> {
        tokio::task::spawn_blocking(move || Cluster::start(&bin, nodes, tuning))
            .await
            .expect("the cluster start task panicked")
    }

    /// Every node's URL, in node order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Node::url).collect()
    }

    /// Process ids of every running node, NATS and PostgreSQL (all of its
    /// processes), to sum their CPU time.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.nodes.iter().filter_map(Node::pid).collect();
        pids.extend(self.nats.pid());
        pids.extend(self.pg.pids());
        pids
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Nodes first, so none logs a lost NATS or database on its way out.
        self.nodes.clear();
    }
}
