//! Protocol 1.1 (§9.1–9.4) properties that scenarios cannot see: where the
//! numbers come from (the mention index, the aggregate tables), the schema
//! upgrade of a version 1 database, and a `--features none` server that
//! answers exactly as a version 1 server.

mod common;

use common::{Client, PASSWORD, test_config};
use rusqlite::Connection;
use serde_json::{Value, json};
use server_mock::{DbLocation, Features};

fn file_config(db: &std::path::Path) -> server_mock::Config {
    test_config(DbLocation::Path(db.to_path_buf()))
}

fn open(db: &std::path::Path) -> Connection {
    let c = Connection::open(db).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    c
}

/// `(mention_n, read_mention_n)` of `user`'s member row in conversation 1.
fn mention_counters(c: &Connection, user: &str) -> (i64, i64) {
    c.query_row(
        "SELECT mention_n, read_mention_n FROM members WHERE user = ?1 AND conv = 1",
        [user],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

/// The mention rows of conversation 1 as (seq, user), in key order.
fn mention_rows(c: &Connection) -> Vec<(i64, String)> {
    c.prepare("SELECT seq, user FROM mentions WHERE conv = 1")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mention_count_comes_from_the_member_counters() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let server = server_mock::start(file_config(&db)).await.unwrap();
    let url = server.url();
    let mut a = Client::register(&url, "alice").await;
    let mut b = Client::register(&url, "bob").await;
    let conv = a.create_group("g", &["bob"]).await;
    a.send_msg(&conv, "t1", "@bob one").await; // seq 2
    a.send_msg(&conv, "t2", "plain").await; // seq 3
    let r = a
        .request(json!({"type":"edit","conv":conv,"client_id":"e1","target":3,"body":"@bob now"}))
        .await;
    assert_eq!(r["type"], "sent", "{r}");
    // An edit mentioning bob again adds nothing.
    let r = a
        .request(json!({"type":"edit","conv":conv,"client_id":"e2","target":3,"body":"@bob again"}))
        .await;
    assert_eq!(r["type"], "sent", "{r}");
    let s = b.request(json!({"type":"sync"})).await;
    assert_eq!(s["conversations"][0]["mentions"], 2, "{s}");

    // One row per (text, mentioned user), the edits' under their text, and
    // two counters on bob's member row.
    let c = open(&db);
    assert_eq!(
        mention_rows(&c),
        [(2, "bob".to_owned()), (3, "bob".to_owned())]
    );
    assert_eq!(mention_counters(&c, "bob"), (2, 0));
    assert_eq!(mention_counters(&c, "alice"), (0, 0));
    // The summary is the counters' difference: changing them changes it,
    // without touching any entry or mention row.
    c.execute("UPDATE members SET mention_n = 7 WHERE user = 'bob'", [])
        .unwrap();
    let s = b.request(json!({"type":"sync"})).await;
    assert_eq!(s["conversations"][0]["mentions"], 7, "{s}");
    c.execute("UPDATE members SET mention_n = 2 WHERE user = 'bob'", [])
        .unwrap();

    // A read counts the mentions its cursor passes.
    let r = b.request(json!({"type":"read","conv":conv,"seq":2})).await;
    assert_eq!(r["type"], "ok", "{r}");
    assert_eq!(mention_counters(&c, "bob"), (2, 1));
    // Redacting a read text takes it off both counters; an unread one,
    // off the total only.
    let r = a
        .request(json!({"type":"redact","conv":conv,"client_id":"r1","target":2}))
        .await;
    assert_eq!(r["type"], "sent", "{r}");
    assert_eq!(mention_counters(&c, "bob"), (1, 0));
    let s = b.request(json!({"type":"sync"})).await;
    assert_eq!(s["conversations"][0]["mentions"], 1, "{s}");
    let r = a
        .request(json!({"type":"redact","conv":conv,"client_id":"r2","target":3}))
        .await;
    assert_eq!(r["type"], "sent", "{r}");
    assert_eq!(mention_counters(&c, "bob"), (0, 0));
    assert_eq!(mention_rows(&c), []);
    // An edit that mentions bob in a text he has read counts as read.
    a.send_msg(&conv, "t3", "plain again").await; // seq 8
    let r = b.request(json!({"type":"read","conv":conv,"seq":8})).await;
    assert_eq!(r["type"], "ok", "{r}");
    let r = a
        .request(json!({"type":"edit","conv":conv,"client_id":"e3","target":8,"body":"@bob late"}))
        .await;
    assert_eq!(r["type"], "sent", "{r}");
    assert_eq!(mention_counters(&c, "bob"), (1, 1));
    let s = b.request(json!({"type":"sync"})).await;
    assert_eq!(s["conversations"][0]["mentions"], 0, "{s}");

    // The summary query reads no mention row and scans nothing.
    assert!(!server_mock::store::rows::SUMMARY_FROM.contains("mentions x"));
    let sql = format!(
        "EXPLAIN QUERY PLAN {} WHERE m.user = 'bob' AND m.conv = 1",
        server_mock::store::rows::SUMMARY_FROM
    );
    let plan: Vec<String> = c
        .prepare(&sql)
        .unwrap()
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let plan = plan.join("\n");
    assert!(!plan.contains("SCAN"), "{plan}");
    drop(c);
    server.shutdown().await;
}

/// A new database file at schema `version`, and a password hash to store.
fn database_at_version(path: &std::path::Path, version: usize) -> (Connection, String) {
    let mut c = Connection::open(path).unwrap();
    c.execute_batch(server_mock::store::PRAGMAS).unwrap();
    for (i, sql) in server_mock::store::MIGRATIONS
        .iter()
        .take(version)
        .enumerate()
    {
        let tx = c.transaction().unwrap();
        tx.execute_batch(sql).unwrap();
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .unwrap();
        tx.commit().unwrap();
    }
    let hash = server_mock::cmd::session::hash_password_now(PASSWORD).unwrap();
    (c, hash)
}

/// A database at schema version 4, with mention rows in the layout before
/// migration 5 (keyed by user first).
fn version_4_database(path: &std::path::Path) {
    let (c, hash) = database_at_version(path, 4);
    c.execute_batch(&format!(
        "INSERT INTO meta (key, value) VALUES ('server_id', 'old'), ('change_seq', '3');
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
                    (1, 4, 'alice', 4, 'text', '@carol', NULL, NULL, NULL, NULL, 'a3', 3, '[\"carol\"]');
         INSERT INTO mentions (user, conv, seq) VALUES ('bob', 1, 2), ('bob', 1, 3), ('carol', 1, 2),
             ('carol', 1, 4);
         INSERT INTO members (user, conv, ord, active, read_seq, read_text_n, change_seq)
             VALUES ('alice', 1, 1, 1, 4, 3, 1), ('bob', 1, 2, 1, 2, 1, 2),
                    ('carol', 1, 3, 1, 0, 0, 3);"
    ))
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_4_database_keeps_its_mention_counts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v4.db");
    version_4_database(&db);
    let server = server_mock::start(file_config(&db)).await.unwrap();
    let url = server.url();
    let c = open(&db);
    assert_eq!(mention_counters(&c, "bob"), (2, 1));
    assert_eq!(mention_counters(&c, "carol"), (2, 0));
    assert_eq!(
        mention_rows(&c),
        [
            (2, "bob".to_owned()),
            (2, "carol".to_owned()),
            (3, "bob".to_owned()),
            (4, "carol".to_owned())
        ]
    );
    for (user, mentions) in [("alice", 0), ("bob", 1), ("carol", 2)] {
        let mut u = Client::connect(&url).await;
        let r = u
            .request(json!({"type":"login","user":user,"password":PASSWORD,"device":"d"}))
            .await;
        assert_eq!(r["type"], "session", "{r}");
        let s = u.request(json!({"type":"sync"})).await;
        assert_eq!(s["conversations"][0]["mentions"], mentions, "{user}: {s}");
    }
    drop(c);
    server.shutdown().await;
}

/// Random texts, edits, redactions and reads by four members: after every
/// step each member's summary `mentions` equals a count made from the
/// timeline itself (the standing texts above their cursor that they or an
/// edit mention), and the counters agree with the mention rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mention_counters_match_the_timeline_under_random_operations() {
    use rand::{Rng, SeedableRng};
    let seed: u64 = std::env::var("MENTION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let server = server_mock::start(file_config(&db)).await.unwrap();
    let url = server.url();
    let names = ["ann", "ben", "cat", "dan"];
    let mut users = Vec::new();
    for n in names {
        users.push(Client::register(&url, n).await);
    }
    let conv = users[0].create_group("g", &names[1..]).await;
    // Texts by seq: (sender, standing).
    let mut texts: Vec<(u64, usize, bool)> = Vec::new();
    let c = open(&db);
    for step in 0..150 {
        let who = rng.random_range(0..names.len());
        let id = format!("s{step}");
        let roll = rng.random_range(0..10);
        let mentioning: String = names
            .iter()
            .filter(|_| rng.random_bool(0.4))
            .map(|n| format!("@{n} "))
            .collect();
        let own: Vec<usize> = texts
            .iter()
            .filter(|t| t.1 == who && t.2)
            .map(|t| t.0 as usize)
            .collect();
        let r = if roll < 5 || own.is_empty() && roll < 8 {
            let r = users[who]
                .send_msg(&conv, &id, &format!("{mentioning}x"))
                .await;
            texts.push((r["seq"].as_u64().unwrap(), who, true));
            r
        } else if roll < 7 {
            let target = own[rng.random_range(0..own.len())];
            users[who]
                .request(json!({"type":"edit","conv":conv,"client_id":id,"target":target,"body":format!("{mentioning}y")}))
                .await
        } else if roll < 8 {
            let target = own[rng.random_range(0..own.len())];
            texts.iter_mut().find(|t| t.0 as usize == target).unwrap().2 = false;
            users[who]
                .request(json!({"type":"redact","conv":conv,"client_id":id,"target":target}))
                .await
        } else {
            let head = texts.last().map_or(1, |t| t.0);
            let seq = rng.random_range(1..=head);
            users[who]
                .request(json!({"type":"read","conv":conv,"seq":seq}))
                .await
        };
        assert!(
            matches!(r["type"].as_str(), Some("sent" | "ok")),
            "step {step} (seed {seed}): {r}"
        );
        for (i, name) in names.iter().enumerate() {
            let expected: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM entries t JOIN members m ON m.conv = t.conv AND m.user = ?1
                     WHERE t.conv = 1 AND t.kind = 'text' AND t.redacted = 0 AND t.seq > m.read_seq
                       AND EXISTS (SELECT 1 FROM entries e, json_each(e.mentions) j
                           WHERE e.conv = 1 AND (e.seq = t.seq OR (e.kind = 'edit' AND e.target = t.seq))
                             AND j.value = ?1)",
                    [name],
                    |r| r.get(0),
                )
                .unwrap();
            let s = users[i].request(json!({"type":"sync"})).await;
            assert_eq!(
                s["conversations"][0]["mentions"], expected,
                "{name} after step {step} (seed {seed}): {s}"
            );
            let (total, read) = mention_counters(&c, name);
            let (rows, rows_read): (i64, i64) = c
                .query_row(
                    "SELECT COUNT(*), COUNT(*) FILTER (WHERE x.seq <= m.read_seq)
                     FROM mentions x JOIN members m ON m.conv = x.conv AND m.user = x.user
                     WHERE x.conv = 1 AND x.user = ?1",
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!((total, read), (rows, rows_read), "{name} after step {step}");
        }
    }
    drop(c);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_replies_take_their_totals_from_the_aggregate_tables() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let server = server_mock::start(file_config(&db)).await.unwrap();
    let url = server.url();
    let mut a = Client::register(&url, "alice").await;
    let _b = Client::register(&url, "bob").await;
    let conv = a.create_group("g", &["bob"]).await;
    a.send_msg(&conv, "t1", "root").await; // seq 2
    let r = a
        .request(json!({"type":"send","conv":conv,"client_id":"r1","body":"re","reply_to":2}))
        .await;
    assert_eq!(r["seq"], 3, "{r}");
    let r = a
        .request(json!({"type":"react","conv":conv,"client_id":"k1","target":2,"key":"👍"}))
        .await;
    assert_eq!(r["seq"], 4, "{r}");
    let pull = json!({"type":"pull","conv":conv,"after":1,"limit":1});
    let m = a.request(pull.clone()).await;
    assert_eq!(m["messages"][0]["replies"], 1, "{m}");
    assert_eq!(m["messages"][0]["last_reply_seq"], 3, "{m}");
    assert_eq!(m["messages"][0]["reactions"], json!({"👍": 1}), "{m}");

    let c = open(&db);
    let aggregates: (i64, i64, i64) = c
        .query_row(
            "SELECT t.replies, t.last_reply_seq, r.n FROM thread_stats t
             JOIN reaction_counts r ON r.conv = t.conv AND r.target = t.root",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(aggregates, (1, 3, 1));
    // Change only the aggregates: the reply follows them, not the timeline.
    c.execute_batch(
        "UPDATE thread_stats SET replies = 41, last_reply_seq = 3;
         UPDATE reaction_counts SET n = 7;",
    )
    .unwrap();
    let m = a.request(pull).await;
    assert_eq!(m["messages"][0]["replies"], 41, "{m}");
    assert_eq!(m["messages"][0]["reactions"], json!({"👍": 7}), "{m}");
    drop(c);
    server.shutdown().await;
}

/// A database at schema version 2 (protocol 1 only), written the way the
/// previous server wrote it.
fn version_2_database(path: &std::path::Path) {
    let (c, hash) = database_at_version(path, 2);
    c.execute_batch(&format!(
        "INSERT INTO meta (key, value) VALUES ('server_id', 'old'), ('change_seq', '3');
         INSERT INTO users (name, pw_hash, created_ms) VALUES ('alice', '{hash}', 1), ('bob', '{hash}', 1);
         INSERT INTO convs (id, kind, title, direct_key, member_count, last_seq, last_text_seq, text_count)
             VALUES (1, 'group', 'old', NULL, 2, 3, 3, 2);
         INSERT INTO entries (conv, seq, sender, ts, kind, body, target, title, members, subject, client_id, text_n)
             VALUES (1, 1, 'alice', 1, 'create', NULL, NULL, 'old', '[\"alice\",\"bob\"]', NULL, NULL, 0),
                    (1, 2, 'alice', 2, 'text', 'hello @bob', NULL, NULL, NULL, NULL, 'a1', 1),
                    (1, 3, 'alice', 3, 'text', 'still here', NULL, NULL, NULL, NULL, 'a2', 2);
         INSERT INTO members (user, conv, ord, active, read_seq, read_text_n, change_seq)
             VALUES ('alice', 1, 1, 1, 3, 2, 2), ('bob', 1, 2, 1, 0, 0, 3);"
    ))
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_upgrades_and_keeps_its_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    version_2_database(&db);
    let server = server_mock::start(file_config(&db)).await.unwrap();
    let url = server.url();
    assert_eq!(
        open(&db)
            .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        i64::try_from(server_mock::store::MIGRATIONS.len()).unwrap()
    );
    let mut b = Client::connect(&url).await;
    assert_eq!(b.hello["server_id"], "old");
    let r = b
        .request(json!({"type":"login","user":"bob","password":PASSWORD,"device":"d"}))
        .await;
    assert_eq!(r["type"], "session", "{r}");
    // Old texts were never parsed for mentions: they count none.
    let s = b.request(json!({"type":"sync"})).await;
    let summary = &s["conversations"][0];
    assert_eq!(
        (
            &summary["unread"],
            &summary["mentions"],
            &summary["notify"],
            &summary["pinned"],
            &summary["archived"]
        ),
        (
            &json!(2),
            &json!(0),
            &json!("all"),
            &json!(false),
            &json!(false)
        ),
        "{s}"
    );
    let r = b
        .request(
            json!({"type":"send","conv":"c1","client_id":"b1","body":"re @alice","reply_to":2}),
        )
        .await;
    assert_eq!(r["seq"], 4, "{r}");
    let m = b
        .request(json!({"type":"pull","conv":"c1","after":0}))
        .await;
    let got: Vec<Value> = m["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            json!([
                e["seq"],
                e["body"],
                e["replies"],
                e["thread"],
                e["mentions"]
            ])
        })
        .collect();
    assert_eq!(
        got,
        [
            json!([1, null, null, null, null]),
            json!([2, "hello @bob", 1, null, null]),
            json!([3, "still here", null, null, null]),
            json!([4, "re @alice", null, 2, ["alice"]]),
        ]
    );
    server.shutdown().await;
}

