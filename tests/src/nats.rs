//! A throwaway `nats-server` for tests: found on PATH (or Debian's
//! `/usr/sbin`), started on a free loopback port without JetStream, waited
//! for until it accepts TCP, stoppable and restartable on the same port (a
//! chaos test restarts it once), killed on drop.
//!
//! Without nats-server, [`NatsServer::start`] returns `None` after one loud
//! line, except under `CI=true`, where it panics: CI must not pass by
//! skipping (`.ci/run` installs it).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started server may take to accept TCP.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A running throwaway nats-server; killed when dropped.
#[derive(Debug)]
pub struct NatsServer {
    bin: PathBuf,
    port: u16,
    child: Option<Child>,
    /// `--tls --tlscert … --tlskey …`: every client must use TLS.
    tls: Option<(PathBuf, PathBuf)>,
}

/// The nats-server binary: on PATH, else where Debian puts it.
fn find_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join("nats-server"));
    on_path
        .chain(["/usr/sbin/nats-server", "/usr/bin/nats-server"].map(PathBuf::from))
        .find(|p| p.is_file())
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl NatsServer {
    /// Starts a server, or `None` (after one loud line) when nats-server is
    /// not installed outside CI. Panics under `CI=true` without nats-server,
    /// and whenever an installed one fails to start.
    pub fn start() -> Option<NatsServer> {
        NatsServer::start_with(None)
    }

    /// [`NatsServer::start`] requiring TLS of every client, with this
    /// certificate and key (PEM files).
    pub fn start_tls(cert: PathBuf, key: PathBuf) -> Option<NatsServer> {
        NatsServer::start_with(Some((cert, key)))
    }

    fn start_with(tls: Option<(PathBuf, PathBuf)>) -> Option<NatsServer> {
        let Some(bin) = find_bin() else {
            let msg = "nats-server is not installed (not on PATH, /usr/sbin or /usr/bin): \
                       the multi-node tests are SKIPPED";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{msg}; under CI this is a failure (.ci/run installs nats-server)");
            }
            println!("!!!!!!!! {msg} !!!!!!!!");
            return None;
        };
        let mut server = NatsServer {
            bin,
            port: free_port().expect("free port for nats-server"),
            child: None,
            tls,
        };
        server.spawn().expect("start nats-server");
        Some(server)
    }

    /// [`NatsServer::start`] from async code (it blocks until the port
    /// accepts).
    pub async fn start_async() -> Option<NatsServer> {
        tokio::task::spawn_blocking(NatsServer::start)
            .await
            .expect("the nats-server start task panicked")
    }

    /// `nats://127.0.0.1:PORT`, the form server-mock's `--cluster` takes.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the process is running (started and not stopped).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the server (SIGKILL) and waits until it is gone. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server and starts it again on the same port.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        // The port was just released; a few tries cover a slow close.
        let mut last = String::new();
        for _ in 0..50 {
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(last)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut command = Command::new(&self.bin);
        command.args(["-a", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some((cert, key)) = &self.tls {
            command
                .arg("--tls")
                .arg("--tlscert")
                .arg(cert)
                .arg("--tlskey")
                .arg(key);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", self.bin.display()))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let end = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "{} exited at start ({status}) on port {}",
                    self.bin.display(),
                    self.port
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > end {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "nats-server did not accept on {addr} within {} s",
                    READY_WITHIN.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id while running (to read its CPU time from `/proc`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Start, stop (the port refuses), restart on the same port (it accepts).
    #[test]
    fn starts_stops_and_restarts_on_the_same_port() {
        let Some(mut nats) = NatsServer::start() else {
            return;
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], nats.port()));
        assert_eq!(nats.url(), format!("nats://127.0.0.1:{}", nats.port()));
        assert!(nats.is_running());
        let mut greeting = [0u8; 4];
        let mut s = TcpStream::connect(addr).unwrap();
        std::io::Read::read_exact(&mut s, &mut greeting).unwrap();
        assert_eq!(&greeting, b"INFO", "a NATS server greets with INFO");
        drop(s);
        nats.stop();
        assert!(!nats.is_running());
        assert!(TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err());
        let port = nats.port();
        nats.restart().unwrap();
        assert_eq!(nats.port(), port);
        assert!(nats.is_running());
        assert!(TcpStream::connect(addr).is_ok());
    }
}
