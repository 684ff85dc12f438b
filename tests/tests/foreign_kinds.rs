//! sync-core against a small independent server (written here from
//! PROTOCOL.md alone, not server-mock) that makes choices the protocol
//! allows and server-mock does not:
//! - entries of kinds this client does not know (§6: "a client ignores
//!   kinds and fields it does not know") and fields it does not know, in
//!   pages and in pushes, an event type and an error code it does not know;
//! - pages far smaller than asked for (§6: "at most `limit`"; a client
//!   repeats `pull` until it holds `last_seq`).
//!
//! The client keeps every seq (no gap is left to pull forever), shows the
//! texts around the unknown entries, ends the request the unknown error
//! answers, fetches whole timelines three entries at a time, and reports no
//! protocol error.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sync_core::protocol::{ConvId, EntryKind};
use sync_core::{Client, ClientBuilder, ErrorEvent, Event, Events, TimelineItem, TimelineQuery};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as Ws;

/// What the tiny server holds and how it pages.
struct World {
    /// Per conversation: its summary's fixed fields and its timeline.
    convs: Vec<(Value, Vec<Value>)>,
    /// The most entries a `messages` page carries, whatever the `limit`.
    page: usize,
    /// Pushed once a `sync` is answered.
    pushes: Vec<Value>,
}

impl World {
    fn timeline(&self, conv: &str) -> &[Value] {
        self.convs
            .iter()
            .find(|(s, _)| s["conv"] == conv)
            .map_or(&[], |(_, e)| e.as_slice())
    }

    fn summaries(&self) -> Vec<Value> {
        self.convs
            .iter()
            .map(|(s, entries)| {
                let mut s = s.clone();
                let mut texts = entries.iter().filter(|e| e["kind"] == "text");
                s["last_seq"] = entries.last().map_or(json!(0), |e| e["seq"].clone());
                s["last"] = texts.next_back().cloned().unwrap_or(Value::Null);
                s
            })
            .collect()
    }

    /// The `messages` reply to a `pull` or `history` request.
    fn page(&self, req: &Value) -> Value {
        let conv = req["conv"].as_str().unwrap_or("");
        let all = self.timeline(conv);
        let limit = req["limit"].as_u64().unwrap_or(100) as usize;
        let n = limit.min(self.page);
        let seq = |e: &Value| e["seq"].as_u64().unwrap();
        let page: Vec<Value> = if req["type"] == "pull" {
            let after = req["after"].as_u64().unwrap_or(0);
            all.iter()
                .filter(|e| seq(e) > after)
                .take(n)
                .cloned()
                .collect()
        } else {
            let before = req["before"].as_u64().unwrap_or(u64::MAX);
            let older: Vec<&Value> = all.iter().filter(|e| seq(e) < before).collect();
            older[older.len().saturating_sub(n)..]
                .iter()
                .map(|e| (*e).clone())
                .collect()
        };
        let last_seq = all.last().map_or(0, seq);
        json!({"type":"messages","re":req["id"],"conv":conv,"messages":page,"last_seq":last_seq})
    }

    fn answer(&self, req: &Value) -> Vec<Value> {
        let id = req["id"].clone();
        match req["type"].as_str().unwrap_or("") {
            "register" | "login" | "auth" => vec![json!({"type":"session","re":id,
                "user":"alice","device":req["device"],"token":"tiny-token"})],
            "sync" => {
                let mut out = vec![json!({"type":"sync","re":id,"since":"t1","full":true,
                    "more":false,"conversations":self.summaries()})];
                out.extend(self.pushes.iter().cloned());
                out
            }
            "pull" | "history" => vec![self.page(req)],
            "ping" => vec![json!({"type":"pong","re":id})],
            // An event of a later protocol first, then an error code this
            // client does not know.
            "members" => vec![
                json!({"type":"presence","user":"bob","online":true}),
                json!({"type":"error","re":id,"code":"unavailable",
                       "message":"members are being moved"}),
            ],
            _ => vec![json!({"type":"ok","re":id})],
        }
    }
}

