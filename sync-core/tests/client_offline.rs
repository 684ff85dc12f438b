//! The public handle without a server: queries, local echo, durable outbox
//! and read cursors all work offline and survive reopening the store; the
//! protocol 1.1 calls fall back as documented.

use sync_core::protocol::{ConvId, ConvKind, Summary};
use sync_core::store::{Batch, ConvRecord, MetaKey, SqliteStore, Store, Write};
use sync_core::{
    Client, ClientBuilder, ConnState, Error, Notify, OutboxKind, OutboxState, SettingsChange,
    TimelineItem, TimelineQuery,
};

fn assert_send_sync<T: Send + Sync + Clone>() {}

fn seed(path: &std::path::Path) {
    seed_with(path, None);
}

/// The seed, with the `hello.features` of an earlier connection, if any.
fn seed_with(path: &std::path::Path, features: Option<&str>) {
    let mut s = SqliteStore::open(path).unwrap();
    let rec = ConvRecord::from_summary(&Summary {
        member_count: 2,
        last_seq: 10,
        read_seq: 4,
        unread: 6,
        ..Summary::new("c1", ConvKind::Direct, "bob")
    });
    let mut writes = vec![
        Write::Meta(MetaKey::User, Some("me".into())),
        Write::Conv(rec),
    ];
    if let Some(f) = features {
        writes.push(Write::Meta(MetaKey::Features, Some(f.into())));
    }
    s.apply(&Batch {
        writes,
        durable: false,
    })
    .unwrap();
}

fn open(path: &std::path::Path) -> Client {
    // Port 9 on localhost: nothing listens, and the client is never started.
    ClientBuilder::new("ws://127.0.0.1:9/v1", path, "dev-1")
        .open()
        .unwrap()
        .0
}

#[test]
fn sends_and_reads_offline_survive_a_restart() {
    assert_send_sync::<Client>();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    seed(&path);
    let conv = ConvId::from("c1");
    let client = open(&path);
    assert_eq!(client.state(), ConnState::Offline);
    let id = client.send(&conv, "queued while offline").wait().unwrap();
    assert_eq!(id.len(), 26, "ULID-like client id");
    assert!(
        client.send(&conv, "   ").wait().is_err(),
        "blank bodies are refused locally"
    );
    // Not cached yet (e.g. before the first sync): queued, the server decides.
    let early = client.send(&ConvId::from("c2"), "early").wait().unwrap();
    let tl = client
        .timeline(&conv, TimelineQuery::Latest { limit: 20 })
        .unwrap();
    assert_eq!(tl.len(), 2, "{tl:?}");
    assert_eq!(tl[0], TimelineItem::Gap { from: 1, to: 10 });
    assert!(
        matches!(&tl[1], TimelineItem::Pending(o) if o.client_id == id && o.state == OutboxState::Pending)
    );
    client.mark_read(&conv, 8).wait().unwrap();
    let row = client.conversation(&conv).unwrap().unwrap();
    assert_eq!((row.read_seq, row.unread, row.pending), (8, 6, 1));
    client.mark_read(&conv, 6).wait().unwrap();
    assert_eq!(
        client.conversation(&conv).unwrap().unwrap().read_seq,
        8,
        "never backwards"
    );
    assert_eq!(
        client.find_conversation("@bob").unwrap().map(|r| r.conv),
        Some(conv.clone())
    );
    drop(client);

    // "Kill" and reopen: the row and the cursor are still there.
    let again = open(&path);
    let out = again.outbox().unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(
        (out[0].client_id.as_str(), out[0].body.as_deref()),
        (id.as_str(), Some("queued while offline"))
    );
    assert_eq!(out[1].client_id, early);
    again.discard(&early).wait().unwrap();
    assert_eq!(again.conversation(&conv).unwrap().unwrap().read_seq, 8);
    again.discard(&id).wait().unwrap();
    assert!(again.outbox().unwrap().is_empty());
}

#[test]
fn a_send_the_store_cannot_commit_is_an_error_not_a_silent_success() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    seed(&path);
    let conv = ConvId::from("c1");
    let client = open(&path);
    client.send(&conv, "stored").wait().unwrap();
    // Another process holds the write lock (as a full disk or a broken file
    // would also make the commit fail): the send must say it was not stored.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let err = client.send(&conv, "not stored").wait().unwrap_err();
    assert!(
        matches!(err, sync_core::Error::NotStored(_)),
        "unexpected {err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("the local store could not commit the write:")
    );
    blocker.execute_batch("ROLLBACK").unwrap();
    // Once the store works again, sends succeed again.
    client.send(&conv, "stored again").wait().unwrap();
    drop(client);
    let client = open(&path);
    let bodies: Vec<String> = client
        .outbox()
        .unwrap()
        .into_iter()
        .map(|o| o.body.unwrap_or_default())
        .collect();
    assert_eq!(bodies, vec!["stored", "stored again"]);
}

