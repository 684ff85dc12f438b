//! Server behaviour PROTOCOL.md allows that server-mock (and the model
//! server) seldom or never shows: replies and events in another order,
//! snapshots a little older than what already arrived, other limits,
//! transient errors on catch-up requests. Each test was a client bug
//! against a server written from PROTOCOL.md alone.

use std::time::Duration;

use super::common::{Harness, ME, c, logged_in, seqs, server_with_direct, server_with_group};
use super::rules::five_groups_paged_by_two;
use crate::Event;
use crate::engine::Command;
use crate::protocol::{ClientFrame, ConvKind, ErrorCode, ServerFrame};
use crate::store::{MemoryStore, MetaKey, Store};

/// Lets `total` pass with the connection alive (a server ping every 20 s).
fn idle(h: &mut Harness<MemoryStore>, total: Duration) {
    let step = Duration::from_secs(20);
    let mut left = total;
    while !left.is_zero() {
        let d = left.min(step);
        h.engine.handle_activity(h.now);
        h.advance(d);
        left -= d;
    }
}

/// Another device of mine reads `conv` up to `seq` (the model server
/// moves my cursor; what this connection hears of it is up to the test).
fn read_on_another_device(h: &mut Harness<MemoryStore>, conv: &str, seq: u64) {
    let read = ClientFrame::Read {
        id: 9_999,
        conv: c(conv),
        seq,
    };
    h.server.handle(ME, read);
}

/// §5: a full listing is paged (`more`); the connection drops after the
/// first page and the same process reconnects. The listing starts again
/// from the token before it: resumed with the mid-listing token, the new
/// run saw only the later pages, and "not listed in a full listing"
/// removed the earlier pages' conversations (server-mock's `f…:c…` tokens
/// continue a listing the same way).
#[test]
fn a_reconnect_in_the_middle_of_a_full_listing_keeps_the_earlier_pages() {
    let mut h = logged_in(five_groups_paged_by_two());
    h.cmd(Command::Connect).unwrap();
    for _ in 0..3 {
        h.deliver_one(); // hello, session, first sync page (g0, g1)
    }
    assert_eq!(h.store.conversations().unwrap().len(), 2);
    h.disconnect(); // no restart: the same engine reconnects
    h.go_live();
    let convs: Vec<String> = h
        .store
        .conversations()
        .unwrap()
        .into_iter()
        .map(|r| r.conv.0)
        .collect();
    assert_eq!(convs.len(), 5, "left after the listing: {convs:?}");
}

