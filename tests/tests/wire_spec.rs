//! Every frame between sync-core and server-mock, read against PROTOCOL.md as an outside
//! reviewer with a frame-logging proxy would: two clients and a `MessageStream` bot talk through
//! `conformance::proxy` with recording on, then `conformance::wire_check` reads the whole log
//! (field sets and types both ways, ids, pre-auth requests, feature gating, pages, pushes,
//! pings, close codes, repeated pulls, storms) and must find nothing. Once against a server with
//! every §9 feature, once against `--features none` (version 1), and once across a server
//! restart behind the proxy.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use conformance::proxy::{Direction, Faults, Logged, Proxy, WireEvent, WireFrame};
use conformance::wire_check;
use serde_json::Value;
use server_mock::{Config, DbLocation, Features, RunningServer};
use sync_core::protocol::{ConvId, Notify, Seq};
use sync_core::{Client, ClientBuilder, SettingsChange, StreamOptions};

const WAIT: Duration = Duration::from_secs(10);
const PASSWORD: &str = "wire-spec-password";

async fn server(listen: SocketAddr, db: &Path, features: Features) -> RunningServer {
    server_mock::start(Config {
        listen,
        db: DbLocation::Path(db.to_owned()),
        features,
        ..Config::default()
    })
    .await
    .unwrap()
}

async fn client(url: &str, dir: &Path, user: &str) -> Client {
    client_with(url, dir, user, sync_core::Config::default()).await
}

async fn client_with(url: &str, dir: &Path, user: &str, config: sync_core::Config) -> Client {
    let (client, _events) = ClientBuilder::new(url, dir.join(format!("{user}.db")), "dev-1")
        .config(config)
        .open()
        .unwrap();
    client.register(user, PASSWORD).await.unwrap();
    client.wait_live(WAIT).await.unwrap();
    client
}

/// Client frames of the log as JSON objects.
fn requests(lines: &[Logged]) -> Vec<Value> {
    lines.iter().filter_map(|l| l.json(Direction::Up)).collect()
}

fn types(frames: &[Value]) -> BTreeSet<String> {
    frames
        .iter()
        .filter_map(|f| Some(f.get("type")?.as_str()?.to_owned()))
        .collect()
}

/// Close codes the client sent.
fn client_close_codes(lines: &[Logged]) -> Vec<Option<u16>> {
    lines
        .iter()
        .filter_map(|l| match &l.event {
            WireEvent::Frame(Direction::Up, WireFrame::Close(code, _)) => Some(*code),
            _ => None,
        })
        .collect()
}

/// Checks the log; with `WIRE_SPEC_LOG=DIR` also writes it there (one JSON line a frame, for
/// `frame_log check` or reading by eye).
fn assert_no_findings(name: &str, lines: &[Logged]) {
    // A scripted session of valid requests is never refused.
    let errors: Vec<Value> = lines
        .iter()
        .filter_map(|l| l.json(Direction::Down))
        .filter(|v| v.get("type").and_then(Value::as_str) == Some("error"))
        .collect();
    assert_eq!(errors, Vec::<Value>::new(), "{name}: error replies");
    if let Some(dir) = std::env::var_os("WIRE_SPEC_LOG") {
        let text: String = lines.iter().map(|l| l.to_json_line() + "\n").collect();
        std::fs::write(Path::new(&dir).join(format!("{name}.jsonl")), text).unwrap();
    }
    let findings = wire_check::check(lines);
    let text: Vec<String> = findings.iter().map(ToString::to_string).collect();
    assert!(
        text.is_empty(),
        "{} findings:\n{}",
        text.len(),
        text.join("\n")
    );
}

/// The newest seq alice holds for `conv`.
fn newest(c: &Client, conv: &ConvId) -> Seq {
    c.conversation(conv).unwrap().unwrap().last_seq
}

