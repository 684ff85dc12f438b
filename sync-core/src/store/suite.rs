//! The behaviour every [`Store`] must have, as plain functions over
//! `&mut dyn Store`. Run them all against a new implementation with
//! [`crate::store_integration_tests!`]; the SQLite and in-memory stores
//! pass the same suite.
#![allow(clippy::missing_panics_doc)]

mod v11;
pub use v11::{
    mentions_settings_and_list_order, outbox_keeps_reply_and_react_rows,
    reactions_from_snapshots_and_entries, replies_and_thread_windows,
    replies_held_before_their_root,
};

use crate::protocol::{ConvId, ConvKind, EntryKind, Message, Summary};
use crate::store::{
    Batch, ConvRecord, MetaKey, OutboxItem, OutboxKind, OutboxState, RangeSet, SeqRange, Store,
    TimelineItem, TimelineQuery, Write,
};

fn c(s: &str) -> ConvId {
    ConvId::from(s)
}

fn batch(writes: Vec<Write>) -> Batch {
    Batch {
        writes,
        durable: false,
    }
}

fn summary(conv: &str, last_seq: u64, read_seq: u64, unread: u64) -> Summary {
    Summary {
        member_count: 2,
        last_seq,
        read_seq,
        unread,
        ..Summary::new(c(conv), ConvKind::Group, conv.to_uppercase())
    }
}

fn text(seq: u64, sender: &str, body: &str) -> Message {
    Message::text(seq, sender, 1_000 + seq as i64, body)
}

/// Stores `msgs` in `rec` (held ranges updated) as the engine would.
fn put(store: &mut dyn Store, rec: &mut ConvRecord, msgs: Vec<Message>) {
    for m in &msgs {
        rec.held.insert(m.seq);
    }
    store
        .apply(&batch(vec![
            Write::Messages(rec.conv.clone(), msgs),
            Write::Conv(rec.clone()),
        ]))
        .unwrap();
}

fn items(store: &dyn Store, conv: &str, q: TimelineQuery) -> Vec<String> {
    store
        .timeline(&c(conv), q)
        .unwrap()
        .into_iter()
        .map(|i| match i {
            TimelineItem::Message(m) => {
                format!("{}:{}", m.seq, m.body.unwrap_or_else(|| "<deleted>".into()))
            }
            TimelineItem::Gap { from, to } => format!("gap {from}-{to}"),
            TimelineItem::Pending(o) => format!("pending {}", o.body.unwrap_or_default()),
        })
        .collect()
}

/// One case of [`crate::store_integration_tests!`].
pub fn timeline_with_gaps(store: &mut dyn Store) {
    let mut rec = ConvRecord::from_summary(&summary("g1", 20, 0, 20));
    store.apply(&batch(vec![Write::Conv(rec.clone())])).unwrap();
    assert_eq!(
        items(store, "g1", TimelineQuery::Latest { limit: 5 }),
        vec!["gap 1-20"]
    );
    put(
        store,
        &mut rec,
        (3..=5).map(|s| text(s, "bob", &format!("m{s}"))).collect(),
    );
    put(
        store,
        &mut rec,
        vec![text(9, "bob", "m9"), text(8, "bob", "m8")],
    );
    assert_eq!(
        store.gaps(&c("g1")).unwrap(),
        vec![
            SeqRange::new(1, 2),
            SeqRange::new(6, 7),
            SeqRange::new(10, 20)
        ]
    );
    assert_eq!(
        items(store, "g1", TimelineQuery::Latest { limit: 3 }),
        vec!["5:m5", "gap 6-7", "8:m8", "9:m9", "gap 10-20"]
    );
    assert_eq!(
        items(store, "g1", TimelineQuery::Latest { limit: 100 }),
        vec![
            "gap 1-2",
            "3:m3",
            "4:m4",
            "5:m5",
            "gap 6-7",
            "8:m8",
            "9:m9",
            "gap 10-20"
        ]
    );
    assert_eq!(
        items(
            store,
            "g1",
            TimelineQuery::Around {
                seq: 5,
                before: 1,
                after: 1
            }
        ),
        vec!["4:m4", "5:m5", "gap 6-7"]
    );
    assert_eq!(store.timeline_len(&c("g1")).unwrap(), 5);
    // A duplicate insert changes nothing.
    put(store, &mut rec, vec![text(4, "bob", "other")]);
    assert_eq!(store.timeline_len(&c("g1")).unwrap(), 5);
    assert_eq!(
        items(
            store,
            "g1",
            TimelineQuery::Around {
                seq: 4,
                before: 0,
                after: 1
            }
        ),
        vec!["4:m4"]
    );
    // The snapshot carries the held ranges back.
    let snap = store.load().unwrap();
    assert_eq!(
        snap.convs[0].held,
        RangeSet::from_ranges([SeqRange::new(3, 5), SeqRange::new(8, 9)])
    );
}

