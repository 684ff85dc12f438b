//! What PROTOCOL.md lets a client do that sync-core never does: a client
//! written from the spec alone gets what the spec says. The first tests
//! were deviations an audit found (each says what server-mock did); the
//! others pin correct behaviour nothing else tested.

mod common;

use common::{Client, HANG, PASSWORD, memory_server, test_config};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use server_mock::{DbLocation, Features};
use tokio_tungstenite::tungstenite::Message;

/// Sends `text` verbatim and returns the next frame off the wire.
async fn raw(c: &mut Client, text: &str) -> Value {
    c.send_text(text.to_owned()).await;
    c.read_wire().await.expect("connection closed")
}

/// Sends `v` with the id `id` (not the client's counter) and returns the
/// first frame whose `re` is `id`.
async fn with_id(c: &mut Client, id: u64, mut v: Value) -> Value {
    v["id"] = json!(id);
    c.send_text(v.to_string()).await;
    c.reply_to(id).await
}

// ---------------------------------------------------------------------------
// Deviations found by the audit, now mended
// ---------------------------------------------------------------------------

/// §2: the transport is WebSocket (RFC 6455 §5.5.1: an endpoint that
/// receives a Close frame and did not send one first MUST answer with a
/// Close frame). server-mock dropped the TCP connection without answering
/// a client's Close: the client library saw an abnormal closure (1006,
/// tungstenite `ResetWithoutClosingHandshake`).
#[tokio::test]
async fn a_client_close_frame_is_answered_with_a_close_frame() {
    let server = memory_server().await;
    let mut c = Client::connect(&server.url()).await;
    c.ws.close(None).await.unwrap();
    let next = tokio::time::timeout(HANG, c.ws.next()).await.unwrap();
    assert!(
        matches!(next, Some(Ok(Message::Close(_)))),
        "expected the server's Close reply, got {next:?}"
    );
    server.shutdown().await;
}

/// §3 "Device ids: 1–64 printable ASCII chars", §7 "`client_id`: 1–64
/// printable ASCII chars". Printable ASCII is 0x20–0x7E (C `isprint`,
/// Python `str.isprintable`): the space is printable. server-mock accepted
/// only 0x21–0x7E and answered `bad_request` to a device "Alice laptop" or
/// a client_id "msg 1".
#[tokio::test]
async fn printable_ascii_ids_may_contain_a_space() {
    let server = memory_server().await;
    let mut c = Client::connect(&server.url()).await;
    let r = c
        .request(
            json!({"type":"register","user":"alice","password":PASSWORD,"device":"Alice laptop"}),
        )
        .await;
    assert_eq!(r["type"], "session", "device with a space: {r}");
    let conv = c.create_group("g", &[]).await;
    let r = c
        .request(json!({"type":"send","conv":conv,"client_id":"msg 1","body":"hi"}))
        .await;
    assert_eq!(r["type"], "sent", "client_id with a space: {r}");
    server.shutdown().await;
}

/// §6 "`limit` defaults to 100; values above 500 are treated as 500; 0 or
/// negative is `bad_request`." server-mock read `limit` as an i64: any
/// integer above 2^63-1 failed to decode and got `bad_request`
/// ("invalid request: … expected i64") instead of a page of 500.
#[tokio::test]
async fn a_limit_above_i64_is_treated_as_500() {
    let server = memory_server().await;
    let mut a = Client::register(&server.url(), "alice").await;
    let conv = a.create_group("g", &[]).await;
    for limit in [json!(9_223_372_036_854_775_808_u64), json!(u64::MAX)] {
        for req in [
            json!({"type":"pull","conv":conv,"after":0,"limit":limit}),
            json!({"type":"history","conv":conv,"limit":limit}),
        ] {
            let r = a.request(req.clone()).await;
            assert_eq!(r["type"], "messages", "{req} -> {r}");
            assert_eq!(r["messages"].as_array().map(Vec::len), Some(1), "{r}");
        }
    }
    server.shutdown().await;
}

