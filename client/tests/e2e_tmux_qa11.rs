//! End to end in tmux: bugs found using convo as a user would (QA round
//! 11). Skips, with a printed reason, only when tmux is not installed.
#![cfg(feature = "wired")]

mod cli_support;
mod tmux_support;

use tmux_support::*;

/// The TUI started while the server was down said "starting offline, will
/// keep retrying", then showed `✗ Logged out` with a password prompt ("the
/// server ended the session") and never reconnected: the engine dropped the
/// stored token along with the failed resume.
#[test]
fn a_tui_started_while_the_server_is_down_keeps_its_session_and_reconnects() {
    let Some(mut sc) = Scene::with_db("qa11down") else {
        return;
    };
    sc.users(&["alice", "bob"]);
    assert_eq!(sc.ok("alice", &["create-group", "ops", "bob"]), "c1\n");
    sc.ok("bob", &["send", "ops", "before the outage"]);
    // Alice's store holds it (groups are pulled when read).
    assert!(
        sc.ok("alice", &["show", "ops"])
            .contains("before the outage")
    );
    sc.stop_server();

    sc.tui("alice");
    let t = &sc.t;
    let screen = t.wait_for("alice", "the cached list, reconnecting", |s| {
        s.contains("ops") && s.contains("Reconnecting")
    });
    assert!(!screen.contains("Logged out"), "{screen}");
    assert!(!screen.contains("Password"), "{screen}");
    open_conv(t, "alice", "ops");
    t.wait_for("alice", "the cached message", |s| {
        count_in_timeline(s, "before the outage") == 1
    });

    sc.restart_server();
    let t = &sc.t;
    t.wait_for("alice", "Live once the server is back", |s| {
        s.contains("Live")
    });
    sc.ok("bob", &["send", "ops", "after the outage"]);
    let screen = t.wait_for("alice", "the new message", |s| {
        count_in_timeline(s, "after the outage") == 1
    });
    assert!(!screen.contains("Logged out"), "{screen}");
}