/// One case of [`crate::store_integration_tests!`].
pub fn edits_and_redactions_in_any_order(store: &mut dyn Store) {
    let mut rec = ConvRecord::from_summary(&summary("g1", 5, 0, 0));
    store.apply(&batch(vec![Write::Conv(rec.clone())])).unwrap();
    let mut edit = Message::new(3, "bob", 5, EntryKind::Edit);
    edit.target = Some(1);
    edit.body = Some("first, edited".into());
    let mut redact = Message::new(4, "bob", 6, EntryKind::Redact);
    redact.target = Some(2);
    // Edit and redaction arrive before their targets.
    put(store, &mut rec, vec![edit, redact]);
    put(
        store,
        &mut rec,
        vec![text(1, "bob", "first"), text(2, "bob", "second")],
    );
    let tl = store
        .timeline(&c("g1"), TimelineQuery::Latest { limit: 2 })
        .unwrap();
    let ordered: Vec<_> = store
        .timeline(&c("g1"), TimelineQuery::Latest { limit: 10 })
        .unwrap();
    assert_eq!(tl.len(), 3, "4 held, limit 2 -> seqs 3,4 + gap 5: {tl:?}");
    match (&ordered[0], &ordered[1]) {
        (TimelineItem::Message(a), TimelineItem::Message(b)) => {
            assert_eq!(
                (a.body.as_deref(), a.edited, a.redacted),
                (Some("first, edited"), true, false)
            );
            assert_eq!((b.body.as_deref(), b.redacted), (None, true));
        }
        other => panic!("unexpected {other:?}"),
    }
    let hits = store.search("edited", 10).unwrap();
    assert_eq!(hits.iter().map(|h| h.seq).collect::<Vec<_>>(), vec![1]);
    assert!(
        store.search("second", 10).unwrap().is_empty(),
        "redacted text is not searchable"
    );
    assert!(store.search("first", 10).unwrap().len() == 1);
    assert!(store.search("   ", 10).unwrap().is_empty());
    assert!(store.search("fir", 10).unwrap().len() == 1, "prefix match");
    assert!(
        store.search("\"quoted\" AND (", 10).unwrap().is_empty(),
        "odd syntax is safe"
    );
}

/// One case of [`crate::store_integration_tests!`].
pub fn outbox_order_and_states(store: &mut dyn Store) {
    let item = |id: &str, conv: &str, ts: i64| OutboxItem {
        client_id: id.into(),
        conv: c(conv),
        kind: OutboxKind::Send,
        body: Some(format!("body {id}")),
        state: OutboxState::Pending,
        created_ts: ts,
    };
    store
        .apply(&Batch {
            writes: vec![
                Write::OutboxPut(item("a", "g1", 10)),
                Write::OutboxPut(item("b", "g1", 11)),
            ],
            durable: true,
        })
        .unwrap();
    let mut failed = item("a", "g1", 10);
    failed.state = OutboxState::Failed {
        code: crate::FailCode::Server(crate::protocol::ErrorCode::TooLarge),
        message: "big".into(),
    };
    store
        .apply(&batch(vec![Write::OutboxPut(failed.clone())]))
        .unwrap();
    let ids: Vec<_> = store
        .outbox()
        .unwrap()
        .into_iter()
        .map(|o| (o.client_id, o.state))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("a".into(), failed.state.clone()),
            ("b".into(), OutboxState::Pending)
        ]
    );
    // Retry = remove + put: moves to the end.
    store
        .apply(&batch(vec![
            Write::OutboxRemove("a".into()),
            Write::OutboxPut(item("a", "g1", 10)),
        ]))
        .unwrap();
    let ids: Vec<_> = store
        .outbox()
        .unwrap()
        .into_iter()
        .map(|o| o.client_id)
        .collect();
    assert_eq!(ids, vec!["b", "a"]);
    // Pending echoes appear after the newest held entry.
    let rec = ConvRecord::from_summary(&summary("g1", 0, 0, 0));
    store.apply(&batch(vec![Write::Conv(rec)])).unwrap();
    assert_eq!(
        items(store, "g1", TimelineQuery::Latest { limit: 5 }),
        vec!["pending body b", "pending body a"]
    );
    let row = store.conversation(&c("g1")).unwrap().unwrap();
    assert_eq!((row.pending, row.last_activity_ts), (2, 11));
}

