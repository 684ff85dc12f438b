//! server-mock on PostgreSQL, beyond the conformance suite (which
//! `conformance.rs` also runs there): `hello.server_id` belongs to the
//! database, not to the process, and sync tokens stay safe with several
//! nodes writing. Needs PostgreSQL (see `conformance::pg`).

#[path = "../src/syncbench/wire.rs"]
mod wire;

use std::net::SocketAddr;

use server_mock::{Config, DbLocation};
use wire::RawConn;

fn config(db: &str) -> Config {
    Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        db: DbLocation::Postgres(db.to_owned()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_id_is_the_databases_across_restarts() {
    let Some(pg) = conformance::pg::PgCluster::start_async().await else {
        return;
    };
    let (one, two) = (pg.database("one"), pg.database("two"));
    let s1 = server_mock::start(config(&one)).await.unwrap();
    let id = s1.server_id().to_owned();
    s1.shutdown().await;
    assert_eq!(id.len(), 32, "{id:?}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id:?}");
    let s2 = server_mock::start(config(&one)).await.unwrap();
    assert_eq!(s2.server_id(), id, "a restart on the same database");
    s2.shutdown().await;
    let other = server_mock::start(config(&two)).await.unwrap();
    assert_ne!(other.server_id(), id, "another database is another server");
    other.shutdown().await;
    pg.stop().await;
}

/// Nodes started at the same moment on a fresh database both come up
/// (creating the schema is serialized), with one server id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_started_together_on_a_fresh_database_both_come_up() {
    let Some(pg) = conformance::pg::PgCluster::start_async().await else {
        return;
    };
    for round in 0..3 {
        let db = pg.database(&format!("fresh{round}"));
        let (a, b) = tokio::join!(
            server_mock::start(config(&db)),
            server_mock::start(config(&db))
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.server_id(), b.server_id());
        a.shutdown().await;
        b.shutdown().await;
    }
    pg.stop().await;
}

/// Two nodes write to one database (no bus: this is about storage). A
/// writer's batch holds the change counter row until it commits; while a
/// transaction holds it, another node's send waits, and a `sync` on the
/// other node in between returns a token below the held change, so the next
/// `sync` from that token lists the change: none is skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_between_two_writers_never_skips_a_change() {
    let Some(pg) = conformance::pg::PgCluster::start_async().await else {
        return;
    };
    let db = pg.database("shared");
    let a = server_mock::start(config(&db)).await.unwrap();
    let b = server_mock::start(config(&db)).await.unwrap();
    assert_eq!(a.server_id(), b.server_id(), "one database, one server id");
    let mut alice = RawConn::connect(&a.url()).await.unwrap();
    alice.register("alice", "password-1", "d").await.unwrap();
    let mut bob = RawConn::connect(&b.url()).await.unwrap();
    bob.register("bob", "password-1", "d").await.unwrap();
    let conv = alice.create_group("g", &["bob"]).await.unwrap();
    let (all, token) = bob.sync_pages(None).await.unwrap();
    assert_eq!(all.len(), 1);
    let head = all[0].last_seq;

    // Another writer's batch, held open: it has taken the counter row.
    let url = db.clone();
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    let (locked_tx, locked_rx) = tokio::sync::oneshot::channel();
    let holder = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let mut t = c.transaction().unwrap();
        t.query_one(
            "SELECT value FROM meta WHERE key = 'change_seq' FOR UPDATE",
            &[],
        )
        .unwrap();
        locked_tx.send(()).unwrap();
        held_rx.recv().unwrap();
        t.commit().unwrap();
    });
    locked_rx.await.unwrap();
    let conv2 = conv.clone();
    let send = tokio::spawn(async move {
        alice
            .send_many(&conv2, "c", ["held back".to_owned()], 1)
            .await
            .unwrap()
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!send.is_finished(), "the send waits for the held batch");
    let (changed, between) = bob.sync_pages(Some(token)).await.unwrap();
    assert!(changed.is_empty(), "nothing committed yet: {changed:?}");
    held_tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(send.await.unwrap(), 1);
    let (changed, _) = bob.sync_pages(Some(between)).await.unwrap();
    assert_eq!(changed.len(), 1, "the change after the token is listed");
    assert_eq!(changed[0].conv, conv);
    assert_eq!(changed[0].last_seq, head + 1);
    assert_eq!(changed[0].unread, 1);
    a.shutdown().await;
    b.shutdown().await;
    pg.stop().await;
}

