//! Protocol 1.1 (§9.1–9.4) rules against the model server: reactions and
//! their totals, mentions, settings, threads, and the fallback to version 1.

use super::common::{Harness, ME, ModelServer, c, logged_in};
use crate::engine::{Command, Request, SettingsChange};
use crate::error::Error;
use crate::events::Event;
use crate::protocol::{ClientFrame, ConvKind, Notify, Seq, features};
use crate::store::{
    FailCode, LocalMessage, MemoryStore, MetaKey, OutboxKind, OutboxState, Store, TimelineItem,
    TimelineQuery,
};

/// A held text, decorated as the app reads it.
fn msg(h: &Harness<MemoryStore>, conv: &str, seq: Seq) -> LocalMessage {
    h.store
        .timeline(
            &c(conv),
            TimelineQuery::Around {
                seq,
                before: 0,
                after: 1,
            },
        )
        .unwrap()
        .into_iter()
        .find_map(|i| match i {
            TimelineItem::Message(m) if m.seq == seq => Some(m),
            _ => None,
        })
        .unwrap_or_else(|| panic!("seq {seq} of {conv} is not held"))
}

/// Reactions as `key×count` (with `*` when mine), in display order.
fn reactions(h: &Harness<MemoryStore>, conv: &str, seq: Seq) -> Vec<String> {
    msg(h, conv, seq)
        .reactions
        .iter()
        .map(|r| format!("{}×{}{}", r.key, r.count, if r.mine { "*" } else { "" }))
        .collect()
}

fn direct11() -> ModelServer {
    let mut s = ModelServer::v11();
    s.create("d1", ConvKind::Direct, "", &["bob", ME]);
    s.post("d1", "bob", "hello"); // seq 2
    s
}

fn last_reply(h: &Harness<MemoryStore>) -> &Result<crate::engine::ReplyValue, Error> {
    &h.replies.last().expect("a reply").1
}

#[test]
fn my_reaction_and_others_count_and_unreact_withdraws_mine() {
    let mut h = logged_in(direct11());
    h.go_live();
    h.enqueue(
        "d1",
        OutboxKind::React {
            target: 2,
            key: "👍".into(),
        },
        None,
    );
    h.run();
    assert_eq!(reactions(&h, "d1", 2), vec!["👍×1*"]);
    // Bob agrees, carol is not here: a second key from bob.
    let push = h.server.react_as("d1", "bob", 2, "👍").unwrap();
    h.to_client.push_back(push);
    let push = h.server.react_as("d1", "bob", 2, "🎉").unwrap();
    h.to_client.push_back(push);
    h.run();
    assert_eq!(reactions(&h, "d1", 2), vec!["👍×2*", "🎉×1"]);
    // Reactions are not unread and not `last`, and did not move the cursor.
    let row = h.store.conversation(&c("d1")).unwrap().unwrap();
    assert_eq!((row.unread, row.last.unwrap().seq), (1, 2));
    // Apps see others' reactions as NewMessage events of kind reaction.
    assert_eq!(
        h.count_events(|e| matches!(e, Event::NewMessage { message, .. }
            if message.kind == crate::protocol::EntryKind::Reaction)),
        2
    );
    // Unreact: a redaction of my reaction entry (seq 3).
    let mine = h.store.standing_reaction(&c("d1"), 2, "👍", ME).unwrap();
    assert_eq!(mine, Some(3));
    h.enqueue("d1", OutboxKind::Redact { target: 3 }, None);
    h.run();
    // Ties by key.
    assert_eq!(reactions(&h, "d1", 2), vec!["🎉×1", "👍×1"]);
    assert_eq!(
        h.store.standing_reaction(&c("d1"), 2, "👍", ME).unwrap(),
        None
    );
    assert_eq!(
        h.server.reaction_totals(&c("d1"), 2).get("👍").copied(),
        Some(1)
    );
}

