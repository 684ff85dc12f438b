//! The public handle without a server: queries, local echo, durable outbox
//! and read cursors all work offline and survive reopening the store.

use sync_core::protocol::{ConvId, ConvKind, Summary};
use sync_core::store::{Batch, ConvRecord, MetaKey, SqliteStore, Store, Write};
use sync_core::{Client, ClientBuilder, ConnState, OutboxState, TimelineItem, TimelineQuery};

fn assert_send_sync<T: Send + Sync + Clone>() {}

fn seed(path: &std::path::Path) {
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
    s.apply(&Batch {
        writes: vec![
            Write::Meta(MetaKey::User, Some("me".into())),
            Write::Conv(rec),
        ],
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
