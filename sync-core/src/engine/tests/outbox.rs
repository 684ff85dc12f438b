//! Deterministic engine tests of the outbox: acks lost or duplicated,
//! resends after reconnects, failures, rate limits, order, edits.

use std::time::Duration;

use super::common::{ME, ModelServer, c, logged_in, seqs, server_with_direct};
use crate::engine::Command;
use crate::protocol::{ClientFrame, ConvKind, ErrorCode, ServerFrame};
use crate::store::{OutboxState, Store, TimelineItem, TimelineQuery};

#[test]
fn an_ack_lost_while_its_push_arrived_leaves_one_message() {
    let mut h = logged_in(server_with_direct(0));
    h.go_live();
    let id = h.send_text("d1", "mine");
    // The server answered with `sent` and the push; the `sent` is lost.
    let frames: Vec<ServerFrame> = h.to_client.drain(..).collect();
    assert!(matches!(frames[0], ServerFrame::Sent { .. }));
    h.to_client.push_back(frames[1].clone());
    h.run();
    assert!(h.store.outbox().unwrap().is_empty());
    h.disconnect();
    h.go_live();
    assert_eq!(
        h.sent_of("send").len(),
        1,
        "acknowledged by push: never resent"
    );
    let tl = h
        .store
        .timeline(&c("d1"), TimelineQuery::Latest { limit: 10 })
        .unwrap();
    let mine: Vec<_> = tl
        .iter()
        .filter(|i| matches!(i, TimelineItem::Message(m) if m.client_id.as_deref() == Some(id.as_str())))
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(tl.len(), 2, "create + mine, no pending echo: {tl:?}");
}

#[test]
fn a_resend_after_reconnect_does_not_create_a_second_message() {
    // A lazy group: nothing pulls the entry back, so the outbox must resend.
    let mut s = ModelServer::default();
    s.create("d1", ConvKind::Group, "g", &["bob", ME]);
    let mut h = logged_in(s);
    h.go_live();
    let id = h.send_text("d1", "once");
    // The server appended it, but the connection died before any reply.
    h.disconnect();
    assert_eq!(h.server.last_seq("d1"), 2);
    // The echo is still there, pending.
    let tl = h
        .store
        .timeline(&c("d1"), TimelineQuery::Latest { limit: 10 })
        .unwrap();
    assert!(matches!(tl.last(), Some(TimelineItem::Pending(o)) if o.client_id == id));
    h.go_live();
    let sends = h.sent_of("send");
    assert_eq!(sends.len(), 2);
    assert!(
        sends
            .iter()
            .all(|f| matches!(f, ClientFrame::Send { client_id, .. } if *client_id == id))
    );
    assert_eq!(
        h.server.last_seq("d1"),
        2,
        "the server deduplicated the resend"
    );
    assert_eq!(
        seqs(&h, "d1"),
        vec![2],
        "stored once, from the `sent` reply"
    );
    assert!(h.store.outbox().unwrap().is_empty());
}

#[test]
fn a_permanent_failure_is_kept_with_its_reason_and_can_be_retried() {
    let mut h = logged_in(server_with_direct(0));
    h.go_live();
    h.server
        .fail_next
        .insert("cid-1".into(), ErrorCode::TooLarge);
    let first = h.send_text("d1", "too big");
    let second = h.send_text("d1", "fine");
    h.run();
    let out = h.store.outbox().unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].client_id, first);
    assert_eq!(
        out[0].state,
        OutboxState::Failed {
            code: crate::FailCode::Server(crate::protocol::ErrorCode::TooLarge),
            message: "refused by the model".into()
        }
    );
    assert_eq!(
        seqs(&h, "d1"),
        vec![1, 2],
        "the next message still went out"
    );
    h.cmd(Command::Retry(first.clone())).unwrap();
    h.run();
    assert!(h.store.outbox().unwrap().is_empty());
    let bodies: Vec<_> = h.server.convs[&c("d1")]
        .timeline
        .iter()
        .filter_map(|m| m.body.clone())
        .collect();
    assert_eq!(bodies, vec!["fine", "too big"]);
    let _ = second;
}

