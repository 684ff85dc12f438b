//! Deterministic engine tests: every sync rule as plain function calls, no
//! sockets, a fake clock, and a model server speaking protocol frames.

use std::time::Duration;

use super::common::{
    Harness, ME, ModelServer, c, last_id, logged_in, seqs, server_with_direct, server_with_group,
};
use crate::engine::Command;
use crate::protocol::{ClientFrame, ConvKind};
use crate::store::{MemoryStore, OutboxState, SeqRange, Store, TimelineItem, TimelineQuery};
use crate::{ConnState, Event};

/// `(conv, after, limit)` of each `pull` frame.
pub(super) fn pulls(frames: &[&ClientFrame]) -> Vec<(String, u64, Option<i64>)> {
    frames
        .iter()
        .map(|f| match f {
            ClientFrame::Pull {
                conv, after, limit, ..
            } => (conv.0.clone(), *after, *limit),
            _ => unreachable!("not a pull: {f:?}"),
        })
        .collect()
}

#[test]
fn catch_up_pulls_direct_pages_and_keeps_groups_lazy() {
    let mut s = server_with_direct(1200);
    s.create("g1", ConvKind::Group, "rust", &["carol", ME]);
    for i in 0..3000 {
        s.post("g1", "carol", &format!("g {i}"));
    }
    let mut h = logged_in(s);
    h.go_live();
    assert_eq!(h.store.timeline_len(&c("d1")).unwrap(), 1201);
    assert_eq!(seqs(&h, "d1"), (1..=1201).collect::<Vec<_>>());
    assert_eq!(
        pulls(&h.sent_of("pull")),
        vec![
            ("d1".into(), 0, Some(500)),
            ("d1".into(), 500, Some(500)),
            ("d1".into(), 1000, Some(201))
        ]
    );
    // The group is lazy: only its summary, an explicit gap for everything.
    assert!(h.sent_of("history").is_empty());
    assert_eq!(h.store.timeline_len(&c("g1")).unwrap(), 0);
    assert_eq!(
        h.store.gaps(&c("g1")).unwrap(),
        vec![SeqRange::new(1, 3001)]
    );
    let g = h.store.conversation(&c("g1")).unwrap().unwrap();
    assert_eq!((g.unread, g.last_seq), (3000, 3001));
    assert_eq!(g.last.unwrap().body.as_deref(), Some("g 2999"));
    let report = h.engine.last_report().unwrap();
    assert_eq!(
        (report.pulled_messages, report.changed, report.full),
        (1201, 2, true)
    );
    // Conversation list sorted by last activity: the group got the last post.
    let rows = h.store.conversations().unwrap();
    assert_eq!(
        rows.iter().map(|r| r.conv.0.as_str()).collect::<Vec<_>>(),
        vec!["g1", "d1"]
    );
}

#[test]
fn at_most_four_pulls_in_flight() {
    let mut s = ModelServer::default();
    for i in 0..10 {
        let id = format!("d{i}");
        s.create(&id, ConvKind::Direct, "", &[&format!("u{i}"), ME]);
        s.post(&id, &format!("u{i}"), "hi");
    }
    let mut h = logged_in(s);
    h.cmd(Command::Connect).unwrap();
    // hello, session, sync reply
    for _ in 0..3 {
        h.deliver_one();
    }
    assert_eq!(h.sent_of("pull").len(), 4);
    assert_eq!(h.engine.state(), &ConnState::CatchingUp { remaining: 10 });
    h.run();
    assert_eq!(h.sent_of("pull").len(), 10);
    assert_eq!(h.engine.state(), &ConnState::Live);
}

