//! Store suite cases for protocol 1.1 (§9.1–9.4): reaction aggregates from
//! snapshots and held entries, reply counts and thread windows, mention
//! flags and counts, settings and list order, the new outbox kinds.

use super::{batch, c, put, summary, text};
use crate::protocol::{EntryKind, Message, Notify};
use crate::store::{
    ConvRecord, MetaKey, OutboxItem, OutboxKind, OutboxState, Store, TextTotals, TimelineItem,
    TimelineQuery, Write,
};

fn me(store: &mut dyn Store) {
    store
        .apply(&batch(vec![Write::Meta(MetaKey::User, Some("me".into()))]))
        .unwrap();
}

fn reaction(seq: u64, sender: &str, target: u64, key: &str) -> Message {
    let mut m = Message::new(seq, sender, 1_000 + seq as i64, EntryKind::Reaction);
    m.target = Some(target);
    m.key = Some(key.into());
    m
}

fn redact(seq: u64, sender: &str, target: u64) -> Message {
    let mut m = Message::new(seq, sender, 1_000 + seq as i64, EntryKind::Redact);
    m.target = Some(target);
    m
}

fn reply(seq: u64, sender: &str, root: u64, body: &str) -> Message {
    let mut m = text(seq, sender, body);
    m.reply_to = Some(root);
    m.thread = Some(root);
    m
}

fn totals(seq: u64, reactions: &[(&str, u64)], replies: u64, last: Option<u64>) -> TextTotals {
    TextTotals {
        seq,
        reactions: reactions.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
        replies,
        last_reply_seq: last,
    }
}