#[test]
fn totals_of_a_lazy_page_are_not_counted_twice_with_its_own_entries() {
    let mut s = ModelServer::v11();
    s.create("g1", ConvKind::Group, "rust", &["bob", "carol", ME]);
    s.post("g1", "bob", "root"); // 2
    s.react_as("g1", "carol", 2, "👍").unwrap(); // 3
    s.react_as("g1", "bob", 2, "👍").unwrap(); // 4
    s.react_as("g1", ME, 2, "🎉").unwrap(); // 5: mine, on another device
    let x = s.redact_as("g1", "bob", 4); // 6: bob withdraws
    assert!(x.is_some());
    for i in 0..10 {
        s.post("g1", "carol", &format!("later {i}")); // 7..=16
    }
    let mut h = logged_in(s);
    h.go_live();
    // The group is lazy: open it, one history page of the newest 5 (12..=16).
    h.engine
        .handle_command(h.now, Command::Open(Some(c("g1"))))
        .unwrap();
    h.pump_outputs();
    h.run();
    // Load older pages until the root is held: those pages hold the text
    // with its totals AND the reaction entries the totals already count.
    for _ in 0..5 {
        h.cmd(Command::LoadOlder {
            conv: c("g1"),
            token: 9,
        })
        .unwrap();
        h.run();
    }
    assert_eq!(
        reactions(&h, "g1", 2),
        vec!["{}".replace("{}", "🎉×1*"), "👍×1".into()]
    );
    // A live reaction after the snapshot counts once.
    let push = h.server.react_as("g1", "bob", 2, "👍").unwrap();
    h.to_client.push_back(push);
    h.run();
    assert_eq!(reactions(&h, "g1", 2), vec!["👍×2", "🎉×1*"]);
    // A later page with a newer snapshot of the same text changes nothing.
    h.cmd(Command::LoadOlder {
        conv: c("g1"),
        token: 10,
    })
    .unwrap();
    h.run();
    assert_eq!(reactions(&h, "g1", 2), vec!["👍×2", "🎉×1*"]);
}

#[test]
fn totals_seed_a_text_whose_reaction_entries_are_never_pulled() {
    let mut s = ModelServer::v11();
    s.create("g1", ConvKind::Group, "rust", &["bob", "carol", ME]);
    for i in 0..20 {
        s.post("g1", "bob", &format!("m {i}")); // 2..=21
    }
    for who in ["bob", "carol"] {
        s.react_as("g1", who, 18, ":+1:").unwrap(); // 22, 23
    }
    s.reply_as("g1", "carol", 18, "yes").unwrap(); // 24
    let mut h = Harness::new(s, seeded_store(), super::common::test_config());
    h.go_live();
    // History page of 5 entries: 20..=24 (root 18 is not in it). Then one
    // page more: 15..=19 holds the root with totals as of 24, but not the
    // reaction entries (22, 23) nor... they are held from the first page.
    h.cmd(Command::Open(Some(c("g1")))).unwrap();
    h.run();
    h.cmd(Command::LoadOlder {
        conv: c("g1"),
        token: 1,
    })
    .unwrap();
    h.run();
    let root = msg(&h, "g1", 18);
    assert_eq!(
        (
            root.replies,
            root.last_reply_seq,
            root.last_reply_ts.is_some()
        ),
        (1, Some(24), true)
    );
    assert_eq!(reactions(&h, "g1", 18), vec![":+1:×2"]);
    // A text far below, loaded with its totals only.
    assert_eq!(msg(&h, "g1", 19).reactions, vec![]);
}

fn seeded_store() -> MemoryStore {
    let mut store = MemoryStore::new();
    super::common::seed_session(&mut store);
    store
}

