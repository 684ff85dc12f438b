//! The server under test: server-mock started in-process on a temp-file
//! database, or the `server-mock` binary spawned as a child process (needed to
//! read its RSS), plus reading a process's RSS from `/proc`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Send rate limit given to servers we start: high enough that the benchmark
/// measures throughput, not the limiter.
pub const UNLIMITED_RATE: u32 = 1_000_000;

/// server-mock running inside this process on `dir/loadgen.db`.
pub async fn start_in_process(dir: &Path) -> Result<server_mock::RunningServer> {
    let config = server_mock::Config {
        listen: "127.0.0.1:0".parse().context("listen address")?,
        db: server_mock::DbLocation::Path(dir.join("loadgen.db")),
        send_rate_per_sec: f64::from(UNLIMITED_RATE),
        send_burst: UNLIMITED_RATE,
        // Every load client comes from 127.0.0.1.
        max_per_address: UNLIMITED_RATE as usize,
        ..Default::default()
    };
    server_mock::start(config)
        .await
        .context("starting server-mock in-process")
}

/// server-mock in-process like [`start_in_process`], with `edit` applied to
/// its configuration (a second database file in `dir`, named by `name`).
pub async fn start_in_process_with(
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&mut server_mock::Config),
) -> Result<server_mock::RunningServer> {
    let mut config = server_mock::Config {
        listen: "127.0.0.1:0".parse().context("listen address")?,
        db: server_mock::DbLocation::Path(dir.join(format!("{name}.db"))),
        send_rate_per_sec: f64::from(UNLIMITED_RATE),
        send_burst: UNLIMITED_RATE,
        max_per_address: UNLIMITED_RATE as usize,
        ..Default::default()
    };
    edit(&mut config);
    server_mock::start(config)
        .await
        .with_context(|| format!("starting server-mock ({name}) in-process"))
}

/// server-mock in-process serving `wss://` with a throwaway CA (trusted by
/// this process's connections, see [`super::conn::trust`]); the URL uses the
/// certificate's name, `localhost`.
pub async fn start_in_process_tls(dir: &Path) -> Result<(server_mock::RunningServer, String)> {
    let pki = conformance::pki::make(dir, &["localhost"])?;
    super::conn::trust(sync_core::tls::client_config(Some(&pki.ca))?);
    let config = server_mock::Config {
        listen: "127.0.0.1:0".parse().context("listen address")?,
        db: server_mock::DbLocation::Path(dir.join("loadgen-tls.db")),
        send_rate_per_sec: f64::from(UNLIMITED_RATE),
        send_burst: UNLIMITED_RATE,
        tls: Some(server_mock::TlsFiles {
            cert: pki.cert,
            key: pki.key,
        }),
        max_per_address: UNLIMITED_RATE as usize,
        ..Default::default()
    };
    let server = server_mock::start(config)
        .await
        .context("starting server-mock with TLS in-process")?;
    let url = server.url().replace("127.0.0.1", "localhost");
    Ok((server, url))
}

/// A spawned `server-mock` process; killed when dropped.
#[derive(Debug)]
pub struct Spawned {
    child: Child,
    url: String,
}

impl Spawned {
    /// Runs `bin --listen 127.0.0.1:0 --db DIR/loadgen-rss.db --send-rate …`
    /// and waits for its `listening on ws://…` line.
    pub async fn start(bin: &Path, dir: &Path) -> Result<Spawned> {
        Self::start_at(bin, dir, "127.0.0.1:0").await
    }

    /// Like `start`, listening on `listen` (a restart on the same port).
    pub async fn start_at(bin: &Path, dir: &Path, listen: &str) -> Result<Spawned> {
        let mut child = Command::new(bin)
            .arg("--listen")
            .arg(listen)
            .arg("--db")
            .arg(dir.join("loadgen-rss.db"))
            .arg("--send-rate")
            .arg(format!("{UNLIMITED_RATE}/{UNLIMITED_RATE}"))
            // Every load client comes from 127.0.0.1.
            .arg("--max-per-address")
            .arg(UNLIMITED_RATE.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("spawning {}", bin.display()))?;
        let stdout = child.stdout.take().context("child stdout")?;
        // The first line is read on a plain thread, which then keeps draining
        // stdout so the server never blocks on a full pipe.
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut tx = Some(tx);
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                // Only the first URL matters; later lines are just drained.
                let Some(url) = line.split_whitespace().find(|w| w.starts_with("ws://")) else {
                    continue;
                };
                if let Some(tx) = tx.take() {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let mut spawned = Spawned {
            child,
            url: String::new(),
        };
        match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(url)) => spawned.url = url,
            Ok(Err(_)) => {
                let status = spawned.child.try_wait().ok().flatten();
                bail!(
                    "{} exited without printing `listening on ws://…` (status {status:?})",
                    bin.display()
                )
            }
            Err(_) => bail!("{} printed no listening line within 30 s", bin.display()),
        }
        Ok(spawned)
    }

    /// `ws://IP:PORT/v1` as printed by the server.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `server-mock` next to this executable (same target profile directory).
pub fn default_server_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join("server-mock"))
}

/// Resident set size of `pid` in KiB, from `VmRSS` in `/proc/PID/status`.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_vm_rss(&status).with_context(|| format!("no VmRSS line in {path}"))
}

/// The `VmRSS:   1234 kB` value of a `/proc/PID/status` text.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Raises the soft open-files limit toward `wanted` (never above the hard
/// limit) and returns the limit now in force.
pub fn raise_nofile(wanted: u64) -> Result<u64> {
    rlimit::increase_nofile_limit(wanted).context("raising RLIMIT_NOFILE")
}
