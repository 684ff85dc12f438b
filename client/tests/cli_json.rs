//! The scriptable commands against a real server-mock: exact JSON output,
//! exit codes, the offline fallback, the outbox across runs, token file modes.
#![cfg(feature = "wired")]

mod cli_support;

use std::os::unix::fs::PermissionsExt;

use cli_support::{TestServer, alice_and_bob, convo, convo_cmd, json, ok, register};
use serde_json::json;

#[test]
fn version_prints_name_and_version() {
    let out = convo_cmd(std::path::Path::new("/nonexistent"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("convo {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = convo(dir.path(), "ws://127.0.0.1:1/v1", "alice", &["send"]);
    assert_eq!(out.status.code(), Some(2));
    // A limit of 0 is a usage error for `search` as for `show`.
    for args in [
        ["search", "x", "--limit", "0"],
        ["show", "c1", "--limit", "0"],
    ] {
        let out = convo(dir.path(), "ws://127.0.0.1:1/v1", "alice", &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = convo(dir.path(), "ws://127.0.0.1:1/v1", "alice", &["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    // --port only makes sense with --local; --local and --server exclude each other.
    let out = convo_cmd(dir.path())
        .args(["--port", "5", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = convo(
        dir.path(),
        "ws://127.0.0.1:1/v1",
        "alice",
        &["--local", "list"],
    );
    assert_eq!(out.status.code(), Some(2));
    // No command-line password: there is no --password flag to leak via argv.
    let out = convo(
        dir.path(),
        "ws://127.0.0.1:1/v1",
        "alice",
        &["login", "--password", "x"],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_tui_refuses_to_start_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = convo(dir.path(), "ws://127.0.0.1:1/v1", "alice", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "convo: error: the TUI needs a terminal (use a command such as `convo list` in scripts)\n"
    );
}

/// An account never logged in on this machine: every command that needs
/// one says to log in, in one line, exits 1 and leaves no empty store
/// behind (`list` printed "no conversations" and exited 0).
#[test]
fn commands_without_a_session_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 8] = [
        &["sync"],
        &["list"],
        &["list", "--json"],
        &["show", "c1"],
        &["status"],
        &["send", "c1", "hi", "--no-wait"],
        &["search", "hi"],
        &["read", "c1"],
    ];
    for args in commands {
        let out = convo(dir.path(), "ws://127.0.0.1:1/v1", "alice", args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            err,
            "convo: error: not logged in as alice on ws://127.0.0.1:1/v1: run `convo login --server ws://127.0.0.1:1/v1 --user alice` (or `convo register …`)\n",
            "{args:?}"
        );
    }
    let out = convo(
        dir.path(),
        "ws://127.0.0.1:1/v1",
        "alice",
        &["status", "--json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let status = json(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(
        (&status["state"], &status["server"], &status["pending"]),
        (
            &serde_json::json!("offline"),
            &serde_json::Value::Null,
            &serde_json::json!(0)
        )
    );
    assert!(
        status["error"]
            .as_str()
            .unwrap()
            .starts_with("not logged in as alice"),
        "{status}"
    );
    let mut files: Vec<String> = walk(dir.path());
    files.retain(|f| f.ends_with(".db") || f.contains(".db-"));
    assert_eq!(files, Vec::<String>::new(), "no store was made");
}

/// Every file under `dir`, as paths relative to it.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out
}

#[test]
fn json_output_of_register_send_list_show_search() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let (a, b) = alice_and_bob(&url);

    assert_eq!(
        ok(a.path(), &url, "alice", &["create-group", "rust", "bob"]),
        "c1\n"
    );
    assert_eq!(
        ok(a.path(), &url, "alice", &["send", "rust", "hello bob"]),
        "sent to c1 as #2\n"
    );
    assert_eq!(
        ok(a.path(), &url, "alice", &["send", "@bob", "psst"]),
        "sent to c2 as #2\n"
    );

    // Bob's list: newest activity first, one unread each, previews.
    let list = json(&ok(b.path(), &url, "bob", &["list", "--json"]));
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{list}");
    let pick = |r: &serde_json::Value| {
        json!({
            "conv": r["conv"], "kind": r["kind"], "title": r["title"], "unread": r["unread"],
            "last_seq": r["last_seq"], "read_seq": r["read_seq"], "member_count": r["member_count"],
            "pending": r["pending"], "preview_seq": r["preview"]["seq"],
            "preview_sender": r["preview"]["sender"], "preview_body": r["preview"]["body"],
        })
    };
    assert_eq!(
        pick(&rows[0]),
        json!({"conv":"c2","kind":"direct","title":"alice","unread":1,"last_seq":2,"read_seq":0,
               "member_count":2,"pending":0,"preview_seq":2,"preview_sender":"alice","preview_body":"psst"})
    );
    assert_eq!(
        pick(&rows[1]),
        json!({"conv":"c1","kind":"group","title":"rust","unread":1,"last_seq":2,"read_seq":0,
               "member_count":2,"pending":0,"preview_seq":2,"preview_sender":"alice","preview_body":"hello bob"})
    );

    // show: the create event and the text, oldest first.
    let shown = json(&ok(b.path(), &url, "bob", &["show", "rust", "--json"]));
    let items = shown.as_array().unwrap();
    assert_eq!(items.len(), 2, "{shown}");
    assert_eq!(
        (
            &items[0]["seq"],
            &items[0]["kind"],
            &items[0]["sender"],
            &items[0]["title"]
        ),
        (&json!(1), &json!("create"), &json!("alice"), &json!("rust"))
    );
    assert_eq!(
        (
            &items[1]["conv"],
            &items[1]["seq"],
            &items[1]["kind"],
            &items[1]["sender"],
            &items[1]["body"]
        ),
        (
            &json!("c1"),
            &json!(2),
            &json!("text"),
            &json!("alice"),
            &json!("hello bob")
        )
    );

    // search finds the held text, with its conversation's title.
    let hits = json(&ok(b.path(), &url, "bob", &["search", "hello", "--json"]));
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(
        (
            &hits[0]["conv"],
            &hits[0]["title"],
            &hits[0]["seq"],
            &hits[0]["sender"],
            &hits[0]["body"]
        ),
        (
            &json!("c1"),
            &json!("rust"),
            &json!(2),
            &json!("alice"),
            &json!("hello bob")
        )
    );

    // read clears the unread count, on the server too (a fresh store sees it).
    ok(b.path(), &url, "bob", &["read", "rust"]);
    let fresh = tempfile::tempdir().unwrap();
    let out = convo_cmd(fresh.path())
        .args(["--server", &url, "--user", "bob", "login"])
        .env("CONVO_PASSWORD", "correct horse battery")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let list = json(&ok(fresh.path(), &url, "bob", &["list", "--json"]));
    let rust = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["conv"] == "c1")
        .unwrap()
        .clone();
    assert_eq!((&rust["unread"], &rust["read_seq"]), (&json!(0), &json!(2)));

    // Human output is sanitized: no escape sequence reaches the terminal.
    ok(
        a.path(),
        &url,
        "alice",
        &["send", "rust", "evil \u{1b}[2Jwipe"],
    );
    let text = ok(b.path(), &url, "bob", &["show", "rust", "--limit", "1"]);
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(text.contains("alice: evil"), "{text:?}");
    // ...while JSON carries the body exactly (escaped by serde).
    let shown = json(&ok(
        b.path(),
        &url,
        "bob",
        &["show", "rust", "--json", "--limit", "1"],
    ));
    assert_eq!(shown[0]["body"], json!("evil \u{1b}[2Jwipe"));

    // A hostile group title cannot reach the terminal through `list` either.
    ok(
        a.path(),
        &url,
        "alice",
        &["create-group", "x\u{1b}]0;pwned\u{7}", "bob"],
    );
    let text = ok(b.path(), &url, "bob", &["list"]);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    assert_eq!(text.lines().count(), 3, "{text}");

    // Unknown target: exit 1, one line on stderr.
    let out = convo(b.path(), &url, "bob", &["show", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err, "convo: error: no conversation \"nosuch\"\n");
}

#[test]
fn offline_list_queued_send_and_token_file() {
    let db_dir = tempfile::tempdir().unwrap();
    let db = db_dir.path().join("server.db");
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), Some(db.clone()));
    let url = server.url.clone();
    let addr = server.addr;
    let (a, b) = alice_and_bob(&url);

    // The token lives in a 0600 file inside a 0700 directory.
    let token_file = b
        .path()
        .join(client::config::server_hash(&url))
        .join("bob.token");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dmode = std::fs::metadata(token_file.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dmode & 0o777, 0o700);

    ok(a.path(), &url, "alice", &["create-group", "ops", "bob"]);
    // The token is in the token file only: no byte of it in the message database.
    let token = std::fs::read_to_string(&token_file).unwrap();
    let token = token.trim();
    assert!(token.len() >= 16, "{token:?}");
    let mut stores = 0;
    for entry in std::fs::read_dir(token_file.parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        if path == token_file {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        stores += 1;
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token is in {}",
            path.display()
        );
    }
    assert!(stores >= 1, "no store next to the token file");
    ok(a.path(), &url, "alice", &["send", "ops", "deploy at 5"]);
    let online = ok(b.path(), &url, "bob", &["list", "--json"]);
    let rows = json(&online);
    assert_eq!(rows[0]["title"], json!("ops"));
    assert_eq!(rows[0]["unread"], json!(1));

    server.stop();

    // --offline: the cached list, silently.
    let out = convo(b.path(), &url, "bob", &["list", "--json", "--offline"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), online);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Unreachable: the cached list plus one warning line.
    let out = convo(b.path(), &url, "bob", &["list", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), online);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("convo: warning: cannot reach"), "{err}");

    // A send with --no-wait queues while the server is down...
    let out = ok(
        b.path(),
        &url,
        "bob",
        &["send", "ops", "on it", "--no-wait"],
    );
    assert!(out.starts_with("queued in c1 ("), "{out}");
    let rows = json(&ok(b.path(), &url, "bob", &["list", "--json", "--offline"]));
    assert_eq!(rows[0]["pending"], json!(1));
    // ...and shows as pending in the timeline.
    let items = json(&ok(b.path(), &url, "bob", &["show", "ops", "--json"]));
    let last = items.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["seq"], &last["body"], &last["state"]),
        (&json!(null), &json!("on it"), &json!("pending"))
    );

    // Server back on the same port with the same database: sync flushes it.
    let server = TestServer::start(addr, Some(db));
    let out = ok(b.path(), &url, "bob", &["sync"]);
    assert!(out.contains(" 1 sent, 0 pending"), "{out}");
    let items = json(&ok(a.path(), &url, "alice", &["show", "ops", "--json"]));
    let last = items.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["seq"], &last["sender"], &last["body"]),
        (&json!(3), &json!("bob"), &json!("on it"))
    );
    // Exactly once, even though bob's outbox may have retried.
    let count = items
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["body"] == "on it")
        .count();
    assert_eq!(count, 1);
    drop(server);
}