#[test]
fn mentions_count_pushes_edits_reads_and_redactions() {
    let mut s = ModelServer::v11();
    s.create("g1", ConvKind::Group, "rust", &["bob", "carol", ME]);
    s.act(
        "g1",
        crate::protocol::Message::text(0, "bob", 0, "@me look"),
    )
    .unwrap(); // 2
    s.post("g1", "carol", "unrelated"); // 3
    let mut h = logged_in(s);
    h.go_live();
    let row = |h: &Harness<MemoryStore>| h.store.conversation(&c("g1")).unwrap().unwrap();
    assert_eq!(
        (row(&h).unread, row(&h).mentions),
        (2, 1),
        "seeded from the summary"
    );
    // On screen: its entries are held (an edit of an unheld text is left to
    // the next summary).
    h.cmd(Command::Open(Some(c("g1")))).unwrap();
    h.run();
    // A push mentioning me counts.
    let push = h
        .server
        .act(
            "g1",
            crate::protocol::Message::text(0, "carol", 0, "hey @me."),
        )
        .unwrap(); // 4
    h.to_client.push_back(push);
    h.run();
    assert_eq!(row(&h).mentions, 2);
    assert!(msg(&h, "g1", 4).mentions_me);
    assert_eq!(msg(&h, "g1", 4).mentions, vec![ME.to_string()]);
    // An edit adding a mention to a held unread text counts once.
    let push = h
        .server
        .edit_as("g1", "carol", 3, "unrelated, @me")
        .unwrap(); // 5
    h.to_client.push_back(push);
    h.run();
    assert_eq!(row(&h).mentions, 3);
    assert!(msg(&h, "g1", 3).mentions_me);
    // An edit dropping it does not take it back; a second edit adding it
    // again does not count twice.
    for body in ["plain", "again @me"] {
        let push = h.server.edit_as("g1", "carol", 3, body).unwrap();
        h.to_client.push_back(push);
    }
    h.run();
    assert_eq!(row(&h).mentions, 3);
    // Redacting a counted unread text removes it.
    let push = h.server.redact_as("g1", "carol", 4).unwrap();
    h.to_client.push_back(push);
    h.run();
    assert_eq!(row(&h).mentions, 2);
    assert!(!msg(&h, "g1", 4).mentions_me && msg(&h, "g1", 4).mentions.is_empty());
    // Reading up to 2 lowers it exactly by the one at 2.
    h.cmd(Command::MarkRead {
        conv: c("g1"),
        seq: Some(2),
    })
    .unwrap();
    h.run();
    assert_eq!(row(&h).mentions, 1);
    // The server agrees after a sync.
    h.disconnect();
    h.go_live();
    assert_eq!(row(&h).mentions, h.server.mention_count(ME, &c("g1")));
    assert_eq!(row(&h).mentions, 1);
    h.cmd(Command::MarkRead {
        conv: c("g1"),
        seq: None,
    })
    .unwrap();
    h.run();
    assert_eq!(row(&h).mentions, 0);
}

#[test]
fn settings_request_event_and_list_order() {
    let mut s = ModelServer::v11();
    s.create("d1", ConvKind::Direct, "", &["bob", ME]);
    s.create("d2", ConvKind::Direct, "", &["carol", ME]);
    s.post("d1", "bob", "older");
    s.post("d2", "carol", "newer");
    let mut h = logged_in(s);
    h.go_live();
    let order = |h: &Harness<MemoryStore>| {
        h.store
            .conversations()
            .unwrap()
            .into_iter()
            .map(|r| format!("{}{}", r.conv, if r.archived { "(a)" } else { "" }))
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&h), vec!["d2", "d1"]);
    h.cmd(Command::Request {
        request: Request::Settings {
            conv: c("d1"),
            change: SettingsChange {
                pinned: Some(true),
                notify: Some(Notify::Mentions),
                archived: None,
            },
        },
        token: 7,
    })
    .unwrap();
    h.run();
    assert!(last_reply(&h).is_ok());
    assert_eq!(order(&h), vec!["d1", "d2"], "pinned first");
    let d1 = h.store.conversation(&c("d1")).unwrap().unwrap();
    assert_eq!(
        (d1.notify, d1.pinned, d1.archived),
        (Notify::Mentions, true, false)
    );
    assert_eq!(h.server.settings_of(ME, &c("d1")).notify, Notify::Mentions);
    // Another device archives d2: the event updates the store and the list.
    let ev = h
        .server
        .set_settings(ME, &c("d2"), None, None, Some(true))
        .unwrap();
    h.events.clear();
    h.to_client.push_back(ev);
    h.run();
    assert_eq!(order(&h), vec!["d1", "d2(a)"]);
    assert_eq!(
        h.count_events(|e| matches!(e, Event::ConversationsChanged(v) if v == &vec![c("d2")])),
        1
    );
    // A restart keeps them; a full sync agrees.
    h.restart(super::common::test_config());
    h.go_live();
    assert_eq!(order(&h), vec!["d1", "d2(a)"]);
}

