//! Test helpers shared by the CLI tests: an in-process server-mock on its own
//! thread (so tests stay plain `#[test]`s that run `convo` as a child
//! process) and a runner for `convo` with a private data dir.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;

/// A server-mock running on a thread with its own runtime.
pub struct TestServer {
    pub url: String,
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts on `listen` (use port 0 for a fresh one) with a database at `db`
    /// (None: in memory).
    pub fn start(listen: SocketAddr, db: Option<PathBuf>) -> TestServer {
        Self::start_with(listen, db, None)
    }

    /// An in-memory server with registration `mode`.
    pub fn start_register(db: PathBuf, mode: server_mock::RegisterMode) -> TestServer {
        Self::start_with_mode("127.0.0.1:0".parse().unwrap(), Some(db), None, mode)
    }

    /// `start_register` serving exactly `features` (whatever
    /// `CONVO_TEST_SERVER_FEATURES` says), for tests of a §9 feature such
    /// as `account`.
    pub fn start_register_features(
        db: PathBuf,
        mode: server_mock::RegisterMode,
        features: server_mock::Features,
    ) -> TestServer {
        Self::start_full(
            "127.0.0.1:0".parse().unwrap(),
            Some(db),
            None,
            mode,
            features,
        )
    }

    /// On `listen` with a database at `db`, serving exactly `features` (a
    /// test restarts a server on the same address and database with other
    /// features).
    pub fn start_on(
        listen: SocketAddr,
        db: PathBuf,
        features: server_mock::Features,
    ) -> TestServer {
        Self::start_full(
            listen,
            Some(db),
            None,
            server_mock::RegisterMode::Open,
            features,
        )
    }

    /// Like `start`, serving `wss://` with this certificate and key.
    pub fn start_tls(cert: PathBuf, key: PathBuf) -> TestServer {
        Self::start_with(
            "127.0.0.1:0".parse().unwrap(),
            None,
            Some(server_mock::TlsFiles { cert, key }),
        )
    }

    fn start_with(
        listen: SocketAddr,
        db: Option<PathBuf>,
        tls: Option<server_mock::TlsFiles>,
    ) -> TestServer {
        Self::start_with_mode(listen, db, tls, server_mock::RegisterMode::Open)
    }

    fn start_with_mode(
        listen: SocketAddr,
        db: Option<PathBuf>,
        tls: Option<server_mock::TlsFiles>,
        mode: server_mock::RegisterMode,
    ) -> TestServer {
        Self::start_full(listen, db, tls, mode, env_features())
    }

    /// An in-memory server serving exactly `features` (whatever
    /// `CONVO_TEST_SERVER_FEATURES` says): `Features::NONE` is a pure
    /// protocol 1 server.
    pub fn start_features(features: server_mock::Features) -> TestServer {
        Self::start_full(
            "127.0.0.1:0".parse().unwrap(),
            None,
            None,
            server_mock::RegisterMode::Open,
            features,
        )
    }

    fn start_full(
        listen: SocketAddr,
        db: Option<PathBuf>,
        tls: Option<server_mock::TlsFiles>,
        mode: server_mock::RegisterMode,
        features: server_mock::Features,
    ) -> TestServer {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let db = match db {
                    Some(p) => server_mock::DbLocation::Path(p),
                    None => server_mock::DbLocation::Memory,
                };
                let config = server_mock::Config {
                    listen,
                    db,
                    register: mode,
                    tls,
                    features,
                    ..Default::default()
                };
                let server = server_mock::start(config).await.unwrap();
                ready_tx.send((server.url(), server.local_addr())).unwrap();
                let _ = stop_rx.await;
                server.shutdown().await;
            });
        });
        let (url, addr) = ready_rx.recv().expect("server failed to start");
        TestServer {
            url,
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Stops the server and waits until its port is closed.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The §9 features test servers serve: `CONVO_TEST_SERVER_FEATURES` as
/// `server-mock --features` takes it (`none` runs the whole suite against a
/// pure protocol 1 server), else all of them.
pub fn env_features() -> server_mock::Features {
    match std::env::var("CONVO_TEST_SERVER_FEATURES") {
        Ok(v) if !v.is_empty() => server_mock::Features::parse(&v)
            .unwrap_or_else(|e| panic!("CONVO_TEST_SERVER_FEATURES={v:?}: {e}")),
        _ => server_mock::Features::ALL,
    }
}

/// The convo binary under test.
pub fn convo_bin() -> &'static str {
    env!("CARGO_BIN_EXE_convo")
}

/// A `convo` command with a private data dir, no config file, no keyring
/// (so token storage is the file fallback, whatever the machine has).
pub fn convo_cmd(data: &Path) -> Command {
    let mut c = Command::new(convo_bin());
    c.arg("--data-dir")
        .arg(data)
        .env("CONVO_CONFIG", data.join("no-config.toml"))
        .env("CONVO_NO_KEYRING", "1")
        .env_remove("CONVO_PASSWORD")
        .env_remove("CONVO_DATA_DIR")
        .env_remove("CONVO_SERVER")
        .env_remove("CONVO_USER")
        .env_remove("CONVO_PROFILE")
        .stdin(Stdio::null());
    c
}

/// Runs convo for `user` on `server` with `args`.
pub fn convo(data: &Path, server: &str, user: &str, args: &[&str]) -> Output {
    convo_cmd(data)
        .args(["--server", server, "--user", user])
        .args(args)
        .output()
        .expect("running convo")
}

/// Runs convo and requires exit 0; returns stdout.
pub fn ok(data: &Path, server: &str, user: &str, args: &[&str]) -> String {
    let out = convo(data, server, user, args);
    assert!(
        out.status.success(),
        "convo {args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Registers `user` with a fixed password; returns stdout.
pub fn register_output(data: &Path, server: &str, user: &str) -> String {
    let out = convo_cmd(data)
        .args(["--server", server, "--user", user, "register"])
        .env("CONVO_PASSWORD", "correct horse battery")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "register {user}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Registers `user` with a fixed password.
pub fn register(data: &Path, server: &str, user: &str) {
    assert_eq!(
        register_output(data, server, user).trim(),
        format!("registered {user} on {server}")
    );
}

/// Data dirs for `alice` and `bob`, both registered on `server`: the
/// prelude of most two-user CLI tests.
pub fn alice_and_bob(server: &str) -> (tempfile::TempDir, tempfile::TempDir) {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    register(a.path(), server, "alice");
    register(b.path(), server, "bob");
    (a, b)
}

/// Parses stdout as one JSON value.
pub fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}
