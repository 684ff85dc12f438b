//! Failover across several server URLs (`ClientBuilder::servers`): real
//! server-mocks on 127.0.0.1 (in this process, or `node_child` processes
//! that are SIGKILLed), a URL with nothing listening (a port bound and
//! released), nodes that share one database file, and a node of another
//! database that the client must refuse.

#[path = "support/events.rs"]
mod event_wait;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use server_mock::{Config, DbLocation, RunningServer};
use sync_core::protocol::{ConvId, EntryKind};
use sync_core::{
    Client, ClientBuilder, ConnState, ConnectError, Error, ErrorEvent, Event, Events, OutboxState,
    TimelineItem, TimelineQuery,
};

const WAIT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "password-123";

/// A loopback port with nothing listening: bound, then released.
fn dead_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

fn url_of(addr: SocketAddr) -> String {
    format!("ws://{addr}/v1")
}

/// A server-mock node on `listen` over the database file `db`.
async fn node(listen: SocketAddr, db: &Path) -> anyhow::Result<RunningServer> {
    Ok(server_mock::start(Config {
        listen,
        db: DbLocation::Path(db.to_owned()),
        ..Config::default()
    })
    .await?)
}

/// A client over `urls`, with reconnect delays short enough for a test.
fn open(urls: &[String], dir: &Path, name: &str) -> anyhow::Result<(Client, Events)> {
    let config = sync_core::Config {
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(500),
        ..sync_core::Config::default()
    };
    Ok(ClientBuilder::new(
        &urls[0],
        dir.join(format!("{name}.db")),
        format!("{name}-dev"),
    )
    .servers(urls.iter().cloned())
    .config(config)
    .open()?)
}

/// Waits for an event matching `pred`, skipping others.
async fn wait_event(events: &mut Events, pred: impl Fn(&Event) -> bool) -> anyhow::Result<Event> {
    event_wait::wait_event_within(events, WAIT, pred).await
}

/// The first connection failure the client reported.
async fn first_connection_error(events: &mut Events) -> anyhow::Result<Event> {
    wait_event(events, |e| {
        matches!(e, Event::Error(ErrorEvent::Connection { .. }))
    })
    .await
}

/// Polls `cond` until it holds.
async fn eventually(what: &str, cond: impl Fn() -> bool) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

fn texts(c: &Client, conv: &ConvId) -> anyhow::Result<Vec<(u64, String)>> {
    Ok(c.timeline(conv, TimelineQuery::Latest { limit: 100 })?
        .into_iter()
        .filter_map(|i| match i {
            TimelineItem::Message(m) if m.kind == EntryKind::Text => {
                Some((m.seq, m.body.unwrap_or_default()))
            }
            _ => None,
        })
        .collect())
}