#[test]
fn thread_loads_lazily_and_live_replies_do_not_fake_completeness() {
    let mut s = ModelServer::v11();
    s.create("g1", ConvKind::Group, "rust", &["bob", "carol", ME]);
    s.post("g1", "bob", "root"); // 2
    for i in 0..30 {
        s.post("g1", "carol", &format!("chatter {i}")); // 3..=32
    }
    s.reply_as("g1", "carol", 2, "first").unwrap(); // 33
    s.reply_as("g1", "bob", 33, "deeper").unwrap(); // 34: same thread
    s.post("g1", "carol", "after"); // 35
    let mut h = logged_in(s);
    h.go_live();
    let w = h.store.thread(&c("g1"), 2).unwrap();
    assert!(w.root.is_none() && !w.complete);
    h.cmd(Command::LoadThread {
        conv: c("g1"),
        root: 2,
        token: 3,
    })
    .unwrap();
    h.run();
    assert!(last_reply(&h).is_ok());
    let w = h.store.thread(&c("g1"), 2).unwrap();
    assert_eq!(w.root.as_ref().map(|r| (r.seq, r.replies)), Some((2, 2)));
    let seqs: Vec<String> = w.items.iter().map(item).collect();
    assert_eq!(seqs, vec!["33", "34"]);
    assert!(w.complete);
    // The conversation's own timeline shows the isolated entries with exact gaps.
    assert_eq!(h.store.gaps(&c("g1")).unwrap().len(), 3);
    // While offline, carol replies twice; only the second is pushed (the
    // first is missed): the window must show a gap, not look complete.
    h.disconnect();
    h.server.reply_as("g1", "carol", 2, "missed").unwrap(); // 36
    h.cmd(Command::Connect).unwrap();
    h.advance(std::time::Duration::from_secs(10));
    h.run();
    let push = h.server.reply_as("g1", "bob", 2, "pushed").unwrap(); // 37
    h.to_client.push_back(push);
    h.run();
    let w = h.store.thread(&c("g1"), 2).unwrap();
    assert_eq!(
        w.items.iter().map(item).collect::<Vec<_>>(),
        vec!["33", "34", "gap 36-36", "37"]
    );
    assert!(!w.complete);
    h.cmd(Command::LoadThread {
        conv: c("g1"),
        root: 2,
        token: 4,
    })
    .unwrap();
    h.run();
    let w = h.store.thread(&c("g1"), 2).unwrap();
    assert_eq!(
        w.items.iter().map(item).collect::<Vec<_>>(),
        vec!["33", "34", "36", "37"]
    );
    assert!(w.complete);
    // A queued reply shows as a pending echo at the end, then is filed in
    // the thread when sent.
    h.disconnect();
    h.enqueue("g1", OutboxKind::Reply { reply_to: 34 }, Some("mine"));
    let w = h.store.thread(&c("g1"), 2).unwrap();
    assert_eq!(item(w.items.last().unwrap()), "pending mine");
    h.go_live();
    let w = h.store.thread(&c("g1"), 2).unwrap();
    assert_eq!(item(w.items.last().unwrap()), "38");
    assert_eq!(msg(&h, "g1", 38).thread, Some(2));
    assert_eq!(msg(&h, "g1", 38).reply_to, Some(34));
}