#[test]
fn duplicate_and_reordered_pushes_are_stored_once() {
    let mut s = ModelServer::default();
    s.create("g1", ConvKind::Group, "rust", &["carol", ME]);
    let mut h = logged_in(s);
    h.go_live();
    let p2 = h.server.post("g1", "carol", "two");
    let p3 = h.server.post("g1", "carol", "three");
    // Reordered: 3 before 2; then 2 twice.
    h.to_client.extend([p3.clone(), p2.clone(), p2.clone(), p3]);
    h.run();
    assert_eq!(seqs(&h, "g1"), vec![2, 3]);
    assert_eq!(h.store.gaps(&c("g1")).unwrap(), vec![SeqRange::new(1, 1)]);
    let row = h.store.conversation(&c("g1")).unwrap().unwrap();
    assert_eq!((row.last_seq, row.unread), (3, 2));
    let news = h.count_events(|e| matches!(e, Event::NewMessage { .. }));
    assert_eq!(news, 2);
}

#[test]
fn a_gap_in_pushes_of_a_direct_conversation_is_pulled() {
    let mut h = logged_in(server_with_direct(3));
    h.go_live();
    assert_eq!(seqs(&h, "d1"), vec![1, 2, 3, 4]);
    h.server.post("d1", "bob", "lost 1");
    h.server.post("d1", "bob", "lost 2");
    let p = h.server.post("d1", "bob", "arrives");
    h.to_client.push_back(p);
    h.deliver_one();
    // Held 1..4 and 7; the gap 5..6 is explicit and being pulled.
    assert_eq!(h.store.gaps(&c("d1")).unwrap(), vec![SeqRange::new(5, 6)]);
    let last_pull = h.sent_of("pull").last().cloned().cloned();
    assert_eq!(
        last_pull,
        Some(ClientFrame::Pull {
            id: last_id(&h),
            conv: c("d1"),
            after: 4,
            limit: Some(2)
        })
    );
    h.run();
    assert_eq!(seqs(&h, "d1"), (1..=7).collect::<Vec<_>>());
    assert!(h.store.gaps(&c("d1")).unwrap().is_empty());
}

#[test]
fn pushes_during_a_pull_merge_without_duplicates() {
    let mut h = logged_in(server_with_direct(10));
    h.cmd(Command::Connect).unwrap();
    for _ in 0..3 {
        h.deliver_one(); // hello, session, sync -> pull in flight (reply queued)
    }
    // A new message is appended and pushed before the pull reply is read:
    // the queued reply does not contain it, the push does.
    let p = h.server.post("d1", "bob", "during pull");
    h.to_client.push_front(p);
    h.run();
    assert_eq!(seqs(&h, "d1"), (1..=12).collect::<Vec<_>>());
    assert_eq!(h.store.timeline_len(&c("d1")).unwrap(), 12);
}

#[test]
fn disconnect_in_the_middle_of_a_paged_pull_resumes_from_the_cursor() {
    let mut h = logged_in(server_with_direct(1499));
    h.cmd(Command::Connect).unwrap();
    for _ in 0..4 {
        h.deliver_one(); // hello, session, sync, first page
    }
    assert_eq!(h.store.timeline_len(&c("d1")).unwrap(), 500);
    assert_eq!(
        h.store.gaps(&c("d1")).unwrap(),
        vec![SeqRange::new(501, 1500)]
    );
    h.disconnect();
    assert!(matches!(h.engine.state(), ConnState::Reconnecting { .. }));
    // Restart from the store as a crash would, then reconnect.
    h.restart(super::common::test_config());
    h.go_live();
    assert_eq!(seqs(&h, "d1"), (1..=1500).collect::<Vec<_>>());
    let afters: Vec<u64> = h
        .sent_of("pull")
        .iter()
        .map(|f| match f {
            ClientFrame::Pull { after, .. } => *after,
            _ => 0,
        })
        .collect();
    // Pages are pipelined (all three were on the wire after the first reply);
    // the two in flight at the disconnect are asked again, from the cursor.
    assert_eq!(afters, vec![0, 500, 1000, 500, 1000]);
}

