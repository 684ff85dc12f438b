//! What a script piping `convo` sees: a reader that goes away early ends
//! the command quietly, and `--local` works for every command.
#![cfg(feature = "wired")]

mod cli_support;

use cli_support::{TestServer, alice_and_bob, convo_cmd, ok};
use tempfile::TempDir;

/// A server with alice and bob registered; with `ops`, alice's group
/// `ops` with bob (`c1`).
struct Setup {
    _server: TestServer,
    url: String,
    a: TempDir,
    b: TempDir,
}

fn setup(ops: bool) -> Setup {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let (a, b) = alice_and_bob(&url);
    if ops {
        assert_eq!(
            ok(a.path(), &url, "alice", &["create-group", "ops", "bob"]),
            "c1\n"
        );
    }
    Setup {
        _server: server,
        url,
        a,
        b,
    }
}

/// `convo show ops | head -1`: the reader is gone before convo writes. The
/// command ends with 141 (as if SIGPIPE ended it) and no panic message
/// (it panicked with "failed printing to stdout: Broken pipe", exit 101).
#[test]
fn a_reader_that_went_away_ends_the_command_quietly() {
    let Setup {
        _server,
        url,
        a,
        b: _b,
    } = setup(true);
    ok(a.path(), &url, "alice", &["send", "ops", "one\ntwo\nthree"]);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = convo_cmd(a.path())
        .args(["--server", &url, "--user", "alice", "show", "ops"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(141));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// `convo --local status` reports the in-process server (it said "no
/// account" and exited 1).
#[test]
fn status_reports_the_local_server() {
    let d = tempfile::tempdir().unwrap();
    let out = convo_cmd(d.path())
        .args(["--local", "--port", "0", "--user", "carol", "status"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.starts_with("carol on ws://127.0.0.1:"), "{line}");
    assert!(line.ends_with("/v1: live (0 pending)\n"), "{line}");
}

/// Two groups share a title: naming it is refused with both ids (the
/// older one was picked silently); the id still works.
#[test]
fn a_title_two_groups_share_is_refused_with_their_ids() {
    let Setup {
        _server,
        url,
        a,
        b: _b,
    } = setup(true);
    assert_eq!(
        ok(a.path(), &url, "alice", &["create-group", "Ops", "bob"]),
        "c2\n"
    );
    let out = cli_support::convo(a.path(), &url, "alice", &["send", "ops", "hi"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "convo: error: 2 conversations are titled \"ops\" (c1, c2): name one by its id\n"
    );
    assert_eq!(
        ok(a.path(), &url, "alice", &["send", "c2", "hi"]),
        "sent to c2 as #2\n"
    );
}

/// `passwd` with the current password in the environment but no new one
/// names what is missing.
#[test]
fn passwd_without_a_new_password_names_it() {
    let Setup {
        _server,
        url,
        a,
        b: _b,
    } = setup(false);
    let out = convo_cmd(a.path())
        .args(["--server", &url, "--user", "alice", "passwd"])
        .env("CONVO_PASSWORD", "correct horse battery")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "convo: error: no new password: set CONVO_NEW_PASSWORD (with CONVO_PASSWORD), or give both on stdin with --password-stdin (stdin is not a terminal)\n"
    );
}

/// After `leave`, the group's history stays readable: `show` and `thread`
/// print what is held (the server refuses a former member's pulls with
/// `not_found`, which made both fail online).
#[test]
fn a_group_left_still_shows_and_threads_what_is_held() {
    let Setup { _server, url, a, b } = setup(true);
    ok(b.path(), &url, "bob", &["send", "c1", "first"]);
    ok(
        b.path(),
        &url,
        "bob",
        &["send", "c1", "second", "--reply-to", "2"],
    );
    ok(a.path(), &url, "alice", &["show", "ops"]);
    ok(a.path(), &url, "alice", &["leave", "ops"]);
    let shown = ok(a.path(), &url, "alice", &["show", "ops"]);
    let thread = ok(a.path(), &url, "alice", &["thread", "ops", "2"]);
    assert_eq!(
        shown,
        "#1     alice: * created ops\n\
         #2     bob: first\n        1 reply, last #3\n\
         \x20 ↳ reply to #2 bob: first\n\
         #3     bob: second\n\
         … 1 message not loaded (#4–#4) …\n"
    );
    assert_eq!(
        thread,
        "#2     bob: first\n        1 reply, last #3\n\
         \x20 ↳ reply to #2 bob: first\n\
         #3     bob: second\n"
    );
}