fn item(i: &TimelineItem) -> String {
    match i {
        TimelineItem::Message(m) => m.seq.to_string(),
        TimelineItem::Gap { from, to } => format!("gap {from}-{to}"),
        TimelineItem::Pending(o) => format!("pending {}", o.body.clone().unwrap_or_default()),
    }
}

#[test]
fn a_version_1_server_gets_unsupported_and_everything_else_works() {
    let mut s = ModelServer::default(); // features: account only
    s.create("d1", ConvKind::Direct, "", &["bob", ME]);
    s.post("d1", "bob", "hello");
    let mut h = logged_in(s);
    h.go_live();
    assert_eq!(
        h.store.meta(MetaKey::Features).unwrap().as_deref(),
        Some("account")
    );
    for kind in [
        OutboxKind::Reply { reply_to: 2 },
        OutboxKind::React {
            target: 2,
            key: "👍".into(),
        },
    ] {
        let item = crate::store::OutboxItem {
            client_id: format!("x-{kind:?}"),
            conv: c("d1"),
            body: Some("b".into()),
            kind: kind.clone(),
            state: OutboxState::Pending,
            created_ts: 1,
        };
        let r = h.cmd(Command::Enqueue {
            item,
            wait: None,
            ack: None,
        });
        let feature = kind.feature().unwrap();
        assert!(
            matches!(r, Err(Error::Unsupported(f)) if f == feature),
            "{r:?}"
        );
    }
    assert!(h.store.outbox().unwrap().is_empty(), "nothing queued");
    h.cmd(Command::Request {
        request: Request::Settings {
            conv: c("d1"),
            change: SettingsChange {
                pinned: Some(true),
                ..SettingsChange::default()
            },
        },
        token: 5,
    })
    .unwrap();
    assert!(matches!(
        last_reply(&h),
        Err(Error::Unsupported(features::SETTINGS))
    ));
    h.cmd(Command::LoadThread {
        conv: c("d1"),
        root: 2,
        token: 6,
    })
    .unwrap();
    assert!(matches!(
        last_reply(&h),
        Err(Error::Unsupported(features::REPLY))
    ));
    // No 1.1 frame ever went out; sends, edits and reads work as before.
    assert!(h.sent_of("thread").is_empty() && h.sent_of("settings").is_empty());
    h.send_text("d1", "plain");
    h.run();
    h.enqueue("d1", OutboxKind::Edit { target: 3 }, Some("plain!"));
    h.run();
    assert_eq!(msg(&h, "d1", 3).body.as_deref(), Some("plain!"));
    let sends: Vec<_> = h
        .sent_of("send")
        .into_iter()
        .map(|f| matches!(f, ClientFrame::Send { reply_to: None, .. }))
        .collect();
    assert_eq!(sends, vec![true]);
    let row = h.store.conversation(&c("d1")).unwrap().unwrap();
    assert_eq!((row.unread, row.mentions, row.pinned), (0, 0, false));
}

#[test]
fn a_reaction_queued_before_any_connection_fails_typed_on_a_version_1_server() {
    let mut s = ModelServer::default();
    s.create("d1", ConvKind::Direct, "", &["bob", ME]);
    s.post("d1", "bob", "hello");
    let mut h = logged_in(s);
    let id = h.enqueue(
        "d1",
        OutboxKind::React {
            target: 2,
            key: "👍".into(),
        },
        None,
    );
    h.send_text("d1", "after it");
    h.go_live();
    let outbox = h.store.outbox().unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].client_id, id);
    assert!(matches!(
        outbox[0].state,
        OutboxState::Failed {
            code: FailCode::Unsupported,
            ..
        }
    ));
    assert!(h.sent_of("react").is_empty());
    // The text queued after it went out.
    assert_eq!(h.server.last_seq("d1"), 3);
}