fn numbered(from: u64, bodies: &[&str]) -> Vec<(u64, String)> {
    bodies
        .iter()
        .enumerate()
        .map(|(i, b)| (from + i as u64, (*b).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_skips_a_url_with_nothing_listening_and_messages_flow() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let live = node("127.0.0.1:0".parse()?, &dir.path().join("server.db")).await?;
    let dead = url_of(dead_addr());
    let (bob, mut bob_events) = open(&[live.url()], dir.path(), "bob")?;
    bob.register("bob", PASSWORD).await?;
    bob.wait_live(WAIT).await?;

    let (alice, mut alice_events) = open(&[dead.clone(), live.url()], dir.path(), "alice")?;
    alice.register("alice", PASSWORD).await?;
    alice.wait_live(WAIT).await?;
    assert_eq!(alice.current_url(), live.url());
    let e = first_connection_error(&mut alice_events).await?;
    let Event::Error(ErrorEvent::Connection { url, cause }) = e else {
        unreachable!()
    };
    assert_eq!(url, dead);
    assert!(matches!(cause, ConnectError::Refused(_)), "{cause:?}");

    let conv = alice.create_direct("bob").await?;
    assert_eq!(alice.send_and_wait(&conv, "hi bob", WAIT).await?, 2);
    let e = wait_event(&mut bob_events, |e| matches!(e, Event::NewMessage { .. })).await?;
    let Event::NewMessage { conv: got, message } = e else {
        unreachable!()
    };
    assert_eq!(
        (
            got,
            message.seq,
            message.sender.as_str(),
            message.body.as_deref()
        ),
        (conv, 2, "alice", Some("hi bob"))
    );
    live.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_answering_http_404_is_skipped_not_fatal() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let live = node("127.0.0.1:0".parse()?, &dir.path().join("server.db")).await?;
    let wrong_path = format!("ws://{}/nope", live.local_addr());
    let (alice, mut events) = open(&[wrong_path.clone(), live.url()], dir.path(), "alice")?;
    alice.register("alice", PASSWORD).await?;
    alice.wait_live(WAIT).await?;
    assert_eq!(alice.current_url(), live.url());
    let e = first_connection_error(&mut events).await?;
    assert_eq!(
        e,
        Event::Error(ErrorEvent::Connection {
            url: wrong_path,
            cause: ConnectError::Http(404),
        })
    );
    live.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_fails_promptly_when_every_url_is_unreachable() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (first, second) = (url_of(dead_addr()), url_of(dead_addr()));
    let (alice, _events) = open(&[first, second.clone()], dir.path(), "alice")?;
    // Well within the 30 s request timeout: one round over both URLs.
    let result = tokio::time::timeout(Duration::from_secs(10), alice.login("alice", PASSWORD))
        .await
        .expect("login should fail after one round, not wait for its timeout");
    match result {
        Err(Error::Connect {
            url,
            cause: ConnectError::Refused(_),
        }) => assert_eq!(url, second),
        other => panic!("expected Connect/Refused on the second URL, got {other:?}"),
    }
    Ok(())
}

/// How a node runs, and so how it stops.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// In this process; stops gracefully (close 1001 to every client).
    InProcess,
    /// A `node_child` process; stops by SIGKILL (no close frame at all).
    Child,
}

/// A `node_child` process, killed when dropped (also when a test fails).
struct ChildNode(std::process::Child);

impl Drop for ChildNode {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A server-mock node of either kind, over the database file it was given.
enum Node {
    InProcess(RunningServer),
    Child {
        process: ChildNode,
        url: String,
        server_id: String,
    },
}

impl Node {
    async fn start(kind: Kind, listen: SocketAddr, db: &Path) -> anyhow::Result<Node> {
        match kind {
            Kind::InProcess => Ok(Node::InProcess(node(listen, db).await?)),
            Kind::Child => {
                let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_node_child"))
                    .arg(listen.to_string())
                    .arg(db)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null())
                    .spawn()?;
                let stdout = child.stdout.take();
                let process = ChildNode(child);
                let line = tokio::task::spawn_blocking(move || {
                    let mut line = String::new();
                    if let Some(out) = stdout {
                        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line)?;
                    }
                    std::io::Result::Ok(line)
                })
                .await??;
                let words: Vec<&str> = line.split_whitespace().collect();
                let ["listening", "on", url, "server_id", id] = words.as_slice() else {
                    anyhow::bail!("node_child said {line:?}");
                };
                Ok(Node::Child {
                    process,
                    url: (*url).to_owned(),
                    server_id: (*id).to_owned(),
                })
            }
        }
    }

    fn url(&self) -> String {
        match self {
            Node::InProcess(s) => s.url(),
            Node::Child { url, .. } => url.clone(),
        }
    }

    fn server_id(&self) -> String {
        match self {
            Node::InProcess(s) => s.server_id().to_owned(),
            Node::Child { server_id, .. } => server_id.clone(),
        }
    }

    /// Graceful shutdown, or SIGKILL.
    async fn stop(self) {
        match self {
            Node::InProcess(s) => {
                s.shutdown().await;
            }
            Node::Child { process, .. } => drop(process),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_after_a_graceful_stop_delivers_the_queued_outbox_exactly_once()
-> anyhow::Result<()> {
    queued_outbox_survives_failover(Kind::InProcess).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_after_kill_9_delivers_the_queued_outbox_exactly_once() -> anyhow::Result<()> {
    queued_outbox_survives_failover(Kind::Child).await
}

/// Node A on port p1 over file F; a client on [p1, p2] sends, A stops,
/// more is queued, node B starts on p2 over F (same `server_id`): the client
/// moves to p2 and every message is there once, with dense seqs.
async fn queued_outbox_survives_failover(kind: Kind) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("shared.db");
    let node_a = Node::start(kind, "127.0.0.1:0".parse()?, &db).await?;
    let addr_b = dead_addr();
    let (url_a, url_b) = (node_a.url(), url_of(addr_b));
    let server_id = node_a.server_id();

    let (alice, mut events) = open(&[url_a.clone(), url_b.clone()], dir.path(), "alice")?;
    alice.register("alice", PASSWORD).await?;
    alice.wait_live(WAIT).await?;
    assert_eq!(alice.current_url(), url_a);
    let group = alice.create_group("notes", &[]).await?;
    for body in ["one", "two", "three"] {
        alice.send_and_wait(&group, body, WAIT).await?;
    }

    node_a.stop().await;
    wait_event(&mut events, |e| {
        matches!(e, Event::Connection(ConnState::Reconnecting { .. }))
    })
    .await?;
    // Queued while no node is up: committed locally, pending.
    for body in ["four", "five", "six"] {
        alice.send(&group, body).await?;
    }
    let queued = alice.outbox()?;
    assert_eq!(queued.len(), 3);
    assert!(queued.iter().all(|o| o.state == OutboxState::Pending));

    let node_b = Node::start(kind, addr_b, &db).await?;
    assert_eq!(node_b.server_id(), server_id);
    eventually("the outbox to drain on node B", || {
        alice.outbox().is_ok_and(|o| o.is_empty()) && alice.state() == ConnState::Live
    })
    .await?;
    assert_eq!(alice.current_url(), url_b);
    assert_eq!(alice.server_id()?, Some(server_id));
    let want = numbered(2, &["one", "two", "three", "four", "five", "six"]);
    assert_eq!(texts(&alice, &group)?, want);

    // What node B serves, seen by a fresh store: each message once, seqs dense.
    let fresh = tempfile::tempdir()?;
    let (check, _e) = open(std::slice::from_ref(&url_b), fresh.path(), "alice")?;
    check.login("alice", PASSWORD).await?;
    check.wait_live(WAIT).await?;
    check.open(&group).await?;
    assert_eq!(texts(&check, &group)?, want);
    node_b.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_of_another_database_is_refused_and_the_cache_is_kept() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("ours.db");
    let ours = node("127.0.0.1:0".parse()?, &db).await?;
    let other = node("127.0.0.1:0".parse()?, &dir.path().join("other.db")).await?;
    let addr = ours.local_addr();
    let (url_ours, url_other) = (ours.url(), other.url());
    let (ours_id, other_id) = (ours.server_id().to_owned(), other.server_id().to_owned());
    assert_ne!(ours_id, other_id);

    let (alice, mut events) = open(&[url_ours.clone(), url_other.clone()], dir.path(), "alice")?;
    alice.register("alice", PASSWORD).await?;
    alice.wait_live(WAIT).await?;
    let group = alice.create_group("notes", &[]).await?;
    assert_eq!(alice.send_and_wait(&group, "kept", WAIT).await?, 2);

    ours.shutdown().await;
    let queued = alice.send(&group, "queued").await?;
    let e = wait_event(&mut events, |e| {
        matches!(
            e,
            Event::Error(ErrorEvent::Connection {
                cause: ConnectError::WrongServer { .. },
                ..
            })
        )
    })
    .await?;
    assert_eq!(
        e,
        Event::Error(ErrorEvent::Connection {
            url: url_other.clone(),
            cause: ConnectError::WrongServer {
                expected: ours_id.clone(),
                found: other_id,
            },
        })
    );
    // Nothing was switched: same store binding, cache and pending outbox.
    assert_eq!(alice.server_id()?, Some(ours_id.clone()));
    assert_eq!(texts(&alice, &group)?, numbered(2, &["kept"]));
    let outbox = alice.outbox()?;
    assert_eq!(
        outbox
            .iter()
            .map(|o| (o.client_id.as_str(), o.state.clone()))
            .collect::<Vec<_>>(),
        vec![(queued.as_str(), OutboxState::Pending)]
    );
    assert!(
        !std::iter::from_fn(|| events.try_recv()).any(|e| matches!(e, Event::CacheReset { .. })),
        "the cache must not be reset"
    );

    // Our node comes back on its address: the client returns to it only.
    let ours = node(addr, &db).await?;
    eventually("the queued message to reach our node", || {
        alice.outbox().is_ok_and(|o| o.is_empty()) && alice.state() == ConnState::Live
    })
    .await?;
    assert_eq!(alice.current_url(), url_ours);
    assert_eq!(texts(&alice, &group)?, numbered(2, &["kept", "queued"]));
    assert_eq!(other.authenticated_connections(), 0);
    ours.shutdown().await;
    other.shutdown().await;
    Ok(())
}

#[test]
fn open_checks_every_url_and_refuses_an_empty_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("a.db");
    let good = "ws://127.0.0.1:1/v1";
    let err = ClientBuilder::new(good, &db, "dev")
        .servers([good, "http://127.0.0.1:2/v1"])
        .open()
        .expect_err("an http:// URL in the list");
    match err {
        Error::Connect {
            url,
            cause: ConnectError::InvalidUrl(_),
        } => assert_eq!(url, "http://127.0.0.1:2/v1"),
        other => panic!("expected InvalidUrl for the second URL, got {other:?}"),
    }
    let err = ClientBuilder::new(good, &db, "dev")
        .servers(Vec::<String>::new())
        .open()
        .expect_err("no URL");
    assert!(
        matches!(
            err,
            Error::Invalid {
                field: "servers",
                ..
            }
        ),
        "{err:?}"
    );
}
