//! Session rules end to end: register/login/auth/logout, strikes, framing
//! errors, the 64 KiB frame cap.

mod common;

use common::{Client, PASSWORD, memory_server};
use serde_json::json;

#[tokio::test]
async fn register_login_auth_logout() {
    let server = memory_server().await;
    let url = server.url();
    let mut alice = Client::connect(&url).await;
    assert_eq!(alice.hello["protocol"], 1);
    assert_eq!(alice.hello["server_id"], server.server_id());
    assert_eq!(alice.hello["max_frame_bytes"], 65536);

    // Before auth: ping works, everything else is unauthenticated.
    assert_eq!(alice.request(json!({"type":"ping"})).await["type"], "pong");
    let r = alice.request(json!({"type":"sync"})).await;
    assert_eq!(r["code"], "unauthenticated");

    let r = alice
        .request(json!({"type":"register","user":"alice","password":PASSWORD,"device":"laptop-1"}))
        .await;
    assert_eq!(r["type"], "session");
    assert_eq!(r["user"], "alice");
    assert_eq!(r["device"], "laptop-1");
    let token = r["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    let r = alice
        .request(json!({"type":"auth","token":token,"device":"laptop-1"}))
        .await;
    assert_eq!(
        r["code"], "bad_request",
        "auth on an authenticated connection"
    );

    let mut other = Client::connect(&url).await;
    let r = other
        .request(json!({"type":"register","user":"alice","password":PASSWORD,"device":"x"}))
        .await;
    assert_eq!(r["code"], "conflict");
    let r = other
        .request(json!({"type":"login","user":"alice","password":"wrong password","device":"x"}))
        .await;
    assert_eq!(r["code"], "unauthorized");
    let r = other
        .request(json!({"type":"auth","token":token,"device":"phone"}))
        .await;
    assert_eq!(r["code"], "unauthorized", "a token belongs to its device");
    let r = other
        .request(json!({"type":"login","user":"alice","password":PASSWORD,"device":"phone"}))
        .await;
    assert_eq!(r["type"], "session");
    assert_ne!(r["token"], json!(token), "login issues a new token");

    let mut second = Client::connect(&url).await;
    let r = second
        .request(json!({"type":"auth","token":token,"device":"laptop-1"}))
        .await;
    assert_eq!(r["token"], json!(token));

    let r = alice.request(json!({"type":"logout"})).await;
    assert_eq!(r["type"], "ok");
    assert_eq!(alice.close_code().await, Some(4001));
    assert_eq!(
        second.close_code().await,
        Some(4001),
        "every connection of the token closes"
    );
    // The phone's token (another login) still works.
    assert_eq!(other.request(json!({"type":"sync"})).await["type"], "sync");

    let mut late = Client::connect(&url).await;
    let r = late
        .request(json!({"type":"auth","token":token,"device":"laptop-1"}))
        .await;
    assert_eq!(r["code"], "unauthorized", "revoked token");
    server.shutdown().await;
}

#[tokio::test]
async fn five_unauthorized_replies_close_with_1008() {
    let server = memory_server().await;
    let mut c = Client::connect(&server.url()).await;
    for i in 0..5 {
        let r = c
            .request(json!({"type":"auth","token":format!("bogus{i}"),"device":"d"}))
            .await;
        assert_eq!(r["code"], "unauthorized");
    }
    assert_eq!(c.close_code().await, Some(1008));
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_frames_keep_the_connection_open() {
    let server = memory_server().await;
    let mut c = Client::connect(&server.url()).await;
    c.send_text("not json".into()).await;
    let r = c.read_wire().await.unwrap();
    assert_eq!(
        (r["code"].as_str(), r["re"].is_null()),
        (Some("bad_request"), true)
    );
    c.send_text(r#"{"type":"frobnicate","id":7}"#.into()).await;
    let r = c.read_wire().await.unwrap();
    assert_eq!(
        (r["code"].as_str(), r["re"].as_u64()),
        (Some("bad_request"), Some(7))
    );
    c.ws.send(tokio_tungstenite::tungstenite::Message::Binary(
        vec![1, 2, 3].into(),
    ))
    .await
    .unwrap();
    let r = c.read_wire().await.unwrap();
    assert_eq!(
        (r["code"].as_str(), r["re"].is_null()),
        (Some("bad_request"), true)
    );
    assert_eq!(c.request(json!({"type":"ping"})).await["type"], "pong");
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_frame_closes_with_1009() {
    let server = memory_server().await;
    let mut c = Client::connect(&server.url()).await;
    let big = json!({"type":"ping","id":1,"pad":"x".repeat(70 * 1024)}).to_string();
    c.send_text(big).await;
    assert_eq!(c.close_code().await, Some(1009));
    server.shutdown().await;
}

use futures_util::SinkExt;

#[tokio::test]
async fn shutdown_closes_connections_with_1001_and_frees_the_port() {
    let server = memory_server().await;
    let addr = server.local_addr();
    let mut a = Client::register(&server.url(), "alice").await;
    let mut b = Client::connect(&server.url()).await;
    server.shutdown().await;
    assert_eq!(a.close_code().await, Some(1001));
    assert_eq!(b.close_code().await, Some(1001));
    let mut cfg = common::test_config(server_mock::DbLocation::Memory);
    cfg.listen = addr;
    let again = server_mock::start(cfg).await.unwrap();
    assert_eq!(again.local_addr(), addr);
    again.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_with_1013() {
    let mut cfg = common::test_config(server_mock::DbLocation::Memory);
    cfg.max_connections = 2;
    let server = server_mock::start(cfg).await.unwrap();
    let mut first = Client::connect(&server.url()).await;
    let _second = Client::connect(&server.url()).await;
    let (mut third, _) = tokio_tungstenite::connect_async(server.url())
        .await
        .unwrap();
    let code = loop {
        match futures_util::StreamExt::next(&mut third).await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(f))) => {
                break f.map(|f| u16::from(f.code));
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, Some(1013));
    assert_eq!(first.request(json!({"type":"ping"})).await["type"], "pong");
    server.shutdown().await;
}

#[tokio::test]
async fn pings_keep_answering_clients_and_silent_ones_are_closed() {
    use futures_util::StreamExt;
    use std::time::{Duration, Instant};
    use tokio_tungstenite::tungstenite::Message;
    let server = server_mock::start(server_mock::Config {
        ping_every: Duration::from_millis(100),
        idle_limit: Duration::from_millis(400),
        ..common::test_config(server_mock::DbLocation::Memory)
    })
    .await
    .unwrap();
    let url = server.url();

    // A reading client sees pings and answers them (tungstenite queues the pong
    // and flushes it on the next read): it stays open well past the limit.
    let mut live = Client::connect(&url).await;
    let start = Instant::now();
    let mut pings = 0;
    while start.elapsed() < Duration::from_millis(1_200) {
        match tokio::time::timeout(Duration::from_millis(300), live.ws.next()).await {
            Ok(Some(Ok(Message::Ping(_)))) => pings += 1,
            Ok(Some(Ok(Message::Close(c)))) => panic!("answering client closed: {c:?}"),
            Ok(Some(Ok(_))) | Err(_) => {}
            Ok(other) => panic!("answering client lost: {other:?}"),
        }
    }
    assert!(
        pings >= 5,
        "only {pings} pings in 1.2 s at a 100 ms interval"
    );
    assert_eq!(live.request(json!({"type":"ping"})).await["type"], "pong");

    // A client that neither sends nor reads (so never answers a ping) is closed
    // with 1000 once it has been silent for the limit.
    let mut silent = Client::connect(&url).await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(silent.close_code().await, Some(1000));
    server.shutdown().await;
}
