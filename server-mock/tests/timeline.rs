//! Timeline internals end to end: group commit under concurrent senders,
//! push order, incremental sync from the change index, dedup, read state.

mod common;

use common::{Client, memory_server};
use serde_json::{Value, json};

/// Pipelines `n` sends on one connection and returns their `sent` seqs in
/// request order.
async fn burst(c: &mut Client, conv: &str, tag: &str, n: usize) -> Vec<u64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = c
            .send_json(json!({"type":"send","conv":conv,"client_id":format!("{tag}-{i}"),"body":format!("{tag} {i}")}))
            .await;
        ids.push(id);
    }
    let mut seqs = Vec::new();
    for id in ids {
        let r = c.reply_to(id).await;
        assert_eq!(r["type"], "sent", "{r}");
        seqs.push(r["seq"].as_u64().unwrap());
    }
    seqs
}

#[tokio::test]
async fn concurrent_senders_get_contiguous_seqs_and_ordered_pushes() {
    let server = memory_server().await;
    let url = server.url();
    let mut alice = Client::register(&url, "alice").await;
    let bob = Client::register(&url, "bob").await;
    let conv = alice.create_group("load", &["bob"]).await;
    let mut watcher = bob.again(&url).await;

    const PER: usize = 60;
    let mut tasks = Vec::new();
    for (k, who) in [&alice, &alice, &bob, &bob].into_iter().enumerate() {
        let mut c = who.again(&url).await;
        let conv = conv.clone();
        tasks.push(tokio::spawn(async move {
            burst(&mut c, &conv, &format!("s{k}"), PER).await
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.unwrap();
        // One connection's pipelined sends keep their order.
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        all.extend(seqs);
    }
    all.sort_unstable();
    let expected: Vec<u64> = (2..=(4 * PER as u64 + 1)).collect();
    assert_eq!(
        all, expected,
        "seq 1 is the create; then no gaps, no repeats"
    );

    // A member connection gets every push, in seq order, none skipped.
    let mut pushed = Vec::new();
    while pushed.len() < 4 * PER {
        let m = watcher.event("message").await;
        pushed.push(m["message"]["seq"].as_u64().unwrap());
    }
    assert_eq!(pushed, expected);

    // pull agrees with the pushes.
    let r = alice
        .request(json!({"type":"pull","conv":conv,"after":0,"limit":500}))
        .await;
    let seqs: Vec<u64> = r["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=(4 * PER as u64 + 1)).collect::<Vec<_>>());
    assert_eq!(r["last_seq"], 4 * PER as u64 + 1);
    server.shutdown().await;
}

/// Replies of writes are queued after commit by the delivery task, replies of
/// reads by the connection's own task: they still come back in request
/// order, and a read sees every write sent before it on the connection.
#[tokio::test]
async fn pipelined_writes_and_reads_are_answered_in_request_order() {
    let server = memory_server().await;
    let url = server.url();
    let mut alice = Client::register(&url, "alice").await;
    let mut bob = Client::register(&url, "bob").await;
    let conv = alice.create_group("order", &["bob"]).await;

    const N: usize = 50;
    let mut ids = Vec::new();
    for i in 0..N {
        ids.push(
            alice
                .send_json(json!({"type":"send","conv":conv,"client_id":format!("o-{i}"),"body":format!("o {i}")}))
                .await,
        );
    }
    ids.push(alice.send_json(json!({"type":"ping"})).await);
    ids.push(
        alice
            .send_json(json!({"type":"pull","conv":conv,"after":0,"limit":100}))
            .await,
    );

    let mut replies = Vec::new();
    while replies.len() < ids.len() {
        let f = alice.read_wire().await.expect("connection closed");
        if f.get("re").is_some() {
            replies.push(f);
        }
    }
    let order: Vec<u64> = replies.iter().map(|f| f["re"].as_u64().unwrap()).collect();
    assert_eq!(order, ids);
    let types: Vec<&str> = replies
        .iter()
        .map(|f| f["type"].as_str().unwrap())
        .collect();
    assert_eq!(types[..N], ["sent"; N]);
    assert_eq!(types[N..], ["pong", "messages"]);
    assert_eq!(replies[N + 1]["messages"].as_array().unwrap().len(), N + 1);
    let seqs: Vec<u64> = replies[..N]
        .iter()
        .map(|f| f["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (2..=(N as u64 + 1)).collect::<Vec<_>>());
    assert_eq!(replies[N + 1]["last_seq"], N as u64 + 1);

    // The other member got every push, in seq order.
    let mut pushed = Vec::new();
    while pushed.len() < N {
        let m = bob.event("message").await;
        pushed.push(m["message"]["seq"].as_u64().unwrap());
    }
    assert_eq!(pushed, seqs);
    server.shutdown().await;
}

fn convs(r: &Value) -> Vec<(String, u64, u64)> {
    let mut v: Vec<_> = r["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["conv"].as_str().unwrap().to_owned(),
                s["last_seq"].as_u64().unwrap(),
                s["unread"].as_u64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn incremental_sync_lists_only_changed_conversations() {
    let server = memory_server().await;
    let url = server.url();
    let mut alice = Client::register(&url, "alice").await;
    let mut bob = Client::register(&url, "bob").await;
    let c1 = alice.create_group("one", &["bob"]).await;
    let c2 = alice.create_group("two", &["bob"]).await;
    let c3 = alice.create_group("three", &[]).await;

    let full = alice.request(json!({"type":"sync"})).await;
    assert_eq!(
        (full["full"].as_bool(), full["more"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(
        convs(&full),
        vec![(c1.clone(), 1, 0), (c2.clone(), 1, 0), (c3.clone(), 1, 0)]
    );
    let t0 = full["since"].as_str().unwrap().to_owned();

    let r = alice.request(json!({"type":"sync","since":t0})).await;
    assert_eq!(
        (r["full"].as_bool(), convs(&r).len()),
        (Some(false), 0),
        "nothing changed"
    );

    bob.send_msg(&c2, "b1", "hello").await;
    bob.send_msg(&c2, "b2", "again").await;
    let r = alice.request(json!({"type":"sync","since":t0})).await;
    assert_eq!(convs(&r), vec![(c2.clone(), 3, 2)]);
    assert_eq!(r["conversations"][0]["last"]["body"], "again");
    let t1 = r["since"].as_str().unwrap().to_owned();

    // Reading moves alice's summary only.
    assert_eq!(
        alice
            .request(json!({"type":"read","conv":c2,"seq":2}))
            .await["type"],
        "ok"
    );
    let r = alice.request(json!({"type":"sync","since":t1})).await;
    assert_eq!(convs(&r), vec![(c2.clone(), 3, 1)]);
    assert_eq!(r["conversations"][0]["read_seq"], 2);
    let r2 = bob.request(json!({"type":"sync","since":t1})).await;
    assert_eq!(convs(&r2), vec![], "bob's summaries did not change");

    // Leaving is reported once with left=true, then never again.
    let t2 = bob.request(json!({"type":"sync"})).await["since"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        bob.request(json!({"type":"leave","conv":c1})).await["type"],
        "ok"
    );
    let r = bob.request(json!({"type":"sync","since":t2})).await;
    assert_eq!(r["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            r["conversations"][0]["conv"].as_str(),
            r["conversations"][0]["left"].as_bool()
        ),
        (Some(c1.as_str()), Some(true))
    );
    let t3 = r["since"].as_str().unwrap().to_owned();
    alice.send_msg(&c1, "a1", "after bob left").await;
    let r = bob.request(json!({"type":"sync","since":t3})).await;
    assert_eq!(
        convs(&r),
        vec![],
        "a left conversation is never listed again"
    );
    let r = bob
        .request(json!({"type":"pull","conv":c1,"after":0}))
        .await;
    assert_eq!(r["code"], "not_found");
    let full = bob.request(json!({"type":"sync"})).await;
    assert_eq!(convs(&full), vec![(c2.clone(), 3, 0)]);

    // An unknown token gets a full listing.
    let r = alice
        .request(json!({"type":"sync","since":"s999999"}))
        .await;
    assert_eq!((r["full"].as_bool(), convs(&r).len()), (Some(true), 3));
    server.shutdown().await;
}

#[tokio::test]
async fn dedup_edit_redact_and_read_events() {
    let server = memory_server().await;
    let url = server.url();
    let mut alice = Client::register(&url, "alice").await;
    let mut bob = Client::register(&url, "bob").await;
    let mut alice2 = alice.again(&url).await;
    let r = alice
        .request(json!({"type":"create","kind":"direct","members":["bob"]}))
        .await;
    let conv = r["conversation"]["conv"].as_str().unwrap().to_owned();
    assert_eq!(r["conversation"]["title"], "bob");
    let again = bob
        .request(json!({"type":"create","kind":"direct","members":["alice"]}))
        .await;
    assert_eq!(
        again["conversation"]["conv"].as_str(),
        Some(conv.as_str()),
        "one direct conversation per pair"
    );
    assert_eq!(again["conversation"]["title"], "alice");

    let first = alice.send_msg(&conv, "k1", "hi").await;
    let repeat = alice.send_msg(&conv, "k1", "hi (retry)").await;
    assert_eq!(
        (repeat["seq"].clone(), repeat["ts"].clone()),
        (first["seq"].clone(), first["ts"].clone())
    );
    assert_eq!(first["seq"], 2);

    let r = bob
        .request(json!({"type":"edit","conv":conv,"client_id":"e1","target":2,"body":"no"}))
        .await;
    assert_eq!(r["code"], "forbidden");
    let r = alice
        .request(json!({"type":"edit","conv":conv,"client_id":"e1","target":1,"body":"no"}))
        .await;
    assert_eq!(r["code"], "bad_request", "the create entry is not a text");
    let r = alice
        .request(json!({"type":"edit","conv":conv,"client_id":"e1","target":99,"body":"no"}))
        .await;
    assert_eq!(r["code"], "not_found");
    let r = alice
        .request(json!({"type":"redact","conv":conv,"client_id":"r1","target":2}))
        .await;
    assert_eq!(
        (r["type"].as_str(), r["seq"].as_u64()),
        (Some("sent"), Some(3))
    );
    let r = alice
        .request(json!({"type":"edit","conv":conv,"client_id":"e2","target":2,"body":"x"}))
        .await;
    assert_eq!(r["code"], "conflict");

    // bob reads: alice's other connections get a receipt; bob's own others would get `read`.
    assert_eq!(
        bob.request(json!({"type":"read","conv":conv,"seq":100}))
            .await["type"],
        "ok"
    );
    let receipt = alice2.event("receipt").await;
    assert_eq!(
        receipt,
        json!({"type":"receipt","conv":conv,"user":"bob","seq":3})
    );
    let s = bob.request(json!({"type":"sync"})).await;
    assert_eq!(
        (
            s["conversations"][0]["read_seq"].as_u64(),
            s["conversations"][0]["unread"].as_u64()
        ),
        (Some(3), Some(0))
    );

    assert_eq!(
        alice
            .request(json!({"type":"read","conv":conv,"seq":3}))
            .await["type"],
        "ok"
    );
    let ev = alice2.event("read").await;
    assert_eq!(ev, json!({"type":"read","conv":conv,"seq":3}));

    let r = alice.request(json!({"type":"typing","conv":conv})).await;
    assert_eq!(r["type"], "ok");
    assert_eq!(
        bob.event("typing").await,
        json!({"type":"typing","conv":conv,"user":"alice"})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn slow_consumer_is_closed_with_1013_while_others_keep_receiving() {
    let mut cfg = common::test_config(server_mock::DbLocation::Memory);
    cfg.outbound_queue = 16;
    cfg.outbound_queue_bytes = 16 * 16_000;
    let server = server_mock::start(cfg).await.unwrap();
    let url = server.url();
    let mut alice = Client::register(&url, "alice").await;
    // bob's first connection is the slow one: it never reads until the end.
    let mut slow = Client::register(&url, "bob").await;
    let conv = alice.create_group("firehose", &["bob"]).await;
    let mut fast = slow.again(&url).await;
    let before = server.authenticated_connections();

    let body = "x".repeat(16_000);
    let mut sent = 0u64;
    // Send until the server drops the slow connection (bounded by a cap).
    while server.authenticated_connections() == before && sent < 3000 {
        let mut ids = Vec::new();
        for _ in 0..5 {
            sent += 1;
            ids.push(alice.send_json(json!({"type":"send","conv":conv,"client_id":format!("c{sent}"),"body":body})).await);
        }
        for id in ids {
            assert_eq!(alice.reply_to(id).await["type"], "sent");
        }
        alice.pending.clear();
        // The fast reader keeps up with every push.
        for _ in 0..5 {
            fast.event("message").await;
        }
    }
    assert_eq!(
        server.authenticated_connections(),
        before - 1,
        "the slow connection was dropped"
    );
    let mut got = 0u64;
    let code = loop {
        match slow.ws.next().await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_))) => got += 1,
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(f))) => {
                break f.map(|f| u16::from(f.code));
            }
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, Some(1013));
    assert!(
        got < sent,
        "the slow consumer's backlog was dropped ({got} of {sent})"
    );
    // Everyone else still gets pushes.
    alice.send_msg(&conv, "after", "still here").await;
    let m = fast.event("message").await;
    assert_eq!(m["message"]["client_id"], "after");
    server.shutdown().await;
}

/// One commit's fan-out is not a slow reader: an invite of 2,000 users is
/// 2,000 `join` pushes to every online member at once. With a queue bounded
/// by 1,024 frames alone, the inviter and every online member were closed
/// with 1013. They stay connected and get every join, in order.
#[tokio::test]
async fn a_large_invite_s_joins_reach_every_online_member() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let server = server_mock::start(common::test_config(server_mock::DbLocation::Path(
        db.clone(),
    )))
    .await
    .unwrap();
    let url = server.url();
    let mut alice = Client::register(&url, "alice").await;
    let mut bob = Client::register(&url, "bob").await;
    let conv = alice.create_group("everyone", &["bob"]).await;
    // 2,000 accounts without a password hash each (argon2 would take long).
    let names: Vec<String> = (0..2000).map(|i| format!("u{i:04}")).collect();
    let mut conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let tx = conn.transaction().unwrap();
    for n in &names {
        tx.execute(
            "INSERT INTO users (name, pw_hash, created_ms) VALUES (?1, 'none', 0)",
            [n],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    drop(conn);
    let before = server.authenticated_connections();
    let r = alice
        .request(json!({"type":"invite","conv":conv,"users":names}))
        .await;
    assert_eq!(r["type"], "ok", "{r}");
    for who in [&mut bob, &mut alice] {
        for (i, name) in names.iter().enumerate() {
            let m = who.event("message").await;
            assert_eq!(
                (&m["message"]["kind"], &m["message"]["user"]),
                (&json!("join"), &json!(name)),
                "join {i}"
            );
        }
    }
    assert_eq!(server.authenticated_connections(), before);
    server.shutdown().await;
}

use futures_util::StreamExt;

#[tokio::test]
async fn invite_rename_members_and_history_pages() {
    let server = memory_server().await;
    let url = server.url();
    let mut alice = Client::register(&url, "alice").await;
    let mut bob = Client::register(&url, "bob").await;
    let mut dave = Client::register(&url, "dave").await;
    let conv = alice.create_group("rust", &["bob", "alice", "bob"]).await;
    let ev = bob.event("conversation").await;
    assert_eq!(ev["conversation"]["title"], "rust");
    assert_eq!(ev["conversation"]["member_count"], 2);

    let r = alice
        .request(json!({"type":"create","kind":"group","members":["bob"]}))
        .await;
    assert_eq!(r["code"], "bad_request", "a group needs a title");
    let r = alice
        .request(json!({"type":"create","kind":"group","title":"x".repeat(257),"members":[]}))
        .await;
    assert_eq!(r["code"], "too_large");
    let r = alice
        .request(json!({"type":"create","kind":"group","title":"t","members":["nobody"]}))
        .await;
    assert_eq!(r["code"], "not_found");
    let r = dave.request(json!({"type":"members","conv":conv})).await;
    assert_eq!(r["code"], "not_found", "strangers learn nothing");

    assert_eq!(
        bob.request(json!({"type":"invite","conv":conv,"users":["dave","alice"]}))
            .await["type"],
        "ok"
    );
    let ev = dave.event("conversation").await;
    assert_eq!(
        (
            ev["conversation"]["conv"].as_str(),
            ev["conversation"]["last_seq"].as_u64()
        ),
        (Some(conv.as_str()), Some(2))
    );
    let join = dave.event("message").await;
    assert_eq!(
        (
            join["message"]["kind"].as_str(),
            join["message"]["user"].as_str(),
            join["message"]["sender"].as_str()
        ),
        (Some("join"), Some("dave"), Some("bob"))
    );
    let r = alice.request(json!({"type":"members","conv":conv})).await;
    assert_eq!(r["members"], json!(["alice", "bob", "dave"]));

    assert_eq!(
        dave.request(json!({"type":"rename","conv":conv,"title":"rustaceans"}))
            .await["type"],
        "ok"
    );
    let t = alice.event("message").await;
    let t = if t["message"]["kind"] == "join" {
        alice.event("message").await
    } else {
        t
    };
    assert_eq!(
        (t["message"]["kind"].as_str(), t["message"]["body"].as_str()),
        (Some("title"), Some("rustaceans"))
    );

    for i in 0..7 {
        alice
            .send_msg(&conv, &format!("h{i}"), &format!("h{i}"))
            .await;
    }
    // seqs: 1 create, 2 join, 3 title, 4..=10 texts.
    let r = dave
        .request(json!({"type":"history","conv":conv,"limit":3}))
        .await;
    let seqs = |r: &Value| {
        r["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        (seqs(&r), r["last_seq"].as_u64()),
        (vec![8, 9, 10], Some(10))
    );
    let r = dave
        .request(json!({"type":"history","conv":conv,"before":8,"limit":5}))
        .await;
    assert_eq!(seqs(&r), vec![3, 4, 5, 6, 7]);
    let r = dave
        .request(json!({"type":"history","conv":conv,"before":1}))
        .await;
    assert_eq!(seqs(&r), Vec::<u64>::new());
    let r = dave
        .request(json!({"type":"pull","conv":conv,"after":8}))
        .await;
    assert_eq!(seqs(&r), vec![9, 10]);
    let r = dave
        .request(json!({"type":"pull","conv":conv,"after":0,"limit":0}))
        .await;
    assert_eq!(r["code"], "bad_request");
    let s = dave.request(json!({"type":"sync"})).await;
    let c = &s["conversations"][0];
    assert_eq!(
        (
            c["title"].as_str(),
            c["member_count"].as_u64(),
            c["unread"].as_u64()
        ),
        (Some("rustaceans"), Some(3), Some(7))
    );
    assert_eq!(c["last"]["body"], "h6");

    let d = alice
        .request(json!({"type":"create","kind":"direct","members":["bob"]}))
        .await;
    let dconv = d["conversation"]["conv"].as_str().unwrap().to_owned();
    let r = alice.request(json!({"type":"leave","conv":dconv})).await;
    assert_eq!(
        r["code"], "bad_request",
        "cannot leave a direct conversation"
    );
    let r = alice
        .request(json!({"type":"send","conv":"c999","client_id":"x","body":"hi"}))
        .await;
    assert_eq!(r["code"], "not_found");
    let r = alice
        .request(json!({"type":"send","conv":conv,"client_id":"x","body":"  "}))
        .await;
    assert_eq!(r["code"], "bad_request");
    let r = alice
        .request(
            json!({"type":"send","conv":conv,"client_id":"x","body":"y".repeat(16 * 1024 + 1)}),
        )
        .await;
    assert_eq!(r["code"], "too_large");
    server.shutdown().await;
}
