//! End to end in a real terminal: two `convo` TUIs in tmux against an
//! in-process server-mock; Bob goes through a TCP proxy the test can cut.
//! Screens are polled with a deadline (never fixed sleeps as assertions).
//! Skips, with a printed reason, only when tmux is not installed.
#![cfg(feature = "wired")]

mod cli_support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cli_support::{TestServer, convo_bin, ok, register};

/// How long any one expected screen change may take.
const DEADLINE: Duration = Duration::from_secs(30);

/// A TCP proxy that can drop every connection and refuse new ones.
struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
}

struct ProxyState {
    open: bool,
    conns: Vec<TcpStream>,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
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
    fn cut(&self) {
        let mut s = self.state.lock().unwrap();
        s.open = false;
        for c in s.conns.drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
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
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        Tmux {
            socket: format!("convo-e2e-{}", std::process::id()),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    /// Opens a 120x40 session running `shell_cmd`; the pane stays after the
    /// program exits so a crash shows up in the capture.
    fn session(&self, name: &str, shell_cmd: &str) {
        let wrapped = format!("{shell_cmd}; echo \"[convo exited: $?]\"; sleep 600");
        let st = self
            .cmd()
            .args([
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "40",
                "-s",
                name,
                &wrapped,
            ])
            .status()
            .unwrap();
        assert!(st.success(), "tmux new-session failed");
    }

    fn capture(&self, name: &str) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn type_text(&self, name: &str, text: &str) {
        let st = self
            .cmd()
            .args(["send-keys", "-t", name, "-l", text])
            .status()
            .unwrap();
        assert!(st.success());
    }

    fn key(&self, name: &str, key: &str) {
        let st = self
            .cmd()
            .args(["send-keys", "-t", name, key])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Polls the screen until `pred` holds; panics with the screen otherwise.
    fn wait_for(&self, name: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
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
fn timeline_pane(screen: &str) -> String {
    screen
        .lines()
        .map(|l| l.split_once('│').map_or("", |(_, right)| right))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Occurrences of `text` in the timeline pane.
fn count_in_timeline(screen: &str, text: &str) -> usize {
    timeline_pane(screen).matches(text).count()
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn convo_shell(data: &Path, server: &str, user: &str) -> String {
    format!(
        "env CONVO_NO_KEYRING=1 CONVO_CONFIG={cfg} {bin} --data-dir {data} --server {server} --user {user}",
        cfg = data.join("no-config.toml").display(),
        bin = convo_bin(),
        data = data.display(),
    )
}

/// Alice sends `text`; returns Bob's screen once it shows there.
fn send_fence(t: &Tmux, text: &str) -> String {
    t.type_text("alice", text);
    t.key("alice", "Enter");
    t.wait_for("bob", text, |s| count_in_timeline(s, text) > 0)
}

/// Opens conversation `title` with the quick switcher.
fn open_conv(t: &Tmux, name: &str, title: &str) {
    t.key(name, "C-k");
    t.type_text(name, title);
    t.key(name, "Enter");
}

#[test]
fn two_users_chat_through_disconnects_and_a_server_restart() {
    if !tmux_available() {
        println!("SKIPPED e2e_tmux: tmux is not installed");
        return;
    }
    let db_dir = tempfile::tempdir().unwrap();
    let db = db_dir.path().join("server.db");
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), Some(db.clone()));
    let server_addr = server.addr;
    let url = server.url.clone();
    let proxy = Proxy::start(server_addr);
    let bob_url = format!("ws://{}/v1", proxy.addr);

    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    register(a.path(), &url, "alice");
    register(b.path(), &bob_url, "bob");
    assert_eq!(
        ok(a.path(), &url, "alice", &["create-group", "e2e", "bob"]),
        "c1\n"
    );

    let t = Tmux::new();
    t.session("alice", &convo_shell(a.path(), &url, "alice"));
    t.session("bob", &convo_shell(b.path(), &bob_url, "bob"));
    t.wait_for("alice", "the conversation list", |s| s.contains("e2e"));
    t.wait_for("bob", "the conversation list", |s| s.contains("e2e"));
    open_conv(&t, "alice", "e2e");
    open_conv(&t, "bob", "e2e");

    // (1) Alice types, Bob sees it.
    t.type_text("alice", "hello from alice");
    t.key("alice", "Enter");
    t.wait_for("bob", "alice's first message", |s| {
        count_in_timeline(s, "hello from alice") > 0
    });

    // (2) Bob's connection is cut: Reconnecting, then the message Alice sent
    // meanwhile arrives once.
    proxy.cut();
    t.wait_for("bob", "the Reconnecting status", |s| {
        s.contains("Reconnecting")
    });
    t.type_text("alice", "while you were away");
    t.key("alice", "Enter");
    t.wait_for("alice", "her own message", |s| {
        count_in_timeline(s, "while you were away") > 0
    });
    proxy.restore();
    t.wait_for("bob", "the missed message", |s| {
        count_in_timeline(s, "while you were away") > 0
    });
    // A later message is a fence: once Bob shows it, anything the catch-up
    // could have duplicated is on the screen too.
    let screen = send_fence(&t, "fence one");
    assert_eq!(
        count_in_timeline(&screen, "while you were away"),
        1,
        "{screen}"
    );
    assert_eq!(
        count_in_timeline(&screen, "hello from alice"),
        1,
        "{screen}"
    );

    // (3) Server down: Alice's message shows pending, then is delivered once
    // the server is back (same port, same database).
    server.stop();
    t.wait_for("alice", "a disconnected status", |s| {
        s.contains("Reconnecting") || s.contains("Offline") || s.contains("Connecting")
    });
    t.type_text("alice", "queued while down");
    t.key("alice", "Enter");
    // The local echo carries the outbox mark ("⋯ queued" / "⋯ sending").
    t.wait_for("alice", "the pending message", |s| {
        timeline_pane(s)
            .lines()
            .any(|l| l.contains("queued while down") && l.contains("⋯"))
    });
    let server = TestServer::start(server_addr, Some(db));
    t.wait_for("bob", "the message sent while down", |s| {
        count_in_timeline(s, "queued while down") > 0
    });
    let screen = send_fence(&t, "fence two");
    assert_eq!(
        count_in_timeline(&screen, "queued while down"),
        1,
        "{screen}"
    );
    t.wait_for("alice", "the pending mark to clear", |s| {
        timeline_pane(s)
            .lines()
            .any(|l| l.contains("queued while down") && !l.contains("⋯"))
    });
    t.key("alice", "C-c");
    t.key("bob", "C-c");
    t.wait_for("alice", "convo to exit cleanly", |s| {
        s.contains("[convo exited: 0]")
    });
    drop(server);
}

#[test]
fn first_use_asks_for_the_password_and_offers_to_register() {
    if !tmux_available() {
        println!("SKIPPED e2e_tmux: tmux is not installed");
        return;
    }
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let d = tempfile::tempdir().unwrap();
    let t = Tmux {
        socket: format!("convo-e2e-{}-first", std::process::id()),
    };
    t.session("carol", &convo_shell(d.path(), &url, "carol"));
    // First use: the TUI itself asks for the password (no echo).
    t.wait_for("carol", "the log-in prompt", |s| {
        s.contains("Log in") && s.contains("Password:") && s.contains(&format!("carol on {url}"))
    });
    t.type_text("carol", "correct horse battery");
    let screen = t.wait_for("carol", "the masked password", |s| s.contains("•••••"));
    assert!(!screen.contains("correct horse"), "{screen}");
    t.key("carol", "Enter");
    // No such user: refused, with registration offered.
    t.wait_for("carol", "the refusal", |s| {
        s.contains("refused: wrong password, or no user carol yet")
            && s.contains("Ctrl+R register carol")
    });
    t.key("carol", "C-r");
    let screen = t.wait_for("carol", "the TUI, registered and live", |s| {
        s.contains("registered as carol") && s.contains("Live")
    });
    assert!(!screen.contains("Password:"), "{screen}");
    // `convo logout` elsewhere revokes this session: the TUI asks again.
    ok(d.path(), &url, "carol", &["logout"]);
    t.wait_for("carol", "the prompt after the logout", |s| {
        s.contains("the server ended the session") && s.contains("Password:")
    });
    t.type_text("carol", "correct horse battery");
    t.key("carol", "Enter");
    t.wait_for("carol", "the TUI, logged in again and live", |s| {
        s.contains("logged in as carol") && s.contains("Live") && !s.contains("Password:")
    });
    t.key("carol", "C-c");
    t.wait_for("carol", "convo to exit cleanly", |s| {
        s.contains("[convo exited: 0]")
    });
    // The session was stored: scripts can use it without a password.
    assert_eq!(ok(d.path(), &url, "carol", &["list", "--json"]), "[]\n");
}

#[test]
fn an_unreachable_server_fails_the_login_box_at_once_with_a_clear_message() {
    if !tmux_available() {
        println!("SKIPPED e2e_tmux: tmux is not installed");
        return;
    }
    // A port nothing listens on: a mistyped URL.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}/v1");
    let d = tempfile::tempdir().unwrap();
    let t = Tmux {
        socket: format!("convo-e2e-{}-unreachable", std::process::id()),
    };
    t.session("dave", &convo_shell(d.path(), &url, "dave"));
    t.wait_for("dave", "the log-in prompt", |s| s.contains("Password:"));
    t.type_text("dave", "correct horse battery");
    t.key("dave", "Enter");
    let asked = Instant::now();
    t.wait_for("dave", "the cannot-reach message", |s| {
        s.contains(&format!("cannot reach {url}")) && s.contains("refused")
    });
    // Said at once (it used to look like a hang for 17 s and more).
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // The typed password is still there to try again.
    let screen = t.capture("dave");
    assert!(screen.contains("•••••"), "{screen}");
    t.key("dave", "C-c");

    // A server that accepts the connection and never answers: the box
    // times out with a clear message instead of hanging.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("ws://{}/v1", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in silent.incoming().flatten() {
            held.push(c);
        }
    });
    let e = tempfile::tempdir().unwrap();
    t.session("erin", &convo_shell(e.path(), &silent_url, "erin"));
    t.wait_for("erin", "the log-in prompt", |s| s.contains("Password:"));
    t.type_text("erin", "correct horse battery");
    t.key("erin", "Enter");
    let asked = Instant::now();
    t.wait_for("erin", "the time-out message", |s| {
        s.contains(&format!("no answer from {silent_url} within 5 s"))
    });
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(12), "took {took:?}");
    t.key("erin", "C-c");
}

#[test]
fn a_long_unread_group_opens_at_its_first_unread_and_a_long_draft_is_kept() {
    if !tmux_available() {
        println!("SKIPPED e2e_tmux: tmux is not installed");
        return;
    }
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    register(a.path(), &url, "alice");
    register(b.path(), &url, "bob");
    assert_eq!(
        ok(b.path(), &url, "bob", &["create-group", "team", "alice"]),
        "c1\n"
    );
    // Sixty messages alice has not read: more than fit on her screen.
    for i in 1..=60 {
        ok(
            b.path(),
            &url,
            "bob",
            &["send", "team", &format!("update {i:02}"), "--no-wait"],
        );
    }
    ok(b.path(), &url, "bob", &["sync"]);
    let t = Tmux {
        socket: format!("convo-e2e-{}-unread", std::process::id()),
    };
    t.session("alice", &convo_shell(a.path(), &url, "alice"));
    t.wait_for("alice", "the group with its badge", |s| {
        s.contains("team") && s.contains("60")
    });
    open_conv(&t, "alice", "team");
    let screen = t.wait_for("alice", "the first unread under the marker", |s| {
        s.contains("new messages") && s.contains("update 01")
    });
    assert!(!timeline_pane(&screen).contains("update 60"), "{screen}");
    // Only what was on screen is read: the badge still counts the rest.
    assert!(screen.contains("31 newer messages ↓"), "{screen}");
    // End: the newest message, everything read.
    t.key("alice", "End");
    t.wait_for("alice", "the newest message", |s| {
        let pane = timeline_pane(s);
        pane.contains("update 60") && !pane.contains("update 01")
    });
    // A draft over the 16 KiB limit is refused and kept.
    // Pasted (bracketed paste), as a long text is in practice.
    let long = "y".repeat(16 * 1024 + 1);
    let buf = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(buf.path(), &long).unwrap();
    let path = buf.path().to_str().unwrap();
    assert!(
        t.cmd()
            .args(["load-buffer", path])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        t.cmd()
            .args(["paste-buffer", "-p", "-t", "alice"])
            .status()
            .unwrap()
            .success()
    );
    t.wait_for("alice", "the byte count", |s| {
        s.contains("16385/16384 bytes — too long")
    });
    t.key("alice", "Enter");
    let screen = t.wait_for("alice", "the refusal", |s| {
        s.contains("message is 16385 bytes, the limit is 16384")
    });
    assert!(
        screen.contains("yyyyyyyyyy"),
        "the draft is still there: {screen}"
    );
    t.key("alice", "C-c");
}

#[test]
fn the_reconnect_countdown_runs_f5_reconnects_and_the_error_clears_once_live() {
    if !tmux_available() {
        println!("SKIPPED e2e_tmux: tmux is not installed");
        return;
    }
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let proxy = Proxy::start(server.addr);
    let url = format!("ws://{}/v1", proxy.addr);
    let a = tempfile::tempdir().unwrap();
    register(a.path(), &url, "erin");
    let t = Tmux {
        socket: format!("convo-e2e-{}-countdown", std::process::id()),
    };
    t.session("erin", &convo_shell(a.path(), &url, "erin"));
    t.wait_for("erin", "Live", |s| s.contains("● Live"));
    // The server disappears for a while: a countdown, not a frozen number.
    proxy.cut();
    let first = t.wait_for("erin", "the countdown", |s| s.contains("Reconnecting in"));
    let secs = |s: &str| -> Vec<u64> {
        s.split("Reconnecting in ")
            .skip(1)
            .filter_map(|r| r.split('s').next()?.parse().ok())
            .collect()
    };
    // Wait for a wait long enough to watch it count (the ceiling grows).
    let long = t.wait_for("erin", "a countdown of 3 s or more", |s| {
        secs(s).first().is_some_and(|n| *n >= 3)
    });
    let n = secs(&long)[0];
    t.wait_for("erin", "the countdown going down", |s| {
        secs(s).first().is_some_and(|m| *m < n && *m > 0) || s.contains("Connecting")
    });
    assert!(first.contains("(F5: now)"), "{first}");
    // Back, and F5 does not wait for the rest of the delay.
    proxy.restore();
    let pressed = Instant::now();
    t.key("erin", "F5");
    let screen = t.wait_for("erin", "Live again", |s| s.contains("● Live"));
    assert!(
        pressed.elapsed() < Duration::from_secs(3),
        "{:?}",
        pressed.elapsed()
    );
    assert!(
        !screen.contains("connecting to"),
        "stale error stays: {screen}"
    );
    assert!(!screen.contains("Reconnecting"), "{screen}");
    t.key("erin", "C-c");
}

#[test]
fn after_a_search_jump_end_shows_the_newest_message() {
    if !tmux_available() {
        println!("SKIPPED e2e_tmux: tmux is not installed");
        return;
    }
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    register(a.path(), &url, "alice");
    // Bob posts 500 messages through the library (fast), one of them a needle.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (bob, _events) =
            sync_core::ClientBuilder::new(url.as_str(), b.path().join("bob.db"), "bench")
                .open()
                .unwrap();
        bob.register("bob", "correct horse battery").await.unwrap();
        bob.start();
        bob.wait_live(Duration::from_secs(10)).await.unwrap();
        let conv = bob.create_direct("alice").await.unwrap();
        for i in 1..=500 {
            let body = if i == 100 {
                "the needle".to_owned()
            } else {
                format!("msg {i:04}")
            };
            bob.send(&conv, &body).await.unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !bob.outbox().unwrap().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "bob's sends never drained"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bob.stop().await;
    });
    let t = Tmux {
        socket: format!("convo-e2e-{}-jump", std::process::id()),
    };
    t.session("alice", &convo_shell(a.path(), &url, "alice"));
    t.wait_for("alice", "the direct conversation", |s| s.contains("@ bob"));
    open_conv(&t, "alice", "bob");
    // 500 unread: it opens at the first one; End reads them all.
    t.wait_for("alice", "the first unread", |s| {
        timeline_pane(s).contains("msg 0001")
    });
    t.key("alice", "End");
    t.wait_for("alice", "the newest message", |s| {
        timeline_pane(s).contains("msg 0500")
    });
    t.type_text("alice", "/search needle");
    t.key("alice", "Enter");
    t.wait_for("alice", "the hit", |s| {
        s.contains("Search: needle (1 of 1)")
    });
    t.key("alice", "Enter");
    // (The whole overlay gone: a capture can catch a redraw half done.)
    let screen = t.wait_for("alice", "the jump", |s| {
        !s.contains("Search: needle")
            && !s.contains("searched 1 of")
            && timeline_pane(s).contains("the needle")
            && s.contains("newer messages ↓")
    });
    // Newer messages stay visible under the hit, and the rest is announced.
    assert!(timeline_pane(&screen).contains("msg 0101"), "{screen}");
    assert!(screen.contains("newer messages ↓"), "{screen}");
    t.key("alice", "End");
    t.wait_for("alice", "the newest message after End", |s| {
        let pane = timeline_pane(s);
        pane.contains("msg 0500") && !pane.contains("the needle")
    });
    t.key("alice", "C-c");
}

