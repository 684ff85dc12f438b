//! The CLI against a pure protocol 1 server (`server-mock --features none`):
//! the main flows work exactly as before, the §9 fields keep their v1
//! values, and the protocol 1.1 commands say the server does not support
//! them (exit 3) without changing anything.
#![cfg(feature = "wired")]

mod cli_support;

use std::path::Path;

use cli_support::{TestServer, convo, json, ok, register};
use serde_json::json;

fn v1() -> (TestServer, tempfile::TempDir, tempfile::TempDir) {
    let server = TestServer::start_features(server_mock::Features::NONE);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    register(a.path(), &server.url, "alice");
    register(b.path(), &server.url, "bob");
    (server, a, b)
}

/// Runs a command that must be refused as unsupported; returns stderr.
fn unsupported(data: &Path, url: &str, user: &str, args: &[&str]) -> String {
    let out = convo(data, url, user, args);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?}");
    err
}

#[test]
fn main_flows_work_against_a_v1_server() {
    let (server, a, b) = v1();
    let url = &server.url;
    let (a, b) = (a.path(), b.path());
    assert_eq!(
        ok(a, url, "alice", &["create-group", "rust", "bob"]),
        "c1\n"
    );
    assert_eq!(
        ok(a, url, "alice", &["send", "rust", "hello @bob"]),
        "sent to c1 as #2\n"
    );
    assert_eq!(
        ok(a, url, "alice", &["send", "@bob", "psst"]),
        "sent to c2 as #2\n"
    );
    // list: the §9 fields at their v1 values (no mention counted: the
    // server parses none), newest first.
    let list = json(&ok(b, url, "bob", &["list", "--json"]));
    let rows: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r["conv"],
                r["unread"],
                r["mentions"],
                r["notify"],
                r["pinned"],
                r["archived"]
            ])
        })
        .collect();
    assert_eq!(
        rows,
        [
            json!(["c2", 1, 0, "all", false, false]),
            json!(["c1", 1, 0, "all", false, false])
        ]
    );
    assert_eq!(
        ok(b, url, "bob", &["list"]),
        "  c2     direct alice                    1 unread #2     alice: psst\n\
         \x20 c1     group  rust                     1 unread #2     alice: hello @bob\n"
    );
    // show: exactly the v1 fields.
    let shown = json(&ok(b, url, "bob", &["show", "rust", "--json"]));
    let mut text = shown[1].clone();
    text.as_object_mut().unwrap().remove("ts");
    text.as_object_mut().unwrap().remove("client_id");
    assert_eq!(
        text,
        json!({"conv":"c1","seq":2,"sender":"alice","kind":"text","body":"hello @bob"})
    );
    assert_eq!(
        ok(b, url, "bob", &["show", "rust"]),
        "#1     alice: * created rust\n#2     alice: hello @bob\n"
    );
    assert_eq!(
        ok(b, url, "bob", &["read", "rust"]),
        "c1 read up to #2 (0 unread)\n"
    );
    assert_eq!(
        ok(b, url, "bob", &["send", "rust", "hi"]),
        "sent to c1 as #3\n"
    );
    let hits = json(&ok(b, url, "bob", &["search", "hello", "--json"]));
    assert_eq!(
        (&hits[0]["conv"], &hits[0]["title"], &hits[0]["seq"]),
        (&json!("c1"), &json!("rust"), &json!(2))
    );
    let synced = ok(a, url, "alice", &["sync"]);
    assert!(
        synced.starts_with("synced 2 conversation(s): ")
            && synced.ends_with(" 0 sent, 0 pending\n"),
        "{synced}"
    );
}

#[test]
fn new_commands_say_the_server_does_not_support_them() {
    let (server, a, b) = v1();
    let url = &server.url;
    let (a, b) = (a.path(), b.path());
    ok(a, url, "alice", &["create-group", "rust", "bob"]);
    ok(a, url, "alice", &["send", "rust", "hello"]);
    assert_eq!(
        unsupported(b, url, "bob", &["send", "rust", "--reply-to", "2", "hi"]),
        "convo: error: the server does not support replies and threads (protocol 1.1 `reply` is not in its hello.features); nothing was changed\n"
    );
    assert_eq!(
        unsupported(b, url, "bob", &["react", "rust", "2", "👍"]),
        "convo: error: the server does not support reactions (protocol 1.1 `reactions` is not in its hello.features); nothing was changed\n"
    );
    unsupported(b, url, "bob", &["react", "rust", "2", "👍", "--remove"]);
    // This store knows the server from the runs above: --no-wait too.
    unsupported(
        b,
        url,
        "bob",
        &["send", "rust", "--reply-to", "2", "--no-wait", "hi"],
    );
    unsupported(b, url, "bob", &["thread", "rust", "2"]);
    unsupported(b, url, "bob", &["thread", "rust", "2", "--json"]);
    assert_eq!(
        unsupported(b, url, "bob", &["settings", "rust"]),
        "convo: error: the server does not support conversation settings (protocol 1.1 `settings` is not in its hello.features); nothing was changed\n"
    );
    unsupported(b, url, "bob", &["settings", "rust", "--pin"]);
    // Nothing was queued or sent: the timeline is as alice left it.
    let shown = json(&ok(b, url, "bob", &["show", "rust", "--json"]));
    assert_eq!(shown.as_array().unwrap().len(), 2, "{shown}");
    let synced = ok(b, url, "bob", &["sync"]);
    assert!(synced.ends_with(" 0 sent, 0 pending\n"), "{synced}");
    // §9.6 `account` too: passwd and logout --all change nothing.
    let out = cli_support::convo_cmd(b)
        .args(["--server", url, "--user", "bob", "passwd"])
        .env("CONVO_PASSWORD", "correct horse battery")
        .env("CONVO_NEW_PASSWORD", "another horse battery")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "convo: error: the server does not support password changes and signing out everywhere (protocol 1.1 `account` is not in its hello.features); nothing was changed\n"
    );
    unsupported(b, url, "bob", &["logout", "--all"]);
    assert!(
        ok(b, url, "bob", &["whoami"]).ends_with(": logged in\n"),
        "the session is kept"
    );
    // The archive is empty, and `list --all` is the plain list.
    assert_eq!(
        ok(b, url, "bob", &["list", "--archived"]),
        "no conversations\n"
    );
    assert_eq!(
        ok(b, url, "bob", &["list", "--all", "--json"]),
        ok(b, url, "bob", &["list", "--json"])
    );
}
