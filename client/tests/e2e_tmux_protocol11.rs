//! End to end in a real terminal, protocol 1.1 (§9): two `convo` TUIs in
//! tmux against an in-process server-mock. Bob reacts to alice's message and
//! replies to it in the thread panel; alice sees both. Alice sets the group
//! to notify on mentions only; of three messages bob then sends, only the
//! one mentioning her rings the bell (counted by a tmux `alert-bell` hook:
//! her session is detached, so every bell her pane receives is an alert).
//! Skips, with a printed reason, only when tmux is not installed.
#![cfg(feature = "wired")]

mod cli_support;
mod tmux_support;

use std::time::{Duration, Instant};

use tmux_support::*;

/// Bells counted by the hook so far (one line each).
fn bells(file: &std::path::Path) -> usize {
    std::fs::read_to_string(file).map_or(0, |s| s.lines().count())
}

#[test]
fn bob_reacts_and_replies_in_a_thread_and_only_a_mention_rings_the_bell() {
    // Replies, reactions and `notify` need a 1.1 server, whatever
    // CONVO_TEST_SERVER_FEATURES asks of the other tests.
    let server = cli_support::TestServer::start_features(server_mock::Features::ALL);
    let Some(mut sc) = Scene::with_server("p11", server) else {
        return;
    };
    sc.users(&["alice", "bob"]);
    assert_eq!(sc.ok("bob", &["create-group", "team", "alice"]), "c1\n");
    let t = &sc.t;
    sc.tui("alice");
    sc.tui("bob");
    for user in ["alice", "bob"] {
        t.wait_for(user, "the group in the list", |s| s.contains("# team"));
        open_conv(t, user, "team");
        t.wait_for(user, "the group open", |s| s.contains("┌ Message"));
    }
    t.type_text("alice", "release at 10?");
    t.key("alice", "Enter");
    t.wait_for("bob", "alice's message", |s| {
        count_in_timeline(s, "release at 10?") == 1
    });
    // Bob selects it (the newest), reacts with the picker's first emoji.
    t.key("bob", "C-Up");
    t.key("bob", "M-g");
    t.wait_for("bob", "the reaction picker", |s| s.contains("┌ React"));
    t.key("bob", "Enter");
    t.wait_for("bob", "his reaction", |s| timeline_pane(s).contains("👍 1"));
    // The thread panel (the message is still selected): his reply goes
    // into alice's thread.
    t.key("bob", "M-t");
    t.wait_for("bob", "the thread panel", |s| {
        s.contains("Thread — Esc closes")
    });
    t.type_text("bob", "count me in");
    t.key("bob", "Enter");
    t.wait_for("bob", "the reply in the panel", |s| {
        let pane = timeline_pane(s);
        pane.contains("count me in") && pane.contains("💬 1 reply")
    });
    t.key("bob", "Escape");
    let screen = t.wait_for(
        "alice",
        "the reaction, the reply count and the reply",
        |s| {
            let pane = timeline_pane(s);
            pane.contains("👍 1")
                && pane.contains("💬 1 reply")
                && pane.contains("↳ alice: release at 10?")
                && pane.contains("count me in")
        },
    );
    assert_eq!(count_in_timeline(&screen, "count me in"), 1, "{screen}");

    // Alice: this group notifies on mentions only (from the menu's second entry).
    t.key("alice", "M-s");
    t.wait_for("alice", "the menu", |s| s.contains("Notify: mentions only"));
    t.key("alice", "Down");
    t.key("alice", "Enter");
    t.wait_for("alice", "the change", |s| {
        s.contains("notifications: mentions only")
    });
    // A new run with nothing open: a message in the group may notify.
    t.key("alice", "C-c");
    t.wait_for("alice", "convo to exit", |s| {
        s.contains("[convo exited: 0]")
    });
    t.session("alice2", &sc.shell("alice"));
    t.wait_for("alice2", "the list", |s| s.contains("team"));
    let bell_file = sc.dir("alice").join("bells.txt");
    let hook = format!("run-shell \"echo bell >> {}\"", bell_file.display());
    assert!(
        t.cmd()
            .args(["set-hook", "-g", "alert-bell", &hook])
            .status()
            .unwrap()
            .success()
    );
    // A bell the hook sees, to know it works here (a printf in a pane of its own).
    t.session("probe", "printf '\\a'");
    let start = Instant::now();
    while bells(&bell_file) == 0 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let base = bells(&bell_file);
    assert_eq!(base, 1, "the alert-bell hook did not fire for a plain BEL");

    for (text, preview) in [
        ("no mention here", "bob: no mention here"),
        ("hey @alice look", "bob: hey @alice look"),
        ("and one more", "bob: and one more"),
    ] {
        sc.ok("bob", &["send", "team", text]);
        t.wait_for("alice2", preview, |s| s.contains(preview));
        // Alerts are processed on tmux's next loop: give it a moment.
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        bells(&bell_file) - base,
        1,
        "only the mention rings: {}",
        t.capture("alice2")
    );
    t.key("alice2", "C-c");
    t.key("bob", "C-c");
}