#[test]
fn deleting_a_selected_message_keeps_newer_messages_in_view() {
    if !tmux_available() {
        println!("SKIPPED e2e_tmux: tmux is not installed");
        return;
    }
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    register(a.path(), &url, "alice");
    register(b.path(), &url, "bob");
    ok(a.path(), &url, "alice", &["send", "@bob", "delete me"]);
    for i in 1..=5 {
        ok(
            a.path(),
            &url,
            "alice",
            &["send", "@bob", &format!("later {i}")],
        );
    }
    let t = Tmux {
        socket: format!("convo-e2e-{}-delete", std::process::id()),
    };
    t.session("alice", &convo_shell(a.path(), &url, "alice"));
    t.wait_for("alice", "the list", |s| s.contains("@ bob"));
    open_conv(&t, "alice", "bob");
    t.wait_for("alice", "the newest", |s| {
        timeline_pane(s).contains("later 5")
    });
    // Select "delete me" (six messages up) and delete it.
    for _ in 0..6 {
        t.key("alice", "C-Up");
    }
    t.type_text("alice", "/delete");
    t.key("alice", "Enter");
    let screen = t.wait_for("alice", "the placeholder", |s| {
        timeline_pane(s).contains("‹message deleted›")
    });
    // Every newer message, the user's own newest included, is still on screen.
    let pane = timeline_pane(&screen);
    for i in 1..=5 {
        assert!(pane.contains(&format!("later {i}")), "{screen}");
    }
    assert!(!pane.contains("delete me"), "{screen}");
    t.key("alice", "C-c");
}