#[test]
fn a_live_withdrawal_of_a_reaction_never_held_fetches_it_and_subtracts() {
    let mut s = ModelServer::v11();
    s.create("g1", ConvKind::Group, "rust", &["bob", "carol", ME]);
    s.post("g1", "carol", "old text"); // 2
    s.react_as("g1", "bob", 2, "👍").unwrap(); // 3
    for i in 0..10 {
        s.post("g1", "carol", &format!("later {i}")); // 4..=13
    }
    let mut h = logged_in(s);
    h.go_live();
    // Only the text is held (a thread page of its own: the reaction entry
    // at 3 is not part of it), with totals that count bob's 👍.
    h.cmd(Command::LoadThread {
        conv: c("g1"),
        root: 2,
        token: 1,
    })
    .unwrap();
    h.run();
    assert_eq!(super::common::seqs(&h, "g1"), vec![2]);
    assert_eq!(reactions(&h, "g1", 2), vec!["👍×1"]);
    let push = h.server.redact_as("g1", "bob", 3).unwrap(); // 14
    h.to_client.push_back(push);
    h.run();
    assert!(h.sent.iter().any(|f| matches!(
        f,
        ClientFrame::Pull {
            after: 2,
            limit: Some(1),
            ..
        }
    )));
    assert_eq!(super::common::seqs(&h, "g1"), vec![2, 3, 14]);
    assert_eq!(reactions(&h, "g1", 2), Vec::<String>::new());
}

#[test]
fn a_thread_load_cut_by_a_disconnect_answers_disconnected() {
    let mut s = ModelServer::v11();
    s.create("g1", ConvKind::Group, "rust", &["bob", ME]);
    s.post("g1", "bob", "root"); // 2
    let mut h = logged_in(s);
    h.go_live();
    h.cmd(Command::LoadThread {
        conv: c("g1"),
        root: 2,
        token: 11,
    })
    .unwrap();
    h.disconnect();
    assert!(matches!(
        h.replies.last(),
        Some((11, Err(Error::Disconnected)))
    ));
    // Offline, it answers at once.
    h.cmd(Command::LoadThread {
        conv: c("g1"),
        root: 2,
        token: 12,
    })
    .unwrap();
    assert!(matches!(h.replies.last(), Some((12, Err(Error::Offline)))));
}

/// The list's preview follows the text it shows: a new edit replaces its
/// body, and a redaction, by another member or my own through the outbox,
/// erases it (before, a deleted text stayed readable in the list).
#[test]
fn the_preview_follows_edits_and_redactions_of_its_text() {
    let mut s = ModelServer::v11();
    s.create("g1", ConvKind::Group, "rust", &["bob", ME]);
    s.post("g1", "bob", "first secret"); // 2
    let mut h = logged_in(s);
    h.go_live();
    let preview = |h: &Harness<MemoryStore>| {
        let last = h
            .store
            .conversation(&c("g1"))
            .unwrap()
            .unwrap()
            .last
            .unwrap();
        (last.seq, last.body, last.redacted)
    };
    assert_eq!(preview(&h), (2, Some("first secret".into()), false));
    let push = h.server.edit_as("g1", "bob", 2, "first, edited").unwrap(); // 3
    h.to_client.push_back(push);
    h.run();
    assert_eq!(preview(&h), (2, Some("first, edited".into()), false));
    let push = h.server.redact_as("g1", "bob", 2).unwrap(); // 4
    h.to_client.push_back(push);
    h.run();
    assert_eq!(preview(&h), (2, None, true));
    // My own text, deleted by me: the redaction goes through the outbox.
    let push = h.server.post("g1", ME, "my secret"); // 5
    h.to_client.push_back(push);
    h.run();
    assert_eq!(preview(&h), (5, Some("my secret".into()), false));
    h.cmd(Command::Enqueue {
        item: crate::store::OutboxItem {
            client_id: "del-5".into(),
            conv: c("g1"),
            kind: crate::store::OutboxKind::Redact { target: 5 },
            body: None,
            state: OutboxState::Pending,
            created_ts: 1,
        },
        wait: None,
        ack: None,
    })
    .unwrap();
    h.run();
    assert_eq!(preview(&h), (5, None, true));
}
