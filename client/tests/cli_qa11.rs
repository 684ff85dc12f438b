//! Bugs found using convo as a user would (QA round 11), through the real
//! `convo` binary against an in-process server-mock.

mod cli_support;

use cli_support::*;

/// A conversation archived on a protocol 1.1 server vanished from `convo
/// list` once the server came back without `settings` (a version 1 server,
/// or one that dropped the feature): the stored archived flag still hid it,
/// and nothing could unarchive it. The docs say such a server's
/// conversations read as `notify all`, not pinned, not archived.
#[test]
fn settings_stored_from_a_v11_server_do_not_hide_conversations_on_a_v1_server() {
    let db_dir = tempfile::tempdir().unwrap();
    let db = db_dir.path().join("server.db");
    let server = TestServer::start_on(
        "127.0.0.1:0".parse().unwrap(),
        db.clone(),
        server_mock::Features::ALL,
    );
    let (url, addr) = (server.url.clone(), server.addr);
    let (a, _b) = alice_and_bob(&url);
    let a = a.path();
    assert_eq!(
        ok(a, &url, "alice", &["create-group", "ops", "bob"]),
        "c1\n"
    );
    ok(a, &url, "alice", &["settings", "ops", "--archive", "--pin"]);
    assert_eq!(ok(a, &url, "alice", &["list"]), "no conversations\n");
    server.stop();

    let v1 = TestServer::start_on(addr, db.clone(), server_mock::Features::NONE);
    let list = ok(a, &url, "alice", &["list"]);
    assert!(list.contains("c1     group  ops"), "{list}");
    assert!(!list.starts_with('A') && !list.starts_with('P'), "{list}");
    let rows = json(&ok(a, &url, "alice", &["list", "--json"]));
    assert_eq!(
        (&rows[0]["notify"], &rows[0]["pinned"], &rows[0]["archived"]),
        (
            &serde_json::json!("all"),
            &serde_json::json!(false),
            &serde_json::json!(false)
        )
    );

    // The server serves settings again: they were kept, not erased.
    v1.stop();
    let _again = TestServer::start_on(addr, db, server_mock::Features::ALL);
    assert_eq!(ok(a, &url, "alice", &["list"]), "no conversations\n");
    let rows = json(&ok(a, &url, "alice", &["list", "--archived", "--json"]));
    assert_eq!(
        (&rows[0]["conv"], &rows[0]["pinned"], &rows[0]["archived"]),
        (
            &serde_json::json!("c1"),
            &serde_json::json!(true),
            &serde_json::json!(true)
        )
    );
}
