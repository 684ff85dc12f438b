//! Limits for a server on the open internet: the Origin check against
//! cross-site WebSocket hijacking, the per-address connection cap, and the
//! deadline for authenticating.

mod common;

use std::time::Duration;

use common::{Client, test_config};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

async fn upgrade_with_origin(url: &str, origin: Option<&str>) -> Result<(), WsError> {
    let mut req = url.into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.map(drop)
}

#[tokio::test]
async fn a_browser_origin_is_refused_unless_allowed() {
    let mut config = test_config(server_mock::DbLocation::Memory);
    config.allowed_origins = vec!["https://chat.example.org".into()];
    let server = server_mock::start(config).await.unwrap();
    let url = server.url();
    match upgrade_with_origin(&url, Some("https://evil.example")).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status().as_u16(), 403),
        other => panic!("a foreign origin was not refused: {other:?}"),
    }
    upgrade_with_origin(&url, None).await.unwrap();
    upgrade_with_origin(&url, Some("https://chat.example.org"))
        .await
        .unwrap();
    server.shutdown().await;
}

/// A WebSocket to `url` from the local address `from` (e.g. 127.0.0.2).
async fn ws_from(
    url: &str,
    from: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    ws_via(url, from, b"", None).await
}

async fn connect_from(url: &str, from: &str) -> Client {
    Client::from_ws(ws_from(url, from).await).await
}

#[tokio::test]
async fn one_address_holds_at_most_the_cap_of_connections() {
    let mut config = test_config(server_mock::DbLocation::Memory);
    config.max_per_address = 3;
    let server = server_mock::start(config).await.unwrap();
    let url = server.url();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from(&url, "127.0.0.1").await);
    }
    // The fourth completes the upgrade, then is told to try later.
    let mut fourth = ws_from(&url, "127.0.0.1").await;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(5), fourth.next())
            .await
            .expect("the fourth connection stayed open")
        {
            Some(Ok(Message::Close(f))) => break f.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            None | Some(Err(_)) => break None,
        }
    };
    assert_eq!(code, Some(1013));
    // Another address is not affected, and a freed slot is reusable.
    let mut other = connect_from(&url, "127.0.0.2").await;
    assert_eq!(
        other.request(serde_json::json!({"type":"ping"})).await["type"],
        "pong"
    );
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = connect_from(&url, "127.0.0.1").await;
    assert_eq!(
        again.request(serde_json::json!({"type":"ping"})).await["type"],
        "pong"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn an_unauthenticated_socket_that_answers_pings_is_closed() {
    let mut config = test_config(server_mock::DbLocation::Memory);
    config.auth_timeout = Duration::from_millis(800);
    config.ping_every = Duration::from_millis(100);
    let server = server_mock::start(config).await.unwrap();
    let mut idle = Client::connect(&server.url()).await;
    // Keep answering pings (tungstenite answers them while we read) and
    // sending pings of our own: still closed, with 1008.
    let code = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let _ = idle.send_json(serde_json::json!({"type":"ping"})).await;
            match tokio::time::timeout(Duration::from_millis(200), idle.ws.next()).await {
                Ok(Some(Ok(Message::Close(f)))) => return f.map(|f| u16::from(f.code)),
                Ok(None | Some(Err(_))) => return None,
                _ => {}
            }
        }
    })
    .await
    .expect("the unauthenticated socket stayed open");
    assert_eq!(code, Some(1008));
    // Authenticated connections are not affected.
    let mut alice = Client::register(&server.url(), "alice").await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(
        alice.request(serde_json::json!({"type":"ping"})).await["type"],
        "pong"
    );
    server.shutdown().await;
}

