//! A throwaway PostgreSQL cluster for tests: `initdb` into a fresh data
//! directory, `pg_ctl start` on a free loopback port, `createdb` per
//! database asked for, `pg_ctl stop` and removal on drop.
//!
//! Debian keeps the binaries under `/usr/lib/postgresql/<version>/bin`, not
//! on PATH. PostgreSQL refuses to run as root, so as root every command runs
//! as the `postgres` user (`runuser -u postgres --`), with the data directory
//! in a place that user can reach (its own directory under the system temp
//! dir, handed to it with `chown`). Without PostgreSQL, [`PgCluster::start`]
//! returns `None` after one loud line, except under `CI=true`, where it
//! panics: CI must not pass by skipping.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A running throwaway cluster; stopped and removed when dropped.
#[derive(Debug)]
pub struct PgCluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
}

fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    // The newest version: directory names are version numbers.
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(b) = found.pop() {
        return Some(b);
    }
    // Elsewhere: on PATH.
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    dir.join("initdb").exists().then_some(dir)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .is_some_and(|s| s.trim() == "0")
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl PgCluster {
    /// Starts a cluster, or `None` (after one loud line) when PostgreSQL is
    /// not installed outside CI. Panics under `CI=true` without PostgreSQL,
    /// and whenever an installed PostgreSQL fails to start.
    pub fn start() -> Option<PgCluster> {
        PgCluster::start_with(false)
    }

    /// [`PgCluster::start`] with `fsync` and `synchronous_commit` on, as a
    /// production server runs: for benchmarks of durable appends (the tests'
    /// cluster runs with `fsync=off`).
    pub fn start_durable() -> Option<PgCluster> {
        PgCluster::start_with(true)
    }

    fn start_with(durable: bool) -> Option<PgCluster> {
        let Some(bin) = bin_dir() else {
            let msg = "PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin \
                       or from pg_config): the PostgreSQL tests are SKIPPED";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{msg}; under CI this is a failure (.ci/run installs postgresql)");
            }
            println!("!!!!!!!! {msg} !!!!!!!!");
            return None;
        };
        let as_postgres = is_root();
        let r: u64 = rand::random();
        let data = std::env::temp_dir().join(format!("convo-pg-{}-{r:016x}", std::process::id()));
        std::fs::create_dir_all(&data).expect("create PostgreSQL data dir");
        let cluster = PgCluster {
            bin,
            data,
            port: free_port().expect("free port"),
            as_postgres,
        };
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&cluster.data)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the data dir to postgres");
        }
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data_str(),
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--no-sync",
            ],
        );
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c fsync={} -c max_connections=200",
            cluster.port,
            cluster.data_str(),
            if durable { "on" } else { "off" }
        );
        let log = cluster.data.join("server.log");
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                &cluster.data_str(),
                "-l",
                &log.to_string_lossy(),
                "-o",
                &opts,
                "-w",
                "start",
            ],
        );
        Some(cluster)
    }

    /// [`PgCluster::start`] from async code (it blocks on `initdb` and
    /// `pg_ctl`).
    pub async fn start_async() -> Option<PgCluster> {
        tokio::task::spawn_blocking(PgCluster::start)
            .await
            .expect("the PostgreSQL start task panicked")
    }

    /// Stops and removes the cluster, off the async executor.
    pub async fn stop(self) {
        let _ = tokio::task::spawn_blocking(move || drop(self)).await;
    }

    fn data_str(&self) -> String {
        self.data.to_string_lossy().into_owned()
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(tool)
            .args(args)
            .current_dir(Path::new("/"))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Creates database `name` and returns its URL.
    pub fn database(&self, name: &str) -> String {
        self.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                name,
            ],
        );
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl PgCluster {
    /// Turns TLS on with this certificate and key (PEM files; copied into
    /// the data directory, where the server reads them) and waits until
    /// new connections are offered it. Plain connections stay allowed
    /// (`--auth=trust` on `host` lines). Blocking.
    pub fn enable_tls(&self, cert: &Path, key: &Path) {
        let (cert_to, key_to) = (self.data.join("server.crt"), self.data.join("server.key"));
        std::fs::copy(cert, &cert_to).expect("copy the server certificate");
        std::fs::copy(key, &key_to).expect("copy the server key");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_to, std::fs::Permissions::from_mode(0o600))
            .expect("chmod the server key");
        if self.as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .args([&cert_to, &key_to])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the certificate and key to postgres");
        }
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect as admin");
        // One statement at a time: ALTER SYSTEM refuses a transaction block.
        for statement in [
            "ALTER SYSTEM SET ssl_cert_file = 'server.crt'",
            "ALTER SYSTEM SET ssl_key_file = 'server.key'",
            "ALTER SYSTEM SET ssl = on",
            "SELECT pg_reload_conf()",
        ] {
            admin.batch_execute(statement).expect("turn TLS on");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let mut fresh = postgres::Client::connect(&url, postgres::NoTls).expect("reconnect");
            let on: String = fresh.query_one("SHOW ssl", &[]).expect("SHOW ssl").get(0);
            if on == "on" {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "TLS still off after a reload"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// How many sessions on database `name` (other than the asker's) use
    /// TLS, and how many there are.
    pub fn tls_sessions(&self, name: &str) -> (i64, i64) {
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect as admin");
        let row = admin
            .query_one(
                "SELECT count(*) FILTER (WHERE s.ssl), count(*)
                 FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                 WHERE a.datname = $1 AND a.pid <> pg_backend_pid()",
                &[&name],
            )
            .expect("read pg_stat_ssl");
        (row.get(0), row.get(1))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data_str(), "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

impl PgCluster {
    /// The postmaster's process id and its children's (backends, writer,
    /// checkpointer…), to sum their CPU time; empty when not readable.
    pub fn pids(&self) -> Vec<u32> {
        let Some(postmaster) = std::fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
        else {
            return Vec::new();
        };
        let mut pids = vec![postmaster];
        pids.extend(crate::procfs::children(postmaster));
        pids
    }
}
