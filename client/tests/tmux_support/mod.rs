//! The tmux harness the `e2e_tmux_*` tests share: a private tmux server per
//! test, a TCP proxy the test can cut, screen helpers, and [`Scene`], the
//! prelude most scenarios start with (a server-mock, users registered on it,
//! their data dirs, a tmux server to run their `convo`s in).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::cli_support::{TestServer, convo_bin, ok, register};

/// How long any one expected screen change may take.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A TCP proxy that can drop every connection and refuse new ones.
pub struct Proxy {
    pub addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
}

struct ProxyState {
    open: bool,
    conns: Vec<TcpStream>,
}

impl Proxy {
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState {
            open: true,
            conns: Vec::new(),
        }));
        let st = state.clone();
        std::thread::spawn(move || {
            for down in listener.incoming() {
                let Ok(down) = down else { continue };
                if !st.lock().unwrap().open {
                    let _ = down.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(up) = TcpStream::connect(upstream) else {
                    let _ = down.shutdown(Shutdown::Both);
                    continue;
                };
                {
                    let mut s = st.lock().unwrap();
                    s.conns.push(down.try_clone().unwrap());
                    s.conns.push(up.try_clone().unwrap());
                }
                pipe(down.try_clone().unwrap(), up.try_clone().unwrap());
                pipe(up, down);
            }
        });
        Proxy { addr, state }
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        let mut s = self.state.lock().unwrap();
        s.open = false;
        for c in s.conns.drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.state.lock().unwrap().open = true;
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// A private tmux server (own socket), killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A tmux server of its own: `tag` keeps the tests of one process apart.
    pub fn named(tag: &str) -> Tmux {
        Tmux {
            socket: format!("convo-e2e-{}-{tag}", std::process::id()),
        }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    /// Opens a 120x40 session running `shell_cmd`; the pane stays after the
    /// program exits so a crash shows up in the capture.
    pub fn session(&self, name: &str, shell_cmd: &str) {
        self.session_sized(name, 120, 40, shell_cmd);
    }

    /// [`Tmux::session`] with a `w`x`h` window.
    pub fn session_sized(&self, name: &str, w: u16, h: u16, shell_cmd: &str) {
        let wrapped = format!("{shell_cmd}; echo \"[convo exited: $?]\"; sleep 600");
        let (w, h) = (w.to_string(), h.to_string());
        let st = self
            .cmd()
            .args([
                "new-session",
                "-d",
                "-x",
                &w,
                "-y",
                &h,
                "-s",
                name,
                &wrapped,
            ])
            .status()
            .unwrap();
        assert!(st.success(), "tmux new-session failed");
    }

    pub fn capture(&self, name: &str) -> String {
        self.capture_args(name, &[])
    }

    /// The screen with its colours and attributes as SGR escapes.
    pub fn capture_escapes(&self, name: &str) -> String {
        self.capture_args(name, &["-e"])
    }

    fn capture_args(&self, name: &str, extra: &[&str]) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", name])
            .args(extra)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn type_text(&self, name: &str, text: &str) {
        let st = self
            .cmd()
            .args(["send-keys", "-t", name, "-l", text])
            .status()
            .unwrap();
        assert!(st.success());
    }

    pub fn key(&self, name: &str, key: &str) {
        let st = self
            .cmd()
            .args(["send-keys", "-t", name, key])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Polls the screen until `pred` holds; panics with the screen otherwise.
    pub fn wait_for(&self, name: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture(name);
            if pred(&screen) {
                return screen;
            }
            if start.elapsed() > DEADLINE {
                panic!("{name}: timed out waiting for {what}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// The right-hand pane (timeline, compose, status) of a capture: the text
/// after the first `│` of each line, so list previews are not counted.
pub fn timeline_pane(screen: &str) -> String {
    screen
        .lines()
        .map(|l| l.split_once('│').map_or("", |(_, right)| right))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Occurrences of `text` in the timeline pane.
pub fn count_in_timeline(screen: &str, text: &str) -> usize {
    timeline_pane(screen).matches(text).count()
}

pub fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn convo_shell(data: &Path, server: &str, user: &str) -> String {
    format!(
        "env CONVO_NO_KEYRING=1 CONVO_CONFIG={cfg} {bin} --data-dir {data} --server {server} --user {user}",
        cfg = data.join("no-config.toml").display(),
        bin = convo_bin(),
        data = data.display(),
    )
}

/// Alice sends `text`; returns Bob's screen once it shows there.
pub fn send_fence(t: &Tmux, text: &str) -> String {
    t.type_text("alice", text);
    t.key("alice", "Enter");
    t.wait_for("bob", text, |s| count_in_timeline(s, text) > 0)
}

/// Opens conversation `title` with the quick switcher.
pub fn open_conv(t: &Tmux, name: &str, title: &str) {
    t.key(name, "C-k");
    t.type_text(name, title);
    t.key(name, "Enter");
}

/// Runs `line` in the shell and waits until it has finished (an echoed marker).
pub fn shell_run(t: &Tmux, name: &str, line: &str) -> String {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let marker = format!(
        "[done {}]",
        RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    t.type_text(name, &format!("{line}; echo '{marker}'"));
    t.key(name, "Enter");
    t.wait_for(name, line, |s| s.matches(&marker).count() >= 2)
}

/// False, after printing why the test is skipped, when tmux is missing.
pub fn have_tmux() -> bool {
    if tmux_available() {
        return true;
    }
    println!("SKIPPED e2e_tmux: tmux is not installed");
    false
}

/// One user's data dir and the URL their `convo` uses.
struct Home {
    user: String,
    url: String,
    dir: TempDir,
}

/// The common prelude: a server-mock, a private tmux server, and users with
/// their own data dir, registered on the server. Dropping it kills the tmux
/// server first (the TUIs), then removes the data dirs, then stops the server.
pub struct Scene {
    pub t: Tmux,
    /// The server's URL (users added with [`Scene::user_via`] use their own).
    pub url: String,
    homes: Vec<Home>,
    server: Option<TestServer>,
    addr: SocketAddr,
    db: Option<PathBuf>,
    _db_dir: Option<TempDir>,
}

impl Scene {
    /// A server with an in-memory database; `None` (skipped) without tmux.
    pub fn new(tag: &str) -> Option<Scene> {
        if !have_tmux() {
            return None;
        }
        let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
        Some(Scene::around(tag, server, None, None))
    }

    /// A server on a database file, so [`Scene::restart_server`] keeps
    /// everything; `None` (skipped) without tmux.
    pub fn with_db(tag: &str) -> Option<Scene> {
        if !have_tmux() {
            return None;
        }
        let db_dir = tempfile::tempdir().unwrap();
        let db = db_dir.path().join("server.db");
        let server = TestServer::start("127.0.0.1:0".parse().unwrap(), Some(db.clone()));
        Some(Scene::around(tag, server, Some(db), Some(db_dir)))
    }

    /// A server the test started itself (e.g. invite-only); `None` (skipped)
    /// without tmux.
    pub fn with_server(tag: &str, server: TestServer) -> Option<Scene> {
        have_tmux().then(|| Scene::around(tag, server, None, None))
    }

    fn around(
        tag: &str,
        server: TestServer,
        db: Option<PathBuf>,
        db_dir: Option<TempDir>,
    ) -> Scene {
        Scene {
            t: Tmux::named(tag),
            url: server.url.clone(),
            homes: Vec::new(),
            addr: server.addr,
            server: Some(server),
            db,
            _db_dir: db_dir,
        }
    }

    /// The server's address (for a proxy in front of it).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server (its clients see it go away).
    pub fn stop_server(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }

    /// Starts the server again on the same address and database file.
    pub fn restart_server(&mut self) {
        assert!(self.server.is_none(), "the server is still running");
        self.server = Some(TestServer::start(self.addr, self.db.clone()));
    }

    /// Registers each of `users` on the server, each with a data dir.
    pub fn users(&mut self, users: &[&str]) {
        let url = self.url.clone();
        for user in users {
            self.user_via(user, &url);
        }
    }

    /// Registers `user` through `url` (e.g. a [`Proxy`]), which their
    /// `convo` keeps using.
    pub fn user_via(&mut self, user: &str, url: &str) {
        let dir = tempfile::tempdir().unwrap();
        register(dir.path(), url, user);
        self.homes.push(Home {
            user: user.to_owned(),
            url: url.to_owned(),
            dir,
        });
    }

    fn home(&self, user: &str) -> &Home {
        self.homes
            .iter()
            .find(|h| h.user == user)
            .unwrap_or_else(|| panic!("no user {user} in this scene"))
    }

    /// `user`'s data dir.
    pub fn dir(&self, user: &str) -> &Path {
        self.home(user).dir.path()
    }

    /// Runs `convo ARGS` as `user`; returns its stdout (fails the test on error).
    pub fn ok(&self, user: &str, args: &[&str]) -> String {
        let h = self.home(user);
        ok(h.dir.path(), &h.url, user, args)
    }

    /// The shell line that starts `user`'s `convo`.
    pub fn shell(&self, user: &str) -> String {
        let h = self.home(user);
        convo_shell(h.dir.path(), &h.url, user)
    }

    /// Starts `user`'s TUI in a tmux session named after them.
    pub fn tui(&self, user: &str) {
        self.t.session(user, &self.shell(user));
    }
}
