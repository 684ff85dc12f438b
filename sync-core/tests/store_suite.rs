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
        assert_eq!(s.schema_version().unwrap(), 5);
        s.apply(&batch(vec![Write::Meta(
            MetaKey::ServerId,
            Some("srv".into()),
        )]))
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 5);
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
    assert_eq!(s.schema_version().unwrap(), 5);
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

/// §9.5 locally: once a text is redacted, nothing of its content is left in
/// the cache's files: not its body, not the body of an edit of it held
/// before the redaction came, not its words in the full-text index (FTS5
/// keeps a deleted row's tokens in its segments unless `secure-delete` is
/// on), not the freed bytes of the rows that held them.
#[test]
fn a_redacted_text_leaves_no_trace_in_the_files() {
    use sync_core::protocol::{EntryKind, Message};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let text = |seq: u64, body: &str| {
        let mut m = Message::new(seq, "bob", 1_000 + seq as i64, EntryKind::Text);
        m.body = Some(body.into());
        m
    };
    let on = |seq: u64, kind: EntryKind, target: u64, body: Option<&str>| {
        let mut m = Message::new(seq, "bob", 1_000 + seq as i64, kind);
        m.target = Some(target);
        m.body = body.map(str::to_owned);
        m
    };
    {
        let mut s = SqliteStore::open(&path).unwrap();
        let conv: sync_core::protocol::ConvId = "d1".into();
        let mut page: Vec<Message> = (1..=300)
            .map(|seq| text(seq, &format!("ordinary words {seq}")))
            .collect();
        page[41] = text(42, "zanzibarsecret plans for the launch");
        page[42] = text(43, "kilimanjarosecret plans");
        let mut rec = sync_core::store::ConvRecord::from_summary(&sync_core::protocol::Summary {
            member_count: 2,
            last_seq: 305,
            ..sync_core::protocol::Summary::new(
                conv.clone(),
                sync_core::protocol::ConvKind::Direct,
                "d",
            )
        });
        rec.held.insert_range(1, 305);
        s.apply(&batch(vec![
            Write::Conv(rec),
            Write::Messages(conv.clone(), page),
        ]))
        .unwrap();
        s.apply(&batch(vec![Write::Messages(
            conv.clone(),
            vec![on(
                301,
                EntryKind::Edit,
                42,
                Some("mombasasecret plans, edited"),
            )],
        )]))
        .unwrap();
        s.apply(&batch(vec![Write::Messages(
            conv.clone(),
            vec![on(302, EntryKind::Redact, 42, None)],
        )]))
        .unwrap();
        // An edit that comes after the redaction (an older page loaded
        // later), from a server that kept its body.
        s.apply(&batch(vec![Write::Messages(
            conv.clone(),
            vec![on(304, EntryKind::Redact, 43, None)],
        )]))
        .unwrap();
        s.apply(&batch(vec![Write::Messages(
            conv.clone(),
            vec![on(303, EntryKind::Edit, 43, Some("serengetisecret plans"))],
        )]))
        .unwrap();
        // An edit as a server with `redaction` sends it once its text is
        // redacted: flagged, without a body.
        let mut gone = on(305, EntryKind::Edit, 44, None);
        gone.redacted = true;
        s.apply(&batch(vec![Write::Messages(conv.clone(), vec![gone])]))
            .unwrap();
        let held = |seq: u64| {
            s.timeline(&conv, sync_core::TimelineQuery::Latest { limit: 1_000 })
                .unwrap()
                .into_iter()
                .find_map(|i| match i {
                    sync_core::TimelineItem::Message(m) if m.seq == seq => Some(m),
                    _ => None,
                })
                .unwrap()
        };
        for seq in [42, 301, 43, 303, 305] {
            let m = held(seq);
            assert_eq!((m.redacted, m.body), (true, None), "seq {seq}");
        }
        assert!(s.search("zanzibarsecret", 10).unwrap().is_empty());
        assert!(s.search("mombasasecret", 10).unwrap().is_empty());
    }
    // Closed: the WAL is checkpointed into the database file.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    for secret in [
        "zanzibarsecret",
        "mombasasecret",
        "kilimanjarosecret",
        "serengetisecret",
    ] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is still in the store's files"
        );
    }
}

/// A cache from before version 5, where a redacted text's words stayed in
/// the full-text index and an edit of it kept its body: upgraded, neither
/// is left in the files.
#[test]
fn a_version_4_cache_forgets_what_was_redacted_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v4.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in [
            include_str!("../src/store/migrations/0001_init.sql"),
            include_str!("../src/store/migrations/0002_streams.sql"),
            include_str!("../src/store/migrations/0003_protocol_1_1.sql"),
            include_str!("../src/store/migrations/0004_orphan_replies.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 4;
             INSERT INTO messages (id, conv, seq, sender, ts, kind, body)
                 VALUES (1, 'd1', 1, 'bob', 5, 'text', 'zanzibarsecret plans');
             INSERT INTO messages_fts (rowid, body) VALUES (1, 'zanzibarsecret plans');
             INSERT INTO messages (id, conv, seq, sender, ts, kind, body)
                 VALUES (2, 'd1', 2, 'bob', 6, 'text', 'ordinary words');
             INSERT INTO messages_fts (rowid, body) VALUES (2, 'ordinary words');
             INSERT INTO messages (id, conv, seq, sender, ts, kind, target, body)
                 VALUES (3, 'd1', 3, 'bob', 7, 'edit', 1, 'mombasasecret plans');
             INSERT INTO messages (id, conv, seq, sender, ts, kind, target)
                 VALUES (4, 'd1', 4, 'bob', 8, 'redact', 1);
             DELETE FROM messages_fts WHERE rowid = 1;
             UPDATE messages SET body = NULL, redacted = 1 WHERE id = 1;
             VACUUM;",
        )
        .unwrap();
        let secret = b"zanzibarsecret";
        let file = std::fs::read(&path).unwrap();
        assert!(
            file.windows(secret.len()).any(|w| w == secret),
            "the old index keeps the redacted words (what version 5 mends)"
        );
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 5);
    assert_eq!(s.search("ordinary", 10).unwrap().len(), 1);
    drop(s);
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    for secret in ["zanzibarsecret", "mombasasecret"] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is still in the store's files"
        );
    }
}