/// §2 "a client must accept replies and events interleaved in any order",
/// §8: the user's other device reads up to the newest entry; this
/// connection gets the `read` event before the pushes of the entries it
/// covers. Those pushes are not unread: the cursor is past them (they were
/// counted).
#[test]
fn a_read_event_ahead_of_its_pushes_does_not_count_them_unread() {
    let mut h = logged_in(server_with_direct(2));
    h.go_live();
    let p1 = h.server.post("d1", "bob", "a");
    let p2 = h.server.post("d1", "bob", "b");
    // Another device of mine reads everything (seq 5).
    read_on_another_device(&mut h, "d1", 5);
    h.inject(r#"{"type":"read","conv":"d1","seq":5}"#);
    h.to_client.extend([p1, p2]);
    h.run();
    let p3 = h.server.post("d1", "bob", "c");
    h.to_client.push_back(p3);
    h.run();
    let truth = h.server.summary(ME, &c("d1"));
    let row = h.store.conversation(&c("d1")).unwrap().unwrap();
    assert_eq!(truth.unread, 1);
    assert_eq!((row.last_seq, row.unread), (truth.last_seq, truth.unread));
}

/// §5/§8: a summary computed before a `read` committed arrives after the
/// `read` event (replies and events in any order). Read cursors only move
/// forward: the summary's older `read_seq`/`unread` are not taken (they
/// were, and the next text of a lazy group showed every earlier text as
/// unread again).
#[test]
fn a_summary_older_than_a_read_event_does_not_bring_back_unread() {
    let mut h = logged_in(server_with_group(5));
    h.go_live();
    // A new text (pushed), so that the next incremental sync lists g1.
    let p = h.server.post("g1", "carol", "early");
    h.to_client.push_back(p);
    h.run();
    idle(&mut h, Duration::from_secs(180)); // background sync: reply queued
    let Some(ServerFrame::Sync { conversations, .. }) = h.to_client.back() else {
        panic!("expected a queued sync reply, got {:?}", h.to_client);
    };
    assert_eq!(conversations.len(), 1);
    let stale = h.to_client.pop_back().unwrap();
    read_on_another_device(&mut h, "g1", 7);
    h.inject(r#"{"type":"read","conv":"g1","seq":7}"#);
    h.to_client.push_back(stale);
    h.run();
    let p = h.server.post("g1", "carol", "new");
    h.to_client.push_back(p);
    h.run();
    let truth = h.server.summary(ME, &c("g1"));
    let row = h.store.conversation(&c("g1")).unwrap().unwrap();
    assert_eq!(truth.unread, 1);
    assert_eq!((row.last_seq, row.unread), (truth.last_seq, truth.unread));
}

/// Replies need not come in request order (§2). A `pull` page built before
/// my `send` committed arrives after its `sent` reply and push: its
/// `last_seq` is below the seq the `sent` reply gave. A reply to a request
/// sent before the cursor rose is an older snapshot, not a server reset
/// (PROTOCOL-NOTES): the engine took it for one, dropped the timeline, my
/// new message with it, and believed the old `last_seq`.
#[test]
fn a_page_built_before_my_send_does_not_drop_it() {
    let mut h = logged_in(server_with_group(3));
    h.go_live();
    h.cmd(Command::Open(Some(c("g1")))).unwrap(); // pull 1..4 on the wire
    let Some(ServerFrame::Messages { .. }) = h.to_client.back() else {
        panic!("expected a queued page, got {:?}", h.to_client);
    };
    let stale = h.to_client.pop_back().unwrap();
    h.send_text("g1", "mine"); // sent (seq 5) and its push queued
    h.to_client.push_back(stale);
    h.run();
    assert_eq!(seqs(&h, "g1"), vec![1, 2, 3, 4, 5]);
    let row = h.store.conversation(&c("g1")).unwrap().unwrap();
    assert_eq!(row.last_seq, 5);
    assert_eq!(
        h.count_events(|e| matches!(e, Event::CacheReset { .. })),
        0,
        "no reset happened on the server"
    );
}

/// The same with a background `sync` reply built before my `send`.
#[test]
fn a_sync_built_before_my_send_does_not_drop_it() {
    let mut h = logged_in(server_with_direct(3));
    h.go_live();
    // Another device of mine reads d1, so that the next incremental sync lists it.
    read_on_another_device(&mut h, "d1", 4);
    idle(&mut h, Duration::from_secs(180)); // background sync: reply queued
    let Some(ServerFrame::Sync { conversations, .. }) = h.to_client.back() else {
        panic!("expected a queued sync reply, got {:?}", h.to_client);
    };
    assert_eq!(conversations.len(), 1);
    let stale = h.to_client.pop_back().unwrap();
    h.send_text("d1", "mine"); // sent (seq 5) and its push queued
    h.to_client.push_back(stale);
    h.run();
    assert_eq!(seqs(&h, "d1"), vec![1, 2, 3, 4, 5]);
    let row = h.store.conversation(&c("d1")).unwrap().unwrap();
    assert_eq!(row.last_seq, 5);
    assert_eq!(
        h.count_events(|e| matches!(e, Event::CacheReset { .. })),
        0,
        "no reset happened on the server"
    );
}

/// §2/§7: `max_body_bytes` is the server's to choose. Against a server
/// that takes 64 KiB bodies the engine sends a 20 KB text, and stores the
/// limits for the app's own checks (`Client::server_limits`).
#[test]
fn a_server_with_bigger_bodies_gets_them() {
    let mut s = server_with_direct(0);
    s.max_body_bytes = 65_536;
    s.max_frame_bytes = 262_144;
    let mut h = logged_in(s);
    h.go_live();
    assert_eq!(
        h.store.meta(MetaKey::Limits).unwrap().as_deref(),
        Some("65536,262144")
    );
    let body = "x".repeat(20_000);
    h.send_text("d1", &body);
    h.run();
    assert_eq!(seqs(&h, "d1"), vec![1, 2], "the engine sends it");
}

/// §2: `rate_limited` (with `retry_after_ms`) is a code any request may
/// get. A catch-up `pull` answered so is asked again after the delay (it
/// was not: the direct conversation stayed incomplete until the next
/// background sync, 180 s later, while catch-up reported done).
#[test]
fn a_rate_limited_pull_is_retried_after_the_delay() {
    let mut h = logged_in(server_with_direct(3));
    h.cmd(Command::Connect).unwrap();
    for _ in 0..3 {
        h.deliver_one(); // hello, session, sync reply: the pull's page is queued
    }
    let Some(ServerFrame::Messages { re, .. }) = h.to_client.pop_back() else {
        panic!("expected a queued page");
    };
    h.to_client.push_back(ServerFrame::Error {
        re: Some(re),
        code: ErrorCode::RateLimited,
        message: "slow down".into(),
        retry_after_ms: Some(200),
    });
    h.run();
    idle(&mut h, Duration::from_secs(2));
    h.run();
    assert_eq!(seqs(&h, "d1"), vec![1, 2, 3, 4]);
}

/// §4 says new members get a `conversation` event, §7 that entries are
/// pushed; nothing orders the two. A push that arrives before the event
/// is kept and applied once the event comes, so it notifies (it was
/// dropped, pulled later, and never became a `NewMessage`).
#[test]
fn a_push_before_its_conversation_event_still_notifies() {
    let mut h = logged_in(server_with_direct(0));
    h.go_live();
    h.server.create("d2", ConvKind::Direct, "", &["zed", ME]);
    let event = ServerFrame::Conversation {
        re: None,
        conversation: h.server.summary(ME, &c("d2")),
    };
    let p = h.server.post("d2", "zed", "first words");
    h.to_client.extend([p, event]);
    h.run();
    assert_eq!(seqs(&h, "d2"), vec![1, 2]);
    let news = h.count_events(|e| matches!(e, Event::NewMessage { conv, .. } if *conv == c("d2")));
    assert_eq!(news, 1);
}

/// §5: push delivery (and so `conversation` events) starts at
/// authentication; a full listing built just before a group was created
/// may arrive after that group's `conversation` event. "Not listed in a
/// full listing" must not remove the group the event just added.
#[test]
fn a_full_listing_older_than_a_conversation_event_keeps_the_conversation() {
    let mut h = logged_in(server_with_direct(0));
    h.cmd(Command::Connect).unwrap();
    h.deliver_one(); // hello
    h.deliver_one(); // session: the sync reply (without g2) is queued
    h.server.create("g2", ConvKind::Group, "new", &["zed", ME]);
    let event = ServerFrame::Conversation {
        re: None,
        conversation: h.server.summary(ME, &c("g2")),
    };
    h.to_client.push_front(event);
    h.run();
    assert!(
        h.store.conversation(&c("g2")).unwrap().is_some(),
        "the new group vanished"
    );
}

/// §6: `pull` and `history` pages may hold fewer entries than `limit`
/// (1 MiB cap; history leaves out the oldest). With a server that cuts
/// every page to 7 entries, the pipelined direct catch-up and the open
/// group's history still end complete, with no repeated request.
#[test]
fn pages_cut_below_the_limit_still_complete_the_timelines() {
    let mut s = server_with_direct(1200);
    s.create("g1", ConvKind::Group, "g", &["carol", ME]);
    for i in 0..30 {
        s.post("g1", "carol", &format!("g{i}"));
    }
    let mut h = logged_in(s);
    let cut = |h: &Harness<MemoryStore>, f: ServerFrame| -> ServerFrame {
        let ServerFrame::Messages {
            re,
            conv,
            mut messages,
            last_seq,
            root,
            thread_last_seq,
        } = f
        else {
            return f;
        };
        let history = h
            .sent
            .iter()
            .any(|s| s.id() == re && matches!(s, ClientFrame::History { .. }));
        if messages.len() > 7 {
            if history {
                messages.drain(..messages.len() - 7);
            } else {
                messages.truncate(7);
            }
        }
        ServerFrame::Messages {
            re,
            conv,
            messages,
            last_seq,
            root,
            thread_last_seq,
        }
    };
    let drive = |h: &mut Harness<MemoryStore>| {
        let mut guard = 0;
        while let Some(f) = h.to_client.pop_front() {
            let f = cut(h, f);
            let now = h.now;
            h.engine.handle_frame(now, &f.to_json());
            h.pump_outputs();
            guard += 1;
            assert!(guard < 10_000, "does not quiesce");
        }
    };
    h.cmd(Command::Connect).unwrap();
    drive(&mut h);
    assert_eq!(seqs(&h, "d1"), (1..=1201).collect::<Vec<_>>());
    // The open group: its newest history page, cut, is topped up.
    h.cmd(Command::Open(Some(c("g1")))).unwrap();
    drive(&mut h);
    let held = seqs(&h, "g1");
    assert!(held.len() >= 7, "held {held:?}");
    assert_eq!(held.last(), Some(&31));
    let mut asked: Vec<String> = h
        .sent
        .iter()
        .filter_map(|f| match f {
            ClientFrame::Pull {
                conv, after, limit, ..
            } => Some(format!("pull {conv} {after} {limit:?}")),
            ClientFrame::History {
                conv,
                before,
                limit,
                ..
            } => Some(format!("history {conv} {before:?} {limit:?}")),
            _ => None,
        })
        .collect();
    let n = asked.len();
    asked.sort();
    asked.dedup();
    assert_eq!(asked.len(), n, "a request was repeated");
}

/// A push of a new conversation that no `conversation` event announces to
/// this device (§4 names only new members) arrives while the connection's
/// first `sync` reply, built before the conversation existed, is on its
/// way: one more `sync` learns it, and the push notifies (it waited for
/// the next background sync, 180 s).
#[test]
fn a_push_during_a_sync_that_predates_its_conversation_is_learnt_at_once() {
    let mut h = logged_in(server_with_direct(0));
    h.cmd(Command::Connect).unwrap();
    h.deliver_one(); // hello
    h.deliver_one(); // session: the sync reply (without d2) is queued
    h.server.create("d2", ConvKind::Direct, "", &["zed", ME]);
    let p = h.server.post("d2", "zed", "first words");
    h.to_client.push_front(p);
    h.run();
    assert_eq!(seqs(&h, "d2"), vec![1, 2]);
    let news = h.count_events(|e| matches!(e, Event::NewMessage { conv, .. } if *conv == c("d2")));
    assert_eq!(news, 1);
}