#[test]
fn logout_revokes_and_forgets_the_token() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let a = tempfile::tempdir().unwrap();
    register(a.path(), &url, "alice");
    let token_file = a
        .path()
        .join(client::config::server_hash(&url))
        .join("alice.token");
    assert!(token_file.exists());
    assert_eq!(
        ok(a.path(), &url, "alice", &["logout"]),
        format!("logged out alice from {url}\n")
    );
    assert!(!token_file.exists());
    let out = convo(a.path(), &url, "alice", &["sync"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("convo: error: not logged in as alice"),
        "{err}"
    );
    // A wrong password is refused with one line, exit 1.
    let out = convo_cmd(a.path())
        .args([
            "--server",
            &url,
            "--user",
            "alice",
            "login",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"not the password\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("convo: error: logging in as alice on "),
        "{err}"
    );
}

/// Runs convo with no --server/--user: only what the data dir remembers.
fn plain(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    convo_cmd(data).args(args).output().unwrap()
}

fn stdout_of(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn a_login_is_remembered_for_plain_commands() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let a = tempfile::tempdir().unwrap();
    // Before any log-in, a plain command says how to log in, in one line.
    let out = plain(a.path(), &["list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("convo login --server"), "{err}");

    register(a.path(), &url, "alice");
    assert_eq!(
        stdout_of(&plain(a.path(), &["list", "--json"])).trim(),
        "[]"
    );
    assert_eq!(
        stdout_of(&plain(a.path(), &["whoami"])),
        format!("alice on {url} (profile alice): logged in\n")
    );
    // A second account in the same data dir becomes current; --user picks.
    register(a.path(), &url, "bob");
    let who = json(&stdout_of(&plain(a.path(), &["whoami", "--json"])));
    assert_eq!(who["user"], "bob");
    assert_eq!(who["server"], url.as_str());
    assert_eq!(who["session"], true);
    stdout_of(&plain(a.path(), &["send", "@alice", "hi from bob"]));
    let shown = json(&stdout_of(&plain(
        a.path(),
        &["--user", "alice", "show", "@bob", "--json"],
    )));
    assert_eq!(shown[1]["body"], "hi from bob", "{shown}");
    // Environment variables override the remembered account.
    let out = convo_cmd(a.path())
        .env("CONVO_USER", "alice")
        .args(["whoami"])
        .output()
        .unwrap();
    assert_eq!(
        stdout_of(&out),
        format!("alice on {url} (profile alice): logged in\n")
    );
    // Logging out forgets the account; alice stays remembered for --user.
    stdout_of(&plain(a.path(), &["logout"]));
    let out = plain(a.path(), &["whoami"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "no current account after logout"
    );
    assert_eq!(
        stdout_of(&plain(a.path(), &["--user", "alice", "whoami"])),
        format!("alice on {url} (profile alice): logged in\n")
    );
}

#[test]
fn login_with_a_new_profile_name_remembers_it() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let a = tempfile::tempdir().unwrap();
    // `convo register|login --profile work …` names a profile (as --help
    // and docs/CLI.md say): it must not be refused as an unknown profile.
    let with_profile = |verb: &str, profile: &str, user: &str| {
        convo_cmd(a.path())
            .args([verb, "--profile", profile, "--server", &url, "--user", user])
            .env("CONVO_PASSWORD", "correct horse battery")
            .output()
            .unwrap()
    };
    assert_eq!(
        stdout_of(&with_profile("register", "work", "carol")),
        format!("registered carol on {url}\n")
    );
    register(a.path(), &url, "alice");
    assert_eq!(
        stdout_of(&with_profile("login", "work", "carol")),
        format!("logged in as carol on {url}\n")
    );
    assert_eq!(
        stdout_of(&plain(a.path(), &["--profile", "work", "whoami"])),
        format!("carol on {url} (profile work): logged in\n")
    );
    // One account under two profiles: whoami names the one in use.
    assert_eq!(
        stdout_of(&with_profile("login", "home", "alice")),
        format!("logged in as alice on {url}\n")
    );
    for profile in ["home", "alice"] {
        assert_eq!(
            stdout_of(&plain(a.path(), &["--profile", profile, "whoami"])),
            format!("alice on {url} (profile {profile}): logged in\n")
        );
    }
    // An unknown profile without a server is still an error.
    let out = plain(a.path(), &["--profile", "nope", "whoami"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn sync_counts_every_flushed_message_and_show_never_creates_a_conversation() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let (a, b) = alice_and_bob(&url);
    // `show @bob` says there is none, exits 1, and creates nothing.
    let out = convo(a.path(), &url, "alice", &["show", "@bob"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err,
        "convo: error: no direct conversation with bob (`convo send @bob` starts one)\n"
    );
    assert_eq!(
        ok(b.path(), &url, "bob", &["list", "--json"]).trim(),
        "[]",
        "bob sees no conversation appear"
    );
    // Three queued messages are three sent, not one.
    ok(a.path(), &url, "alice", &["send", "@bob", "first"]);
    for text in ["q1", "q2", "q3"] {
        let out = ok(
            a.path(),
            &url,
            "alice",
            &["send", "@bob", text, "--no-wait"],
        );
        assert!(out.starts_with("queued in "), "{out}");
    }
    let out = ok(a.path(), &url, "alice", &["sync"]);
    assert!(out.contains(", 3 sent, 0 pending"), "{out}");
    let out = ok(a.path(), &url, "alice", &["sync"]);
    assert!(out.contains(", 0 sent, 0 pending"), "{out}");
}

#[test]
fn a_reset_server_is_explained_by_the_first_command_that_sees_it() {
    let db1 = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        "127.0.0.1:0".parse().unwrap(),
        Some(db1.path().join("a.db")),
    );
    let (url, addr) = (server.url.clone(), server.addr);
    let a = tempfile::tempdir().unwrap();
    register(a.path(), &url, "alice");
    ok(a.path(), &url, "alice", &["create-group", "ops"]);
    server.stop();
    // Same URL, a new database: a new server_id.
    let db2 = tempfile::tempdir().unwrap();
    let _server = TestServer::start(addr, Some(db2.path().join("b.db")));
    let out = convo(a.path(), &url, "alice", &["list", "--json"]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout {:?} stderr {err}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("the server at {url} was reset")),
        "{err}"
    );
    assert!(err.contains("local cache was discarded"), "{err}");
    assert!(err.contains("convo login"), "{err}");
}

#[test]
fn send_with_the_server_down_says_nothing_was_queued() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let (a, _b) = alice_and_bob(&url);
    ok(a.path(), &url, "alice", &["send", "@bob", "first"]);
    server.stop();
    let out = convo(a.path(), &url, "alice", &["send", "@bob", "second"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("convo: error: cannot reach {url}")),
        "{err}"
    );
    assert!(
        err.contains("nothing was queued (`convo send --no-wait` queues it"),
        "{err}"
    );
    // The URL and "cannot reach" are said once, not nested in parentheses.
    assert_eq!(err.matches("cannot reach").count(), 1, "{err}");
    // Indeed nothing is pending; --no-wait queues.
    let shown = json(&ok(a.path(), &url, "alice", &["show", "@bob", "--json"]));
    assert!(!shown.to_string().contains("second"), "{shown}");
    let out = ok(
        a.path(),
        &url,
        "alice",
        &["send", "@bob", "second", "--no-wait"],
    );
    assert!(out.starts_with("queued in "), "{out}");
}

/// A TCP relay to `upstream` that cuts the first `cut` connections right
/// after the client's first bytes (mid-handshake), then relays faithfully.
fn flaky_relay(upstream: std::net::SocketAddr, cut: usize) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for (n, down) in listener.incoming().enumerate() {
            let Ok(mut down) = down else { continue };
            if n < cut {
                let mut buf = [0u8; 64];
                let _ = down.read(&mut buf);
                drop(down);
                continue;
            }
            let Ok(up) = std::net::TcpStream::connect(upstream) else {
                continue;
            };
            for (mut from, mut to) in [
                (down.try_clone().unwrap(), up.try_clone().unwrap()),
                (up, down),
            ] {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    addr
}

#[test]
fn a_cut_connection_is_retried_and_a_refused_one_fails_at_once() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let (a, b) = alice_and_bob(&url);
    ok(a.path(), &url, "alice", &["send", "@bob", "first"]);
    // Through a link that cuts the next three connections mid-handshake,
    // the send still goes out, once.
    let relay = format!("ws://{}/v1", flaky_relay(server.addr, 3));
    let tokens = a.path().join(client::config::server_hash(&url));
    let relayed = a.path().join(client::config::server_hash(&relay));
    copy_dir(&tokens, &relayed);
    let out = ok(
        a.path(),
        &relay,
        "alice",
        &["send", "@bob", "through a flaky link"],
    );
    assert!(out.starts_with("sent to "), "{out}");
    let shown = json(&ok(b.path(), &url, "bob", &["show", "@alice", "--json"]));
    let n = shown
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["body"] == "through a flaky link")
        .count();
    assert_eq!(n, 1, "{shown}");
    // A refused connection fails at once, with its cause.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("ws://127.0.0.1:{port}/v1");
    copy_dir(&tokens, &a.path().join(client::config::server_hash(&dead)));
    let started = std::time::Instant::now();
    let out = convo(a.path(), &dead, "alice", &["send", "@bob", "never"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("Connection refused"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}
