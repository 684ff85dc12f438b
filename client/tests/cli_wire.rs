//! The `convo` commands' frames, read against PROTOCOL.md through the frame-logging proxy
//! (`conformance::proxy`, `conformance::wire_check`): every command a user scripts, against a
//! server with every §9 feature and against a version 1 server. Each command is its own
//! process and connection, so the reconnect-storm rule (one long-lived client) is off here,
//! and a command must not hang up before its writes are answered.

mod cli_support;

use std::time::Duration;

use cli_support::{TestServer, ok, register};
use conformance::proxy::{Direction, Faults, Logged, Proxy};
use conformance::wire_check::{self, Limits};

/// Runs a scripted CLI session through a recording proxy and returns the log.
fn scripted(features: server_mock::Features) -> Vec<Logged> {
    let srv = TestServer::start_features(features);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let proxy = rt
        .block_on(Proxy::start(srv.addr, Faults::none(), 1))
        .unwrap();
    let log = proxy.record();
    let url = proxy.url();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (a.path(), b.path());
    register(a, &url, "alice");
    register(b, &url, "bob");
    ok(a, &url, "alice", &["create-group", "rust", "bob"]);
    ok(a, &url, "alice", &["send", "rust", "hello @bob"]);
    ok(b, &url, "bob", &["show", "rust"]);
    ok(b, &url, "bob", &["read", "rust"]);
    if features != server_mock::Features::NONE {
        ok(
            b,
            &url,
            "bob",
            &["send", "rust", "--reply-to", "2", "a reply"],
        );
        ok(a, &url, "alice", &["react", "rust", "2", "👍"]);
        ok(a, &url, "alice", &["thread", "rust", "2"]);
        ok(a, &url, "alice", &["settings", "rust", "--pin"]);
    }
    ok(a, &url, "alice", &["list"]);
    ok(a, &url, "alice", &["sync"]);
    std::thread::sleep(Duration::from_millis(200));
    let lines = log.lines();
    rt.block_on(proxy.shutdown());
    srv.stop();
    lines
}

fn findings(lines: &[Logged]) -> Vec<String> {
    let limits = Limits {
        connects_per_sec: usize::MAX / 2,
        // A command that prints "done" must have its write answered first.
        unanswered_writes: true,
        ..Limits::default()
    };
    wire_check::check_with(lines, &limits)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn request_types(lines: &[Logged]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.json(Direction::Up))
        .filter_map(|v| Some(v.get("type")?.as_str()?.to_owned()))
        .collect()
}

#[test]
fn cli_commands_are_exactly_to_spec_against_a_full_server() {
    let lines = scripted(server_mock::Features::ALL);
    let types = request_types(&lines);
    for t in [
        "register", "auth", "create", "send", "read", "react", "thread", "settings",
    ] {
        assert!(types.iter().any(|x| x == t), "no `{t}` in {types:?}");
    }
    assert_eq!(findings(&lines), Vec::<String>::new());
}

#[test]
fn cli_commands_are_exactly_to_spec_against_a_version_1_server() {
    let lines = scripted(server_mock::Features::NONE);
    assert_eq!(findings(&lines), Vec::<String>::new());
}