#[test]
fn a_read_receipt_shows_as_two_ticks_and_survives_a_restart() {
    if !tmux_available() {
        println!("SKIPPED e2e_tmux: tmux is not installed");
        return;
    }
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    register(a.path(), &url, "alice");
    register(b.path(), &url, "bob");
    ok(a.path(), &url, "alice", &["send", "@bob", "are you there"]);
    let t = Tmux {
        socket: format!("convo-e2e-{}-receipt", std::process::id()),
    };
    t.session("alice", &convo_shell(a.path(), &url, "alice"));
    t.wait_for("alice", "the list", |s| s.contains("@ bob"));
    open_conv(&t, "alice", "bob");
    let screen = t.wait_for("alice", "the sent message", |s| {
        timeline_pane(s).contains("are you there ✓")
    });
    assert!(!screen.contains("✓✓"), "{screen}");
    // Bob reads it: alice sees two ticks.
    ok(b.path(), &url, "bob", &["read", "@alice"]);
    t.wait_for("alice", "the receipt", |s| {
        timeline_pane(s).contains("are you there ✓✓")
    });
    t.key("alice", "C-c");
    t.wait_for("alice", "convo to exit", |s| {
        s.contains("[convo exited: 0]")
    });
    // A new run still knows: the receipt was stored.
    t.session("alice2", &convo_shell(a.path(), &url, "alice"));
    t.wait_for("alice2", "the list", |s| s.contains("@ bob"));
    open_conv(&t, "alice2", "bob");
    t.wait_for("alice2", "the stored receipt", |s| {
        timeline_pane(s).contains("are you there ✓✓")
    });
    t.key("alice2", "C-c");
}