/// Migration 4 moves an append's change position onto the conversation; a
/// sync token handed out before the upgrade still lists exactly what changed
/// after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_token_from_before_the_upgrade_lists_only_later_changes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    version_2_database(&db);
    let server = server_mock::start(file_config(&db)).await.unwrap();
    let url = server.url();
    let mut clients = vec![];
    for user in ["alice", "bob"] {
        let mut c = Client::connect(&url).await;
        let r = c
            .request(json!({"type":"login","user":user,"password":PASSWORD,"device":"d"}))
            .await;
        assert_eq!(r["type"], "session", "{r}");
        clients.push(c);
    }
    let [a, b] = &mut clients[..] else {
        unreachable!("two clients")
    };
    let listed = |s: &Value| -> Vec<Value> {
        s["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| json!([c["conv"], c["unread"]]))
            .collect()
    };
    // alice's row last changed at 2, bob's at 3 (the old per-member values).
    let s = a.request(json!({"type":"sync","since":"s2"})).await;
    assert_eq!(
        (listed(&s), &s["since"]),
        (Vec::<Value>::new(), &json!("s3")),
        "{s}"
    );
    let s = a.request(json!({"type":"sync","since":"s1"})).await;
    assert_eq!(listed(&s), vec![json!(["c1", 0])], "{s}");
    let s = b.request(json!({"type":"sync","since":"s2"})).await;
    assert_eq!(listed(&s), vec![json!(["c1", 2])], "{s}");
    // bob's append moves the conversation, not the member rows.
    let r = b
        .request(json!({"type":"send","conv":"c1","client_id":"b1","body":"new"}))
        .await;
    assert_eq!(r["seq"], 4, "{r}");
    let s = a.request(json!({"type":"sync","since":"s3"})).await;
    assert_eq!(
        (listed(&s), &s["since"]),
        (vec![json!(["c1", 1])], &json!("s4")),
        "{s}"
    );
    let s = a.request(json!({"type":"sync","since":"s4"})).await;
    assert_eq!(listed(&s), Vec::<Value>::new(), "{s}");
    drop(clients);
    server.shutdown().await;
}