fn held(store: &dyn Store, conv: &str, seq: u64) -> crate::store::LocalMessage {
    store
        .timeline(&c(conv), TimelineQuery::Latest { limit: 1000 })
        .unwrap()
        .into_iter()
        .find_map(|i| match i {
            TimelineItem::Message(m) if m.seq == seq => Some(m),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{seq} not held"))
}

fn shown(store: &dyn Store, conv: &str, seq: u64) -> Vec<String> {
    held(store, conv, seq)
        .reactions
        .iter()
        .map(|r| format!("{}×{}{}", r.key, r.count, if r.mine { "*" } else { "" }))
        .collect()
}

/// One case of [`crate::store_integration_tests!`].
pub fn reactions_from_snapshots_and_entries(store: &mut dyn Store) {
    me(store);
    let mut rec = ConvRecord::from_summary(&summary("g1", 20, 0, 1));
    store.apply(&batch(vec![Write::Conv(rec.clone())])).unwrap();
    // A page up to 10: the text, my reaction (5) and the totals as of 10,
    // which already count it.
    put(
        store,
        &mut rec,
        vec![text(2, "bob", "hi"), reaction(5, "me", 2, "👍")],
    );
    let as_of = |n, t: TextTotals| Write::Totals {
        conv: c("g1"),
        as_of: n,
        texts: vec![t],
    };
    store
        .apply(&batch(vec![as_of(10, totals(2, &[("👍", 2)], 0, None))]))
        .unwrap();
    assert_eq!(shown(store, "g1", 2), vec!["👍×2*"]);
    assert_eq!(
        store.standing_reaction(&c("g1"), 2, "👍", "me").unwrap(),
        Some(5)
    );
    // Above the snapshot: carol's 🎉 counts, my withdrawal of 5 subtracts.
    put(
        store,
        &mut rec,
        vec![reaction(12, "carol", 2, "🎉"), redact(13, "me", 5)],
    );
    assert_eq!(shown(store, "g1", 2), vec!["🎉×1", "👍×1"]);
    assert_eq!(
        store.standing_reaction(&c("g1"), 2, "👍", "me").unwrap(),
        None
    );
    // An older snapshot is ignored; a newer one that counts the same
    // entries changes nothing.
    store
        .apply(&batch(vec![as_of(8, totals(2, &[("👍", 7)], 0, None))]))
        .unwrap();
    assert_eq!(shown(store, "g1", 2), vec!["🎉×1", "👍×1"]);
    store
        .apply(&batch(vec![as_of(
            14,
            totals(2, &[("👍", 1), ("🎉", 1)], 0, None),
        )]))
        .unwrap();
    assert_eq!(shown(store, "g1", 2), vec!["🎉×1", "👍×1"]);
    // A redacted text shows no reactions.
    put(store, &mut rec, vec![redact(15, "bob", 2)]);
    let m = held(store, "g1", 2);
    assert!(m.redacted && m.reactions.is_empty());
}

/// One case of [`crate::store_integration_tests!`]: replies stored from our own `sent` (no `thread` on them) before the
/// texts they answer were held (a lazy group): once the root arrives, the
/// whole chain is in its thread.
pub fn replies_held_before_their_root(store: &mut dyn Store) {
    me(store);
    let mut rec = ConvRecord::from_summary(&summary("g1", 8, 0, 0));
    store.apply(&batch(vec![Write::Conv(rec.clone())])).unwrap();
    let own = |seq: u64, reply_to: u64| {
        let mut m = text(seq, "me", "r");
        m.reply_to = Some(reply_to);
        m
    };
    // 5 answers 3 (not held), 7 answers 5.
    put(store, &mut rec, vec![own(5, 3)]);
    put(store, &mut rec, vec![own(7, 5)]);
    assert_eq!(held(store, "g1", 7).thread, None);
    // 3 arrives: a reply in the thread of 2 (which is still not held).
    put(store, &mut rec, vec![reply(3, "bob", 2, "q")]);
    assert_eq!(
        (held(store, "g1", 5).thread, held(store, "g1", 7).thread),
        (Some(2), Some(2))
    );
    put(store, &mut rec, vec![text(2, "carol", "root")]);
    let w = store.thread(&c("g1"), 2).unwrap();
    let seqs: Vec<u64> = w
        .items
        .iter()
        .filter_map(|i| match i {
            TimelineItem::Message(m) => Some(m.seq),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, [3, 5, 7]);
}

/// One case of [`crate::store_integration_tests!`].
pub fn replies_and_thread_windows(store: &mut dyn Store) {
    me(store);
    let mut rec = ConvRecord::from_summary(&summary("g1", 12, 0, 0));
    store.apply(&batch(vec![Write::Conv(rec.clone())])).unwrap();
    put(
        store,
        &mut rec,
        (1..=5)
            .map(|s| match s {
                4 => reply(4, "bob", 2, "first"),
                s => text(s, "carol", &format!("t{s}")),
            })
            .collect(),
    );
    store
        .apply(&batch(vec![Write::Totals {
            conv: c("g1"),
            as_of: 12,
            texts: vec![totals(2, &[], 3, Some(9))],
        }]))
        .unwrap();
    let items = |store: &dyn Store| {
        let w = store.thread(&c("g1"), 2).unwrap();
        let items: Vec<String> = w
            .items
            .iter()
            .map(|i| match i {
                TimelineItem::Message(m) => m.seq.to_string(),
                TimelineItem::Gap { from, to } => format!("gap {from}-{to}"),
                TimelineItem::Pending(o) => format!("pending {}", o.body.clone().unwrap()),
            })
            .collect();
        (
            items,
            w.complete,
            w.root.map(|r| (r.replies, r.last_reply_seq)),
        )
    };
    assert_eq!(
        items(store),
        (
            vec!["4".into(), "gap 6-9".into()],
            false,
            Some((3, Some(9)))
        )
    );
    // A thread page brings 7 and 9 and covers up to 12.
    put(
        store,
        &mut rec,
        vec![reply(7, "bob", 2, "b"), reply(9, "carol", 2, "c")],
    );
    store
        .apply(&batch(vec![Write::ThreadPage {
            conv: c("g1"),
            root: 2,
            from: 5,
            to: 12,
            thread_last: 9,
        }]))
        .unwrap();
    assert_eq!(
        items(store),
        (
            vec!["4".into(), "7".into(), "9".into()],
            true,
            Some((3, Some(9)))
        )
    );
    // A live reply after 12 counts on top of the snapshot; one after a hole
    // that nothing covers makes the window incomplete.
    put(store, &mut rec, vec![reply(13, "bob", 2, "d")]);
    assert!(items(store).1);
    assert_eq!(items(store).2, Some((4, Some(13))));
    put(store, &mut rec, vec![reply(16, "bob", 2, "e")]);
    let (list, complete, root) = items(store);
    assert_eq!(
        list[list.len() - 2..],
        ["gap 14-15".to_string(), "16".into()]
    );
    assert_eq!((complete, root), (false, Some((5, Some(16)))));
    assert_eq!(held(store, "g1", 2).last_reply_ts, Some(1_016));
    // A queued reply to a reply is a pending echo of the thread.
    store
        .apply(&batch(vec![Write::OutboxPut(OutboxItem {
            client_id: "r1".into(),
            conv: c("g1"),
            kind: OutboxKind::Reply { reply_to: 7 },
            body: Some("mine".into()),
            state: OutboxState::Pending,
            created_ts: 5,
        })]))
        .unwrap();
    assert_eq!(items(store).0.last().unwrap(), "pending mine");
    // A reply stored without its thread (from our own `sent`) is filed by
    // the text it replies to.
    let mut own = text(17, "me", "filed");
    own.reply_to = Some(7);
    put(store, &mut rec, vec![own]);
    assert_eq!(held(store, "g1", 17).thread, Some(2));
    // Timeline reads carry the same counts.
    assert_eq!(held(store, "g1", 2).replies, 6);
}

/// One case of [`crate::store_integration_tests!`].
pub fn mentions_settings_and_list_order(store: &mut dyn Store) {
    me(store);
    let mut a = ConvRecord::from_summary(&summary("a", 10, 2, 5));
    a.mentions = 3;
    a.mention_seqs = vec![4, 6];
    let mut b = ConvRecord::from_summary(&summary("b", 3, 0, 1));
    b.pinned = true;
    b.notify = Notify::None;
    let mut z = ConvRecord::from_summary(&summary("z", 3, 0, 1));
    z.archived = true;
    store
        .apply(&batch(vec![
            Write::Conv(a.clone()),
            Write::Conv(b.clone()),
            Write::Conv(z.clone()),
        ]))
        .unwrap();
    // `a` is the newest, but `b` is pinned.
    put(store, &mut a, vec![text(10, "bob", "new")]);
    let rows = store.conversations().unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.conv.0.as_str(), r.pinned, r.archived, r.notify))
            .collect::<Vec<_>>(),
        vec![
            ("b", true, false, Notify::None),
            ("a", false, false, Notify::All),
            ("z", false, true, Notify::All)
        ]
    );
    let mentions = |store: &dyn Store| store.conversation(&c("a")).unwrap().unwrap().mentions;
    assert_eq!(mentions(store), 3);
    a.local_read = 4;
    store.apply(&batch(vec![Write::Conv(a.clone())])).unwrap();
    assert_eq!(mentions(store), 2, "the one at 4 was read");
    a.local_read = 10;
    store.apply(&batch(vec![Write::Conv(a.clone())])).unwrap();
    assert_eq!(mentions(store), 0);
    // Mention flags: the text's own list, or an edit's (also one held
    // before its text); the newest edit's list is shown.
    let mut t = text(20, "bob", "hey @me");
    t.mentions = vec!["me".into()];
    let mut e = Message::new(22, "carol", 1_022, EntryKind::Edit);
    e.target = Some(21);
    e.body = Some("now @me and @bob".into());
    e.mentions = vec!["bob".into(), "me".into()];
    let mut e2 = e.clone();
    e2.seq = 23;
    e2.body = Some("only @bob".into());
    e2.mentions = vec!["bob".into()];
    put(store, &mut a, vec![t, e, e2]);
    put(store, &mut a, vec![text(21, "carol", "plain")]);
    let m20 = held(store, "a", 20);
    assert_eq!(
        (m20.mentions_me, m20.mentions.clone()),
        (true, vec!["me".to_string()])
    );
    let m21 = held(store, "a", 21);
    assert_eq!(m21.body.as_deref(), Some("only @bob"));
    assert_eq!(
        (m21.mentions_me, m21.mentions),
        (true, vec!["bob".to_string()])
    );
    // Redaction erases them.
    put(store, &mut a, vec![redact(24, "bob", 20)]);
    let m20 = held(store, "a", 20);
    assert!(!m20.mentions_me && m20.mentions.is_empty());
    // Settings and counts survive a reload.
    let snap = store.load().unwrap();
    let b2 = snap.convs.iter().find(|r| r.conv == c("b")).unwrap();
    assert_eq!((b2.pinned, b2.notify), (true, Notify::None));
    let a2 = snap.convs.iter().find(|r| r.conv == c("a")).unwrap();
    assert_eq!((a2.mentions, a2.mention_seqs.clone()), (3, vec![4, 6]));
}

/// One case of [`crate::store_integration_tests!`].
pub fn outbox_keeps_reply_and_react_rows(store: &mut dyn Store) {
    let row = |id: &str, kind| OutboxItem {
        client_id: id.into(),
        conv: c("d1"),
        kind,
        body: None,
        state: OutboxState::Pending,
        created_ts: 1,
    };
    let reply = OutboxItem {
        body: Some("yes".into()),
        ..row("r", OutboxKind::Reply { reply_to: 4 })
    };
    let react = row(
        "k",
        OutboxKind::React {
            target: 4,
            key: ":tada:".into(),
        },
    );
    store
        .apply(&batch(vec![
            Write::OutboxPut(reply.clone()),
            Write::OutboxPut(react.clone()),
        ]))
        .unwrap();
    assert_eq!(store.outbox().unwrap(), vec![reply, react]);
    assert_eq!(store.load().unwrap().features, None);
    store
        .apply(&batch(vec![Write::Meta(
            MetaKey::Features,
            Some("reply,reactions".into()),
        )]))
        .unwrap();
    assert_eq!(
        store.load().unwrap().features,
        Some(vec!["reply".to_string(), "reactions".to_string()])
    );
}