/// Runs `line` in the shell and waits until it has finished (an echoed marker).
fn shell_run(t: &Tmux, name: &str, line: &str) -> String {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let marker = format!(
        "[done {}]",
        RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    t.type_text(name, &format!("{line}; echo '{marker}'"));
    t.key(name, "Enter");
    t.wait_for(name, line, |s| s.matches(&marker).count() >= 2)
}

#[test]
fn plain_commands_in_a_shell_use_the_login_and_show_names_every_hole() {
    if !tmux_available() {
        println!("SKIPPED e2e_tmux: tmux is not installed");
        return;
    }
    let db_dir = tempfile::tempdir().unwrap();
    let db = db_dir.path().join("server.db");
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), Some(db.clone()));
    let (url, addr) = (server.url.clone(), server.addr);
    let (a, b, reg) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    register(reg.path(), &url, "alice");
    register(b.path(), &url, "bob");
    ok(b.path(), &url, "bob", &["create-group", "news", "alice"]);
    ok(b.path(), &url, "bob", &["send", "news", "before"]);
    let t = Tmux {
        socket: format!("convo-e2e-{}-shell", std::process::id()),
    };
    t.session(
        "sh",
        &format!(
            "env CONVO_NO_KEYRING=1 CONVO_CONFIG={cfg} PS1='$ ' bash --norc --noprofile",
            cfg = a.path().join("no-config.toml").display()
        ),
    );
    let convo = format!("{} --data-dir {}", convo_bin(), a.path().display());
    // Log in once, typing the password at the prompt...
    t.type_text("sh", &format!("{convo} login --server {url} --user alice"));
    t.key("sh", "Enter");
    t.wait_for("sh", "the password prompt", |s| {
        s.contains(&format!("password for alice@{url}:"))
    });
    t.type_text("sh", "correct horse battery");
    t.key("sh", "Enter");
    t.wait_for("sh", "the log-in", |s| {
        s.contains(&format!("logged in as alice on {url}"))
    });
    // ...then plain commands use that server and user.
    let screen = shell_run(&t, "sh", &format!("{convo} list"));
    assert!(screen.contains("news"), "{screen}");
    assert!(!screen.contains("no server given"), "{screen}");
    // Alice's own sends are stored, bob's messages between them are not.
    shell_run(&t, "sh", &format!("{convo} send news 'mine 1'"));
    ok(b.path(), &url, "bob", &["send", "news", "between 1"]);
    ok(b.path(), &url, "bob", &["send", "news", "between 2"]);
    shell_run(&t, "sh", &format!("{convo} send news 'mine 2'"));
    // Offline, the holes are named, never skipped.
    server.stop();
    let screen = shell_run(&t, "sh", &format!("{convo} show news"));
    assert!(
        screen.contains("… 2 messages not loaded (#4–#5) …"),
        "{screen}"
    );
    // Online again, the whole window prints in order.
    let _server = TestServer::start(addr, Some(db));
    t.type_text("sh", "clear");
    t.key("sh", "Enter");
    t.wait_for("sh", "a clear screen", |s| !s.contains("mine 1"));
    let screen = shell_run(&t, "sh", &format!("{convo} show news"));
    let order = ["before", "mine 1", "between 1", "between 2", "mine 2"];
    let at: Vec<usize> = order
        .iter()
        .map(|m| screen.find(m).unwrap_or_else(|| panic!("{m}: {screen}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{screen}");
    assert!(!screen.contains("not loaded"), "{screen}");
}

#[test]
fn tail_prints_what_arrived_during_a_cut_and_a_server_restart_once_in_order() {
    if !tmux_available() {
        println!("SKIPPED e2e_tmux: tmux is not installed");
        return;
    }
    let db_dir = tempfile::tempdir().unwrap();
    let db = db_dir.path().join("server.db");
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), Some(db.clone()));
    let (url, addr) = (server.url.clone(), server.addr);
    let proxy = Proxy::start(addr);
    let alice_url = format!("ws://{}/v1", proxy.addr);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    register(a.path(), &alice_url, "alice");
    register(b.path(), &url, "bob");
    ok(b.path(), &url, "bob", &["create-group", "news", "alice"]);
    ok(b.path(), &url, "bob", &["send", "@alice", "first"]);
    let t = Tmux {
        socket: format!("convo-e2e-{}-tail", std::process::id()),
    };
    t.session(
        "tail",
        &format!("{} tail", convo_shell(a.path(), &alice_url, "alice")),
    );
    t.wait_for("tail", "the tail to start", |s| {
        s.contains("tailing new messages")
    });
    let bob = |to: &str, text: &str| {
        ok(b.path(), &url, "bob", &["send", to, text]);
    };
    bob("@alice", "live d1");
    bob("news", "live g1");
    t.wait_for("tail", "live messages", |s| s.contains("live g1"));

    // Cut alice's connection: what bob posts meanwhile (direct and group)
    // comes through the catch-up.
    proxy.cut();
    bob("@alice", "cut d2");
    bob("news", "cut g2");
    bob("@alice", "cut d3");
    bob("news", "cut g3");
    proxy.restore();
    t.wait_for("tail", "the messages posted during the cut", |s| {
        s.contains("cut d3") && s.contains("cut g3")
    });

    // Restart the server (same address and database).
    server.stop();
    let _server = TestServer::start(addr, Some(db));
    bob("news", "after g4");
    bob("@alice", "after d4");
    let screen = t.wait_for("tail", "the messages after the restart", |s| {
        s.contains("after g4") && s.contains("after d4")
    });
    let lines: Vec<&str> = screen.lines().filter(|l| l.contains(" bob: ")).collect();
    let direct: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split(" bob: ").nth(1))
        .filter(|b| b.ends_with(|c: char| c.is_ascii_digit()) && b.contains(" d"))
        .collect();
    let group: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split(" bob: ").nth(1))
        .filter(|b| b.contains(" g"))
        .collect();
    assert_eq!(
        direct,
        ["live d1", "cut d2", "cut d3", "after d4"],
        "{screen}"
    );
    assert_eq!(
        group,
        ["live g1", "cut g2", "cut g3", "after g4"],
        "{screen}"
    );
    // "first" was posted before the tail started: not printed.
    assert!(!screen.contains("first"), "{screen}");
}

