//! Property test for protocol 1.1: under random interleavings of texts,
//! reactions, withdrawals, edits that add mentions, reads, dropped
//! connections, reconnects and restarts, the store's reaction aggregates
//! (counts and `mine`) and mention counts end equal to the model server's.

use std::collections::BTreeMap;

use super::common::{Harness, ME, ModelServer};
use super::props::settle;
use crate::ConnState;
use crate::engine::Command;
use crate::protocol::{ConvId, ConvKind, EntryKind, Message, Seq};
use crate::store::{
    MemoryStore, OutboxKind, OutboxState, SqliteStore, Store, TimelineItem, TimelineQuery,
};
use proptest::prelude::*;

const CONVS: [&str; 2] = ["d1", "g1"];
const KEYS: [&str; 3] = ["👍", "🎉", ":ok:"];

#[derive(Debug, Clone)]
enum Op {
    OtherPost(usize, bool),
    OtherReact(usize, usize, usize),
    OtherUnreact(usize, usize),
    OtherEdit(usize, usize, bool),
    MyPost(usize),
    MyReact(usize, usize, usize),
    MyUnreact(usize, usize, usize),
    MarkRead(usize),
    Deliver(usize),
    Disconnect,
    Connect,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let conv = 0..CONVS.len();
    prop_oneof![
        3 => (conv.clone(), any::<bool>()).prop_map(|(c, m)| Op::OtherPost(c, m)),
        4 => (conv.clone(), 0usize..8, 0..KEYS.len()).prop_map(|(c, i, k)| Op::OtherReact(c, i, k)),
        2 => (conv.clone(), 0usize..8).prop_map(|(c, i)| Op::OtherUnreact(c, i)),
        2 => (conv.clone(), 0usize..8, any::<bool>()).prop_map(|(c, i, m)| Op::OtherEdit(c, i, m)),
        1 => conv.clone().prop_map(Op::MyPost),
        3 => (conv.clone(), 0usize..8, 0..KEYS.len()).prop_map(|(c, i, k)| Op::MyReact(c, i, k)),
        2 => (conv.clone(), 0usize..8, 0..KEYS.len()).prop_map(|(c, i, k)| Op::MyUnreact(c, i, k)),
        1 => conv.prop_map(Op::MarkRead),
        5 => (1usize..8).prop_map(Op::Deliver),
        1 => Just(Op::Disconnect),
        2 => Just(Op::Connect),
        1 => Just(Op::Restart),
    ]
}

fn server() -> ModelServer {
    let mut s = ModelServer::v11();
    s.create("d1", ConvKind::Direct, "", &["bob", ME]);
    s.create("g1", ConvKind::Group, "grp", &["bob", "carol", ME]);
    for i in 0..12 {
        s.post("g1", "carol", &format!("early {i}"));
    }
    s.post("d1", "bob", "hi");
    s
}

fn other(conv: &str, i: usize) -> &'static str {
    if conv == "d1" || i.is_multiple_of(2) {
        "bob"
    } else {
        "carol"
    }
}

/// The i-th (mod count) text of the conversation still standing.
fn text_at(s: &ModelServer, conv: &str, i: usize, by: Option<&str>) -> Option<Seq> {
    let id = ConvId::from(conv);
    let texts: Vec<Seq> = s.convs[&id]
        .timeline
        .iter()
        .filter(|m| m.kind == EntryKind::Text && by.is_none_or(|b| m.sender == b))
        .filter(|m| s.redacted_at(&id, m.seq).is_none())
        .map(|m| m.seq)
        .collect();
    (!texts.is_empty()).then(|| texts[i % texts.len()])
}

fn push<S: Store>(h: &mut Harness<S>, frame: Option<crate::protocol::ServerFrame>) {
    if let Some(f) = frame
        && h.connected
        && !matches!(h.engine.state(), ConnState::Connecting)
    {
        h.to_client.push_back(f);
    }
}