/// One case of [`crate::store_integration_tests!`].
pub fn unread_follows_the_local_cursor(store: &mut dyn Store) {
    store
        .apply(&batch(vec![Write::Meta(MetaKey::User, Some("me".into()))]))
        .unwrap();
    let mut rec = ConvRecord::from_summary(&summary("g1", 10, 4, 6));
    store.apply(&batch(vec![Write::Conv(rec.clone())])).unwrap();
    put(
        store,
        &mut rec,
        (5..=10)
            .map(|s| text(s, if s == 6 { "me" } else { "bob" }, "x"))
            .collect(),
    );
    assert_eq!(store.conversation(&c("g1")).unwrap().unwrap().unread, 6);
    rec.local_read = 7; // 5 and 7 by bob are now read locally (6 is mine)
    store.apply(&batch(vec![Write::Conv(rec.clone())])).unwrap();
    let row = store.conversation(&c("g1")).unwrap().unwrap();
    assert_eq!((row.read_seq, row.unread), (7, 4));
    // A stale write cannot move the local cursor back.
    rec.local_read = 5;
    store.apply(&batch(vec![Write::Conv(rec.clone())])).unwrap();
    assert_eq!(store.conversation(&c("g1")).unwrap().unwrap().read_seq, 7);
    rec.local_read = 10;
    store.apply(&batch(vec![Write::Conv(rec)])).unwrap();
    assert_eq!(store.conversation(&c("g1")).unwrap().unwrap().unread, 0);
}

/// One case of [`crate::store_integration_tests!`].
pub fn resets_and_list_order(store: &mut dyn Store) {
    let mut a = ConvRecord::from_summary(&summary("a", 3, 0, 3));
    let mut b = ConvRecord::from_summary(&summary("b", 3, 0, 3));
    store
        .apply(&batch(vec![Write::Conv(a.clone()), Write::Conv(b.clone())]))
        .unwrap();
    put(store, &mut a, vec![text(1, "x", "old")]);
    put(store, &mut b, vec![text(3, "x", "new")]);
    let order: Vec<_> = store
        .conversations()
        .unwrap()
        .into_iter()
        .map(|r| r.conv.0)
        .collect();
    assert_eq!(order, vec!["b", "a"]);
    // An edit or a deletion of an old message is not new activity: "a" stays
    // below "b", whose newest message is newer.
    let mut edit = Message::new(4, "x", 5_000, EntryKind::Edit);
    edit.target = Some(1);
    edit.body = Some("old, edited".into());
    let mut redact = Message::new(5, "x", 6_000, EntryKind::Redact);
    redact.target = Some(1);
    put(store, &mut a, vec![edit, redact]);
    let order: Vec<_> = store
        .conversations()
        .unwrap()
        .into_iter()
        .map(|r| r.conv.0)
        .collect();
    assert_eq!(order, vec!["b", "a"], "edits do not reorder the list");
    store
        .apply(&batch(vec![Write::ClearTimeline(c("b"))]))
        .unwrap();
    assert_eq!(store.timeline_len(&c("b")).unwrap(), 0);
    assert!(store.search("new", 5).unwrap().is_empty());
    store
        .apply(&batch(vec![Write::RemoveConv(c("a"))]))
        .unwrap();
    assert!(store.conversation(&c("a")).unwrap().is_none());
    store
        .apply(&batch(vec![
            Write::Meta(MetaKey::Since, Some("s9".into())),
            Write::ResetAll,
        ]))
        .unwrap();
    assert!(store.conversations().unwrap().is_empty());
    assert_eq!(store.load().unwrap().since, None);
}