/// Frames the v1 server must answer as an unknown `type`.
fn unknown_type(r: &Value, ty: &str) {
    assert_eq!(r["type"], "error", "{r}");
    assert_eq!(r["code"], "bad_request", "{r}");
    assert_eq!(r["message"], format!("unknown type {ty:?}"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_features_none_server_is_a_pure_version_1_server() {
    let mut config = test_config(DbLocation::Memory);
    config.features = Features::NONE;
    let server = server_mock::start(config).await.unwrap();
    let url = server.url();
    let mut a = Client::register(&url, "alice").await;
    assert_eq!(a.hello.get("features"), None, "{}", a.hello);
    let mut b = Client::register(&url, "bob").await;
    let conv = a.create_group("g", &["bob"]).await;
    a.send_msg(&conv, "t1", "@bob hi").await; // seq 2
    // `reply_to` is an unknown field: ignored.
    let r = a
        .request(json!({"type":"send","conv":conv,"client_id":"t2","body":"re","reply_to":2}))
        .await;
    assert_eq!(r["seq"], 3, "{r}");
    for (ty, req) in [
        (
            "thread",
            json!({"type":"thread","conv":conv,"root":2,"after":0}),
        ),
        (
            "react",
            json!({"type":"react","conv":conv,"client_id":"k","target":2,"key":"x"}),
        ),
        (
            "settings",
            json!({"type":"settings","conv":conv,"pinned":true}),
        ),
        (
            "password",
            json!({"type":"password","old":PASSWORD,"new":"another one"}),
        ),
    ] {
        unknown_type(&a.request(req).await, ty);
    }
    // The same answer before authentication as after it.
    let mut anon = Client::connect(&url).await;
    unknown_type(
        &anon
            .request(json!({"type":"thread","conv":conv,"root":2,"after":0}))
            .await,
        "thread",
    );
    // Redaction only flags: the body stays, no `redacted` field.
    let r = a
        .request(json!({"type":"redact","conv":conv,"client_id":"x","target":3}))
        .await;
    assert_eq!(r["seq"], 4, "{r}");
    let m = b
        .request(json!({"type":"pull","conv":conv,"after":1}))
        .await;
    assert_eq!(
        m["messages"],
        json!([
            {"seq":2,"sender":"alice","ts":m["messages"][0]["ts"],"kind":"text","body":"@bob hi","client_id":"t1"},
            {"seq":3,"sender":"alice","ts":m["messages"][1]["ts"],"kind":"text","body":"re","client_id":"t2"},
            {"seq":4,"sender":"alice","ts":m["messages"][2]["ts"],"kind":"redact","target":3,"client_id":"x"},
        ]),
        "{m}"
    );
    let s = b.request(json!({"type":"sync"})).await;
    let summary = s["conversations"][0].as_object().unwrap();
    for field in ["mentions", "notify", "pinned", "archived"] {
        assert!(!summary.contains_key(field), "{s}");
    }
    // `logout` with `all` is a plain logout: another token of the user stays.
    let mut other = Client::connect(&url).await;
    let r = other
        .request(json!({"type":"login","user":"alice","password":PASSWORD,"device":"d2"}))
        .await;
    let other_token = r["token"].as_str().unwrap().to_owned();
    let r = a.request(json!({"type":"logout","all":true})).await;
    assert_eq!(r["type"], "ok", "{r}");
    assert_eq!(a.close_code().await, Some(4001));
    let mut again = Client::connect(&url).await;
    let r = again
        .request(json!({"type":"auth","token":other_token,"device":"d2"}))
        .await;
    assert_eq!(r["type"], "session", "{r}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_written_with_1_1_served_as_version_1_shows_no_new_fields() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("both.db");
    let server = server_mock::start(file_config(&db)).await.unwrap();
    let url = server.url();
    let mut a = Client::register(&url, "alice").await;
    let _b = Client::register(&url, "bob").await;
    let conv = a.create_group("g", &["bob"]).await;
    a.send_msg(&conv, "t1", "@bob root").await; // seq 2
    let r = a
        .request(json!({"type":"send","conv":conv,"client_id":"t2","body":"re","reply_to":2}))
        .await;
    assert_eq!(r["seq"], 3, "{r}");
    let r = a
        .request(json!({"type":"redact","conv":conv,"client_id":"x","target":3}))
        .await;
    assert_eq!(r["seq"], 4, "{r}");
    server.shutdown().await;

    let mut config = file_config(&db);
    config.features = Features::NONE;
    let server = server_mock::start(config).await.unwrap();
    let url = server.url();
    let mut b = Client::connect(&url).await;
    let r = b
        .request(json!({"type":"login","user":"bob","password":PASSWORD,"device":"d"}))
        .await;
    assert_eq!(r["type"], "session", "{r}");
    let m = b
        .request(json!({"type":"pull","conv":conv,"after":1}))
        .await;
    let keys: Vec<Vec<String>> = m["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let mut k: Vec<String> = e.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        })
        .collect();
    let v1 = |extra: &[&str]| {
        let mut k: Vec<String> = ["client_id", "kind", "sender", "seq", "ts"]
            .iter()
            .chain(extra)
            .map(|s| (*s).to_owned())
            .collect();
        k.sort();
        k
    };
    // The erased reply has no body left; it is still no `redacted` field.
    assert_eq!(keys, [v1(&["body"]), v1(&[]), v1(&["target"])], "{m}");
    server.shutdown().await;
}
