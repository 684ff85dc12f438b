//! End to end in a real terminal, reading a conversation: `convo` TUIs in
//! tmux against an in-process server-mock opening a long unread group at its
//! first unread message, jumping to a search hit, deleting a message, and
//! showing read receipts. Screens are polled with a deadline (never fixed
//! sleeps as assertions). Skips, with a printed reason, only when tmux is
//! not installed.
#![cfg(feature = "wired")]

mod cli_support;
mod tmux_support;

use std::time::Duration;

use tmux_support::*;

#[test]
fn a_long_unread_group_opens_at_its_first_unread_and_a_long_draft_is_kept() {
    let Some(mut sc) = Scene::new("unread") else {
        return;
    };
    sc.users(&["alice", "bob"]);
    assert_eq!(sc.ok("bob", &["create-group", "team", "alice"]), "c1\n");
    // Sixty messages alice has not read: more than fit on her screen.
    for i in 1..=60 {
        sc.ok(
            "bob",
            &["send", "team", &format!("update {i:02}"), "--no-wait"],
        );
    }
    sc.ok("bob", &["sync"]);
    let t = &sc.t;
    sc.tui("alice");
    t.wait_for("alice", "the group with its badge", |s| {
        s.contains("team") && s.contains("60")
    });
    open_conv(t, "alice", "team");
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
fn after_a_search_jump_end_shows_the_newest_message() {
    let Some(mut sc) = Scene::new("jump") else {
        return;
    };
    let url = sc.url.clone();
    sc.users(&["alice"]);
    let b = tempfile::tempdir().unwrap();
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
    let t = &sc.t;
    sc.tui("alice");
    t.wait_for("alice", "the direct conversation", |s| s.contains("@ bob"));
    open_conv(t, "alice", "bob");
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
    let Some(mut sc) = Scene::new("delete") else {
        return;
    };
    sc.users(&["alice", "bob"]);
    sc.ok("alice", &["send", "@bob", "delete me"]);
    for i in 1..=5 {
        sc.ok("alice", &["send", "@bob", &format!("later {i}")]);
    }
    let t = &sc.t;
    sc.tui("alice");
    t.wait_for("alice", "the list", |s| s.contains("@ bob"));
    open_conv(t, "alice", "bob");
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
    let Some(mut sc) = Scene::new("receipt") else {
        return;
    };
    sc.users(&["alice", "bob"]);
    sc.ok("alice", &["send", "@bob", "are you there"]);
    let t = &sc.t;
    sc.tui("alice");
    t.wait_for("alice", "the list", |s| s.contains("@ bob"));
    open_conv(t, "alice", "bob");
    let screen = t.wait_for("alice", "the sent message", |s| {
        timeline_pane(s).contains("are you there ✓")
    });
    assert!(!screen.contains("✓✓"), "{screen}");
    // Bob reads it: alice sees two ticks.
    sc.ok("bob", &["read", "@alice"]);
    t.wait_for("alice", "the receipt", |s| {
        timeline_pane(s).contains("are you there ✓✓")
    });
    t.key("alice", "C-c");
    t.wait_for("alice", "convo to exit", |s| {
        s.contains("[convo exited: 0]")
    });
    // A new run still knows: the receipt was stored.
    t.session("alice2", &sc.shell("alice"));
    t.wait_for("alice2", "the list", |s| s.contains("@ bob"));
    open_conv(t, "alice2", "bob");
    t.wait_for("alice2", "the stored receipt", |s| {
        timeline_pane(s).contains("are you there ✓✓")
    });
    t.key("alice2", "C-c");
}