fn apply<S: Store>(h: &mut Harness<S>, op: Op) {
    match op {
        Op::OtherPost(c, mention) => {
            let who = other(CONVS[c], c);
            let body = if mention { "ping @me" } else { "plain" };
            let f = h.server.act(CONVS[c], Message::text(0, who, 0, body));
            push(h, f);
        }
        Op::OtherReact(c, i, k) => {
            let who = other(CONVS[c], i);
            if let Some(t) = text_at(&h.server, CONVS[c], i, None) {
                let f = h.server.react_as(CONVS[c], who, t, KEYS[k]);
                push(h, f);
            }
        }
        Op::OtherUnreact(c, i) => {
            let id = ConvId::from(CONVS[c]);
            let standing: Vec<(Seq, String)> = h.server.convs[&id]
                .timeline
                .iter()
                .filter(|m| m.kind == EntryKind::Reaction && m.sender != ME)
                .filter(|m| h.server.redacted_at(&id, m.seq).is_none())
                .map(|m| (m.seq, m.sender.clone()))
                .collect();
            if !standing.is_empty() {
                let (seq, who) = standing[i % standing.len()].clone();
                let f = h.server.redact_as(CONVS[c], &who, seq);
                push(h, f);
            }
        }
        Op::OtherEdit(c, i, mention) => {
            let who = other(CONVS[c], i);
            if let Some(t) = text_at(&h.server, CONVS[c], i, Some(who)) {
                let body = if mention { "edited @me" } else { "edited" };
                let f = h.server.edit_as(CONVS[c], who, t, body);
                push(h, f);
            }
        }
        Op::MyPost(c) => {
            if h.engine.conv(&ConvId::from(CONVS[c])).is_some() {
                h.send_text(CONVS[c], "mine");
            }
        }
        Op::MyReact(c, i, k) => {
            let conv = ConvId::from(CONVS[c]);
            if h.engine.conv(&conv).is_some()
                && let Some(t) = text_at(&h.server, CONVS[c], i, None)
            {
                let kind = OutboxKind::React {
                    target: t,
                    key: KEYS[k].into(),
                };
                h.enqueue(CONVS[c], kind, None);
            }
        }
        Op::MyUnreact(c, i, k) => {
            let conv = ConvId::from(CONVS[c]);
            let Some(t) = text_at(&h.server, CONVS[c], i, None) else {
                return;
            };
            let queued = |h: &Harness<S>, seq| {
                h.store
                    .outbox()
                    .unwrap()
                    .iter()
                    .any(|o| o.kind == OutboxKind::Redact { target: seq })
            };
            if let Ok(Some(seq)) = h.store.standing_reaction(&conv, t, KEYS[k], ME)
                && !queued(h, seq)
            {
                h.enqueue(CONVS[c], OutboxKind::Redact { target: seq }, None);
            }
        }
        Op::MarkRead(c) => {
            let _ = h.cmd(Command::MarkRead {
                conv: ConvId::from(CONVS[c]),
                seq: None,
            });
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
        Op::Restart => h.restart(small_pages()),
    }
}

fn small_pages() -> crate::engine::Config {
    crate::engine::Config {
        pull_page: 5,
        history_page: 4,
        ..super::common::test_config()
    }
}

fn converges<S: Store>(ops: Vec<Op>, mut store: S) -> Result<(), TestCaseError> {
    super::common::seed_session(&mut store);
    let mut h = Harness::new(server(), store, small_pages());
    for o in ops {
        apply(&mut h, o);
    }
    settle(&mut h);
    settle(&mut h);
    // Every entry held (the group too), in whatever order it came.
    h.cmd(Command::Follow {
        consumer: None,
        positions: Vec::new(),
        reset: false,
        all: true,
    })
    .unwrap();
    h.run();
    let busy = h
        .store
        .outbox()
        .unwrap()
        .into_iter()
        .filter(|o| !matches!(o.state, OutboxState::Failed { .. }))
        .count();
    prop_assert_eq!(busy, 0, "every row acknowledged or failed");
    for conv in CONVS {
        let id = ConvId::from(conv);
        let tl = h
            .store
            .timeline(&id, TimelineQuery::Latest { limit: 100_000 })
            .unwrap();
        let mut texts = 0;
        for item in &tl {
            let TimelineItem::Message(m) = item else {
                prop_assert!(
                    matches!(item, TimelineItem::Pending(_)),
                    "gap left in {}: {:?}",
                    conv,
                    item
                );
                continue;
            };
            if m.kind != EntryKind::Text {
                continue;
            }
            texts += 1;
            let want = h.server.reaction_totals(&id, m.seq);
            let got: BTreeMap<String, u64> = m
                .reactions
                .iter()
                .map(|r| (r.key.clone(), r.count))
                .collect();
            prop_assert_eq!(&got, &want, "reactions of {} seq {}", conv, m.seq);
            let mine_want: Vec<String> = h.server.convs[&id]
                .timeline
                .iter()
                .filter(|r| r.kind == EntryKind::Reaction && r.target == Some(m.seq))
                .filter(|r| r.sender == ME && h.server.redacted_at(&id, r.seq).is_none())
                .filter_map(|r| r.key.clone())
                .collect();
            let mut mine_want = mine_want;
            mine_want.sort();
            let mine_got: Vec<String> = m
                .reactions
                .iter()
                .filter(|r| r.mine)
                .map(|r| r.key.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            prop_assert_eq!(mine_got, mine_want, "mine on {} seq {}", conv, m.seq);
        }
        prop_assert!(texts > 0);
        let row = h.store.conversation(&id).unwrap().unwrap();
        prop_assert_eq!(
            (row.unread, row.mentions),
            (
                h.server.summary(ME, &id).unread,
                h.server.mention_count(ME, &id)
            ),
            "unread and mentions of {}",
            conv
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn reactions_and_mentions_converge_to_the_server(ops in proptest::collection::vec(op(), 1..60)) {
        converges(ops, MemoryStore::new())?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// The same property with the SQLite store under the engine.
    #[test]
    fn reactions_and_mentions_converge_with_sqlite(ops in proptest::collection::vec(op(), 1..40)) {
        converges(ops, SqliteStore::open_in_memory().unwrap())?;
    }
}