#[test]
fn a_changed_server_id_discards_the_cache() {
    let mut h = logged_in(server_with_direct(5));
    h.go_live();
    assert_eq!(h.store.timeline_len(&c("d1")).unwrap(), 6);
    h.disconnect();
    let mut fresh = ModelServer {
        server_id: "srv-2".into(),
        ..ModelServer::default()
    };
    fresh.create("d9", ConvKind::Direct, "", &["zed", ME]);
    h.server = fresh;
    h.go_live();
    assert_eq!(h.count_events(|e| matches!(e, Event::CacheReset { .. })), 1);
    let convs: Vec<_> = h
        .store
        .conversations()
        .unwrap()
        .into_iter()
        .map(|r| r.conv.0)
        .collect();
    assert_eq!(convs, vec!["d9"]);
    assert_eq!(h.store.timeline_len(&c("d1")).unwrap(), 0);
}

#[test]
fn a_last_seq_below_the_cursor_resets_that_conversation() {
    let mut h = logged_in(server_with_direct(9));
    h.go_live();
    h.disconnect();
    // The server lost d1's history: it now has 3 entries.
    let conv = h.server.convs.get_mut(&c("d1")).unwrap();
    conv.timeline.truncate(1);
    h.server.post("d1", "bob", "new a");
    h.server.post("d1", "bob", "new b");
    h.go_live();
    assert_eq!(h.count_events(|e| matches!(e, Event::CacheReset { .. })), 1);
    assert_eq!(seqs(&h, "d1"), vec![1, 2, 3]);
    let tl = h
        .store
        .timeline(&c("d1"), TimelineQuery::Latest { limit: 10 })
        .unwrap();
    assert!(matches!(&tl[2], TimelineItem::Message(m) if m.body.as_deref() == Some("new b")));
}

#[test]
fn lazy_group_gap_arithmetic_and_opening() {
    let mut h = logged_in(server_with_group(2000));
    h.go_live();
    assert_eq!(
        h.store.gaps(&c("g1")).unwrap(),
        vec![SeqRange::new(1, 2001)]
    );
    // Pushes while lazy: held 2002..2003, the gap stays exact.
    let p = h.server.post("g1", "carol", "x");
    h.to_client.push_back(p);
    let p = h.server.post("g1", "carol", "y");
    h.to_client.push_back(p);
    h.run();
    assert_eq!(
        h.store.gaps(&c("g1")).unwrap(),
        vec![SeqRange::new(1, 2001)]
    );
    let tl = h
        .store
        .timeline(&c("g1"), TimelineQuery::Latest { limit: 50 })
        .unwrap();
    assert_eq!(tl[0], TimelineItem::Gap { from: 1, to: 2001 });
    assert_eq!(tl.len(), 3);
    assert_eq!(
        h.store.conversation(&c("g1")).unwrap().unwrap().unread,
        2002
    );
    // Opening costs one history page, not 2000 messages.
    h.cmd(Command::Open(Some(c("g1")))).unwrap();
    h.run();
    assert_eq!(h.sent_of("history").len(), 1);
    assert!(h.sent_of("pull").is_empty());
    assert_eq!(h.store.timeline_len(&c("g1")).unwrap(), 52);
    assert_eq!(
        h.store.gaps(&c("g1")).unwrap(),
        vec![SeqRange::new(1, 1951)]
    );
    // Scrolling back: one page below the oldest held entry.
    h.cmd(Command::LoadOlder {
        conv: c("g1"),
        token: 7,
    })
    .unwrap();
    h.run();
    assert_eq!(
        h.store.gaps(&c("g1")).unwrap(),
        vec![SeqRange::new(1, 1901)]
    );
    assert!(matches!(h.replies.last(), Some((7, Ok(_)))));
    let tl = h
        .store
        .timeline(
            &c("g1"),
            TimelineQuery::Around {
                seq: 1902,
                before: 5,
                after: 2,
            },
        )
        .unwrap();
    assert_eq!(tl[0], TimelineItem::Gap { from: 1, to: 1901 });
    assert!(matches!(&tl[1], TimelineItem::Message(m) if m.seq == 1902));
}

