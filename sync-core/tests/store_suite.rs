//! The store suite (`sync_core::store::suite`) against the in-memory and
//! the SQLite store, through the macro third-party stores use too.

use sync_core::store::{Batch, MemoryStore, MetaKey, SqliteStore, Store, Write};

mod memory {
    sync_core::store_integration_tests!(super::MemoryStore::new());
}

mod sqlite {
    sync_core::store_integration_tests!(super::SqliteStore::open_in_memory().unwrap());
}

fn batch(writes: Vec<Write>) -> Batch {
    Batch {
        writes,
        durable: false,
    }
}

/// On a real file (WAL, reopened connections), not only in memory.
#[test]
fn every_case_passes_on_a_database_file() {
    let cases: [fn(&mut dyn Store); 11] = [
        sync_core::store::suite::timeline_with_gaps,
        sync_core::store::suite::edits_and_redactions_in_any_order,
        sync_core::store::suite::outbox_order_and_states,
        sync_core::store::suite::unread_follows_the_local_cursor,
        sync_core::store::suite::resets_and_list_order,
        sync_core::store::suite::after_windows_and_unbounded_limits,
        sync_core::store::suite::consumer_positions,
        sync_core::store::suite::reactions_from_snapshots_and_entries,
        sync_core::store::suite::replies_and_thread_windows,
        sync_core::store::suite::mentions_settings_and_list_order,
        sync_core::store::suite::outbox_keeps_reply_and_react_rows,
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path().join(format!("s{i}.db"))).unwrap();
        case(&mut store);
    }
}

#[test]
fn sqlite_schema_is_versioned_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    {
        let mut s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), 4);
        s.apply(&batch(vec![Write::Meta(
            MetaKey::ServerId,
            Some("srv".into()),
        )]))
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 4);
    assert_eq!(s.load().unwrap().server_id.as_deref(), Some("srv"));
}

/// A cache written by the previous release (schema 2) opens at schema 3 with
/// its conversations, messages and outbox intact and the 1.1 defaults.
#[test]
fn a_version_2_cache_migrates_to_protocol_1_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../src/store/migrations/0001_init.sql"))
            .unwrap();
        conn.execute_batch(include_str!("../src/store/migrations/0002_streams.sql"))
            .unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 2;
             INSERT INTO conversations VALUES ('g1', 'group', 'rust', 2, 1, 0, 1, 0, NULL, 0, 1, 5);
             INSERT INTO held_ranges VALUES ('g1', 1, 1);
             INSERT INTO messages (conv, seq, sender, ts, kind, body) VALUES ('g1', 1, 'bob', 5, 'text', 'hi');
             INSERT INTO outbox (client_id, ord, conv, kind, target, body, state, created_ts)
                 VALUES ('c1', 1, 'g1', 'send', NULL, 'yo', 'pending', 6);",
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 4);
    let row = s.conversation(&"g1".into()).unwrap().unwrap();
    assert_eq!(
        (
            row.unread,
            row.mentions,
            row.notify,
            row.pinned,
            row.archived
        ),
        (1, 0, sync_core::Notify::All, false, false)
    );
    let tl = s
        .timeline(&"g1".into(), sync_core::TimelineQuery::Latest { limit: 10 })
        .unwrap();
    match &tl[0] {
        sync_core::TimelineItem::Message(m) => {
            assert_eq!(m.body.as_deref(), Some("hi"));
            assert_eq!((m.replies, m.reactions.len(), m.thread), (0, 0, None));
        }
        other => panic!("expected the old message, got {other:?}"),
    }
    assert_eq!(s.outbox().unwrap()[0].kind, sync_core::OutboxKind::Send);
}