/// A batch of pipelined sends on PostgreSQL takes the writer's fast path
/// (memberships and used client ids read up front, no savepoints): a
/// client id repeated inside the batch gets the first `sent`, a send to a
/// conversation the user is not in is refused without disturbing the
/// others, and the timeline holds exactly the new texts, dense.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_sends_with_repeats_and_a_stranger_conversation_stay_exact() {
    use futures_util::{SinkExt, StreamExt};
    use sync_core::protocol::{ClientFrame, ServerFrame, decode_server_frame};
    use tokio_tungstenite::tungstenite::Message as Ws;

    let Some(pg) = conformance::pg::PgCluster::start_async().await else {
        return;
    };
    let db = pg.database("fast");
    let node = server_mock::start(config(&db)).await.unwrap();
    let mut alice = RawConn::connect(&node.url()).await.unwrap();
    let token = alice.register("alice", "password-1", "d").await.unwrap();
    let mut bob = RawConn::connect(&node.url()).await.unwrap();
    bob.register("bob", "password-1", "d").await.unwrap();
    let mine = alice.create_group("mine", &[]).await.unwrap();
    let theirs = bob.create_group("theirs", &[]).await.unwrap();

    let (mut ws, _) = tokio_tungstenite::connect_async(node.url()).await.unwrap();
    let _hello = ws.next().await;
    let auth = ClientFrame::Auth {
        id: 1,
        token,
        device: "d".into(),
    };
    ws.send(Ws::Text(auth.to_json().into())).await.unwrap();
    // Pipelined: one writer batch (or a few), every reply in request order.
    let sends = [
        (10, &mine, "a"),
        (11, &mine, "b"),
        (12, &mine, "a"),
        (13, &theirs, "x"),
        (14, &mine, "c"),
        (15, &mine, "b"),
    ];
    for (id, conv, cid) in sends {
        let f = ClientFrame::Send {
            id,
            conv: conv.clone(),
            client_id: cid.into(),
            body: format!("body {cid}"),
            reply_to: None,
        };
        ws.send(Ws::Text(f.to_json().into())).await.unwrap();
    }
    let mut replies = Vec::new();
    while replies.len() < sends.len() {
        let Some(Ok(Ws::Text(t))) = ws.next().await else {
            panic!("connection ended");
        };
        match decode_server_frame(t.as_str()).unwrap() {
            ServerFrame::Sent { re, seq, .. } => replies.push((re, format!("seq {seq}"))),
            ServerFrame::Error {
                re: Some(re), code, ..
            } => replies.push((re, code.as_str().to_owned())),
            _ => {}
        }
    }
    let got: Vec<(u64, &str)> = replies.iter().map(|(r, s)| (*r, s.as_str())).collect();
    assert_eq!(
        got,
        [
            (10, "seq 2"),
            (11, "seq 3"),
            (12, "seq 2"),
            (13, "not_found"),
            (14, "seq 4"),
            (15, "seq 3"),
        ]
    );
    let timeline: Vec<(u64, Option<String>)> = alice
        .pull_all(&mine)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.seq, m.body))
        .collect();
    assert_eq!(
        timeline,
        [
            (1, None),
            (2, Some("body a".into())),
            (3, Some("body b".into())),
            (4, Some("body c".into())),
        ]
    );
    assert_eq!(
        bob.pull_all(&theirs).await.unwrap().len(),
        1,
        "nothing landed in bob's group"
    );
    node.shutdown().await;
    pg.stop().await;
}

