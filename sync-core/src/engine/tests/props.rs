//! Property test: random interleavings of pushes, pulls, disconnects,
//! restarts, sends and reads end with the local cache equal to the model
//! server's state.

use std::collections::HashMap;

use super::common::{Harness, ME, ModelServer};
use crate::ConnState;
use crate::engine::Command;
use crate::protocol::{ConvId, ConvKind, EntryKind};
use crate::store::{MemoryStore, SqliteStore, Store, TimelineItem, TimelineQuery};
use proptest::prelude::*;

const CONVS: [&str; 3] = ["d1", "d2", "g1"];

#[derive(Debug, Clone)]
enum Op {
    OtherPost(usize, u8),
    MyPost(usize),
    Deliver(usize),
    Disconnect,
    Connect,
    Restart,
    MarkRead(usize),
    Open(Option<usize>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..CONVS.len(), 1u8..40).prop_map(|(c, n)| Op::OtherPost(c, n)),
        3 => (0..CONVS.len()).prop_map(Op::MyPost),
        5 => (1usize..8).prop_map(Op::Deliver),
        1 => Just(Op::Disconnect),
        2 => Just(Op::Connect),
        1 => Just(Op::Restart),
        1 => (0..CONVS.len()).prop_map(Op::MarkRead),
        1 => proptest::option::of(0..CONVS.len()).prop_map(Op::Open),
    ]
}

fn server() -> ModelServer {
    let mut s = ModelServer::default();
    s.create("d1", ConvKind::Direct, "", &["bob", ME]);
    s.create("d2", ConvKind::Direct, "", &[ME, "carol"]);
    s.create("g1", ConvKind::Group, "grp", &["bob", "carol", ME]);
    for i in 0..30 {
        s.post("g1", "carol", &format!("early {i}"));
    }
    s
}

fn small_pages() -> crate::engine::Config {
    // Small pages make paging, history and parallelism happen often.
    crate::engine::Config {
        pull_page: 7,
        history_page: 5,
        ..super::common::test_config()
    }
}

fn apply<S: Store>(h: &mut Harness<S>, op: Op, sent: &mut Vec<String>) {
    match op {
        Op::OtherPost(c, n) => {
            let conv = CONVS[c];
            let who = if conv == "d2" { "carol" } else { "bob" };
            for i in 0..n % 5 + 1 {
                let push = h.server.post(conv, who, &format!("{who} {i}"));
                if h.connected
                    && h.engine.session().is_some()
                    && !matches!(h.engine.state(), ConnState::Connecting)
                {
                    h.to_client.push_back(push);
                }
            }
        }
        Op::MyPost(c) => {
            let conv = ConvId::from(CONVS[c]);
            if h.engine.conv(&conv).is_some() {
                sent.push(h.send_text(CONVS[c], "mine"));
            }
        }
        Op::Deliver(n) => {
            for _ in 0..n {
                h.deliver_one();
            }
        }
        Op::Disconnect => {
            if h.connected {
                h.disconnect();
            }
        }
        Op::Connect => {
            if !h.connected {
                h.cmd(Command::Connect).unwrap();
                if let ConnState::Reconnecting { in_ms, .. } = h.engine.state().clone() {
                    h.advance(std::time::Duration::from_millis(in_ms));
                }
            }
        }
        Op::Restart => {
            h.restart(small_pages());
        }
        Op::MarkRead(c) => {
            let _ = h.cmd(Command::MarkRead {
                conv: ConvId::from(CONVS[c]),
                seq: None,
            });
        }
        Op::Open(c) => {
            let _ = h.cmd(Command::Open(c.map(|c| ConvId::from(CONVS[c]))));
        }
    }
}

pub(super) fn settle<S: Store>(h: &mut Harness<S>) {
    if h.connected {
        h.disconnect();
    }
    h.go_live();
    h.run();
}

fn converges<S: Store>(ops: Vec<Op>, mut store: S) -> Result<(), TestCaseError> {
    super::common::seed_session(&mut store);
    let mut h = Harness::new(server(), store, small_pages());
    let mut sent = Vec::new();
    for o in ops {
        apply(&mut h, o, &mut sent);
    }
    // Twice: the second sync sees the read cursors flushed by the first.
    settle(&mut h);
    settle(&mut h);

    prop_assert!(h.store.outbox().unwrap().is_empty(), "outbox drained");
    for conv in CONVS {
        let id = ConvId::from(conv);
        let model = &h.server.convs[&id];
        // Every message the user sent is on the server exactly once.
        let mut seen: HashMap<String, usize> = HashMap::new();
        for m in &model.timeline {
            if let Some(c) = &m.client_id {
                *seen.entry(c.clone()).or_default() += 1;
            }
        }
        prop_assert!(
            seen.values().all(|n| *n == 1),
            "duplicates in {}: {:?}",
            conv,
            seen
        );
        // What the cache holds equals the server at the same seqs.
        let tl = h
            .store
            .timeline(&id, TimelineQuery::Latest { limit: 100_000 })
            .unwrap();
        let mut held = 0;
        let mut gap_total = 0;
        for item in &tl {
            match item {
                TimelineItem::Message(m) => {
                    let s = &model.timeline[(m.seq - 1) as usize];
                    prop_assert_eq!(
                        (&m.sender, m.kind, &m.client_id),
                        (&s.sender, s.kind, &s.client_id)
                    );
                    if m.kind == EntryKind::Text {
                        prop_assert_eq!(&m.body, &s.body);
                    }
                    held += 1;
                }
                TimelineItem::Gap { from, to } => gap_total += to - from + 1,
                TimelineItem::Pending(o) => prop_assert!(false, "pending echo left: {:?}", o),
            }
        }
        prop_assert_eq!(
            held + gap_total,
            model.timeline.len() as u64,
            "held + gaps = last_seq in {}",
            conv
        );
        if model.kind == ConvKind::Direct {
            prop_assert_eq!(gap_total, 0, "direct conversations are complete");
        }
        let row = h.store.conversation(&id).unwrap().unwrap();
        let want = h.server.summary(ME, &id);
        prop_assert_eq!(
            (row.last_seq, row.read_seq, row.unread),
            (want.last_seq, want.read_seq, want.unread),
            "counts of {}",
            conv
        );
    }
    prop_assert_eq!(h.engine.state(), &ConnState::Live);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn local_state_converges_to_the_server(ops in proptest::collection::vec(op(), 1..60)) {
        converges(ops, MemoryStore::new())?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// The same property with the SQLite store under the engine.
    #[test]
    fn local_state_converges_with_sqlite(ops in proptest::collection::vec(op(), 1..40)) {
        converges(ops, SqliteStore::open_in_memory().unwrap())?;
    }
}
