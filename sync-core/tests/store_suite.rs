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
    let cases: [fn(&mut dyn Store); 7] = [
        sync_core::store::suite::timeline_with_gaps,
        sync_core::store::suite::edits_and_redactions_in_any_order,
        sync_core::store::suite::outbox_order_and_states,
        sync_core::store::suite::unread_follows_the_local_cursor,
        sync_core::store::suite::resets_and_list_order,
        sync_core::store::suite::after_windows_and_unbounded_limits,
        sync_core::store::suite::consumer_positions,
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
        assert_eq!(s.schema_version().unwrap(), 2);
        s.apply(&batch(vec![Write::Meta(
            MetaKey::ServerId,
            Some("srv".into()),
        )]))
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 2);
    assert_eq!(s.load().unwrap().server_id.as_deref(), Some("srv"));
}
