//! sync-core against a small independent server (written here from
//! PROTOCOL.md alone, not server-mock) that uses what the protocol allows a
//! later server to send: entries of kinds this client does not know (§6: "a
//! client ignores kinds and fields it does not know") and fields it does
//! not know, in pages and in pushes, an event type and an error code it
//! does not know. The client keeps every seq (no gap is left to pull
//! forever), shows the texts around them, ends the request the unknown
//! error answers, and reports no protocol error.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sync_core::protocol::{ConvId, EntryKind};
use sync_core::{ClientBuilder, ErrorEvent, Event, TimelineItem, TimelineQuery};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as Ws;

/// The timeline the tiny server holds: known and unknown kinds mixed.
fn entries() -> Vec<Value> {
    vec![
        json!({"seq":1,"sender":"alice","ts":1,"kind":"create","title":"bob","members":["alice","bob"]}),
        json!({"seq":2,"sender":"bob","ts":2,"kind":"text","body":"before the poll","colour":"red"}),
        json!({"seq":3,"sender":"bob","ts":3,"kind":"poll","question":"lunch?","options":["yes","no"]}),
        json!({"seq":4,"sender":"bob","ts":4,"kind":"text","body":"after the poll"}),
    ]
}

fn summary(last_seq: u64) -> Value {
    json!({"conv":"c1","kind":"direct","title":"bob","member_count":2,"last_seq":last_seq,
           "read_seq":0,"unread":2,"last":entries()[3],"left":false,"future_field":{"x":1}})
}

/// Serves one connection at a time until the test ends: `hello` (no §9
/// features), then answers what sync-core asks for.
async fn serve(listener: TcpListener) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            let hello = json!({"type":"hello","protocol":1,"server":"tiny/0.1","server_id":"tiny-1",
                               "max_frame_bytes":65536,"max_body_bytes":16384,"flavour":"independent"});
            if ws.send(Ws::Text(hello.to_string().into())).await.is_err() {
                return;
            }
            while let Some(Ok(frame)) = ws.next().await {
                let Ws::Text(text) = frame else { continue };
                let Ok(req) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let id = req["id"].clone();
                let reply = match req["type"].as_str().unwrap_or("") {
                    "register" | "login" | "auth" => vec![json!({"type":"session","re":id,
                        "user":"alice","device":req["device"],"token":"tiny-token"})],
                    "sync" => vec![json!({"type":"sync","re":id,"since":"t1","full":true,
                        "more":false,"conversations":[summary(4)]})],
                    "pull" => {
                        let after = req["after"].as_u64().unwrap_or(0);
                        let page: Vec<Value> = entries()
                            .into_iter()
                            .filter(|e| e["seq"].as_u64().unwrap() > after)
                            .collect();
                        vec![
                            json!({"type":"messages","re":id,"conv":"c1","messages":page,"last_seq":4}),
                        ]
                    }
                    "history" => {
                        let before = req["before"].as_u64().unwrap_or(u64::MAX);
                        let page: Vec<Value> = entries()
                            .into_iter()
                            .filter(|e| e["seq"].as_u64().unwrap() < before)
                            .collect();
                        vec![
                            json!({"type":"messages","re":id,"conv":"c1","messages":page,"last_seq":4}),
                        ]
                    }
                    "ping" => vec![json!({"type":"pong","re":id})],
                    // An event of a later protocol first, then an error code
                    // this client does not know.
                    "members" => vec![
                        json!({"type":"presence","user":"bob","online":true}),
                        json!({"type":"error","re":id,"code":"unavailable",
                               "message":"members are being moved"}),
                    ],
                    _ => vec![json!({"type":"ok","re":id})],
                };
                for r in reply {
                    if ws.send(Ws::Text(r.to_string().into())).await.is_err() {
                        return;
                    }
                }
                if req["type"] == "sync" {
                    // Later pushes: an unknown kind, then a text after it.
                    let sticker = json!({"type":"message","conv":"c1","message":
                        {"seq":5,"sender":"bob","ts":5,"kind":"sticker","pack":"cats"}});
                    let text = json!({"type":"message","conv":"c1","message":
                        {"seq":6,"sender":"bob","ts":6,"kind":"text","body":"after the sticker"}});
                    for p in [sticker, text] {
                        if ws.send(Ws::Text(p.to_string().into())).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kinds_and_fields_hold_their_seq_and_are_ignored() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/v1", listener.local_addr().unwrap());
    let server = tokio::spawn(serve(listener));
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut events) = ClientBuilder::new(&url, dir.path().join("a.db"), "dev")
        .open()
        .unwrap();
    alice.login("alice", "password-1").await.unwrap();
    alice.wait_live(Duration::from_secs(20)).await.unwrap();
    let conv = ConvId::from("c1");
    alice.open(&conv).await.unwrap();

    let want = vec![
        (1, EntryKind::Create, None),
        (2, EntryKind::Text, Some("before the poll")),
        (3, EntryKind::Unknown, None),
        (4, EntryKind::Text, Some("after the poll")),
        (5, EntryKind::Unknown, None),
        (6, EntryKind::Text, Some("after the sticker")),
    ];
    let held = || {
        alice
            .timeline(&conv, TimelineQuery::Latest { limit: 100 })
            .unwrap()
            .into_iter()
            .map(|i| match i {
                TimelineItem::Message(m) => (m.seq, m.kind, m.body),
                other => panic!("not a held entry: {other:?}"),
            })
            .collect::<Vec<_>>()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = held();
        let got: Vec<_> = got.iter().map(|(s, k, b)| (*s, *k, b.as_deref())).collect();
        if got == want {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "held {got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // An unknown error code is an error of its own, not a hang until the
    // request times out.
    let err = tokio::time::timeout(Duration::from_secs(5), alice.members(&conv))
        .await
        .expect("the error reply ends the request")
        .unwrap_err();
    match err {
        sync_core::Error::Server { code, message, .. } => {
            assert_eq!(
                (code, message.as_str()),
                (
                    sync_core::protocol::ErrorCode::Unknown,
                    "members are being moved"
                )
            );
        }
        other => panic!("{other:?}"),
    }
    while let Some(e) = events.try_recv() {
        assert!(
            !matches!(e, Event::Error(ErrorEvent::Protocol(_))),
            "a protocol error: {e:?}"
        );
    }
    alice.stop().await;
    server.abort();
}
