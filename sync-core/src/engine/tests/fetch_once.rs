//! Nothing is fetched twice: a single entry, a stream's catch-up and
//! "load older" each count what is already on the wire. Two of these were
//! found by reading the frames through the logging proxy
//! (`tests/tests/wire_spec.rs`).

use super::common::{Harness, ME, c, logged_in, seqs, server_with_direct, server_with_group};
use super::rules::pulls;
use crate::engine::Command;
use crate::protocol::ConvKind;
use crate::store::{MemoryStore, Store};

/// Live, with the event for a new group "g9" (no texts yet) queued: returns
/// the harness and how many pulls were sent before it.
fn live_with_new_group_event() -> (Harness<MemoryStore>, usize) {
    let mut h = logged_in(server_with_direct(3));
    h.go_live();
    let pulls_before = h.sent_of("pull").len();
    h.server
        .create("g9", ConvKind::Group, "fresh", &["carol", ME]);
    let fresh = h.server.summary(ME, &c("g9"));
    assert!(fresh.last.is_none());
    h.to_client
        .push_back(crate::protocol::ServerFrame::Conversation {
            re: None,
            conversation: fresh,
        });
    (h, pulls_before)
}

/// A group created with me while I am connected has no text yet: its one
/// newest entry (the create) is fetched, so that the list dates it and
/// shows it as the newest activity, not below every older conversation.
#[test]
fn a_new_group_without_texts_lists_as_the_newest_activity() {
    let (mut h, pulls_before) = live_with_new_group_event();
    h.run();
    assert_eq!(
        pulls(&h.sent_of("pull")[pulls_before..]),
        vec![("g9".into(), 0, Some(1))]
    );
    let rows = h.store.conversations().unwrap();
    assert_eq!(
        rows.iter().map(|r| r.conv.0.as_str()).collect::<Vec<_>>(),
        vec!["g9", "d1"]
    );
    // Still lazy: nothing else of it was fetched.
    assert_eq!(h.store.timeline_len(&c("g9")).unwrap(), 1);
}

/// The new group's one-entry pull is on the wire when a message stream
/// starts covering every conversation (a bot opened right after the
/// group appeared): the stream's catch-up must not pull the same entry
/// again. Found through the frame-logging proxy (`tests/tests/wire_spec.rs`).
#[test]
fn a_stream_started_while_a_new_groups_entry_is_fetched_does_not_pull_it_twice() {
    let (mut h, pulls_before) = live_with_new_group_event();
    assert!(h.deliver_one(), "the conversation event");
    // The pull's reply is queued, not yet delivered, when the stream starts.
    h.cmd(Command::Follow {
        consumer: None,
        positions: Vec::new(),
        reset: false,
        all: true,
    })
    .unwrap();
    h.run();
    assert_eq!(
        pulls(&h.sent_of("pull")[pulls_before..]),
        vec![("g9".into(), 0, Some(1))]
    );
    assert_eq!(seqs(&h, "g9"), vec![1]);
}

/// Opening a small group pulls its one gap whole; the UI asks for older
/// history at once (the screen is not full yet). That page is on the wire
/// already: `load_older` waits for it instead of asking the server for
/// the same entries again. Found through the frame-logging proxy (the TUI
/// sent `pull after 0 limit 72` and `history before 73 limit 50` 2 ms
/// apart).
#[test]
fn load_older_while_the_open_pull_is_on_the_wire_asks_for_nothing_more() {
    let mut h = logged_in(server_with_direct(3));
    h.server.create("g1", ConvKind::Group, "team", &["bob", ME]);
    for i in 0..71 {
        h.server.post("g1", "bob", &format!("line {i}"));
    }
    h.go_live();
    let pulls_before = h.sent_of("pull").len();
    h.cmd(Command::Open(Some(c("g1")))).unwrap();
    h.cmd(Command::LoadOlder {
        conv: c("g1"),
        token: 7,
    })
    .unwrap();
    h.run();
    assert_eq!(
        pulls(&h.sent_of("pull")[pulls_before..]),
        vec![("g1".into(), 0, Some(72))]
    );
    assert!(h.sent_of("history").is_empty());
    assert!(matches!(h.replies.last(), Some((7, Ok(_)))));
    assert_eq!(h.store.gaps(&c("g1")).unwrap(), vec![]);
}

/// A lazy group holds nothing, but its summary says `last_seq`: a push at
/// `last_seq + 1` misses nothing, so it needs no `sync` (the TUI sent one
/// per lazy group at its first push, seen through the frame-logging proxy).
/// A push past `last_seq + 1` did miss something, and a sync follows.
#[test]
fn a_push_right_after_a_lazy_groups_last_seq_needs_no_sync() {
    let mut h = logged_in(server_with_group(20));
    h.go_live();
    let syncs = h.sent_of("sync").len();
    let unread = |h: &Harness<MemoryStore>| h.store.conversation(&c("g1")).unwrap().unwrap().unread;
    assert_eq!(unread(&h), 20);
    let p = h.server.post("g1", "carol", "next");
    h.to_client.push_back(p);
    h.run();
    assert_eq!(
        h.sent_of("sync").len(),
        syncs,
        "no sync for a push at last_seq + 1"
    );
    assert_eq!(unread(&h), 21);
    // A push that skips one (the server sent 23, this connection missed 22).
    h.server.post("g1", "carol", "missed");
    let p = h.server.post("g1", "carol", "after the missed one");
    h.to_client.push_back(p);
    h.run();
    assert_eq!(h.sent_of("sync").len(), syncs + 1);
    assert_eq!(unread(&h), 23);
}
