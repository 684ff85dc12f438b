//! `convo invite|leave|rename|edit|delete` against a real server-mock: what
//! a script sees, exactly, and refusals in one line.
#![cfg(feature = "wired")]

mod cli_support;

use cli_support::{TestServer, alice_and_bob, convo, json, ok, register};

/// stderr of a run that must fail with exit 1.
fn fails(data: &std::path::Path, url: &str, user: &str, args: &[&str]) -> String {
    let out = convo(data, url, user, args);
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{args:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn members_title_edit_and_delete_from_the_command_line() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let (a, b) = alice_and_bob(&url);
    let c = tempfile::tempdir().unwrap();
    register(c.path(), &url, "carol");

    assert_eq!(
        ok(a.path(), &url, "alice", &["create-group", "ops", "bob"]),
        "c1\n"
    );
    assert_eq!(
        ok(a.path(), &url, "alice", &["send", "ops", "first"]),
        "sent to c1 as #2\n"
    );
    // Edit and delete: mine only, the entry's seq printed.
    assert_eq!(
        ok(
            a.path(),
            &url,
            "alice",
            &["edit", "ops", "2", "first, edited"]
        ),
        "edited #2 in c1 (#3)\n"
    );
    assert_eq!(
        fails(b.path(), &url, "bob", &["edit", "ops", "2", "bob's"]),
        "convo: error: editing #2: server refused edit: forbidden: only the sender may change a message\n"
    );
    assert_eq!(
        fails(b.path(), &url, "bob", &["delete", "ops", "2"]),
        "convo: error: deleting #2: server refused redact: forbidden: only the sender may change a message\n"
    );
    let pending = json(&ok(b.path(), &url, "bob", &["list", "--json"]));
    assert_eq!(pending[0]["pending"], 0, "a refused row is not kept");
    assert_eq!(
        ok(a.path(), &url, "alice", &["delete", "ops", "2"]),
        "deleted #2 in c1 (#4): the content is erased for everyone\n"
    );
    let shown = json(&ok(b.path(), &url, "bob", &["show", "ops", "--json"]));
    let first = shown
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["seq"] == 2)
        .unwrap();
    assert_eq!(
        (&first["redacted"], &first["body"]),
        (&json!(true), &json!(null))
    );

    // Members and title.
    assert_eq!(
        ok(a.path(), &url, "alice", &["invite", "ops", "carol"]),
        "invited carol to c1\n"
    );
    assert_eq!(
        fails(a.path(), &url, "alice", &["invite", "ops", "nobody"]),
        "convo: error: inviting: server refused invite: not_found: no user nobody\n"
    );
    assert_eq!(
        ok(a.path(), &url, "alice", &["rename", "ops", "ops team"]),
        "renamed c1 to ops team\n"
    );
    assert_eq!(
        ok(c.path(), &url, "carol", &["leave", "ops team"]),
        "left c1 (ops team)\n"
    );
    let list = json(&ok(a.path(), &url, "alice", &["list", "--json"]));
    assert_eq!(
        (&list[0]["title"], &list[0]["member_count"]),
        (&json!("ops team"), &json!(2))
    );
    // A direct conversation has no members to change.
    ok(a.path(), &url, "alice", &["send", "@bob", "hi"]);
    assert_eq!(
        fails(a.path(), &url, "alice", &["invite", "@bob", "carol"]),
        "convo: error: c2 is a direct conversation, not a group\n"
    );
}

/// Against a server without §9.5 `redaction`, `delete` does not promise
/// what it cannot know.
#[test]
fn delete_on_a_version_1_server_says_the_content_may_remain() {
    let server = TestServer::start_features(server_mock::Features::NONE);
    let url = server.url.clone();
    let (a, _b) = alice_and_bob(&url);
    assert_eq!(
        ok(a.path(), &url, "alice", &["send", "@bob", "oops"]),
        "sent to c1 as #2\n"
    );
    assert_eq!(
        ok(a.path(), &url, "alice", &["delete", "@bob", "2"]),
        "deleted #2 in c1 (#3): the content may remain on the server (it does not support real deletion)\n"
    );
}

use serde_json::json;

/// `send --json` prints one object a script can read the seq from, for a
/// text, a reply and a queued (`--no-wait`) send.
#[test]
fn send_json_prints_one_object() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let (a, _b) = alice_and_bob(&url);
    assert_eq!(
        ok(a.path(), &url, "alice", &["create-group", "ops", "bob"]),
        "c1\n"
    );
    assert_eq!(
        ok(a.path(), &url, "alice", &["send", "ops", "first", "--json"]),
        "{\"conv\":\"c1\",\"seq\":2}\n"
    );
    assert_eq!(
        ok(
            a.path(),
            &url,
            "alice",
            &["send", "ops", "--reply-to", "2", "second", "--json"]
        ),
        "{\"conv\":\"c1\",\"reply_to\":2,\"seq\":3}\n"
    );
    let queued = json(&ok(
        a.path(),
        &url,
        "alice",
        &["send", "ops", "third", "--no-wait", "--json"],
    ));
    let client_id = queued["client_id"].as_str().unwrap().to_owned();
    assert!(!client_id.is_empty());
    assert_eq!(
        queued,
        serde_json::json!({"conv": "c1", "seq": null, "client_id": client_id, "state": "pending"})
    );
    // The next command flushes it: the queued text is #4.
    let shown = json(&ok(a.path(), &url, "alice", &["show", "ops", "--json"]));
    let last = shown.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["seq"], &last["body"], &last["client_id"]),
        (
            &serde_json::json!(4),
            &serde_json::json!("third"),
            &serde_json::json!(client_id)
        )
    );
}