/// §9.3 mention counts on PostgreSQL, against a model of the timeline:
/// bursts of pipelined texts (the writer's fast path, which moves each
/// sender's cursor past the mentions of them sent before), edits that add
/// mentions, redactions and reads by four members in random order. After
/// every step each member's summary `mentions` is the model's count of
/// standing texts above their cursor that mention them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mention_counts_follow_a_model_of_the_timeline() {
    use std::collections::{BTreeMap, BTreeSet};

    use rand::{Rng, SeedableRng};
    use sync_core::protocol::{ClientFrame, ServerFrame};

    let Some(pg) = conformance::pg::PgCluster::start_async().await else {
        return;
    };
    let node = server_mock::start(config(&pg.database("mentions")))
        .await
        .unwrap();
    let names = ["ann", "ben", "cat", "dan"];
    let mut users = Vec::new();
    for n in names {
        let mut c = RawConn::connect(&node.url()).await.unwrap();
        c.register(n, "password-1", "d").await.unwrap();
        users.push(c);
    }
    let conv = users[0].create_group("g", &names[1..]).await.unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    // seq → (sender, mentioned members, standing)
    let mut texts: BTreeMap<u64, (usize, BTreeSet<usize>, bool)> = BTreeMap::new();
    let mut read = [1u64; 4];
    let mut head = 1u64;
    for step in 0..60 {
        let who = rng.random_range(0..names.len());
        let own: Vec<u64> = texts
            .iter()
            .filter(|(_, t)| t.0 == who && t.2)
            .map(|(s, _)| *s)
            .collect();
        let mentioning = |rng: &mut rand::rngs::StdRng| -> (String, BTreeSet<usize>) {
            let picked: BTreeSet<usize> =
                (0..names.len()).filter(|_| rng.random_bool(0.4)).collect();
            let body = picked.iter().map(|&i| format!("@{} ", names[i])).collect();
            (body, picked.into_iter().filter(|&i| i != who).collect())
        };
        let roll = rng.random_range(0..10);
        if roll < 5 || own.is_empty() {
            let burst: Vec<(String, BTreeSet<usize>)> = (0..rng.random_range(1..6))
                .map(|_| mentioning(&mut rng))
                .collect();
            let bodies = burst.iter().map(|(b, _)| format!("{b}x"));
            let n = users[who]
                .send_many(&conv, &format!("s{step}-"), bodies, 8)
                .await
                .unwrap();
            assert_eq!(n, burst.len() as u64);
            for (_, m) in burst {
                head += 1;
                texts.insert(head, (who, m, true));
            }
            read[who] = head;
        } else if roll < 7 {
            let target = own[rng.random_range(0..own.len())];
            let (body, m) = mentioning(&mut rng);
            let r = users[who]
                .request(|id| ClientFrame::Edit {
                    id,
                    conv: conv.clone(),
                    client_id: format!("e{step}"),
                    target,
                    body: format!("{body}y"),
                })
                .await
                .unwrap();
            assert!(matches!(r, ServerFrame::Sent { .. }), "{r:?}");
            head += 1;
            texts.get_mut(&target).unwrap().1.extend(m);
        } else if roll < 8 {
            let target = own[rng.random_range(0..own.len())];
            let r = users[who]
                .request(|id| ClientFrame::Redact {
                    id,
                    conv: conv.clone(),
                    client_id: format!("r{step}"),
                    target,
                })
                .await
                .unwrap();
            assert!(matches!(r, ServerFrame::Sent { .. }), "{r:?}");
            head += 1;
            texts.get_mut(&target).unwrap().2 = false;
        } else {
            let seq = rng.random_range(1..=head);
            users[who]
                .request(|id| ClientFrame::Read {
                    id,
                    conv: conv.clone(),
                    seq,
                })
                .await
                .unwrap();
            read[who] = read[who].max(seq);
        }
        for (i, user) in users.iter_mut().enumerate() {
            let expected = texts
                .range(read[i] + 1..)
                .filter(|(_, t)| t.2 && t.1.contains(&i))
                .count() as u64;
            let s = user.sync_all().await.unwrap();
            assert_eq!(
                (s[0].mentions, s[0].last_seq),
                (Some(expected), head),
                "{} after step {step}",
                names[i]
            );
        }
    }
    node.shutdown().await;
    pg.stop().await;
}

/// A PostgreSQL database written by the previous server (schema version 1:
/// mention rows keyed by user first, no counters) upgrades in place: the
/// member rows get their mention counters from the old rows, and each
/// member's summary counts what it counted before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_keeps_its_mention_counts() {
    let Some(pg) = conformance::pg::PgCluster::start_async().await else {
        return;
    };
    let db = pg.database("upgrade");
    let hash = server_mock::cmd::session::hash_password_now("password-1").unwrap();
    let url = db.clone();
    let counters = move |url: String| {
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let rows = c
                .query(
                    "SELECT \"user\", mention_n, read_mention_n FROM members ORDER BY \"user\"",
                    &[],
                )
                .unwrap();
            let by_seq = c
                .query(
                    "SELECT seq, \"user\" FROM mentions ORDER BY conv, seq, \"user\"",
                    &[],
                )
                .unwrap();
            (
                rows.iter()
                    .map(|r| {
                        (
                            r.get::<_, String>(0),
                            r.get::<_, i64>(1),
                            r.get::<_, i64>(2),
                        )
                    })
                    .collect::<Vec<_>>(),
                by_seq
                    .iter()
                    .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
                    .collect::<Vec<_>>(),
            )
        })
        .join()
        .unwrap()
    };
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute(&format!(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             {}
             INSERT INTO meta (key, value) VALUES ('schema_version', '1'), ('server_id', 'old'),
                 ('change_seq', '3');
             INSERT INTO users (name, pw_hash, created_ms) VALUES
                 ('alice', '{hash}', 1), ('bob', '{hash}', 1), ('carol', '{hash}', 1);
             INSERT INTO convs (id, kind, title, direct_key, member_count, last_seq, last_text_seq,
                                text_count, change_seq)
                 VALUES (1, 'group', 'old', NULL, 3, 4, 4, 3, 3);
             INSERT INTO entries (conv, seq, sender, ts, kind, body, target, title, members, subject,
                                  client_id, text_n, mentions)
                 VALUES (1, 1, 'alice', 1, 'create', NULL, NULL, 'old', '[\"alice\",\"bob\",\"carol\"]',
                            NULL, NULL, 0, NULL),
                        (1, 2, 'alice', 2, 'text', '@bob @carol', NULL, NULL, NULL, NULL, 'a1', 1,
                            '[\"bob\",\"carol\"]'),
                        (1, 3, 'alice', 3, 'text', '@bob', NULL, NULL, NULL, NULL, 'a2', 2, '[\"bob\"]'),
                        (1, 4, 'alice', 4, 'text', '@carol', NULL, NULL, NULL, NULL, 'a3', 3,
                            '[\"carol\"]');
             INSERT INTO mentions (\"user\", conv, seq) VALUES ('bob', 1, 2), ('bob', 1, 3),
                 ('carol', 1, 2), ('carol', 1, 4);
             INSERT INTO members (\"user\", conv, ord, active, read_seq, read_text_n, change_seq)
                 VALUES ('alice', 1, 1, 1, 4, 3, 1), ('bob', 1, 2, 1, 2, 1, 2),
                        ('carol', 1, 3, 1, 0, 0, 3);",
            server_mock::store::pg::MIGRATIONS[0]
        ))
        .unwrap();
    })
    .join()
    .unwrap();

    let node = server_mock::start(config(&db)).await.unwrap();
    assert_eq!(node.server_id(), "old");
    let (members, rows) = counters(db.clone());
    assert_eq!(
        members,
        [
            ("alice".to_owned(), 0, 0),
            ("bob".to_owned(), 2, 1),
            ("carol".to_owned(), 2, 0)
        ]
    );
    assert_eq!(
        rows,
        [
            (2, "bob".to_owned()),
            (2, "carol".to_owned()),
            (3, "bob".to_owned()),
            (4, "carol".to_owned())
        ]
    );
    for (user, mentions) in [("alice", 0), ("bob", 1), ("carol", 2)] {
        let mut c = RawConn::connect(&node.url()).await.unwrap();
        c.login(user, "password-1", "d").await.unwrap();
        let s = c.sync_all().await.unwrap();
        assert_eq!(s[0].mentions, Some(mentions), "{user}");
    }
    node.shutdown().await;
    pg.stop().await;
}