/// §7 "A repeated request with the same `(sender, conv, client_id)` appends
/// nothing and returns the first `sent` reply again" (and the notes' order
/// of checks puts the dedup before the target rules). A `send` retried with
/// the same client_id but a `reply_to` naming no entry, or a non-`text`
/// entry, got `not_found` / `bad_request` instead of the first `sent`:
/// the `reply_to` target was checked before the dedup.
#[tokio::test]
async fn a_repeated_send_returns_the_first_sent_whatever_its_reply_to() {
    let server = memory_server().await;
    let mut a = Client::register(&server.url(), "alice").await;
    let conv = a.create_group("g", &[]).await;
    let first = a.send_msg(&conv, "k", "hello").await; // seq 2
    assert_eq!(first["seq"], 2);
    for reply_to in [999, 1] {
        let r = a
            .request(json!({"type":"send","conv":conv,"client_id":"k","body":"hello","reply_to":reply_to}))
            .await;
        assert_eq!(r["type"], "sent", "reply_to {reply_to}: {r}");
        assert_eq!((&r["seq"], &r["ts"]), (&first["seq"], &first["ts"]), "{r}");
    }
    server.shutdown().await;
}

/// §4 "A conversation that does not exist or of which the caller is not a
/// member: `not_found`"; conversation ids are opaque strings the server
/// issued ("c7"). server-mock parsed the digits, so "c07" and "c007" (never
/// issued) reached conversation c7: `pull` answered with `"conv":"c07"`,
/// `send` appended to c7.
#[tokio::test]
async fn a_conversation_id_never_issued_is_not_found() {
    let server = memory_server().await;
    let mut a = Client::register(&server.url(), "alice").await;
    let conv = a.create_group("g", &[]).await;
    let alias = format!("c0{}", &conv[1..]);
    let r = a
        .request(json!({"type":"pull","conv":alias,"after":0}))
        .await;
    assert_eq!(r["code"], "not_found", "{r}");
    let r = a
        .request(json!({"type":"send","conv":alias,"client_id":"k","body":"x"}))
        .await;
    assert_eq!(r["code"], "not_found", "{r}");
    server.shutdown().await;
}

