//! Proxy behaviour against a tiny echo WebSocket server: exact byte counts, cuts between and
//! inside frames, delays that keep order, and an upstream restarted on the same port.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Direction, Faults, Proxy};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Echo server: every text frame it receives is reported on the channel and sent back.
async fn echo_server(listener: TcpListener) -> (JoinHandle<()>, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if let Message::Text(t) = msg {
                        let _ = tx.send(t.to_string());
                        if ws.send(Message::Text(t)).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (task, rx)
}

async fn start_echo() -> (SocketAddr, JoinHandle<()>, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (task, rx) = echo_server(listener).await;
    (addr, task, rx)
}

async fn connect(proxy: &Proxy) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(proxy.url()).await.unwrap();
    ws
}

/// Next text frame, or `None` if the connection ended or failed.
async fn next_text(ws: &mut Ws) -> Option<String> {
    let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .ok()??;
    match msg {
        Ok(Message::Text(t)) => Some(t.to_string()),
        _ => None,
    }
}

async fn drain(rx: &mut mpsc::UnboundedReceiver<String>) -> Vec<String> {
    // Give the echo server a moment to report frames still in flight.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut out = Vec::new();
    while let Ok(s) = rx.try_recv() {
        out.push(s);
    }
    out
}

#[tokio::test]
async fn clean_pipe_counts_exact_frame_bytes() {
    let (upstream, _srv, mut seen) = start_echo().await;
    let proxy = Proxy::start(upstream, Faults::none(), 1).await.unwrap();
    let mut ws = connect(&proxy).await;
    let before = proxy.stats();
    assert_eq!(before.connections, 1);
    assert!(
        before.bytes_up > 100 && before.bytes_down > 100,
        "upgrade counted: {before:?}"
    );
    ws.send(Message::Text("hello".into())).await.unwrap();
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("hello"));
    let after = proxy.stats();
    // Client frame: 2 header + 4 mask + 5 payload; server frame: 2 header + 5 payload.
    assert_eq!(after.bytes_up - before.bytes_up, 11);
    assert_eq!(after.bytes_down - before.bytes_down, 7);
    assert_eq!((after.frames_up, after.frames_down, after.cuts), (1, 1, 0));
    assert_eq!(drain(&mut seen).await, vec!["hello"]);
    proxy.reset_stats();
    assert_eq!(proxy.stats().bytes_down, 0);
}

#[tokio::test]
async fn cut_between_frames_drops_the_fatal_frame() {
    let (upstream, _srv, mut seen) = start_echo().await;
    // Frames: m1 up (1), echo down (2), m2 up (3) -> cut, m2 never reaches the server.
    let proxy = Proxy::start(upstream, Faults::cut_after(3), 7)
        .await
        .unwrap();
    let mut ws = connect(&proxy).await;
    ws.send(Message::Text("m1".into())).await.unwrap();
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("m1"));
    ws.send(Message::Text("m2".into())).await.unwrap();
    assert_eq!(next_text(&mut ws).await, None);
    assert_eq!(drain(&mut seen).await, vec!["m1"]);
    let s = proxy.stats();
    assert_eq!((s.frames_up, s.frames_down, s.cuts), (1, 1, 1));
}

#[tokio::test]
async fn cut_inside_a_frame_forwards_a_strict_prefix() {
    let (upstream, _srv, mut seen) = start_echo().await;
    // Frame 2 is the echo of m1: the client gets part of it, then the connection dies.
    let faults = Faults {
        mid_frame_probability: 1.0,
        ..Faults::cut_after(2)
    };
    let proxy = Proxy::start(upstream, faults, 42).await.unwrap();
    let mut ws = connect(&proxy).await;
    let before = proxy.stats();
    ws.send(Message::Text("a-longer-message".into()))
        .await
        .unwrap();
    assert_eq!(next_text(&mut ws).await, None);
    assert_eq!(drain(&mut seen).await, vec!["a-longer-message"]);
    let s = proxy.stats();
    let partial = s.bytes_down - before.bytes_down;
    // The whole echo frame is 2 + 16 bytes; strictly fewer, at least one, went through.
    assert!(
        (1..18).contains(&partial),
        "forwarded {partial} bytes of an 18-byte frame"
    );
    assert_eq!((s.frames_down, s.cuts), (0, 1));
}