#[test]
fn an_invite_code_in_the_login_box_and_passwd_signing_out_another_device() {
    if !tmux_available() {
        println!("SKIPPED e2e_tmux: tmux is not installed");
        return;
    }
    let db_dir = tempfile::tempdir().unwrap();
    let db = db_dir.path().join("team.db");
    let server = TestServer::start_register(db.clone(), server_mock::RegisterMode::InviteOnly);
    let url = server.url.clone();
    let code = {
        let conn = server_mock::admin::open(&db).unwrap();
        server_mock::admin::create_invite(&conn, 1, None)
            .unwrap()
            .code
    };
    let c = tempfile::tempdir().unwrap();
    let t = Tmux {
        socket: format!("convo-e2e-{}-team", std::process::id()),
    };
    t.session("carol", &convo_shell(c.path(), &url, "carol"));
    t.wait_for("carol", "the log-in prompt", |s| s.contains("Password:"));
    t.type_text("carol", "correct horse battery");
    t.key("carol", "C-r");
    t.wait_for("carol", "the invite question", |s| {
        s.contains("needs an invite code to register") && s.contains("Invite code:")
    });
    t.type_text("carol", &code);
    t.key("carol", "Enter");
    t.wait_for("carol", "the registration", |s| {
        s.contains("registered") && !s.contains("Invite code:")
    });

    // A second device of carol, then /passwd in the TUI signs it out.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let phone = rt.block_on(async {
        let (p, _events) = sync_core::ClientBuilder::new(&url, c.path().join("phone.db"), "phone")
            .open()
            .unwrap();
        p.login("carol", "correct horse battery").await.unwrap();
        p.wait_live(Duration::from_secs(10)).await.unwrap();
        p
    });
    t.type_text("carol", "/passwd");
    t.key("carol", "Enter");
    t.wait_for("carol", "the password box", |s| {
        s.contains("Change password")
    });
    t.type_text("carol", "correct horse battery");
    t.key("carol", "Enter");
    t.type_text("carol", "an even better one");
    t.key("carol", "Enter");
    t.type_text("carol", "an even better one");
    t.key("carol", "Enter");
    t.wait_for("carol", "the change", |s| {
        s.contains("changed the password of carol")
    });
    rt.block_on(async {
        let t0 = Instant::now();
        while phone.state() != sync_core::ConnState::LoggedOut {
            assert!(t0.elapsed() < DEADLINE, "{:?}", phone.state());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    // This device stays logged in: a message still goes out.
    ok(c.path(), &url, "carol", &["create-group", "notes"]);
    t.key("carol", "C-c");
}