/// §2: `"re":null` is for a frame that "is not a JSON object, has no usable
/// `id`, has an unknown `type` or is a binary frame" ("or the id, when one
/// could be read"). JSON the server's parser refuses (RFC 8259 §9 lets a
/// parser limit numbers and nesting; a lone surrogate escape names no
/// character) is `bad_request`, and answered with the frame's `id` when its
/// text names one, so the client knows which request failed (it got
/// `"re":null`).
#[tokio::test]
async fn json_the_server_refuses_is_answered_with_its_id() {
    let server = memory_server().await;
    let mut a = Client::register(&server.url(), "alice").await;
    let conv = a.create_group("g", &[]).await;
    let deep = format!(
        r#"{{"type":"ping","id":43,"x":{}{}}}"#,
        "[".repeat(130),
        "]".repeat(130)
    );
    for (id, text) in [
        (
            41,
            format!(
                r#"{{"type":"send","id":41,"conv":"{conv}","client_id":"k","body":"cut \ud83d"}}"#
            ),
        ),
        (42, r#"{"type":"ping","x":1e400, "id" : 42}"#.to_owned()),
        (43, deep),
    ] {
        let r = raw(&mut a, &text).await;
        assert_eq!((&r["type"], &r["re"]), (&json!("error"), &json!(id)), "{r}");
        assert_eq!(r["code"], "bad_request", "{r}");
    }
    // An `id` inside a nested object or a string is not the frame's.
    let r = raw(
        &mut a,
        r#"{"type":"ping","x":{"id":7},"y":"\"id\":8","z":1e400}"#,
    )
    .await;
    assert_eq!(r["re"], Value::Null, "{r}");
    server.shutdown().await;
}

/// §5 "Without `since` (or with one the server no longer knows) the reply
/// is the full list of the user's conversations and `full` is true."
/// (A made-up text shaped like server-mock's mid-listing token,
/// `f<counter>:c<conv>`, is taken as one: tokens are not signed.)
#[tokio::test]
async fn an_unknown_since_token_gets_the_whole_list() {
    let server = memory_server().await;
    let mut a = Client::register(&server.url(), "alice").await;
    let conv = a.create_group("g", &[]).await;
    for since in ["garbage", "s-1", "f"] {
        let r = a.request(json!({"type":"sync","since":since})).await;
        assert_eq!(r["full"], true, "{since}: {r}");
        assert_eq!(r["conversations"][0]["conv"], json!(conv), "{since}: {r}");
    }
    server.shutdown().await;
}

/// §2 "Server frames are at most 1 MiB", and the `members` reply is one
/// frame with every name. A group holds at most `MAX_GROUP_MEMBERS`
/// (25,000): that many names of 32 characters make a reply under 1 MiB,
/// and an `invite` past the bound is `too_large` with nothing appended
/// (shown with a bound of 3 here, so the test stays fast).
#[tokio::test]
async fn a_group_stays_small_enough_for_one_members_reply() {
    let names: Vec<String> = (0..server_mock::MAX_GROUP_MEMBERS)
        .map(|i| format!("m{i:031}"))
        .collect();
    let frame = sync_core::protocol::ServerFrame::Members {
        re: u64::MAX,
        conv: sync_core::protocol::ConvId::from("c9999999999"),
        members: names,
    };
    assert!(
        frame.to_json().len() <= 1024 * 1024,
        "{}",
        frame.to_json().len()
    );

    let server = server_mock::start(server_mock::Config {
        max_group_members: 3,
        ..test_config(DbLocation::Memory)
    })
    .await
    .unwrap();
    let mut a = Client::register(&server.url(), "alice").await;
    for u in ["bob", "carol", "dave"] {
        Client::register(&server.url(), u).await;
    }
    let conv = a.create_group("g", &["bob"]).await;
    let r = a
        .request(json!({"type":"invite","conv":conv,"users":["carol","dave"]}))
        .await;
    assert_eq!(r["type"], "error", "{r}");
    assert_eq!(r["code"], "too_large", "{r}");
    assert_eq!(
        r["message"],
        "a group holds at most 3 members (2 now, 2 invited)"
    );
    let r = a
        .request(json!({"type":"invite","conv":conv,"users":["carol","bob"]}))
        .await;
    assert_eq!(r["type"], "ok", "{r}");
    let r = a.request(json!({"type":"members","conv":conv})).await;
    assert_eq!(r["members"].as_array().map(Vec::len), Some(3), "{r}");
    server.shutdown().await;
}

// ---------------------------------------------------------------------------
// Correct behaviour that nothing else tests
// ---------------------------------------------------------------------------

/// §2 ids: any non-negative integer, echoed as `re` (0, past 2^53, u64::MAX),
/// the same id for requests in flight together; §2 field order is free.
#[tokio::test]
async fn ids_are_echoed_exactly_and_may_repeat() {
    let server = memory_server().await;
    let mut a = Client::register(&server.url(), "alice").await;
    let conv = a.create_group("g", &[]).await;
    for id in [0, (1_u64 << 53) + 1, u64::MAX] {
        let r = with_id(&mut a, id, json!({"type":"ping"})).await;
        assert_eq!(r, json!({"type":"pong","re":id}));
    }
    // Fields in any order, `type` last.
    let r = raw(&mut a, r#"{"id":5,"extra":[1,{"a":null}],"type":"ping"}"#).await;
    assert_eq!(r, json!({"type":"pong","re":5}));
    // The same id on three pipelined requests: three replies carrying it.
    for v in [
        json!({"type":"send","id":7,"conv":conv,"client_id":"k1","body":"x"}),
        json!({"type":"pull","id":7,"conv":conv,"after":0}),
        json!({"type":"ping","id":7}),
    ] {
        a.send_text(v.to_string()).await;
    }
    let mut types = Vec::new();
    while types.len() < 3 {
        let f = a.read_wire().await.unwrap();
        if f["re"] == 7 {
            types.push(f["type"].as_str().unwrap().to_owned());
        }
    }
    types.sort();
    assert_eq!(types, ["messages", "pong", "sent"]);
    server.shutdown().await;
}

/// Optional fields sent as explicit `null`: `since` (§5), `before` and
/// `limit` (§6) take their defaults.
#[tokio::test]
async fn optional_fields_may_be_null() {
    let server = memory_server().await;
    let mut a = Client::register(&server.url(), "alice").await;
    let conv = a.create_group("g", &[]).await;
    let r = a.request(json!({"type":"sync","since":null})).await;
    assert_eq!(
        (&r["type"], &r["full"]),
        (&json!("sync"), &json!(true)),
        "{r}"
    );
    let r = a
        .request(json!({"type":"pull","conv":conv,"after":0,"limit":null}))
        .await;
    assert_eq!(r["messages"].as_array().map(Vec::len), Some(1), "{r}");
    let r = a
        .request(json!({"type":"history","conv":conv,"before":null,"limit":null}))
        .await;
    assert_eq!(r["messages"].as_array().map(Vec::len), Some(1), "{r}");
    server.shutdown().await;
}

/// §7 bodies are stored and returned exactly as sent, control characters
/// included (`\u0000` too); §4 titles are bytes with one non-whitespace
/// character, so a NUL counts.
#[tokio::test]
async fn nul_characters_in_bodies_and_titles_survive() {
    let server = memory_server().await;
    let mut a = Client::register(&server.url(), "alice").await;
    let conv = a.create_group("g", &[]).await;
    a.send_msg(&conv, "n1", "a\u{0}b").await;
    a.send_msg(&conv, "n2", "\u{0}").await;
    let r = a
        .request(json!({"type":"rename","conv":conv,"title":"x\u{0}y"}))
        .await;
    assert_eq!(r["type"], "ok", "{r}");
    let r = a
        .request(json!({"type":"pull","conv":conv,"after":1}))
        .await;
    let bodies: Vec<&Value> = r["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["body"])
        .collect();
    assert_eq!(
        bodies,
        [&json!("a\u{0}b"), &json!("\u{0}"), &json!("x\u{0}y")],
        "{r}"
    );
    let s = a.request(json!({"type":"sync"})).await;
    assert_eq!(s["conversations"][0]["title"], "x\u{0}y", "{s}");
    server.shutdown().await;
}

/// §7: client ids are unique per sender *and conversation*: the same id in
/// another conversation is a new message; in the same one, a different
/// body still gets the first `sent`.
#[tokio::test]
async fn one_client_id_in_two_conversations_is_two_messages() {
    let server = memory_server().await;
    let mut a = Client::register(&server.url(), "alice").await;
    let c1 = a.create_group("one", &[]).await;
    let c2 = a.create_group("two", &[]).await;
    let s1 = a.send_msg(&c1, "same", "first").await;
    let s2 = a.send_msg(&c2, "same", "first").await;
    assert_eq!((&s1["conv"], &s2["conv"]), (&json!(c1), &json!(c2)));
    assert_eq!((&s1["seq"], &s2["seq"]), (&json!(2), &json!(2)));
    let again = a.send_msg(&c1, "same", "another body").await;
    assert_eq!((&again["seq"], &again["ts"]), (&s1["seq"], &s1["ts"]));
    let r = a.request(json!({"type":"pull","conv":c1,"after":1})).await;
    assert_eq!(r["last_seq"], 2, "{r}");
    server.shutdown().await;
}

/// Boundary values of §6 and §8: `after` past `last_seq`, `before` 1 and 0,
/// `read` with seq 0, below the cursor and at u64::MAX (capped to
/// `last_seq`), all accepted; the cursor never moves back.
#[tokio::test]
async fn boundary_seqs_are_accepted() {
    let server = memory_server().await;
    let mut a = Client::register(&server.url(), "alice").await;
    let mut b = Client::register(&server.url(), "bob").await;
    let conv = a.create_group("g", &["bob"]).await;
    a.send_msg(&conv, "k1", "x").await; // seq 2
    for (req, len) in [
        (json!({"type":"pull","conv":conv,"after":1_000_000}), 0),
        (json!({"type":"pull","conv":conv,"after":u64::MAX}), 0),
        (json!({"type":"history","conv":conv,"before":1}), 0),
        (json!({"type":"history","conv":conv,"before":0}), 0),
        (json!({"type":"history","conv":conv,"before":u64::MAX}), 2),
    ] {
        let r = b.request(req.clone()).await;
        assert_eq!(
            r["messages"].as_array().map(Vec::len),
            Some(len),
            "{req} -> {r}"
        );
        assert_eq!(r["last_seq"], 2, "{r}");
    }
    for seq in [json!(u64::MAX), json!(0), json!(1)] {
        let r = b
            .request(json!({"type":"read","conv":conv,"seq":seq}))
            .await;
        assert_eq!(r["type"], "ok", "{r}");
    }
    let s = b.request(json!({"type":"sync"})).await;
    assert_eq!(s["conversations"][0]["read_seq"], 2, "{s}");
    assert_eq!(s["conversations"][0]["unread"], 0, "{s}");
    server.shutdown().await;
}

/// §9 on a `--features none` server: a §9 request type is answered
/// `bad_request` before authentication too, `ping` works before
/// authentication, and nothing closes the connection.
#[tokio::test]
async fn a_version_1_server_answers_section_9_requests_before_auth_and_stays_open() {
    let mut config = test_config(DbLocation::Memory);
    config.features = Features::NONE;
    let server = server_mock::start(config).await.unwrap();
    let mut c = Client::connect(&server.url()).await;
    for req in [
        json!({"type":"settings","conv":"c1","pinned":true}),
        json!({"type":"react","conv":"c1","client_id":"k","target":1,"key":"x"}),
        json!({"type":"password","old":PASSWORD,"new":"another one"}),
    ] {
        let r = c.request(req.clone()).await;
        assert_eq!(r["code"], "bad_request", "{req} -> {r}");
    }
    assert_eq!(c.request(json!({"type":"ping"})).await["type"], "pong");
    server.shutdown().await;
}

/// `typing` spam: §8 stores nothing and sets no limit; 2,000 pipelined
/// `typing` requests are each answered `ok` and the other member (who
/// reads) gets them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_spam_is_answered_and_delivered() {
    const N: u64 = 2_000;
    let server = memory_server().await;
    let mut a = Client::register(&server.url(), "alice").await;
    let mut b = Client::register(&server.url(), "bob").await;
    let conv = a.create_group("g", &["bob"]).await;
    b.event("conversation").await;
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while n < N {
            let f = b.read_wire().await.expect("bob was closed");
            if f["type"] == "typing" {
                n += 1;
            }
        }
        b
    });
    for i in 0..N {
        a.send_text(json!({"type":"typing","id":i,"conv":conv}).to_string())
            .await;
    }
    let mut oks = 0;
    while oks < N {
        let f = a.read_wire().await.expect("alice was closed");
        if f["type"] == "ok" {
            oks += 1;
        }
    }
    let _b = tokio::time::timeout(HANG, reader).await.unwrap().unwrap();
    server.shutdown().await;
}