/// One login attempt for `user` from `from`; the reply's code (or "session").
async fn try_login(url: &str, from: &str, user: &str, password: &str) -> String {
    let mut c = connect_from(url, from).await;
    let r = c
        .request(serde_json::json!({"type":"login","user":user,"password":password,"device":"d"}))
        .await;
    r["code"].as_str().unwrap_or("session").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brute_force_burst_is_throttled_but_the_owner_at_home_gets_in() {
    let mut config = test_config(server_mock::DbLocation::Memory);
    config.login_limits.tarpit = Duration::from_millis(10);
    let server = server_mock::start(config).await.unwrap();
    let url = server.url();
    // alice registers from 127.0.0.1 (her usual address).
    let mut home = connect_from(&url, "127.0.0.1").await;
    let r = home
        .request(serde_json::json!({"type":"register","user":"alice","password":common::PASSWORD,"device":"laptop"}))
        .await;
    assert_eq!(r["type"], "session");
    // 20 addresses × 4 wrong guesses each.
    let (mut unauthorized, mut limited) = (0, 0);
    let mut retry_seen = false;
    for a in 0..20 {
        let from = format!("127.0.1.{}", a + 1);
        for _ in 0..4 {
            let mut c = connect_from(&url, &from).await;
            let r = c
                .request(serde_json::json!({"type":"login","user":"alice","password":"wrong-guess","device":"x"}))
                .await;
            match r["code"].as_str() {
                Some("unauthorized") => unauthorized += 1,
                Some("rate_limited") => {
                    limited += 1;
                    retry_seen |= r["retry_after_ms"].as_u64().is_some_and(|ms| ms >= 1000);
                }
                other => panic!("{other:?}: {r}"),
            }
        }
    }
    // Five guesses were checked; the other 75 were refused without hashing.
    assert_eq!((unauthorized, limited), (5, 75));
    assert!(retry_seen);
    // The owner, at home, still logs in during the burst.
    assert_eq!(
        try_login(&url, "127.0.0.1", "alice", common::PASSWORD).await,
        "session"
    );
    // One address guessing many accounts is throttled after 20 failures.
    for i in 0..20 {
        assert_eq!(
            try_login(&url, "127.0.2.1", &format!("user{i}"), "wrong-guess").await,
            "unauthorized"
        );
    }
    assert_eq!(
        try_login(&url, "127.0.2.1", "user99", "wrong-guess").await,
        "rate_limited"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_sends_over_five_connections_share_one_rate() {
    let mut config = test_config(server_mock::DbLocation::Memory);
    config.send_rate_per_sec = 2.0;
    config.send_burst = 10;
    let server = server_mock::start(config).await.unwrap();
    let url = server.url();
    let mut first = Client::register(&url, "alice").await;
    let conv = first.create_group("notes", &[]).await;
    let mut conns = vec![first];
    for _ in 0..4 {
        let c = conns[0].again(&url).await;
        conns.push(c);
    }
    // 5 connections × 10 sends, as fast as they go.
    let mut accepted = 0;
    let mut limited = 0;
    for round in 0..10 {
        for (k, c) in conns.iter_mut().enumerate() {
            let r = c
                .request(serde_json::json!({"type":"send","conv":conv,"client_id":format!("c{k}-{round}"),"body":"x"}))
                .await;
            match r["type"].as_str() {
                Some("sent") => accepted += 1,
                _ if r["code"] == "rate_limited" => limited += 1,
                _ => panic!("{r}"),
            }
        }
    }
    // One user's burst of 10 (plus what 2/s refills meanwhile), not 5 × 10.
    assert!(accepted <= 13, "accepted {accepted}");
    assert_eq!(accepted + limited, 50);
    server.shutdown().await;
}

/// Reads until the server closes; the close code (or None).
async fn close_code_of(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("the connection stayed open")
        {
            Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            None | Some(Err(_)) => return None,
        }
    }
}

/// A WebSocket from `from`, sending first `preface` bytes (a PROXY header)
/// and then the upgrade with an optional `X-Forwarded-For`.
async fn ws_via(
    url: &str,
    from: &str,
    preface: &[u8],
    forwarded: Option<&str>,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use tokio::io::AsyncWriteExt;
    let addr: std::net::SocketAddr = url
        .trim_start_matches("ws://")
        .trim_end_matches("/v1")
        .parse()
        .unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut tcp = socket.connect(addr).await.unwrap();
    tcp.write_all(preface).await.unwrap();
    let mut req = url.into_client_request().unwrap();
    if let Some(f) = forwarded {
        req.headers_mut()
            .insert("x-forwarded-for", f.parse().unwrap());
    }
    let (ws, _) =
        tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(tcp))
            .await
            .unwrap();
    ws
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_limits_count_the_client_it_names() {
    let mut config = test_config(server_mock::DbLocation::Memory);
    config.max_per_address = 1;
    config.trusted_proxies = vec![server_mock::proxy::Cidr::parse("127.0.0.1/32").unwrap()];
    let server = server_mock::start(config).await.unwrap();
    let url = server.url();
    // X-Forwarded-For from the trusted proxy: one connection per client.
    let _a = ws_via(&url, "127.0.0.1", b"", Some("198.51.100.1")).await;
    let mut a2 = ws_via(&url, "127.0.0.1", b"", Some("203.0.113.50, 198.51.100.1")).await;
    assert_eq!(close_code_of(&mut a2).await, Some(1013));
    let mut b = Client::from_ws(ws_via(&url, "127.0.0.1", b"", Some("198.51.100.2")).await).await;
    assert_eq!(
        b.request(serde_json::json!({"type":"ping"})).await["type"],
        "pong"
    );
    // The PROXY protocol (v1) from the trusted proxy.
    let v1 = b"PROXY TCP4 192.0.2.7 127.0.0.1 5555 7878\r\n";
    let _c = ws_via(&url, "127.0.0.1", v1, None).await;
    let mut c2 = ws_via(&url, "127.0.0.1", v1, None).await;
    assert_eq!(close_code_of(&mut c2).await, Some(1013));
    // The PROXY protocol v2 (binary): TCP over IPv4 from 192.0.2.8.
    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    v2.extend_from_slice(&[
        0x21, 0x11, 0, 12, 192, 0, 2, 8, 127, 0, 0, 1, 0x15, 0xb3, 0x1e, 0xc6,
    ]);
    let _e = ws_via(&url, "127.0.0.1", &v2, None).await;
    let mut e2 = ws_via(&url, "127.0.0.1", &v2, None).await;
    assert_eq!(close_code_of(&mut e2).await, Some(1013));
    // An untrusted peer cannot claim an address: it counts as itself.
    let _d = ws_via(&url, "127.0.0.3", b"", Some("198.51.100.9")).await;
    let mut d2 = ws_via(&url, "127.0.0.3", b"", Some("198.51.100.10")).await;
    assert_eq!(close_code_of(&mut d2).await, Some(1013));
    server.shutdown().await;
}
