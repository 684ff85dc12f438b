//! `--server URL1,URL2`: convo fails over from a URL with nothing listening
//! to a live server-mock, remembers the list with the account, and
//! `convo status --json` says which URL answered.
#![cfg(feature = "wired")]

mod cli_support;

use cli_support::{TestServer, convo, convo_cmd, json, ok, register, register_output};
use serde_json::json;

/// Runs convo with `args` only (no --server or --user: the remembered
/// account) and requires exit 0; returns stdout.
fn plain_ok(data: &std::path::Path, args: &[&str]) -> String {
    let out = convo_cmd(data).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "convo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A loopback URL with nothing listening: a port bound, then released.
fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("ws://{}/v1", l.local_addr().unwrap())
}

#[test]
fn send_and_status_fail_over_from_a_dead_url_to_the_live_one() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let live = server.url.clone();
    let dead = dead_url();
    let both = format!("{dead},{live}");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    register(b.path(), &live, "bob");

    // Registering through the list: the live URL answers, and says so.
    assert_eq!(
        register_output(a.path(), &both, "alice"),
        format!("registered alice on {live}\n")
    );

    let sent = ok(a.path(), &both, "alice", &["send", "@bob", "hi bob"]);
    assert!(
        sent.starts_with("sent to ") && sent.ends_with(" as #2\n"),
        "{sent:?}"
    );
    let shown = json(&ok(b.path(), &live, "bob", &["show", "@alice", "--json"]));
    let last = &shown.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["seq"], &last["sender"], &last["body"]),
        (&json!(2), &json!("alice"), &json!("hi bob"))
    );

    // The profile keeps the list: plain commands use it, without --server.
    let who = json(&plain_ok(a.path(), &["whoami", "--json"]));
    assert_eq!(who["server"], json!(dead));
    assert_eq!(who["servers"], json!([dead, live]));
    let status = json(&plain_ok(a.path(), &["status", "--json"]));
    assert_eq!(status["server"], json!(live));
    assert_eq!(status["servers"], json!([dead, live]));
    assert_eq!(
        (
            &status["user"],
            &status["state"],
            &status["pending"],
            &status["error"]
        ),
        (&json!("alice"), &json!("live"), &json!(0), &json!(null))
    );
    let again = plain_ok(a.path(), &["send", "@bob", "again"]);
    assert!(again.ends_with(" as #3\n"), "{again:?}");
}

#[test]
fn every_url_dead_is_one_error_naming_the_list_and_an_empty_entry_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (d1, d2) = (dead_url(), dead_url());
    let both = format!("{d1},{d2}");
    let out = convo_cmd(dir.path())
        .args(["--server", &both, "--user", "alice", "login"])
        .env("CONVO_PASSWORD", "correct horse battery")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with(&format!(
            "convo: error: logging in as alice on {both}: cannot reach {d2}: "
        )),
        "{err}"
    );

    let out = convo(dir.path(), &format!("{d1},"), "alice", &["list"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "convo: error: empty server URL in \"{d1},\": give one URL, or several separated by commas\n"
        )
    );
}
