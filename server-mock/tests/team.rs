//! Running server-mock for a team: invite-only registration with codes from
//! `server-mock invite create`, the `server-mock admin` commands run (as a
//! real process) on the database of a running server, and idle tokens.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Client, PASSWORD, test_config};
use serde_json::{Value, json};

fn server_mock(db: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_server-mock"))
        .args(args)
        .arg("--db")
        .arg(db)
        .env("SERVER_MOCK_PASSWORD", "a-brand-new-password")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

async fn register(url: &str, user: &str, invite: Option<&str>) -> Value {
    let mut c = Client::connect(url).await;
    let mut req = json!({"type":"register","user":user,"password":PASSWORD,"device":"d1"});
    if let Some(code) = invite {
        req["invite"] = json!(code);
    }
    c.request(req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_codes_work_once_per_use_and_expired_or_used_up_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("team.db");
    let mut config = test_config(server_mock::DbLocation::Path(db.clone()));
    config.register = server_mock::RegisterMode::InviteOnly;
    let server = server_mock::start(config).await.unwrap();
    let url = server.url();
    let c = Client::connect(&url).await;
    assert_eq!(c.hello["register"], "invite");
    assert_eq!(
        c.hello["features"],
        json!([
            "reply",
            "reactions",
            "mentions",
            "settings",
            "redaction",
            "account"
        ])
    );

    let (ok, two_uses, err) = server_mock(&db, &["invite", "create", "--uses", "2"]);
    assert!(ok, "{err}");
    let (ok, out, err) = server_mock(&db, &["invite", "create", "--expires", "1s", "--json"]);
    assert!(ok, "{err}");
    let short: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(short["uses"], 1);

    let r = register(&url, "nocode", None).await;
    assert_eq!(
        (r["code"].as_str(), r["message"].as_str()),
        (
            Some("forbidden"),
            Some("registration needs an invite code on this server")
        )
    );
    let r = register(&url, "wrong", Some("no-such-code")).await;
    assert_eq!(r["message"], "unknown invite code");
    assert_eq!(
        register(&url, "ann", Some(&two_uses)).await["type"],
        "session"
    );
    assert_eq!(
        register(&url, "ben", Some(&two_uses)).await["type"],
        "session"
    );
    let r = register(&url, "cat", Some(&two_uses)).await;
    assert_eq!(
        (r["code"].as_str(), r["message"].as_str()),
        (Some("forbidden"), Some("this invite code is used up"))
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let r = register(&url, "dan", short["code"].as_str()).await;
    assert_eq!(r["message"], "this invite code has expired");
    // Closed: nobody registers, whatever the code.
    server.shutdown().await;
    let mut config = test_config(server_mock::DbLocation::Path(db.clone()));
    config.register = server_mock::RegisterMode::Closed;
    let server = server_mock::start(config).await.unwrap();
    let r = register(&server.url(), "eve", Some(&two_uses)).await;
    assert_eq!(r["message"], "registration is disabled");
    server.shutdown().await;
}

/// Waits (bounded) for the connection to be closed; returns the close code.
async fn closed_within(c: &mut Client, limit: Duration) -> Option<u16> {
    tokio::time::timeout(limit, c.close_code())
        .await
        .expect("the connection stayed open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_act_on_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("admin.db");
    let server = server_mock::start(test_config(server_mock::DbLocation::Path(db.clone())))
        .await
        .unwrap();
    let url = server.url();
    let mut alice = Client::register(&url, "alice").await;
    let _bob = Client::register(&url, "bob").await;

    let (ok, out, err) = server_mock(&db, &["admin", "users", "--json"]);
    assert!(ok, "{err}");
    let users: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(users[0]["name"], "alice");
    assert_eq!(users[0]["tokens"], 1);
    assert_eq!(users[1]["disabled"], false);

    // Disabled while connected: the connection closes with 4001 within 5 s,
    // and log-in is refused after.
    let t0 = Instant::now();
    let (ok, out, err) = server_mock(&db, &["admin", "disable", "alice"]);
    assert!(ok, "{err}");
    assert!(out.contains("alice is disabled"), "{out}");
    assert_eq!(
        closed_within(&mut alice, Duration::from_secs(5)).await,
        Some(4001)
    );
    println!("disconnected {:?} after the disable", t0.elapsed());
    let mut again = Client::connect(&url).await;
    let r = again
        .request(json!({"type":"login","user":"alice","password":PASSWORD,"device":"d2"}))
        .await;
    assert_eq!(
        (r["code"].as_str(), r["message"].as_str()),
        (Some("forbidden"), Some("this account is disabled"))
    );
    let (ok, _, err) = server_mock(&db, &["admin", "enable", "alice"]);
    assert!(ok, "{err}");

    // A reset password works (the old one does not), and ends every session.
    let mut bob2 = Client::connect(&url).await;
    let r = bob2
        .request(json!({"type":"login","user":"bob","password":PASSWORD,"device":"d3"}))
        .await;
    assert_eq!(r["type"], "session");
    let (ok, out, err) = server_mock(&db, &["admin", "reset-password", "bob", "--json"]);
    assert!(ok, "{err}");
    let reset: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(reset["tokens_revoked"], 2);
    assert_eq!(
        closed_within(&mut bob2, Duration::from_secs(5)).await,
        Some(4001)
    );
    let mut c = Client::connect(&url).await;
    let r = c
        .request(json!({"type":"login","user":"bob","password":PASSWORD,"device":"d4"}))
        .await;
    assert_eq!(r["code"], "unauthorized");
    let r = c
        .request(
            json!({"type":"login","user":"bob","password":"a-brand-new-password","device":"d4"}),
        )
        .await;
    assert_eq!(r["type"], "session");
    // Unknown users are one line, exit 1.
    let (ok, _, err) = server_mock(&db, &["admin", "revoke", "nobody"]);
    assert!(!ok);
    assert_eq!(err, "server-mock: error: no user \"nobody\"");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_unused_for_too_long_stops_working() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idle.db");
    let server = server_mock::start(test_config(server_mock::DbLocation::Path(db.clone())))
        .await
        .unwrap();
    let alice = Client::register(&server.url(), "alice").await;
    let token = alice.token.clone();
    drop(alice);
    server.shutdown().await;
    // 91 days pass (the token's last use is moved back).
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE tokens SET last_used_ms = last_used_ms - 91 * 86400000",
        [],
    )
    .unwrap();
    drop(conn);
    let server = server_mock::start(test_config(server_mock::DbLocation::Path(db)))
        .await
        .unwrap();
    let mut c = Client::connect(&server.url()).await;
    let r = c
        .request(json!({"type":"auth","token":token,"device":"dev-1"}))
        .await;
    assert_eq!(r["code"], "unauthorized");
    assert_eq!(r["message"], "token expired: unused for more than 90 days");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_0_when_the_server_answers_hello() {
    let server = server_mock::start(test_config(server_mock::DbLocation::Memory))
        .await
        .unwrap();
    let url = server.url();
    let out = Command::new(env!("CARGO_BIN_EXE_server-mock"))
        .args(["check", "--server", &url])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with(&format!("ok: {url} is server-mock/"))
    );
    server.shutdown().await;
    let out = Command::new(env!("CARGO_BIN_EXE_server-mock"))
        .args(["check", "--server", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_missing_or_bad_certificate_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    for (cert, want) in [
        (
            dir.path().join("missing.pem"),
            "No such file or directory".to_owned(),
        ),
        (garbage.clone(), "no PEM certificate in the file".to_owned()),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_server-mock"))
            .args(["--db", ":memory:", "--listen", "127.0.0.1:0", "--tls-cert"])
            .arg(&cert)
            .arg("--tls-key")
            .arg(&garbage)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| !l.contains(" INFO ")).collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(
            lines[0].starts_with("server-mock: error: TLS: ")
                && lines[0].contains(&cert.display().to_string())
                && lines[0].contains(&want),
            "{err}"
        );
        assert!(out.stdout.is_empty(), "nothing listened");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redacted_text_is_gone_from_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("erase.db");
    let server = server_mock::start(test_config(server_mock::DbLocation::Path(db.clone())))
        .await
        .unwrap();
    let mut alice = Client::register(&server.url(), "alice").await;
    let conv = alice.create_group("notes", &[]).await;
    let needle = "needle-7f3a9c-secret";
    let sent = alice.send_msg(&conv, "t1", needle).await;
    let seq = sent["seq"].as_u64().unwrap();
    let r = alice
        .request(json!({"type":"edit","conv":conv,"client_id":"e1","target":seq,"body":format!("{needle}-edited")}))
        .await;
    assert_eq!(r["type"], "sent");
    let r = alice
        .request(json!({"type":"redact","conv":conv,"client_id":"r1","target":seq}))
        .await;
    assert_eq!(r["type"], "sent");
    drop(alice);
    server.shutdown().await;
    // Closing checkpoints the WAL into the file; secure_delete zeroed the
    // freed bytes: no copy of the text is left to a database dump.
    let mut bytes = std::fs::read(&db).unwrap();
    for extra in ["erase.db-wal", "erase.db-shm"] {
        if let Ok(b) = std::fs::read(dir.path().join(extra)) {
            bytes.extend(b);
        }
    }
    let hay = String::from_utf8_lossy(&bytes);
    assert!(
        !hay.contains(needle),
        "the redacted text is still in the file"
    );
}

/// `admin` and `invite` on a PostgreSQL URL say they work on SQLite files
/// only (they said "no database at postgres://…").
#[test]
fn admin_on_a_postgres_url_says_it_needs_a_sqlite_file() {
    let (ok, _, err) = server_mock(
        Path::new("postgres://convo@db.internal:5432/convo"),
        &["admin", "users"],
    );
    assert!(!ok);
    assert!(
        err.contains("admin and invite work on SQLite files only"),
        "{err}"
    );
}

/// server-mock's log lines on a pipe or file carry no ANSI colour codes.
#[test]
fn logs_written_to_a_pipe_have_no_colour_codes() {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_server-mock"))
        .args(["--listen", "127.0.0.1:0", "--db", ":memory:"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut log = String::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("listening") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(log.contains("listening"), "{log}");
    assert!(!log.contains('\u{1b}'), "{log:?}");
}

/// A new database holds every message and the password hashes: it, its
/// `-wal` and `-shm` files are the owner's only (0600), in a new directory
/// that is too (0700). They were 0644 under the usual umask.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_database_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("srv").join("server.db");
    let server = server_mock::start(test_config(server_mock::DbLocation::Path(db.clone())))
        .await
        .unwrap();
    let _alice = Client::register(&server.url(), "alice").await;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let wal = db.with_extension("db-wal");
    let shm = db.with_extension("db-shm");
    let lock = db.with_extension("db.lock");
    assert_eq!(
        [
            mode(&db),
            mode(&wal),
            mode(&shm),
            mode(&lock),
            mode(db.parent().unwrap())
        ],
        [0o600, 0o600, 0o600, 0o600, 0o700]
    );
    server.shutdown().await;
}

/// `admin` on another program's SQLite file refuses it and leaves it as it
/// was (it used to add server-mock's tables to it).
#[test]
fn admin_refuses_a_database_that_is_not_the_server_s() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.sqlite");
    let conn = rusqlite::Connection::open(&other).unwrap();
    conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap();
    drop(conn);
    let before = std::fs::read(&other).unwrap();
    let (ok, out, err) = server_mock(&other, &["admin", "users"]);
    assert!(!ok);
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!(
            "server-mock: error: {} is not a server-mock database",
            other.display()
        )
    );
    assert_eq!(
        std::fs::read(&other).unwrap(),
        before,
        "the file is untouched"
    );
}

/// Two servers on one SQLite file would each keep their own member lists
/// and change counter: the second is refused at start, naming the first
/// one's pid, and starts once the first has stopped. The binary says it in
/// one line and exits 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_database_is_refused_until_the_first_stops() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let first = server_mock::start(test_config(server_mock::DbLocation::Path(db.clone())))
        .await
        .unwrap();
    let refused = format!(
        "another server-mock (pid {}) is serving {}: one SQLite database serves one server at a time (several nodes share a PostgreSQL database)",
        std::process::id(),
        db.display()
    );
    match server_mock::start(test_config(server_mock::DbLocation::Path(db.clone()))).await {
        Err(e) => assert_eq!(e.to_string(), format!("open database: {refused}")),
        Ok(_) => panic!("a second server started on {}", db.display()),
    }
    let out = Command::new(env!("CARGO_BIN_EXE_server-mock"))
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!("server-mock: error: open database: {refused}")
    );
    let mut alice = Client::register(&first.url(), "alice").await;
    let conv = alice.create_group("g", &[]).await;
    alice.send_msg(&conv, "c1", "still served").await;
    first.shutdown().await;
    let second = server_mock::start(test_config(server_mock::DbLocation::Path(db.clone())))
        .await
        .unwrap();
    let mut alice = Client::connect(&second.url()).await;
    let r = alice
        .request(json!({"type":"login","user":"alice","password":PASSWORD,"device":"dev-1"}))
        .await;
    assert_eq!(r["type"], "session", "{r}");
    let bodies: Vec<_> = alice
        .pull_all(&conv)
        .await
        .into_iter()
        .filter_map(|m| m["body"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(bodies, ["still served"]);
    second.shutdown().await;
}

/// `admin` from a newer server-mock does not migrate a database an older
/// server is serving (its statements would meet tables it does not know):
/// it names the serving pid and changes nothing. With no server running it
/// migrates as before.
#[test]
fn admin_does_not_migrate_a_database_an_older_running_server_serves() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let older = server_mock::store::MIGRATIONS.len() - 1;
    let conn = rusqlite::Connection::open(&db).unwrap();
    for sql in &server_mock::store::MIGRATIONS[..older] {
        conn.execute_batch(sql).unwrap();
    }
    conn.execute_batch(&format!(
        "PRAGMA user_version = {older};
         INSERT INTO meta (key, value) VALUES ('server_id', 'old'), ('change_seq', '0');"
    ))
    .unwrap();
    drop(conn);
    let version = || -> usize {
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    // The older server: this process, holding the database's lock.
    let serving = server_mock::store::lock::DbLock::acquire(&db).unwrap();
    let (ok, out, err) = server_mock(&db, &["admin", "users"]);
    assert!(!ok);
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!(
            "server-mock: error: {} is served by an older server-mock (pid {}, schema version {older}; this one would upgrade it to {} under it): run the admin command of the version that serves it, or stop that server first",
            db.display(),
            std::process::id(),
            older + 1
        )
    );
    assert_eq!(version(), older, "not migrated");
    drop(serving);
    let (ok, _, err) = server_mock(&db, &["admin", "users"]);
    assert!(ok, "{err}");
    assert_eq!(version(), older + 1);
}