/// A WebSocket Ping from the client is answered with a Pong carrying its
/// payload, also in the middle of a fragmented text message (RFC 6455
/// §5.4: control frames may be injected between fragments).
#[tokio::test]
async fn client_pings_are_answered_between_fragments() {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let server = memory_server().await;
    let mut c = Client::connect(&server.url()).await;
    let text = br#"{"type":"ping","id":9}"#;
    let frag = |op: OpCode, fin: bool, data: &[u8]| {
        let mut f = Frame::message(data.to_vec(), op, fin);
        f.header_mut().is_final = fin;
        Message::Frame(f)
    };
    c.ws.send(frag(OpCode::Data(Data::Text), false, &text[..8]))
        .await
        .unwrap();
    c.ws.send(Message::Ping(b"abc".to_vec().into()))
        .await
        .unwrap();
    c.ws.send(frag(OpCode::Data(Data::Continue), true, &text[8..]))
        .await
        .unwrap();
    let (mut got_pong, mut reply) = (false, None);
    while !got_pong || reply.is_none() {
        match tokio::time::timeout(HANG, c.ws.next()).await.unwrap() {
            Some(Ok(Message::Pong(p))) => {
                assert_eq!(&p[..], b"abc");
                got_pong = true;
            }
            Some(Ok(Message::Text(t))) => {
                reply = Some(serde_json::from_str::<Value>(t.as_str()).unwrap());
            }
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(reply, Some(json!({"type":"pong","re":9})));
    server.shutdown().await;
}