// ---- protocol 1.1 offline: against the stored features of a version 1
// server every new call answers `Unsupported` (nothing queued), while a
// store that never met a server queues replies and reactions.

fn unsupported<T: std::fmt::Debug>(r: Result<T, Error>, feature: &str) {
    match r {
        Err(Error::Unsupported(f)) => assert_eq!(f, feature),
        other => panic!("expected Unsupported({feature}), got {other:?}"),
    }
}

#[test]
fn a_version_1_server_known_from_the_store_gets_unsupported_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    seed_with(&path, Some("account"));
    let client = open(&path);
    let conv = ConvId::from("c1");
    assert!(client.supports("account"));
    assert!(!client.supports("reply") && !client.supports("reactions"));
    unsupported(client.send_reply(&conv, 3, "re").wait(), "reply");
    unsupported(client.react(&conv, 3, "👍").wait(), "reactions");
    unsupported(client.unreact(&conv, 3, "👍").wait(), "reactions");
    unsupported(client.thread(&conv, 3), "reply");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let change = SettingsChange {
        notify: Some(Notify::None),
        ..SettingsChange::default()
    };
    unsupported(rt.block_on(client.set_settings(&conv, change)), "settings");
    unsupported(rt.block_on(client.load_thread(&conv, 3)), "reply");
    assert!(client.outbox().unwrap().is_empty(), "nothing queued");
    // Everything else works as with version 1.
    client.send(&conv, "plain").wait().unwrap();
    assert_eq!(client.outbox().unwrap().len(), 1);
    let rows = client.conversations().unwrap();
    assert_eq!(
        (rows.len(), rows[0].unread, rows[0].mentions, rows[0].pinned),
        (1, 6, 0, false)
    );
}

#[test]
fn before_any_server_replies_and_reactions_queue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.db");
    seed_with(&path, None);
    let client = open(&path);
    let conv = ConvId::from("c1");
    assert!(!client.supports("reply"));
    client.send_reply(&conv, 3, "re").wait().unwrap();
    client.react(&conv, 3, ":ok:").wait().unwrap();
    let kinds: Vec<OutboxKind> = client
        .outbox()
        .unwrap()
        .into_iter()
        .map(|o| o.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            OutboxKind::Reply { reply_to: 3 },
            OutboxKind::React {
                target: 3,
                key: ":ok:".into()
            }
        ]
    );
    // A key with a space is refused before queueing; unreact needs a
    // standing reaction of mine.
    assert!(matches!(
        client.react(&conv, 3, "a b").wait(),
        Err(Error::Invalid { field: "key", .. })
    ));
    assert!(matches!(
        client.unreact(&conv, 3, ":ok:").wait(),
        Err(Error::Invalid { field: "key", .. })
    ));
    // The thread answers from the store: the queued reply is its echo.
    let w = client.thread(&conv, 3).unwrap();
    assert!(w.root.is_none() && !w.complete);
    assert_eq!(w.items.len(), 1);
    // Requests need a connection.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let change = SettingsChange {
        pinned: Some(true),
        ..SettingsChange::default()
    };
    assert!(matches!(
        rt.block_on(client.set_settings(&conv, change)),
        Err(Error::Offline)
    ));
    assert!(matches!(
        rt.block_on(client.set_settings(&conv, SettingsChange::default())),
        Err(Error::Invalid { .. })
    ));
}

/// §2: `max_body_bytes` is the server's. Before any `hello` the protocol's
/// 16 KiB applies; once a server said 64 KiB (stored by the engine), a
/// 20 KB body is queued, and one over 64 KiB is refused with the limit.
#[test]
fn bodies_follow_the_limit_the_server_said() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    seed(&path);
    let conv = ConvId::from("c1");
    let body = "x".repeat(20_000);
    {
        let client = open(&path);
        assert_eq!(client.server_limits(), sync_core::ServerLimits::default());
        let err = client.send(&conv, &body).wait().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid body: body is 20000 bytes; the limit is 16384"
        );
    }
    let mut s = SqliteStore::open(&path).unwrap();
    s.apply(&Batch {
        writes: vec![Write::Meta(MetaKey::Limits, Some("65536,262144".into()))],
        durable: false,
    })
    .unwrap();
    drop(s);
    let client = open(&path);
    assert_eq!(
        client.server_limits(),
        sync_core::ServerLimits {
            max_body_bytes: 65_536,
            max_frame_bytes: 262_144
        }
    );
    client.send(&conv, &body).wait().unwrap();
    let err = client.send(&conv, &"y".repeat(65_537)).wait().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid body: body is 65537 bytes; the limit is 65536"
    );
}