/// `--db postgres://…?sslmode=verify-full&sslrootcert=CA` talks TLS to
/// PostgreSQL, verifying the certificate: every session of the server is
/// encrypted, a text sent through it reads back; a certificate from another
/// CA stops the start with a reason naming it, and `sslmode=disable` still
/// connects in the clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_verifies_the_certificate() {
    let Some(pg) = conformance::pg::PgCluster::start_async().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = (dir.path().join("ours"), dir.path().join("theirs"));
    std::fs::create_dir_all(&ours).unwrap();
    std::fs::create_dir_all(&theirs).unwrap();
    let pki = conformance::pki::make(&ours, &["127.0.0.1", "localhost"]).unwrap();
    conformance::pki::make(&theirs, &["127.0.0.1"]).unwrap();
    let pg = tokio::task::spawn_blocking(move || {
        pg.enable_tls(&pki.cert, &pki.key);
        pg
    })
    .await
    .unwrap();
    let db = pg.database("tls");
    let ca = |pki_dir: &std::path::Path| pki_dir.join("ca.pem").display().to_string();

    let url = format!("{db}?sslmode=verify-full&sslrootcert={}", ca(&ours));
    let server = server_mock::start(config(&url)).await.unwrap();
    let mut alice = RawConn::connect(&server.url()).await.unwrap();
    alice.register("alice", "password-1", "d").await.unwrap();
    let conv = alice.create_group("g", &[]).await.unwrap();
    assert_eq!(
        alice
            .send_many(&conv, "c", ["over TLS".to_owned()], 1)
            .await
            .unwrap(),
        1
    );
    let texts = alice.pull_all(&conv).await.unwrap();
    assert_eq!(
        texts.last().and_then(|m| m.body.as_deref()),
        Some("over TLS")
    );
    let (tls, all) = tokio::task::block_in_place(|| pg.tls_sessions("tls"));
    assert!(all >= 1, "the server holds a session on the database");
    assert_eq!(tls, all, "every session of the server uses TLS");
    alice.close().await;
    server.shutdown().await;

    let url = format!("{db}?sslmode=require&sslrootcert={}", ca(&theirs));
    let err = server_mock::start(config(&url))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid peer certificate"), "{err}");
    assert!(err.contains("sslrootcert=FILE"), "the way out: {err}");

    let plain = server_mock::start(config(&format!("{db}?sslmode=disable")))
        .await
        .unwrap();
    let (tls, all) = tokio::task::block_in_place(|| pg.tls_sessions("tls"));
    assert_eq!(
        (tls, all >= 1),
        (0, true),
        "sslmode=disable stays in the clear"
    );
    plain.shutdown().await;
    pg.stop().await;
}
