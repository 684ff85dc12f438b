//! End to end in a real 90x20 terminal, what a new user met: in a pinned
//! group whose newest entry is an event line (carol joined), Ctrl+Up
//! selects bob's message, not the event; Alt+T opens its thread and the
//! compose box names what the reply answers; the pinned row reads
//! `#★ team`; Esc keeps the reply typed in the thread. Skips, with a
//! printed reason, only when tmux is not installed.
#![cfg(feature = "wired")]

mod cli_support;
mod tmux_support;

use tmux_support::*;

#[test]
fn ctrl_up_skips_the_join_line_and_the_thread_names_its_target() {
    let server = cli_support::TestServer::start_features(server_mock::Features::ALL);
    let Some(mut sc) = Scene::with_server("sel", server) else {
        return;
    };
    sc.users(&["alice", "bob", "carol"]);
    assert_eq!(sc.ok("bob", &["create-group", "team", "alice"]), "c1\n");
    sc.ok("bob", &["send", "team", "deploy at 10, who reviews?"]);
    sc.ok("alice", &["settings", "team", "--pin"]);
    let t = &sc.t;
    t.session_sized("alice", 90, 20, &sc.shell("alice"));
    t.wait_for("alice", "the pinned group, spaced", |s| {
        s.contains("#★ team")
    });
    open_conv(t, "alice", "team");
    t.wait_for("alice", "bob's message", |s| {
        timeline_pane(s).contains("deploy at 10, who reviews?")
    });
    t.type_text("alice", "/invite carol");
    t.key("alice", "Enter");
    t.wait_for("alice", "the join line", |s| {
        timeline_pane(s).contains("→ carol joined")
    });
    // The newest entry is the join: Ctrl+Up goes past it to bob's text.
    t.key("alice", "C-Up");
    t.key("alice", "M-t");
    let screen = t.wait_for("alice", "the thread panel", |s| {
        s.contains("Thread — Esc closes")
    });
    assert!(!screen.contains("no message"), "{screen}");
    t.wait_for("alice", "the reply's target in the compose title", |s| {
        s.contains("┌ replying to bob: deploy at 10, who re… (Esc closes the thread) ┐")
    });
    // What is typed in the panel survives Esc.
    t.type_text("alice", "I will");
    t.key("alice", "Escape");
    t.wait_for("alice", "the panel closed, the draft kept", |s| {
        s.contains("your reply in the thread is kept")
    });
    t.key("alice", "M-t");
    t.wait_for("alice", "the reply back in the panel", |s| {
        s.contains("Thread — Esc closes") && s.contains("│I will")
    });
}
