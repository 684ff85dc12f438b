//! End to end in a real terminal, through outages: `convo` TUIs, `tail` and
//! plain commands in tmux against an in-process server-mock that a TCP proxy
//! can cut off or that is stopped and restarted. Screens are polled with a
//! deadline (never fixed sleeps as assertions). Skips, with a printed
//! reason, only when tmux is not installed.
#![cfg(feature = "wired")]

mod cli_support;
mod tmux_support;

use std::time::{Duration, Instant};

use cli_support::convo_bin;
use tmux_support::*;

#[test]
fn two_users_chat_through_disconnects_and_a_server_restart() {
    let Some(mut sc) = Scene::with_db("chat") else {
        return;
    };
    let proxy = Proxy::start(sc.addr());
    let bob_url = format!("ws://{}/v1", proxy.addr);
    sc.users(&["alice"]);
    sc.user_via("bob", &bob_url);
    assert_eq!(sc.ok("alice", &["create-group", "e2e", "bob"]), "c1\n");

    let t = &sc.t;
    sc.tui("alice");
    sc.tui("bob");
    t.wait_for("alice", "the conversation list", |s| s.contains("e2e"));
    t.wait_for("bob", "the conversation list", |s| s.contains("e2e"));
    open_conv(t, "alice", "e2e");
    open_conv(t, "bob", "e2e");

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
    let screen = send_fence(t, "fence one");
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
    sc.stop_server();
    let t = &sc.t;
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
    sc.restart_server();
    let t = &sc.t;
    t.wait_for("bob", "the message sent while down", |s| {
        count_in_timeline(s, "queued while down") > 0
    });
    let screen = send_fence(t, "fence two");
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
}

#[test]
fn the_reconnect_countdown_runs_f5_reconnects_and_the_error_clears_once_live() {
    let Some(mut sc) = Scene::new("countdown") else {
        return;
    };
    let proxy = Proxy::start(sc.addr());
    let url = format!("ws://{}/v1", proxy.addr);
    sc.user_via("erin", &url);
    let t = &sc.t;
    sc.tui("erin");
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
fn plain_commands_in_a_shell_use_the_login_and_show_names_every_hole() {
    let Some(mut sc) = Scene::with_db("shell") else {
        return;
    };
    let url = sc.url.clone();
    // Alice registers elsewhere; this shell's data dir starts empty.
    sc.users(&["alice", "bob"]);
    let a = tempfile::tempdir().unwrap();
    sc.ok("bob", &["create-group", "news", "alice"]);
    sc.ok("bob", &["send", "news", "before"]);
    let t = &sc.t;
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
    let screen = shell_run(t, "sh", &format!("{convo} list"));
    assert!(screen.contains("news"), "{screen}");
    assert!(!screen.contains("no server given"), "{screen}");
    // Alice's own sends are stored, bob's messages between them are not.
    shell_run(t, "sh", &format!("{convo} send news 'mine 1'"));
    sc.ok("bob", &["send", "news", "between 1"]);
    sc.ok("bob", &["send", "news", "between 2"]);
    shell_run(t, "sh", &format!("{convo} send news 'mine 2'"));
    // Offline, the holes are named, never skipped.
    sc.stop_server();
    let t = &sc.t;
    let screen = shell_run(t, "sh", &format!("{convo} show news"));
    assert!(
        screen.contains("… 2 messages not loaded (#4–#5) …"),
        "{screen}"
    );
    // Online again, the whole window prints in order.
    sc.restart_server();
    let t = &sc.t;
    t.type_text("sh", "clear");
    t.key("sh", "Enter");
    t.wait_for("sh", "a clear screen", |s| !s.contains("mine 1"));
    let screen = shell_run(t, "sh", &format!("{convo} show news"));
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
    let Some(mut sc) = Scene::with_db("tail") else {
        return;
    };
    let proxy = Proxy::start(sc.addr());
    let alice_url = format!("ws://{}/v1", proxy.addr);
    sc.user_via("alice", &alice_url);
    sc.users(&["bob"]);
    sc.ok("bob", &["create-group", "news", "alice"]);
    sc.ok("bob", &["send", "@alice", "first"]);
    let t = &sc.t;
    t.session("tail", &format!("{} tail", sc.shell("alice")));
    t.wait_for("tail", "the tail to start", |s| {
        s.contains("tailing new messages")
    });
    let bob = |sc: &Scene, to: &str, text: &str| {
        sc.ok("bob", &["send", to, text]);
    };
    bob(&sc, "@alice", "live d1");
    bob(&sc, "news", "live g1");
    t.wait_for("tail", "live messages", |s| s.contains("live g1"));

    // Cut alice's connection: what bob posts meanwhile (direct and group)
    // comes through the catch-up.
    proxy.cut();
    bob(&sc, "@alice", "cut d2");
    bob(&sc, "news", "cut g2");
    bob(&sc, "@alice", "cut d3");
    bob(&sc, "news", "cut g3");
    proxy.restore();
    t.wait_for("tail", "the messages posted during the cut", |s| {
        s.contains("cut d3") && s.contains("cut g3")
    });

    // Restart the server (same address and database).
    sc.stop_server();
    sc.restart_server();
    bob(&sc, "news", "after g4");
    bob(&sc, "@alice", "after d4");
    let screen =
        sc.t.wait_for("tail", "the messages after the restart", |s| {
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
