//! The protocol 1.1 commands against a real server-mock: `send --reply-to`,
//! `react [--remove]`, `thread [--json]`, `settings`, and the §9 fields of
//! `list --json` and `show --json`, with exact output and exit codes.
#![cfg(feature = "wired")]

mod cli_support;

use std::path::Path;

use cli_support::{TestServer, convo, convo_cmd, json, ok, register};
use serde_json::{Value, json};

/// The item without the fields that vary between runs (time, client ids).
fn stable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("ts");
        o.remove("client_id");
    }
    v
}

/// Runs a command that must fail; returns (exit code, stderr).
fn fails(data: &Path, url: &str, user: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = convo(data, url, user, args);
    assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

/// A server where alice made the group `rust` with bob.
fn setup() -> (TestServer, tempfile::TempDir, tempfile::TempDir) {
    if std::env::var("CONVO_TEST_SERVER_FEATURES").is_ok_and(|v| v == "none" || v == "1") {
        // These tests are about the 1.1 features; cli_v1.rs covers v1.
        eprintln!("note: cli_v11 runs against a server with every feature");
    }
    let server = TestServer::start_features(server_mock::Features::ALL);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    register(a.path(), &server.url, "alice");
    register(b.path(), &server.url, "bob");
    assert_eq!(
        ok(
            a.path(),
            &server.url,
            "alice",
            &["create-group", "rust", "bob"]
        ),
        "c1\n"
    );
    (server, a, b)
}

#[test]
fn replies_reactions_and_threads() {
    let (server, a, b) = setup();
    let url = &server.url;
    let (a, b) = (a.path(), b.path());
    assert_eq!(
        ok(a, url, "alice", &["send", "rust", "hello @bob"]),
        "sent to c1 as #2\n"
    );
    assert_eq!(
        ok(
            b,
            url,
            "bob",
            &["send", "rust", "--reply-to", "2", "hi alice"]
        ),
        "sent to c1 as #3 (reply to #2)\n"
    );
    assert_eq!(
        ok(
            a,
            url,
            "alice",
            &["send", "rust", "--reply-to", "3", "how are you?"]
        ),
        "sent to c1 as #4 (reply to #3)\n"
    );
    // A reply to a seq that is no text: the server's answer, exit 1.
    let (code, err) = fails(b, url, "bob", &["send", "rust", "--reply-to", "99", "x"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.starts_with("convo: error: replying to #99: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    assert_eq!(
        ok(b, url, "bob", &["react", "rust", "2", "👍"]),
        "reacted 👍 on #2 in c1 (#5)\n"
    );
    assert_eq!(
        ok(a, url, "alice", &["react", "rust", "2", "👍"]),
        "reacted 👍 on #2 in c1 (#6)\n"
    );
    assert_eq!(
        ok(a, url, "alice", &["react", "rust", "2", ":tada:"]),
        "reacted 🎉 on #2 in c1 (#7)\n"
    );
    // The same reaction again (as the emoji: `:tada:` was sent as 🎉, as
    // the TUI's picker sends it): the server's conflict.
    let (code, err) = fails(a, url, "alice", &["react", "rust", "2", "🎉"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.starts_with("convo: error: reacting: "), "{err}");
    // A key with a space never leaves the client.
    let (code, err) = fails(a, url, "alice", &["react", "rust", "2", "a b"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        ok(
            a,
            url,
            "alice",
            &["react", "rust", "2", ":tada:", "--remove"]
        ),
        "removed 🎉 on #2 in c1 (#8)\n"
    );
    let (code, err) = fails(
        a,
        url,
        "alice",
        &["react", "rust", "2", ":tada:", "--remove"],
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "convo: error: you have no 🎉 reaction on #2 in c1; nothing was removed\n"
    );

    // The thread, as bob sees it: root (with its totals), both replies.
    let thread = json(&ok(b, url, "bob", &["thread", "rust", "2", "--json"]));
    let items: Vec<Value> = thread.as_array().unwrap().iter().map(stable).collect();
    assert_eq!(
        items,
        vec![
            json!({"conv":"c1","seq":2,"sender":"alice","kind":"text","body":"hello @bob",
                   "replies":2,"last_reply_seq":4,"mentions":["bob"],"mentions_me":true,
                   "reactions":[{"key":"👍","count":2,"mine":true}]}),
            json!({"conv":"c1","seq":3,"sender":"bob","kind":"text","body":"hi alice",
                   "reply_to":2,"thread":2}),
            json!({"conv":"c1","seq":4,"sender":"alice","kind":"text","body":"how are you?",
                   "reply_to":3,"thread":2}),
        ]
    );
    assert_eq!(
        ok(b, url, "bob", &["thread", "rust", "2"]),
        "#2     alice: hello @bob\n\
         \x20       [👍 2]\n\
         \x20       2 replies, last #4\n\
         \x20 ↳ reply to #2 alice: hello @bob\n\
         #3     bob: hi alice\n\
         \x20 ↳ reply to #3 bob: hi alice\n\
         #4     alice: how are you?\n"
    );
    // Alice's view: her 👍 is hers, bob's is not.
    let thread = json(&ok(a, url, "alice", &["thread", "rust", "3", "--json"]));
    assert_eq!(
        thread[0]["reactions"],
        json!([{"key":"👍","count":2,"mine":true}])
    );
    assert_eq!(thread[0]["seq"], json!(2), "a reply's thread is its root's");
    // No such root.
    let (code, err) = fails(b, url, "bob", &["thread", "rust", "1"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with("convo: error: loading the thread of #1: "),
        "{err}"
    );

    // show --json: the same fields, and the reaction entries themselves.
    let shown = json(&ok(b, url, "bob", &["show", "rust", "--json"]));
    let items: Vec<Value> = shown.as_array().unwrap().iter().map(stable).collect();
    // 1–8: the reply to #99 the server refused is not kept.
    assert_eq!(items.len(), 8, "{shown}");
    assert_eq!(
        items[1],
        json!({"conv":"c1","seq":2,"sender":"alice","kind":"text","body":"hello @bob",
               "replies":2,"last_reply_seq":4,"mentions":["bob"],"mentions_me":true,
               "reactions":[{"key":"👍","count":2,"mine":true}]})
    );
    assert_eq!(
        items[3],
        json!({"conv":"c1","seq":4,"sender":"alice","kind":"text","body":"how are you?",
               "reply_to":3,"thread":2})
    );
    assert_eq!(
        items[4],
        json!({"conv":"c1","seq":5,"sender":"bob","kind":"reaction","body":null,
               "key":"👍","target":2})
    );
    assert_eq!(
        (&items[6]["kind"], &items[6]["key"], &items[6]["target"]),
        (&json!("reaction"), &json!("🎉"), &json!(2))
    );
    assert_eq!(
        items[7],
        json!({"conv":"c1","seq":8,"sender":"alice","kind":"redact","body":null})
    );
    // show text: reply markers and reactions.
    let text = ok(a, url, "alice", &["show", "rust", "--limit", "4"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "#5     bob: * reacted 👍 to #2",
            "#6     alice: * reacted 👍 to #2",
            "#7     alice: * reacted 🎉 to #2",
            "#8     alice: * deleted #7",
        ],
        "{text}"
    );

    // --no-wait queues a reply; the next connection sends it.
    let queued = ok(
        a,
        url,
        "alice",
        &["send", "rust", "--reply-to", "2", "--no-wait", "later"],
    );
    assert!(queued.starts_with("queued in c1 ("), "{queued}");
    let synced = ok(a, url, "alice", &["sync"]);
    assert!(synced.contains(" 1 sent, 0 pending"), "{synced}");
    assert_eq!(
        ok(
            a,
            url,
            "alice",
            &["send", "rust", "--reply-to", "9", "and the last"]
        ),
        "sent to c1 as #10 (reply to #9)\n"
    );
    let thread = json(&ok(b, url, "bob", &["thread", "rust", "10", "--json"]));
    let seqs: Vec<_> = thread
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["seq"].clone(), m["reply_to"].clone(), m["thread"].clone()))
        .collect();
    assert_eq!(
        seqs,
        [
            (json!(2), json!(null), json!(null)),
            (json!(3), json!(2), json!(2)),
            (json!(4), json!(3), json!(2)),
            (json!(9), json!(2), json!(2)),
            (json!(10), json!(9), json!(2)),
        ]
    );
    assert_eq!(
        (&thread[0]["replies"], &thread[0]["last_reply_seq"]),
        (&json!(4), &json!(10))
    );
}

#[test]
fn mentions_and_the_list() {
    let (server, a, b) = setup();
    let url = &server.url;
    let (a, b) = (a.path(), b.path());
    ok(a, url, "alice", &["send", "rust", "ping @bob"]);
    ok(a, url, "alice", &["send", "rust", "no mention"]);
    let list = json(&ok(b, url, "bob", &["list", "--json"]));
    let row = &list[0];
    assert_eq!(
        (
            &row["conv"],
            &row["unread"],
            &row["mentions"],
            &row["notify"],
            &row["pinned"],
            &row["archived"]
        ),
        (
            &json!("c1"),
            &json!(2),
            &json!(1),
            &json!("all"),
            &json!(false),
            &json!(false)
        )
    );
    let text = ok(b, url, "bob", &["list"]);
    assert_eq!(
        text,
        "  c1     group  rust                  2 unread @1 #3     alice: no mention\n"
    );
    assert_eq!(
        ok(b, url, "bob", &["read", "rust"]),
        "c1 read up to #3 (0 unread)\n"
    );
    let list = json(&ok(b, url, "bob", &["list", "--json"]));
    assert_eq!(
        (&list[0]["unread"], &list[0]["mentions"]),
        (&json!(0), &json!(0))
    );
}

#[test]
fn settings_reach_other_devices_and_order_the_list() {
    let (server, a, b) = setup();
    let url = &server.url;
    let (a, b) = (a.path(), b.path());
    ok(a, url, "alice", &["send", "rust", "one"]);
    ok(a, url, "alice", &["send", "@bob", "two"]); // c2, newer activity
    assert_eq!(
        ok(b, url, "bob", &["settings", "rust"]),
        "c1 rust: notify all, not pinned, not archived\n"
    );
    let order = |data: &Path| -> Vec<Value> {
        let list = json(&ok(data, url, "bob", &["list", "--json"]));
        list.as_array()
            .unwrap()
            .iter()
            .map(|r| r["conv"].clone())
            .collect()
    };
    assert_eq!(order(b), [json!("c2"), json!("c1")]);
    assert_eq!(
        json(&ok(
            b,
            url,
            "bob",
            &[
                "settings", "rust", "--notify", "mentions", "--pin", "--json"
            ]
        )),
        json!({"conv":"c1","title":"rust","notify":"mentions","pinned":true,"archived":false})
    );
    // Pinned first.
    assert_eq!(order(b), [json!("c1"), json!("c2")]);
    let text = ok(b, url, "bob", &["list"]);
    assert!(text.starts_with("P c1     group  rust"), "{text}");
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with("  c2     direct alice"),
        "{text}"
    );

    // Bob's second device (its own store) has the same settings.
    let b2 = tempfile::tempdir().unwrap();
    let out = convo_cmd(b2.path())
        .args(["--server", url, "--user", "bob", "login"])
        .env("CONVO_PASSWORD", "correct horse battery")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        ok(b2.path(), url, "bob", &["settings", "c1"]),
        "c1 rust: notify mentions, pinned, not archived\n"
    );
    // Alice's settings are her own.
    assert_eq!(
        ok(a, url, "alice", &["settings", "rust"]),
        "c1 rust: notify all, not pinned, not archived\n"
    );

    // Archived: out of the main list, in --archived and at the end of --all.
    assert_eq!(
        ok(
            b2.path(),
            url,
            "bob",
            &["settings", "rust", "--archive", "--unpin"]
        ),
        "c1 rust: notify mentions, not pinned, archived\n"
    );
    assert_eq!(order(b), [json!("c2")]);
    let archived = json(&ok(b, url, "bob", &["list", "--archived", "--json"]));
    assert_eq!(archived.as_array().unwrap().len(), 1);
    assert_eq!(
        (
            &archived[0]["conv"],
            &archived[0]["archived"],
            &archived[0]["pinned"]
        ),
        (&json!("c1"), &json!(true), &json!(false))
    );
    let all = ok(b, url, "bob", &["list", "--all"]);
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 2, "{all}");
    assert!(lines[0].starts_with("  c2 "), "{all}");
    assert!(lines[1].starts_with("A c1 "), "{all}");
    // An archived conversation is still a target.
    assert_eq!(
        ok(b, url, "bob", &["settings", "rust", "--unarchive"]),
        "c1 rust: notify mentions, not pinned, not archived\n"
    );
    assert_eq!(order(b), [json!("c2"), json!("c1")]);

    // Usage errors: exit 2.
    for args in [
        &["settings", "rust", "--pin", "--unpin"][..],
        &["settings", "rust", "--archive", "--unarchive"],
        &["settings", "rust", "--notify", "loud"],
        &["list", "--all", "--archived"],
    ] {
        assert_eq!(
            convo(b, url, "bob", args).status.code(),
            Some(2),
            "{args:?}"
        );
    }
}