#[test]
fn rate_limited_sends_wait_and_resend() {
    let mut h = logged_in(server_with_direct(0));
    h.go_live();
    h.server
        .fail_next
        .insert("cid-1".into(), ErrorCode::RateLimited);
    h.send_text("d1", "slow down");
    h.run();
    assert_eq!(h.store.outbox().unwrap().len(), 1);
    assert_eq!(h.sent_of("send").len(), 1);
    h.advance(Duration::from_millis(249));
    assert_eq!(h.sent_of("send").len(), 1);
    h.advance(Duration::from_millis(1));
    h.run();
    assert_eq!(h.sent_of("send").len(), 2);
    assert!(h.store.outbox().unwrap().is_empty());
    assert_eq!(seqs(&h, "d1"), vec![1, 2]);
}

#[test]
fn one_conversation_sends_in_order_one_at_a_time() {
    let mut h = logged_in(server_with_direct(0));
    h.go_live();
    h.connected = false; // hold the server: see what the engine puts on the wire
    for i in 0..3 {
        h.send_text("d1", &format!("m{i}"));
    }
    assert_eq!(h.sent_of("send").len(), 1, "k+1 waits for k's ack");
    h.connected = true;
    h.disconnect();
    h.go_live();
    h.run();
    let bodies: Vec<_> = h.server.convs[&c("d1")]
        .timeline
        .iter()
        .filter_map(|m| m.body.clone())
        .collect();
    assert_eq!(bodies, vec!["m0", "m1", "m2"]);
}

#[test]
fn edits_and_redactions_go_through_the_outbox_and_apply_to_the_target() {
    let mut h = logged_in(server_with_direct(0));
    h.go_live();
    h.send_text("d1", "tpyo");
    h.run();
    h.enqueue(
        "d1",
        crate::store::OutboxKind::Edit { target: 2 },
        Some("typo"),
    );
    h.run();
    let tl = h
        .store
        .timeline(&c("d1"), TimelineQuery::Latest { limit: 10 })
        .unwrap();
    assert!(
        matches!(&tl[1], TimelineItem::Message(m) if m.body.as_deref() == Some("typo") && m.edited)
    );
    assert_eq!(h.store.search("typo", 10).unwrap().len(), 1);
    h.enqueue("d1", crate::store::OutboxKind::Redact { target: 2 }, None);
    h.run();
    let tl = h
        .store
        .timeline(&c("d1"), TimelineQuery::Latest { limit: 10 })
        .unwrap();
    assert!(matches!(&tl[1], TimelineItem::Message(m) if m.body.is_none() && m.redacted));
    assert!(h.store.search("typo", 10).unwrap().is_empty());
}

