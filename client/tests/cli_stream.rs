//! `convo tail --json` streaming and `convo --local` zero-set-up runs.
#![cfg(feature = "wired")]

mod cli_support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use cli_support::{TestServer, alice_and_bob, convo_cmd, json, ok};
use serde_json::json;

#[test]
fn tail_streams_other_peoples_messages_as_json_lines() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let (a, b) = alice_and_bob(&url);
    assert_eq!(
        ok(a.path(), &url, "alice", &["create-group", "news", "bob"]),
        "c1\n"
    );

    // Live before anything is sent, so the message below cannot be missed.
    let (mut tail, mut out) = start_tail(b.path(), &url, "bob", Some("news"));

    // Bob's own text, sent by another convo process, is not a message by
    // others: tail leaves it out (the token is not in the store, so the
    // stream alone cannot tell it is his).
    ok(b.path(), &url, "bob", &["send", "news", "my own"]);
    ok(a.path(), &url, "alice", &["send", "news", "extra extra"]);
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    tail.kill().unwrap();
    let _ = tail.wait();
    let msg = json(&first);
    assert_eq!(
        (
            &msg["conv"],
            &msg["seq"],
            &msg["sender"],
            &msg["kind"],
            &msg["body"]
        ),
        (
            &json!("c1"),
            &json!(3),
            &json!("alice"),
            &json!("text"),
            &json!("extra extra")
        )
    );
}

/// Invited to a group, `tail` prints what is said from the invite on, not
/// the group's history from before it (it printed that history first).
#[test]
fn tail_after_an_invite_starts_at_the_invite() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let (a, b) = alice_and_bob(&url);
    assert_eq!(
        ok(a.path(), &url, "alice", &["create-group", "old", "bob"]),
        "c1\n"
    );
    let (mut tail, mut out) = start_tail(b.path(), &url, "bob", None);
    assert_eq!(
        ok(a.path(), &url, "alice", &["create-group", "later"]),
        "c2\n"
    );
    ok(
        a.path(),
        &url,
        "alice",
        &["send", "later", "before bob came"],
    );
    ok(a.path(), &url, "alice", &["invite", "later", "bob"]);
    ok(a.path(), &url, "alice", &["send", "later", "welcome bob"]);
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    tail.kill().unwrap();
    let _ = tail.wait();
    let msg = json(&first);
    assert_eq!(
        (&msg["conv"], &msg["body"]),
        (&json!("c2"), &json!("welcome bob"))
    );
}