/// A scripted session: alice and bob chat in a group while bob's bot stream answers; with §9,
/// a reply, a reaction, a thread load and a settings change; carol joins late and scrolls up.
async fn scripted_session(features: Features) -> Vec<Logged> {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(
        "127.0.0.1:0".parse().unwrap(),
        &dir.path().join("s.db"),
        features,
    )
    .await;
    let proxy = Proxy::start(srv.local_addr(), Faults::none(), 1)
        .await
        .unwrap();
    let log = proxy.record();
    let url = proxy.url();
    let v11 = features != Features::NONE;

    let alice = client(&url, dir.path(), "alice").await;
    let bob = client(&url, dir.path(), "bob").await;
    // Small pages, so that catching up and scrolling up take several requests each.
    let small = sync_core::Config {
        pull_page: 10,
        history_page: 10,
        ..sync_core::Config::default()
    };
    let carol = client_with(&url, dir.path(), "carol", small).await;
    let conv = alice.create_group("rust", &["bob"]).await.unwrap();
    let mut bot = bob.stream("echo", StreamOptions::texts()).await.unwrap();
    let first = alice
        .send_and_wait(&conv, "hello @bob", WAIT)
        .await
        .unwrap();
    let item = tokio::time::timeout(WAIT, bot.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item.seq(), first);
    // The bot answers in the thread where the server has threads, plainly where it has not.
    match bot.reply_in_thread(&item, "echo: hello").await {
        Ok(_) => assert!(v11),
        Err(sync_core::Error::Unsupported(_)) if !v11 => {
            bot.reply(&item, "echo: hello").await.unwrap();
        }
        Err(e) => panic!("reply_in_thread: {e}"),
    }
    if v11 {
        bot.react(&item, "👀").await.unwrap();
    }
    for i in 0..40 {
        alice.send(&conv, &format!("m{i}")).await.unwrap();
    }
    let last = alice.send_and_wait(&conv, "last", WAIT).await.unwrap();
    if v11 {
        alice
            .send_reply_and_wait(&conv, first, "a reply", WAIT)
            .await
            .unwrap();
        alice
            .react_and_wait(&conv, first, "👍", WAIT)
            .await
            .unwrap();
        bob.load_thread(&conv, first).await.unwrap();
        let pin = SettingsChange {
            notify: Some(Notify::Mentions),
            pinned: Some(true),
            archived: None,
        };
        alice.set_settings(&conv, pin).await.unwrap();
    }
    alice.redact(&conv, last).await.unwrap();
    // Carol joins late and scrolls up through the history.
    alice.invite(&conv, &["carol"]).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while carol.conversation(&conv).unwrap().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "carol sees the group"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    carol.open(&conv).await.unwrap();
    for _ in 0..3 {
        carol.load_older(&conv).await.unwrap();
    }
    let top = newest(&alice, &conv);
    assert!(top > last);
    carol.mark_read(&conv, top).await.unwrap();
    for c in [&alice, &bob, &carol] {
        c.stop().await;
    }
    drop(bot);
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.shutdown().await;
    srv.shutdown().await;
    log.lines()
}

#[tokio::test]
async fn a_full_feature_session_is_exactly_to_spec() {
    let lines = scripted_session(Features::ALL).await;
    let reqs = requests(&lines);
    let used = types(&reqs);
    for t in [
        "register", "create", "send", "pull", "sync", "read", "redact", "thread", "react",
        "settings", "history", "invite",
    ] {
        assert!(used.contains(t), "no `{t}` in {used:?}");
    }
    assert!(reqs.iter().any(|r| r.get("reply_to").is_some()));
    assert_eq!(client_close_codes(&lines), vec![Some(1000); 3]);
    assert_no_findings("full", &lines);
}

#[tokio::test]
async fn a_version_1_session_uses_no_section_9_request_or_field() {
    let lines = scripted_session(Features::NONE).await;
    let reqs = requests(&lines);
    let used = types(&reqs);
    for t in ["thread", "react", "settings", "password"] {
        assert!(!used.contains(t), "`{t}` sent to a version 1 server");
    }
    assert!(
        reqs.iter()
            .all(|r| r.get("reply_to").is_none() && r.get("all").is_none())
    );
    assert_eq!(client_close_codes(&lines), vec![Some(1000); 3]);
    assert_no_findings("v1", &lines);
}

/// The server dies behind the proxy and comes back on the same port: the client reconnects
/// with backoff (no storm), catches up with `sync` and pulls the gap once.
#[tokio::test]
async fn a_restart_behind_the_proxy_is_caught_up_without_storms_or_repeated_pulls() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("s.db");
    let srv = server("127.0.0.1:0".parse().unwrap(), &db, Features::ALL).await;
    let addr = srv.local_addr();
    let proxy = Proxy::start(addr, Faults::none(), 2).await.unwrap();
    let log = proxy.record();
    let alice = client(&proxy.url(), dir.path(), "alice").await;
    // Bob talks to the server directly: his frames are not the subject.
    let bob = client(&format!("ws://{addr}/v1"), dir.path(), "bob").await;
    let conv = bob.create_group("ops", &["alice"]).await.unwrap();
    let seq = bob.send_and_wait(&conv, "before", WAIT).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while alice.conversation(&conv).unwrap().map(|r| r.last_seq) != Some(seq) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "alice sees `before`"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    srv.shutdown().await;
    proxy.cut_all();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let srv = server(addr, &db, Features::ALL).await;
    // Messages alice missed while down (bob reconnects by himself).
    bob.wait_live(WAIT).await.unwrap();
    let mut top = seq;
    for i in 0..5 {
        top = bob
            .send_and_wait(&conv, &format!("missed {i}"), WAIT)
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while alice.conversation(&conv).unwrap().map(|r| r.last_seq) != Some(top) {
        assert!(tokio::time::Instant::now() < deadline, "alice catches up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    alice.stop().await;
    bob.stop().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let lines = log.lines();
    let refused = lines
        .iter()
        .filter(|l| l.event == WireEvent::Refused)
        .count();
    // At least one attempt while the server was down, none closer than sync-core's 100 ms floor.
    assert!(
        (1..=15).contains(&refused),
        "{refused} refused attempts in 1.5 s"
    );
    assert_no_findings("restart", &lines);
    srv.shutdown().await;
}
