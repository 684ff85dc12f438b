//! sync-core's failures are typed, prompt and in order: a bad URL fails in
//! `open`, a closed port fails `login` at once with `Error::Connect`, the
//! error event comes before the state it explains, and a `send_and_wait`
//! that times out says the message is still queued and can be waited for.

use std::time::Duration;

use server_mock::{Config, DbLocation};
use sync_core::{ClientBuilder, ConnState, ConnectError, Error, ErrorEvent, Event};

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn a_malformed_or_unusable_url_fails_in_open() {
    let dir = tempfile::tempdir().unwrap();
    for (url, want) in [
        ("http://127.0.0.1:1/v1", "must start with ws://"),
        ("ws://", "invalid server URL"),
        ("not a url", "invalid server URL"),
    ] {
        let err = ClientBuilder::new(url, dir.path().join("a.db"), "dev")
            .open()
            .map(drop)
            .unwrap_err();
        assert!(
            matches!(err, Error::Connect { .. }) && err.to_string().contains(want),
            "{url}: {err}"
        );
    }
}

#[test]
fn an_unreadable_ca_file_fails_in_open() {
    let dir = tempfile::tempdir().unwrap();
    let err = ClientBuilder::new("wss://example.org/v1", dir.path().join("a.db"), "dev")
        .ca_file("/nonexistent/ca.pem")
        .open()
        .map(drop)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Invalid {
                field: "ca_file",
                ..
            }
        ) && err.to_string().contains("/nonexistent/ca.pem"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_against_a_closed_port_fails_at_once_with_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("ws://127.0.0.1:{}/v1", closed_port());
    let (client, mut events) = ClientBuilder::new(&url, dir.path().join("a.db"), "dev")
        .open()
        .unwrap();
    let err = tokio::time::timeout(
        Duration::from_secs(2),
        client.login("alice", "password-123"),
    )
    .await
    .expect("login gave up within 2 s (it used to wait 30 s)")
    .unwrap_err();
    let Error::Connect {
        url: got,
        cause: ConnectError::Refused(detail),
    } = &err
    else {
        panic!("not a refused connection: {err:?}");
    };
    assert_eq!(got, &url);
    assert!(detail.contains("refused"), "{detail}");
    // The error event is delivered, typed, before any later state.
    let mut seen = Vec::new();
    while let Some(e) = events.try_recv() {
        seen.push(e);
    }
    let error_at = seen
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::Error(ErrorEvent::Connection {
                    cause: ConnectError::Refused(_),
                    ..
                })
            )
        })
        .unwrap_or_else(|| panic!("{seen:?}"));
    assert!(
        seen[error_at + 1..]
            .iter()
            .all(|e| !matches!(e, Event::Connection(ConnState::Connecting))),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_state_carries_its_cause_and_a_timed_out_send_stays_queued() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let config = |listen| Config {
        listen,
        db: DbLocation::Path(db.clone()),
        ..Config::default()
    };
    let server = server_mock::start(config("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let url = server.url();
    let addr = url
        .trim_start_matches("ws://")
        .trim_end_matches("/v1")
        .parse()
        .unwrap();
    let (alice, _events) = ClientBuilder::new(&url, dir.path().join("alice.db"), "dev")
        .open()
        .unwrap();
    alice.register("alice", "password-123").await.unwrap();
    alice.wait_live(Duration::from_secs(10)).await.unwrap();
    let group = alice.create_group("notes", &[]).await.unwrap();
    server.shutdown().await;

    // Down: the state says why, typed.
    let state = {
        let mut tries = 0;
        loop {
            let s = alice.state();
            if let ConnState::Reconnecting {
                last_error: Some(ConnectError::Refused(_)),
                ..
            } = s
            {
                break s;
            }
            tries += 1;
            assert!(
                tries < 500,
                "never Reconnecting with a refused cause: {s:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    assert!(matches!(state, ConnState::Reconnecting { .. }));

    // A send that is not acknowledged in time is still queued: the error
    // names it, and the app can wait again instead of sending a copy.
    let err = alice
        .send_and_wait(&group, "while down", Duration::from_millis(300))
        .await
        .unwrap_err();
    let Error::SendTimeout { client_id } = &err else {
        panic!("{err:?}");
    };
    assert!(err.to_string().contains("still queued"), "{err}");
    assert_eq!(alice.outbox().unwrap()[0].client_id, *client_id);
    let server = server_mock::start(config(addr)).await.unwrap();
    alice.reconnect_now();
    let seq = alice
        .wait_sent(client_id, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(seq >= 2, "{seq}");
    assert!(alice.outbox().unwrap().is_empty());
    // Asking again for a row that is gone says so.
    let gone = alice
        .wait_sent(client_id, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(gone, Error::UnknownOutboxRow(_)), "{gone:?}");
    server.shutdown().await;
}

/// A throwaway server-mock on loopback.
async fn memory_server() -> server_mock::RunningServer {
    server_mock::start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        db: DbLocation::Memory,
        ..Config::default()
    })
    .await
    .unwrap()
}

/// A client of `url` (not logged in) whose store is `dir/NAME.db`.
fn open_client(url: &str, dir: &std::path::Path, name: &str) -> sync_core::Client {
    ClientBuilder::new(url, dir.join(format!("{name}.db")), name)
        .open()
        .unwrap()
        .0
}

/// A refused `register` or `login` names the request that was refused (it
/// said `server refused session: …`, the reply's type, which names no call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_register_or_login_names_its_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = memory_server().await;
    let url = server.url();
    let open = |name: &str| open_client(&url, dir.path(), name);
    let first = open("first");
    first.register("alice", "password-123").await.unwrap();
    let second = open("second");
    let err = second.register("alice", "password-456").await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("server refused register: conflict: "),
        "{err}"
    );
    let err = second.login("alice", "not-her-password").await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("server refused login: unauthorized: "),
        "{err}"
    );
    first.stop().await;
    second.stop().await;
    server.shutdown().await;
}

/// Waiting for a row the server already refused answers at once with the
/// refusal (it waited for the whole timeout: the refusal often comes
/// before the caller gets to wait), naming the request (`edit`, not `send`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_row_already_refused_answers_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = memory_server().await;
    let url = server.url();
    let open = |name: &str| open_client(&url, dir.path(), name);
    let alice = open("alice");
    alice.register("alice", "password-123").await.unwrap();
    let bob = open("bob");
    bob.register("bob", "password-123").await.unwrap();
    bob.wait_live(Duration::from_secs(10)).await.unwrap();
    let conv = alice.create_group("ops", &["bob"]).await.unwrap();
    let seq = alice
        .send_and_wait(&conv, "alice's", Duration::from_secs(10))
        .await
        .unwrap();
    // Bob holds the group, then edits alice's text: refused, `forbidden`.
    let t0 = std::time::Instant::now();
    while bob.find_conversation("ops").unwrap().is_none() {
        assert!(t0.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let id = bob.edit(&conv, seq, "bob's").await.unwrap();
    let t0 = std::time::Instant::now();
    while !bob
        .outbox()
        .unwrap()
        .iter()
        .any(|o| o.client_id == id && matches!(o.state, sync_core::OutboxState::Failed { .. }))
    {
        assert!(t0.elapsed() < Duration::from_secs(10), "never refused");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t0 = std::time::Instant::now();
    let err = bob
        .wait_sent(&id, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "waited {:?}",
        t0.elapsed()
    );
    assert_eq!(
        err.to_string(),
        "server refused edit: forbidden: only the sender may change a message"
    );
    alice.stop().await;
    bob.stop().await;
    server.shutdown().await;
}