/// Serves every connection: `hello` (no §9 features), then answers.
async fn serve(listener: TcpListener, world: Arc<World>) {
    while let Ok((tcp, _)) = listener.accept().await {
        let world = world.clone();
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
                for r in world.answer(&req) {
                    if ws.send(Ws::Text(r.to_string().into())).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

/// A logged-in client of a tiny server holding `world`.
async fn client_of(
    world: World,
) -> (
    Client,
    Events,
    tempfile::TempDir,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/v1", listener.local_addr().unwrap());
    let server = tokio::spawn(serve(listener, Arc::new(world)));
    let dir = tempfile::tempdir().unwrap();
    let (client, events) = ClientBuilder::new(&url, dir.path().join("a.db"), "dev")
        .open()
        .unwrap();
    client.login("alice", "password-1").await.unwrap();
    client.wait_live(Duration::from_secs(20)).await.unwrap();
    (client, events, dir, server)
}

/// `conv`'s timeline as (seq, kind, body); panics on a gap or an echo.
fn held(client: &Client, conv: &ConvId) -> Vec<(u64, EntryKind, Option<String>)> {
    client
        .timeline(conv, TimelineQuery::Latest { limit: 1_000 })
        .unwrap()
        .into_iter()
        .map(|i| match i {
            TimelineItem::Message(m) => (m.seq, m.kind, m.body),
            other => panic!("not a held entry: {other:?}"),
        })
        .collect()
}

/// Waits until `conv`'s timeline is `want`.
async fn until_held(client: &Client, conv: &ConvId, want: &[(u64, EntryKind, Option<&str>)]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = std::panic::catch_unwind(|| held(client, conv)).unwrap_or_default();
        let got: Vec<_> = got.iter().map(|(s, k, b)| (*s, *k, b.as_deref())).collect();
        if got == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "held {got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn borrowed(v: &[(u64, EntryKind, Option<String>)]) -> Vec<(u64, EntryKind, Option<&str>)> {
    v.iter().map(|(s, k, b)| (*s, *k, b.as_deref())).collect()
}

fn no_protocol_errors(events: &mut Events) {
    while let Some(e) = events.try_recv() {
        assert!(
            !matches!(e, Event::Error(ErrorEvent::Protocol(_))),
            "a protocol error: {e:?}"
        );
    }
}

fn direct(conv: &str, title: &str) -> Value {
    json!({"conv":conv,"kind":"direct","title":title,"member_count":2,"read_seq":0,
           "unread":0,"left":false,"future_field":{"x":1}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kinds_and_fields_hold_their_seq_and_are_ignored() {
    let timeline = vec![
        json!({"seq":1,"sender":"alice","ts":1,"kind":"create","title":"bob","members":["alice","bob"]}),
        json!({"seq":2,"sender":"bob","ts":2,"kind":"text","body":"before the poll","colour":"red"}),
        json!({"seq":3,"sender":"bob","ts":3,"kind":"poll","question":"lunch?","options":["yes","no"]}),
        json!({"seq":4,"sender":"bob","ts":4,"kind":"text","body":"after the poll"}),
    ];
    let pushes = vec![
        json!({"type":"message","conv":"c1","message":
            {"seq":5,"sender":"bob","ts":5,"kind":"sticker","pack":"cats"}}),
        json!({"type":"message","conv":"c1","message":
            {"seq":6,"sender":"bob","ts":6,"kind":"text","body":"after the sticker"}}),
    ];
    let world = World {
        convs: vec![(direct("c1", "bob"), timeline)],
        page: 100,
        pushes,
    };
    let (alice, mut events, _dir, server) = client_of(world).await;
    let conv = ConvId::from("c1");
    alice.open(&conv).await.unwrap();
    until_held(
        &alice,
        &conv,
        &[
            (1, EntryKind::Create, None),
            (2, EntryKind::Text, Some("before the poll")),
            (3, EntryKind::Unknown, None),
            (4, EntryKind::Text, Some("after the poll")),
            (5, EntryKind::Unknown, None),
            (6, EntryKind::Text, Some("after the sticker")),
        ],
    )
    .await;

    // An unknown error code is an error of its own, not a hang until the
    // request times out.
    let err = tokio::time::timeout(Duration::from_secs(5), alice.members(&conv))
        .await
        .expect("the error reply ends the request")
        .unwrap_err();
    match err {
        sync_core::Error::Server { code, message, .. } => assert_eq!(
            (code, message.as_str()),
            (
                sync_core::protocol::ErrorCode::Unknown,
                "members are being moved"
            )
        ),
        other => panic!("{other:?}"),
    }
    no_protocol_errors(&mut events);
    alice.stop().await;
    server.abort();
}

/// Pages of three entries whatever the limit: a direct conversation is
/// caught up whole, and a group opened and scrolled back to its start
/// holds every entry, in order, with no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_smaller_than_asked_for_still_fill_the_timeline() {
    let texts = |conv: &str, n: u64| -> Vec<Value> {
        let create = json!({"seq":1,"sender":"bob","ts":1,"kind":"create","title":conv,
                            "members":["alice","bob"]});
        std::iter::once(create)
            .chain((2..=n).map(|s| {
                json!({"seq":s,"sender":"bob","ts":s,"kind":"text","body":format!("{conv} {s}")})
            }))
            .collect()
    };
    let group = json!({"conv":"g1","kind":"group","title":"g1","member_count":2,"read_seq":0,
                       "unread":0,"left":false});
    let world = World {
        convs: vec![
            (direct("d1", "bob"), texts("d1", 20)),
            (group, texts("g1", 25)),
        ],
        page: 3,
        pushes: Vec::new(),
    };
    let (alice, mut events, _dir, server) = client_of(world).await;
    let want = |conv: &str, n: u64| -> Vec<(u64, EntryKind, Option<String>)> {
        (1..=n)
            .map(|s| match s {
                1 => (1, EntryKind::Create, None),
                s => (s, EntryKind::Text, Some(format!("{conv} {s}"))),
            })
            .collect()
    };
    let d1 = ConvId::from("d1");
    alice.open(&d1).await.unwrap();
    until_held(&alice, &d1, &borrowed(&want("d1", 20))).await;

    let g1 = ConvId::from("g1");
    alice.open(&g1).await.unwrap();
    for _ in 0..20 {
        let got = std::panic::catch_unwind(|| held(&alice, &g1)).unwrap_or_default();
        if got.first().is_some_and(|(s, _, _)| *s == 1) {
            break;
        }
        alice.load_older(&g1).await.unwrap();
    }
    until_held(&alice, &g1, &borrowed(&want("g1", 25))).await;
    no_protocol_errors(&mut events);
    alice.stop().await;
    server.abort();
}