/// One case of [`crate::store_integration_tests!`].
pub fn after_windows_and_unbounded_limits(store: &mut dyn Store) {
    let mut rec = ConvRecord::from_summary(&summary("g1", 12, 0, 12));
    store.apply(&batch(vec![Write::Conv(rec.clone())])).unwrap();
    put(
        store,
        &mut rec,
        [2, 3, 4, 8, 9, 10]
            .into_iter()
            .map(|s| text(s, "bob", &format!("m{s}")))
            .collect(),
    );
    // After 3: the rest, ascending, with the gaps among them and above.
    assert_eq!(
        items(store, "g1", TimelineQuery::After { seq: 3, limit: 10 }),
        vec!["4:m4", "gap 5-7", "8:m8", "9:m9", "10:m10", "gap 11-12"]
    );
    assert_eq!(
        items(store, "g1", TimelineQuery::After { seq: 0, limit: 2 }),
        vec!["gap 1-1", "2:m2", "3:m3"]
    );
    // Limits of usize::MAX (and i64::MAX) mean "all", never "none" or a panic.
    for after in [usize::MAX, i64::MAX as usize] {
        assert_eq!(
            items(
                store,
                "g1",
                TimelineQuery::Around {
                    seq: 8,
                    before: 0,
                    after
                }
            ),
            vec!["8:m8", "9:m9", "10:m10", "gap 11-12"]
        );
        assert_eq!(
            items(
                store,
                "g1",
                TimelineQuery::After {
                    seq: 9,
                    limit: after
                }
            ),
            vec!["10:m10", "gap 11-12"]
        );
    }
    assert_eq!(
        items(
            store,
            "g1",
            TimelineQuery::Around {
                seq: u64::MAX,
                before: usize::MAX,
                after: usize::MAX
            }
        )
        .len(),
        9
    );
}

/// One case of [`crate::store_integration_tests!`].
pub fn consumer_positions(store: &mut dyn Store) {
    assert_eq!(store.consumer("bot").unwrap(), None);
    let start = |positions: Vec<(ConvId, u64)>, reset: bool| Write::ConsumerStart {
        name: "bot".into(),
        positions,
        reset,
    };
    store
        .apply(&batch(vec![start(vec![(c("a"), 5), (c("b"), 0)], false)]))
        .unwrap();
    let ack = |conv: &str, seq: u64| Write::ConsumerAck {
        name: "bot".into(),
        conv: c(conv),
        seq,
    };
    // Acks only move forward; a start keeps stored positions...
    store
        .apply(&batch(vec![ack("a", 9), ack("a", 7), ack("c", 2)]))
        .unwrap();
    store
        .apply(&batch(vec![start(vec![(c("a"), 1), (c("d"), 4)], false)]))
        .unwrap();
    let got = store.consumer("bot").unwrap().unwrap();
    let want: Vec<(ConvId, u64)> = vec![(c("a"), 9), (c("b"), 0), (c("c"), 2), (c("d"), 4)];
    assert_eq!(got.into_iter().collect::<Vec<_>>(), want);
    assert_eq!(store.consumer("other").unwrap(), None);
    // ...unless it resets them (a replay, or a start from now).
    store
        .apply(&batch(vec![start(vec![(c("a"), 0)], true)]))
        .unwrap();
    let got = store.consumer("bot").unwrap().unwrap();
    assert_eq!(got.into_iter().collect::<Vec<_>>(), vec![(c("a"), 0)]);
    // A reset server discards positions (its seqs are not ours any more).
    store.apply(&batch(vec![Write::ResetAll])).unwrap();
    assert_eq!(store.consumer("bot").unwrap().map(|p| p.len()), Some(0));
}

/// Defines one `#[test]` per case of the store suite ([`store::suite`]),
/// each run on a fresh store made by the given expression, like
/// matrix-sdk's `statestore_integration_tests!`:
///
/// ```ignore
/// mod my_store_suite {
///     sync_core::store_integration_tests!(my_crate::MyStore::new());
/// }
/// ```
///
/// [`store::suite`]: crate::store::suite
#[macro_export]
macro_rules! store_integration_tests {
    ($make:expr) => {
        $crate::store_integration_tests!(@cases $make;
            timeline_with_gaps,
            edits_and_redactions_in_any_order,
            outbox_order_and_states,
            unread_follows_the_local_cursor,
            resets_and_list_order,
            after_windows_and_unbounded_limits,
            consumer_positions,
            reactions_from_snapshots_and_entries,
            replies_and_thread_windows,
            replies_held_before_their_root,
            mentions_settings_and_list_order,
            outbox_keeps_reply_and_react_rows
        );
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[test]
            fn $case() {
                let mut store = $make;
                $crate::store::suite::$case(&mut store);
            }
        )*
    };
}