#[test]
fn read_cursors_are_monotonic_across_devices() {
    let mut h = logged_in(server_with_direct(10));
    h.go_live();
    h.cmd(Command::MarkRead {
        conv: c("d1"),
        seq: Some(5),
    })
    .unwrap();
    h.run();
    let row = |h: &Harness<MemoryStore>| h.store.conversation(&c("d1")).unwrap().unwrap();
    assert_eq!((row(&h).read_seq, row(&h).unread), (5, 6));
    assert_eq!(h.server.convs[&c("d1")].read[ME], 5);
    // Another device read less: ignored. Then more: taken.
    h.inject(r#"{"type":"read","conv":"d1","seq":3}"#);
    assert_eq!(row(&h).read_seq, 5);
    h.inject(r#"{"type":"read","conv":"d1","seq":8}"#);
    assert_eq!((row(&h).read_seq, row(&h).unread), (8, 3));
    let reads = h.sent_of("read").len();
    h.cmd(Command::MarkRead {
        conv: c("d1"),
        seq: Some(6),
    })
    .unwrap();
    assert_eq!(row(&h).read_seq, 8);
    assert_eq!(
        h.sent_of("read").len(),
        reads,
        "a backwards mark sends nothing"
    );
    h.cmd(Command::MarkRead {
        conv: c("d1"),
        seq: None,
    })
    .unwrap();
    h.run();
    assert_eq!((row(&h).read_seq, row(&h).unread), (11, 0));
}

#[test]
fn mark_read_offline_is_queued_until_connected() {
    let mut h = logged_in(server_with_direct(4));
    h.go_live();
    h.disconnect();
    h.cmd(Command::MarkRead {
        conv: c("d1"),
        seq: None,
    })
    .unwrap();
    assert_eq!(h.store.conversation(&c("d1")).unwrap().unwrap().unread, 0);
    assert!(h.sent_of("read").is_empty());
    h.go_live();
    assert_eq!(h.sent_of("read").len(), 1);
    assert_eq!(h.server.convs[&c("d1")].read[ME], 5);
}

#[test]
fn malformed_frames_never_panic() {
    let mut h = logged_in(server_with_direct(2));
    h.go_live();
    for junk in [
        "",
        "null",
        "[1,2]",
        "{\"type\":\"message\"}",
        "{\"type\":\"message\",\"conv\":\"d1\",\"message\":{\"seq\":0,\"sender\":\"x\",\"ts\":1,\"kind\":\"text\"}}",
        "{\"type\":\"messages\",\"re\":999999,\"conv\":\"zz\",\"messages\":[],\"last_seq\":0}",
        "{\"type\":\"read\",\"conv\":\"nope\",\"seq\":18446744073709551615}",
        "{\"type\":\"sent\",\"re\":1,\"conv\":\"d1\",\"client_id\":\"x\",\"seq\":5,\"ts\":1}",
        "{\"type\":\"hello\",\"protocol\":1,\"server\":\"x\",\"server_id\":\"other\",\"max_frame_bytes\":1,\"max_body_bytes\":1}",
    ] {
        h.inject(junk);
    }
    assert_eq!(h.engine.state(), &ConnState::Live);
    assert_eq!(seqs(&h, "d1"), vec![1, 2, 3]);
}

#[test]
fn a_full_listing_drops_vanished_conversations_but_left_ones_stay_readable() {
    let mut s = server_with_direct(2);
    s.create("g1", ConvKind::Group, "old", &["carol", ME]);
    s.create("g2", ConvKind::Group, "gone", &["carol", ME]);
    let mut h = logged_in(s);
    h.go_live();
    // Leave g1 (the model records it), and g2 disappears from the server.
    h.server
        .convs
        .get_mut(&c("g1"))
        .unwrap()
        .members
        .retain(|m| m != ME);
    h.server
        .convs
        .get_mut(&c("g1"))
        .unwrap()
        .left
        .push(ME.into());
    h.server.convs.get_mut(&c("g1")).unwrap().changed_at = 10_000;
    h.server.counter = 10_001;
    h.server.convs.remove(&c("g2"));
    h.disconnect();
    h.go_live();
    assert!(h.store.conversation(&c("g1")).unwrap().unwrap().left);
    // Force a full listing: g2 is gone, g1 (left) is kept read-only.
    h.engine = crate::engine::Engine::new(super::common::test_config(), {
        let mut snap = h.store.load().unwrap();
        snap.since = None;
        snap
    });
    h.connected = false;
    h.go_live();
    let convs: Vec<_> = h
        .store
        .conversations()
        .unwrap()
        .into_iter()
        .map(|r| r.conv.0)
        .collect();
    assert!(
        convs.contains(&"g1".to_string()) && !convs.contains(&"g2".to_string()),
        "{convs:?}"
    );
    let err = h.cmd(Command::Enqueue {
        item: crate::store::OutboxItem {
            client_id: "z".into(),
            conv: c("g1"),
            kind: crate::store::OutboxKind::Send,
            body: Some("hi".into()),
            state: OutboxState::Pending,
            created_ts: 1,
        },
        wait: None,
        ack: None,
    });
    assert!(matches!(err, Err(crate::Error::ReadOnly(_))));
}

#[test]
fn silence_means_dead_then_backoff_reconnects_and_resyncs() {
    let mut h = logged_in(server_with_direct(1));
    h.go_live();
    let syncs = h.sent_of("sync").len();
    h.advance(Duration::from_secs(59));
    assert_eq!(h.engine.state(), &ConnState::Live);
    h.advance(Duration::from_secs(1));
    let ConnState::Reconnecting { in_ms, .. } = h.engine.state().clone() else {
        panic!("expected reconnecting, got {:?}", h.engine.state());
    };
    assert!((100..=500).contains(&in_ms), "first backoff {in_ms}");
    h.advance(Duration::from_millis(in_ms));
    h.run();
    assert_eq!(h.engine.state(), &ConnState::Live);
    assert_eq!(h.sent_of("sync").len(), syncs + 1);
    // Background sync while Live.
    h.advance(Duration::from_secs(180));
    assert_eq!(h.sent_of("sync").len(), syncs + 2);
}

/// A server with five groups that lists conversations two per sync page.
pub(super) fn five_groups_paged_by_two() -> ModelServer {
    let mut s = ModelServer {
        sync_page: 2,
        ..ModelServer::default()
    };
    for i in 0..5 {
        s.create(&format!("g{i}"), ConvKind::Group, "t", &["carol", ME]);
    }
    s
}

#[test]
fn paged_full_sync_stores_the_token_only_at_the_end() {
    let mut h = logged_in(five_groups_paged_by_two());
    h.go_live();
    assert_eq!(h.sent_of("sync").len(), 3);
    assert_eq!(h.store.conversations().unwrap().len(), 5);
    assert_eq!(h.store.load().unwrap().since.as_deref(), Some("s6"));
}

#[test]
fn backoff_ceiling_grows_with_the_outage_to_eight_seconds_and_resets_after_a_stable_connection() {
    let mut h = logged_in(server_with_direct(0));
    h.go_live();
    let down_at = h.now;
    h.disconnect();
    let mut delays = Vec::new();
    // Five minutes of a dead server, one refused attempt after another.
    while h.now.duration_since(down_at) < Duration::from_secs(300) {
        let ConnState::Reconnecting { in_ms, .. } = h.engine.state().clone() else {
            panic!("expected reconnecting, got {:?}", h.engine.state());
        };
        let outage = h.now.duration_since(down_at).as_millis() as u64;
        let ceiling = (outage * 2 / 5).clamp(500, 8_000);
        assert!(
            (100.min(ceiling)..=ceiling).contains(&in_ms),
            "after {outage} ms offline: {in_ms} ms not in [100, {ceiling}]"
        );
        delays.push(in_ms);
        h.now += Duration::from_millis(in_ms - 1);
        h.engine.handle_timeout(h.now);
        assert!(!h.engine.poll_connect(), "not before the delay");
        h.now += Duration::from_millis(1);
        h.engine.handle_timeout(h.now);
        assert!(h.engine.poll_connect());
        h.engine.handle_disconnected(h.now, None); // the server is down
    }
    // Full jitter: late delays are spread over the whole [0, 8 s] range.
    let late: Vec<u64> = delays.iter().rev().take(30).copied().collect();
    assert!(late.iter().any(|d| *d < 3_000), "{late:?}");
    assert!(late.iter().any(|d| *d > 5_000), "{late:?}");
    // Up again, Live for 30 s: the next outage starts from a 0.5 s ceiling.
    h.go_live();
    h.advance(Duration::from_secs(30));
    h.disconnect();
    let ConnState::Reconnecting { in_ms, .. } = h.engine.state().clone() else {
        panic!()
    };
    assert!((100..=500).contains(&in_ms), "reset backoff {in_ms}");
}

#[test]
fn reconnect_now_skips_the_remaining_backoff() {
    let mut h = logged_in(server_with_direct(0));
    h.go_live();
    h.disconnect();
    for _ in 0..20 {
        let ConnState::Reconnecting { in_ms, .. } = h.engine.state().clone() else {
            panic!()
        };
        h.now += Duration::from_millis(in_ms);
        h.engine.handle_timeout(h.now);
        assert!(h.engine.poll_connect());
        h.engine.handle_disconnected(h.now, None);
    }
    assert!(matches!(h.engine.state(), ConnState::Reconnecting { .. }));
    assert!(!h.engine.poll_connect());
    h.engine
        .handle_command(h.now, Command::ReconnectNow)
        .unwrap();
    h.engine.handle_timeout(h.now);
    assert!(h.engine.poll_connect(), "connects without waiting");
    assert_eq!(h.engine.state(), &ConnState::Connecting);
}

#[test]
fn a_revoked_session_logs_out_and_stops_reconnecting() {
    let mut h = logged_in(server_with_direct(0));
    h.go_live();
    h.connected = false;
    h.engine.handle_disconnected(h.now, Some(4001));
    h.pump_outputs();
    assert_eq!(h.engine.state(), &ConnState::LoggedOut);
    assert!(h.store.session().unwrap().is_none());
    assert_eq!(h.engine.poll_timeout(), None, "no reconnect scheduled");
}

#[test]
fn typing_is_throttled_and_receipts_are_stored() {
    let mut h = logged_in(server_with_direct(1));
    h.go_live();
    h.cmd(Command::Typing(c("d1"))).unwrap();
    h.cmd(Command::Typing(c("d1"))).unwrap();
    h.advance(Duration::from_millis(2999));
    h.cmd(Command::Typing(c("d1"))).unwrap();
    assert_eq!(h.sent_of("typing").len(), 1);
    h.advance(Duration::from_millis(1));
    h.cmd(Command::Typing(c("d1"))).unwrap();
    assert_eq!(h.sent_of("typing").len(), 2);
    h.inject(r#"{"type":"receipt","conv":"d1","user":"bob","seq":2}"#);
    h.inject(r#"{"type":"receipt","conv":"d1","user":"bob","seq":1}"#);
    assert_eq!(
        h.store.receipt_of(&c("d1"), "bob"),
        Some(2),
        "receipts only move forward"
    );
    assert_eq!(
        h.count_events(|e| matches!(e, Event::Receipt { seq: 2, .. })),
        1
    );
    h.inject(r#"{"type":"typing","conv":"d1","user":"bob"}"#);
    assert_eq!(
        h.events.last(),
        Some(&Event::Typing {
            conv: c("d1"),
            user: "bob".into()
        })
    );
}

#[test]
fn a_disconnect_in_the_middle_of_a_full_listing_restarts_it() {
    let mut h = logged_in(five_groups_paged_by_two());
    h.cmd(Command::Connect).unwrap();
    for _ in 0..3 {
        h.deliver_one(); // hello, session, first sync page
    }
    assert_eq!(h.store.conversations().unwrap().len(), 2);
    assert_eq!(
        h.store.load().unwrap().since,
        None,
        "mid-listing token not stored"
    );
    h.disconnect();
    h.restart(super::common::test_config());
    h.go_live();
    assert_eq!(h.store.conversations().unwrap().len(), 5);
    let sinces: Vec<_> = h
        .sent_of("sync")
        .iter()
        .map(|f| match f {
            ClientFrame::Sync { since, .. } => since.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(
        sinces[..3],
        [None, Some("f2".to_string()), None],
        "the listing restarts from the beginning"
    );
}

#[test]
fn a_push_for_an_unknown_conversation_triggers_a_sync() {
    let mut h = logged_in(server_with_direct(0));
    h.go_live();
    let syncs = h.sent_of("sync").len();
    h.server.create("d2", ConvKind::Direct, "", &["zed", ME]);
    let p = h.server.post("d2", "zed", "surprise");
    h.to_client.push_back(p);
    h.run();
    assert_eq!(h.sent_of("sync").len(), syncs + 1);
    assert_eq!(seqs(&h, "d2"), vec![1, 2], "learned by sync, then pulled");
}

#[test]
fn a_summary_older_than_pushes_already_counted_does_not_lose_unread() {
    let mut s = ModelServer::default();
    s.create("g1", ConvKind::Group, "lazy", &["carol", ME]);
    for i in 0..5 {
        s.post("g1", "carol", &format!("m{i}"));
    }
    let mut h = logged_in(s);
    h.go_live();
    // The server computes a summary of g1 (e.g. for a `sync` reply)...
    let p = h.server.post("g1", "carol", "early");
    h.to_client.push_back(p);
    h.run();
    let stale = h.server.summary(ME, &c("g1"));
    // ...three newer messages are committed and pushed before it arrives.
    for i in 0..3 {
        let p = h.server.post("g1", "carol", &format!("late{i}"));
        h.to_client.push_back(p);
    }
    h.to_client
        .push_back(crate::protocol::ServerFrame::Conversation {
            re: None,
            conversation: stale,
        });
    h.run();
    let truth = h.server.summary(ME, &c("g1"));
    let row = h.store.conversation(&c("g1")).unwrap().unwrap();
    assert_eq!((row.last_seq, row.unread), (truth.last_seq, truth.unread));
    assert_eq!((row.last_seq, row.unread), (10, 9));
}

#[test]
fn a_long_direct_catch_up_keeps_pages_in_flight_within_the_budget() {
    let mut h = logged_in(server_with_direct(2999));
    h.cmd(Command::Connect).unwrap();
    for _ in 0..3 {
        h.deliver_one(); // hello, session, sync reply
    }
    // One conversation to fill: all four slots go to consecutive pages of it.
    let afters = |h: &super::common::Harness<MemoryStore>| -> Vec<u64> {
        h.sent_of("pull")
            .iter()
            .map(|f| match f {
                ClientFrame::Pull { after, .. } => *after,
                _ => 0,
            })
            .collect()
    };
    assert_eq!(afters(&h), vec![0, 500, 1000, 1500]);
    h.run();
    assert_eq!(afters(&h), vec![0, 500, 1000, 1500, 2000, 2500]);
    assert_eq!(seqs(&h, "d1"), (1..=3000).collect::<Vec<_>>());
    assert_eq!(h.engine.state(), &ConnState::Live);
}

#[test]
fn a_server_going_away_says_so_and_the_client_reconnects() {
    let mut h = logged_in(server_with_direct(0));
    h.go_live();
    h.connected = false;
    h.engine.handle_disconnected(h.now, Some(1001));
    h.pump_outputs();
    assert_eq!(
        h.count_events(|e| matches!(e, Event::Error(crate::ErrorEvent::ServerClosing))),
        1
    );
    assert!(matches!(h.engine.state(), ConnState::Reconnecting { .. }));
    // An ordinary drop says nothing of the kind.
    h.go_live();
    h.disconnect();
    assert_eq!(
        h.count_events(|e| matches!(e, Event::Error(m) if m.to_string().contains("1001"))),
        1
    );
}