#[tokio::test]
async fn delayed_and_stalled_frames_keep_their_order() {
    let (upstream, _srv, mut seen) = start_echo().await;
    let faults = Faults {
        delay_probability: 1.0,
        max_delay: Duration::from_millis(3),
        stall_probability: 0.2,
        max_stall: Duration::from_millis(20),
        ..Faults::none()
    };
    let proxy = Proxy::start(upstream, faults, 3).await.unwrap();
    let mut ws = connect(&proxy).await;
    let sent: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
    for m in &sent {
        ws.send(Message::Text(m.as_str().into())).await.unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..sent.len() {
        got.push(next_text(&mut ws).await.unwrap());
    }
    assert_eq!(got, sent);
    assert_eq!(drain(&mut seen).await, sent);
    assert_eq!(proxy.stats().cuts, 0);
}

#[tokio::test]
async fn cut_all_kills_open_connections_but_not_later_ones() {
    let (upstream, _srv, _seen) = start_echo().await;
    let proxy = Proxy::start(upstream, Faults::none(), 5).await.unwrap();
    let mut a = connect(&proxy).await;
    let mut b = connect(&proxy).await;
    proxy.cut_all();
    assert_eq!(next_text(&mut a).await, None);
    assert_eq!(next_text(&mut b).await, None);
    let mut c = connect(&proxy).await;
    c.send(Message::Text("still here".into())).await.unwrap();
    assert_eq!(next_text(&mut c).await.as_deref(), Some("still here"));
    assert_eq!(proxy.stats().cuts, 2);
}

#[tokio::test]
async fn upstream_restarted_on_the_same_port() {
    let (upstream, srv, _seen) = start_echo().await;
    let proxy = Proxy::start(upstream, Faults::none(), 9).await.unwrap();
    let mut ws = connect(&proxy).await;
    ws.send(Message::Text("one".into())).await.unwrap();
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("one"));

    // Kill the server: open connections die with it, new ones are refused by the proxy.
    srv.abort();
    let _ = srv.await;
    proxy.cut_all();
    assert_eq!(next_text(&mut ws).await, None);
    assert!(tokio_tungstenite::connect_async(proxy.url()).await.is_err());
    assert_eq!(proxy.stats().upstream_failures, 1);

    // Restart on the very same port; the proxy reaches it without being told.
    let listener = TcpListener::bind(upstream).await.unwrap();
    let (_srv2, mut seen2) = echo_server(listener).await;
    let mut ws = connect(&proxy).await;
    ws.send(Message::Text("two".into())).await.unwrap();
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("two"));
    assert_eq!(drain(&mut seen2).await, vec!["two"]);
}

#[tokio::test]
async fn seeded_plans_cut_some_connections_and_spare_others() {
    let (upstream, _srv, _seen) = start_echo().await;
    let faults = Faults {
        cut_probability: 0.5,
        cut_after_frames: 1..3,
        ..Faults::none()
    };
    let proxy = Proxy::start(upstream, faults, 1234).await.unwrap();
    let mut survived = 0;
    for i in 0..20 {
        let mut ws = connect(&proxy).await;
        let m = format!("x{i}");
        ws.send(Message::Text(m.as_str().into())).await.unwrap();
        if next_text(&mut ws).await.as_deref() == Some(m.as_str()) {
            ws.send(Message::Text("y".into())).await.unwrap();
            if next_text(&mut ws).await.as_deref() == Some("y") {
                survived += 1;
            }
        }
    }
    let s = proxy.stats();
    assert_eq!(s.cuts + survived, 20, "{s:?}");
    assert!(
        s.cuts > 0 && survived > 0,
        "cuts {} survived {survived}",
        s.cuts
    );
}

#[tokio::test]
async fn tap_sees_unmasked_payloads_both_ways() {
    let (upstream, _srv, _seen) = start_echo().await;
    let proxy = Proxy::start(upstream, Faults::none(), 11).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    proxy.set_tap(Some(std::sync::Arc::new(
        move |dir, opcode, payload: &[u8]| {
            let _ = tx.send((dir, opcode, String::from_utf8_lossy(payload).into_owned()));
        },
    )));
    let mut ws = connect(&proxy).await;
    ws.send(Message::Text("tapped".into())).await.unwrap();
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("tapped"));
    assert_eq!(
        rx.recv().await,
        Some((Direction::Up, 1, "tapped".to_owned()))
    );
    assert_eq!(
        rx.recv().await,
        Some((Direction::Down, 1, "tapped".to_owned()))
    );
}

#[tokio::test]
async fn record_logs_text_ping_pong_and_close_with_connection_and_direction() {
    use super::{WireEvent, WireFrame};
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

    let (upstream, _srv, _seen) = start_echo().await;
    let proxy = Proxy::start(upstream, Faults::none(), 13).await.unwrap();
    let log = proxy.record();
    let mut ws = connect(&proxy).await;
    ws.send(Message::Text("logged".into())).await.unwrap();
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("logged"));
    ws.send(Message::Ping(b"p1".to_vec().into())).await.unwrap();
    // The echo server's tungstenite answers the ping; wait for the pong to pass.
    while !matches!(ws.next().await, Some(Ok(Message::Pong(_)))) {}
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
    .await
    .unwrap();
    while ws.next().await.is_some() {}
    drop(ws);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let events: Vec<(u64, WireEvent)> =
        log.lines().into_iter().map(|l| (l.conn, l.event)).collect();
    let frame = |d, f| (1, WireEvent::Frame(d, f));
    assert_eq!(
        events,
        vec![
            (1, WireEvent::Opened),
            frame(Direction::Up, WireFrame::Text("logged".into())),
            frame(Direction::Down, WireFrame::Text("logged".into())),
            frame(Direction::Up, WireFrame::Ping(b"p1".to_vec())),
            frame(Direction::Down, WireFrame::Pong(b"p1".to_vec())),
            frame(Direction::Up, WireFrame::Close(Some(1000), "bye".into())),
            frame(Direction::Down, WireFrame::Close(Some(1000), "bye".into())),
            (1, WireEvent::Ended),
        ]
    );
    let lines = log.lines();
    assert!(lines.windows(2).all(|w| w[0].at <= w[1].at));
    let line: serde_json::Value = serde_json::from_str(&lines[1].to_json_line()).unwrap();
    let ms = (lines[1].at.as_secs_f64() * 10000.0).round() / 10.0;
    assert_eq!(
        line,
        serde_json::json!({"conn": 1, "dir": "up", "ms": ms, "text": "logged"})
    );
}