#[test]
fn local_runs_its_own_server_and_keeps_the_account() {
    let d = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        convo_cmd(d.path())
            .args(["--local", "--port", "0", "--user", "carol"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["list", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[]\n");
    let err = String::from_utf8(out.stderr).unwrap();
    let join = err
        .lines()
        .find(|l| l.starts_with("convo: others can join with: convo --server ws://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no join hint in {err:?}"));
    assert!(join.ends_with("/v1 --user NAME"), "{join}");

    // The generated password is kept with the token, privately.
    let token_file = d
        .path()
        .join(client::config::server_hash("local"))
        .join("carol.token");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let secret: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&token_file).unwrap()).unwrap();
    assert_eq!(secret["password"].as_str().map(str::len), Some(24));

    // A second run (another port) reuses the account, the database and the cache.
    let out = run(&["create-group", "notes"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "c1\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["send", "notes", "remember the milk"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "sent to c1 as #2\n");
    let list = json(&String::from_utf8(run(&["list", "--json"]).stdout).unwrap());
    assert_eq!(list[0]["title"], json!("notes"));
    assert_eq!(list[0]["preview"]["body"], json!("remember the milk"));
    // whoami names the --local account instead of saying there is none.
    let out = run(&["whoami"]);
    let who = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(who.starts_with("carol on ws://127.0.0.1:"), "{who}");
    assert!(who.ends_with("/v1 (--local): logged in\n"), "{who}");
}

#[test]
fn a_second_local_run_joins_the_running_server() {
    let d = tempfile::tempdir().unwrap();
    // The owner: a long-running `tail` that started the server.
    let mut owner = convo_cmd(d.path())
        .args([
            "--local", "--port", "0", "--user", "carol", "tail", "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(owner.stderr.take().unwrap());
    let mut url = None;
    loop {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "owner exited");
        if let Some(rest) = line.strip_prefix("convo: local server on ") {
            url = rest.split(' ').next().map(str::to_owned);
        }
        if line.starts_with("convo: tailing") {
            break;
        }
    }
    let url = url.expect("owner printed its URL");

    // The joiner (no --port): same data dir, so it must not open a second
    // server on the same database.
    let out = convo_cmd(d.path())
        .args(["--local", "--user", "dave", "send", "@carol", "hi carol"])
        .output()
        .unwrap();
    let joiner_err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{joiner_err}");
    assert!(
        joiner_err.contains(&format!(
            "joining the local server already running on {url}"
        )),
        "{joiner_err}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "sent to c1 as #2\n");

    // With --port it would open a second server on the same database: the
    // owner's lock refuses it, on the first port, with the owner's pid.
    let out = convo_cmd(d.path())
        .args(["--local", "--port", "0", "--user", "erin", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let db = d.path().join("local-server").join("server.db");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).lines().last(),
        Some(
            format!(
                "convo: error: could not start the local server: open database: another server-mock (pid {}) is serving {}: one SQLite database serves one server at a time (several nodes share a PostgreSQL database)",
                owner.id(),
                db.display()
            )
            .as_str()
        )
    );

    let mut first = String::new();
    BufReader::new(owner.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    owner.kill().unwrap();
    let _ = owner.wait();
    let msg = json(&first);
    assert_eq!(
        (&msg["conv"], &msg["sender"], &msg["body"]),
        (&json!("c1"), &json!("dave"), &json!("hi carol"))
    );
}

/// Starts `convo tail [TARGET] --json` for `user` and waits until it is
/// live.
fn start_tail(
    data: &std::path::Path,
    url: &str,
    user: &str,
    target: Option<&str>,
) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let mut tail = convo_cmd(data)
        .args(["--server", url, "--user", user, "tail"])
        .args(target)
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(tail.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert_eq!(line, "convo: tailing new messages (Ctrl-C to stop)\n");
    let out = BufReader::new(tail.stdout.take().unwrap());
    (tail, out)
}

#[test]
fn show_fills_every_hole_and_names_the_ones_it_cannot() {
    let db = tempfile::tempdir().unwrap();
    let db_file = db.path().join("server.db");
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), Some(db_file.clone()));
    let (url, addr) = (server.url.clone(), server.addr);
    let (a, b) = alice_and_bob(&url);
    assert_eq!(
        ok(b.path(), &url, "bob", &["create-group", "news", "alice"]),
        "c1\n"
    );
    // Short runs store the pushes they see; what is posted between runs is
    // missed: alice's store of the (lazy) group ends up with ten holes.
    let mut expected = Vec::new();
    for round in 0..10 {
        let (mut tail, mut out) = start_tail(a.path(), &url, "alice", Some("news"));
        let seen = format!("seen {round}");
        ok(b.path(), &url, "bob", &["send", "news", &seen]);
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(json(&line)["body"], seen.as_str());
        tail.kill().unwrap();
        let _ = tail.wait();
        expected.push(seen);
        for k in 0..2 {
            let missed = format!("missed {round}.{k}");
            ok(
                b.path(),
                &url,
                "bob",
                &["send", "news", &missed, "--no-wait"],
            );
            expected.push(missed);
        }
        ok(b.path(), &url, "bob", &["sync"]);
    }
    // Offline, the holes are explicit items, never silently skipped.
    server.stop();
    let show = |args: &[&str]| {
        let out = convo_cmd(a.path())
            .args([
                "--server", &url, "--user", "alice", "show", "news", "--limit", "100",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let items = json(&show(&["--json"]));
    let gaps: Vec<&serde_json::Value> = items
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i.get("gap").is_some())
        .collect();
    // The create event (never pulled: the group is lazy) and nine missed
    // pairs; the last pair was posted after alice's last run, unknown to her.
    assert_eq!(gaps.len(), 10, "{items}");
    assert_eq!(gaps[0]["gap"], json!({"from": 1, "to": 1}), "{items}");
    assert_eq!(gaps[1]["gap"], json!({"from": 3, "to": 4}), "{items}");
    assert!(show(&[]).contains("… 2 messages not loaded (#3–#4) …"));
    // Online again (same database), the whole window prints, in order.
    let _server = TestServer::start(addr, Some(db_file));
    let items = json(&show(&["--json"]));
    let bodies: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "text")
        .map(|i| i["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, expected, "{items}");
    assert!(!items.to_string().contains("\"gap\""), "{items}");
}