/// Rows another process queued in the shared store: the pending ones not
/// held here are sent; one held here already is not queued twice, and a
/// row that failed there stays that process's business.
#[test]
fn rows_another_process_queued_are_adopted_once() {
    let mut h = logged_in(server_with_direct(0));
    h.go_live();
    let mine = h.send_text("d1", "mine");
    h.run();
    let row = |id: &str, state: OutboxState| crate::store::OutboxItem {
        client_id: id.into(),
        conv: c("d1"),
        kind: crate::store::OutboxKind::Send,
        body: Some(format!("from {id}")),
        state,
        created_ts: 1,
    };
    let mut held = row(&mine, OutboxState::Pending);
    held.body = Some("mine".into());
    let failed = OutboxState::Failed {
        code: crate::store::FailCode::Server(ErrorCode::NotFound),
        message: "no".into(),
    };
    h.cmd(Command::AdoptOutbox(vec![
        held,
        row("cli-1", OutboxState::Pending),
        row("cli-2", failed),
    ]))
    .unwrap();
    h.run();
    let sent: Vec<String> = h
        .sent_of("send")
        .into_iter()
        .filter_map(|f| match f {
            ClientFrame::Send { client_id, .. } => Some(client_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sent, [mine, "cli-1".to_string()]);
    assert_eq!(seqs(&h, "d1"), [1, 2, 3]);
}

/// A body within `max_body_bytes` whose frame passes the server's
/// `max_frame_bytes` (control characters take 6 bytes in JSON) is refused
/// at once, nothing queued; a row queued before the server said a smaller
/// limit fails as too large when it would go out. Sending either would get
/// the connection closed with 1009 at every reconnect, forever.
#[test]
fn a_frame_over_the_servers_limit_is_refused_not_sent() {
    use crate::error::Error;
    use crate::store::{FailCode, OutboxItem, OutboxKind};

    let mut s = server_with_direct(0);
    s.max_frame_bytes = 2_000;
    let mut h = logged_in(s);
    // Before any hello: the protocol's 64 KiB.
    let early = h.send_text("d1", &"x".repeat(3_000));
    let controls = "\u{1}".repeat(16_000);
    let item = |id: &str, body: &str| OutboxItem {
        client_id: id.into(),
        conv: c("d1"),
        kind: OutboxKind::Send,
        body: Some(body.into()),
        state: OutboxState::Pending,
        created_ts: 1,
    };
    let err = h
        .cmd(Command::Enqueue {
            item: item("ctl", &controls),
            wait: None,
            ack: None,
        })
        .unwrap_err();
    let Error::Invalid { field, message } = err else {
        panic!("{err:?}");
    };
    assert_eq!(field, "body");
    assert!(
        message.starts_with("960")
            && message.contains("over the server's limit of 65536 bytes per frame"),
        "{message}"
    );

    h.go_live();
    assert!(h.sent_of("send").is_empty(), "nothing too large went out");
    let rows = h.store.outbox().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].client_id, early);
    let OutboxState::Failed { code, message } = &rows[0].state else {
        panic!("{:?}", rows[0].state);
    };
    assert_eq!(*code, FailCode::Server(ErrorCode::TooLarge));
    assert!(
        message.ends_with(
            "over the server's limit of 2000 bytes per frame (each control character takes 6)"
        ),
        "{message}"
    );
    // Now that the server said 2,000, a new one is refused before queueing.
    let err = h
        .cmd(Command::Enqueue {
            item: item("late", &"y".repeat(2_500)),
            wait: None,
            ack: None,
        })
        .unwrap_err();
    assert!(
        matches!(err, Error::Invalid { field: "body", .. }),
        "{err:?}"
    );
    assert_eq!(h.store.outbox().unwrap().len(), 1);
    // A text that fits goes out.
    h.send_text("d1", "fits");
    assert_eq!(h.sent_of("send").len(), 1);
}

/// A server whose `hello.max_body_bytes` is below the protocol's 16 KiB: a
/// longer body is refused before it is queued, with that limit.
#[test]
fn a_body_over_the_servers_own_limit_is_refused_before_queueing() {
    use crate::error::Error;
    use crate::store::{OutboxItem, OutboxKind};

    let mut s = server_with_direct(0);
    s.max_body_bytes = 1_000;
    let mut h = logged_in(s);
    h.go_live();
    let err = h
        .cmd(Command::Enqueue {
            item: OutboxItem {
                client_id: "long".into(),
                conv: c("d1"),
                kind: OutboxKind::Send,
                body: Some("z".repeat(1_001)),
                state: OutboxState::Pending,
                created_ts: 1,
            },
            wait: None,
            ack: None,
        })
        .unwrap_err();
    let Error::Invalid { field, message } = err else {
        panic!("{err:?}");
    };
    assert_eq!(
        (field, message.as_str()),
        ("body", "body is 1001 bytes; this server takes up to 1000")
    );
    assert!(h.store.outbox().unwrap().is_empty());
    h.send_text("d1", &"z".repeat(1_000));
    assert_eq!(h.sent_of("send").len(), 1);
}
