//! The 1.1 public API offline: against the stored features of a version 1
//! server every new call answers `Unsupported` (nothing queued), while a
//! store that never met a server queues replies and reactions.

use sync_core::protocol::{ConvId, ConvKind, Summary};
use sync_core::store::{Batch, ConvRecord, MetaKey, SqliteStore, Store, Write};
use sync_core::{Client, ClientBuilder, Error, Notify, OutboxKind, SettingsChange};

fn seed(path: &std::path::Path, features: Option<&str>) {
    let mut s = SqliteStore::open(path).unwrap();
    let rec = ConvRecord::from_summary(&Summary {
        conv: ConvId::from("c1"),
        kind: ConvKind::Direct,
        title: "bob".into(),
        member_count: 2,
        last_seq: 10,
        read_seq: 4,
        unread: 6,
        last: None,
        left: false,
        mentions: None,
        notify: None,
        pinned: None,
        archived: None,
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
    seed(&path, Some("account"));
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
    seed(&path, None);
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
