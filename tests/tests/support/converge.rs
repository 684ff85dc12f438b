//! Comparing sync-core stores with the server's truth, shared by the chaos
//! tests (`chaos.rs`, `cluster.rs`) through `#[path]`: the server's view of a
//! user as a fresh, clean connection `sync`s and `pull`s it, every difference
//! of a device's store from it, and opening groups until a store holds every
//! entry; and the chaos workload's seed, engine tunables and conversations.
//! Needs `wire` (`src/syncbench/wire.rs`) as a sibling module; each user
//! may leave some helpers unused.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sync_core::protocol::{ConvId, ConvKind, Message, Summary};
use sync_core::{Client, TimelineItem, TimelineQuery};

use crate::wire::RawConn;

/// Polls `done` every 50 ms; panics naming `what` after `timeout`.
pub async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The server's view of one user, fetched directly (not through a proxy).
pub struct Truth {
    pub summaries: BTreeMap<ConvId, Summary>,
    pub timelines: BTreeMap<ConvId, Vec<Message>>,
}

/// `session` is a token of the user's (reused with `auth`: no slow password
/// hash); `url` is `ws://…/v1` of any node.
pub async fn fetch_truth(url: &str, session: &sync_core::Session) -> Truth {
    let mut conn = RawConn::connect(url).await.unwrap();
    conn.auth(&session.token, &session.device).await.unwrap();
    let mut summaries = BTreeMap::new();
    let mut timelines = BTreeMap::new();
    for s in conn.sync_all().await.unwrap() {
        timelines.insert(s.conv.clone(), conn.pull_all(&s.conv).await.unwrap());
        summaries.insert(s.conv.clone(), s);
    }
    conn.close().await;
    Truth {
        summaries,
        timelines,
    }
}

/// Every difference between the store of `client` (named `name` in the
/// messages) and the server's truth (empty when equal).
pub fn differences(name: &str, client: &Client, truth: &Truth) -> Vec<String> {
    let mut diffs = Vec::new();
    let rows = client.conversations().unwrap();
    if rows.len() != truth.summaries.len() {
        diffs.push(format!(
            "{name}: {} conversations, server has {}",
            rows.len(),
            truth.summaries.len()
        ));
    }
    for (conv, s) in &truth.summaries {
        let Some(row) = rows.iter().find(|r| &r.conv == conv) else {
            diffs.push(format!("{name}: {} missing", conv.0));
            continue;
        };
        if (row.last_seq, row.unread) != (s.last_seq, s.unread) {
            diffs.push(format!(
                "{name} {}: last_seq/unread {}/{} but server {}/{} (read_seq {} vs {})",
                conv.0, row.last_seq, row.unread, s.last_seq, s.unread, row.read_seq, s.read_seq
            ));
        }
        let items = client
            .timeline(conv, TimelineQuery::Latest { limit: 1_000_000 })
            .unwrap();
        let expected = &truth.timelines[conv];
        let mut held = Vec::new();
        for item in items {
            match item {
                TimelineItem::Message(m) => held.push(m),
                TimelineItem::Gap { from, to } => {
                    diffs.push(format!("{name} {}: gap {from}..={to}", conv.0))
                }
                TimelineItem::Pending(p) => {
                    diffs.push(format!("{name} {}: still pending {:?}", conv.0, p.body))
                }
            }
        }
        if held.len() != expected.len() {
            diffs.push(format!(
                "{name} {}: holds {} entries, server {}",
                conv.0,
                held.len(),
                expected.len()
            ));
        }
        for (i, (h, e)) in held.iter().zip(expected).enumerate() {
            let same = h.seq == e.seq
                && h.sender == e.sender
                && h.ts == e.ts
                && h.kind == e.kind
                && h.body == e.body
                && h.client_id == e.client_id;
            if !same {
                diffs.push(format!("{name} {} #{i}: holds {h:?}, server {e:?}", conv.0));
                break;
            }
        }
    }
    diffs
}

/// Waits until the store of `client` equals `truth`, opening each group
/// that is short of entries and loading older pages (groups are lazy except
/// the open one); panics after 60 s with the first differences.
pub async fn converge(name: &str, client: &Client, truth: &Truth, seed: u64) {
    client.wait_live(Duration::from_secs(30)).await.unwrap();
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let diffs = differences(name, client, truth);
        if diffs.is_empty() {
            return;
        }
        if Instant::now() > end {
            panic!(
                "seed {seed}: {name} differs from the server in {} ways:\n{}",
                diffs.len(),
                diffs
                    .iter()
                    .take(20)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        for (conv, s) in &truth.summaries {
            if s.kind == ConvKind::Group && client.timeline_len(conv).unwrap_or(0) < s.last_seq {
                drop(client.open(conv));
                for _ in 0..20 {
                    if client.timeline_len(conv).unwrap_or(0) >= s.last_seq {
                        break;
                    }
                    let _ = client.load_older(conv).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Checks the server's timelines (every conversation any of `truths` sees):
/// `convs` conversations, seqs dense from 1, and every `(client_id, conv,
/// body)` of `sent` stored exactly once, in its conversation, with its body,
/// and no other text with a client id.
pub fn assert_exactly_once(
    truths: &[&Truth],
    convs: usize,
    sent: &[(String, ConvId, String)],
    seed: u64,
) {
    use std::collections::HashMap;
    let all_convs: BTreeMap<&ConvId, &Vec<Message>> =
        truths.iter().flat_map(|t| t.timelines.iter()).collect();
    assert_eq!(all_convs.len(), convs, "conversations on the server");
    let mut by_client_id: HashMap<(&str, &str), Vec<&Message>> = HashMap::new();
    for (conv, timeline) in &all_convs {
        let seqs: Vec<u64> = timeline.iter().map(|m| m.seq).collect();
        assert_eq!(
            seqs,
            (1..=timeline.len() as u64).collect::<Vec<_>>(),
            "{} seqs contiguous (seed {seed})",
            conv.0
        );
        for m in timeline.iter() {
            if let Some(cid) = &m.client_id {
                by_client_id
                    .entry((conv.as_str(), cid.as_str()))
                    .or_default()
                    .push(m);
            }
        }
    }
    let texts: usize = all_convs
        .values()
        .map(|t| t.iter().filter(|m| m.client_id.is_some()).count())
        .sum();
    assert_eq!(
        texts,
        sent.len(),
        "server holds exactly the sent messages (seed {seed})"
    );
    for (client_id, conv, body) in sent {
        let found = by_client_id
            .get(&(conv.as_str(), client_id.as_str()))
            .map_or(0, |v| v.len());
        assert_eq!(
            found, 1,
            "message {body:?} ({client_id}) stored {found} times (seed {seed})"
        );
        let m = by_client_id[&(conv.as_str(), client_id.as_str())][0];
        assert_eq!(m.body.as_deref(), Some(body.as_str()));
    }
}

/// The run's seed: `var` from the environment (to rerun a failure), else
/// the clock.
pub fn seed(var: &str) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            t.as_nanos() as u64
        })
}

/// Engine tunables of the chaos devices: reconnect quickly so the run stays
/// short (stalls last at most 800 ms).
pub fn engine_config(seed: u64) -> sync_core::Config {
    sync_core::Config {
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(800),
        dead_after: Duration::from_secs(5),
        seed,
        ..sync_core::Config::default()
    }
}

/// The chaos workload's five conversations between alice, bob and carol:
/// the three directs and two groups of all three.
pub struct Convs {
    ab: ConvId,
    ac: ConvId,
    bc: ConvId,
    g1: ConvId,
    g2: ConvId,
}

impl Convs {
    /// alice creates her directs and group 1, bob the bob–carol direct and
    /// group 2; `real` maps alice/bob/carol to the accounts' names.
    pub async fn create(
        alice: &Client,
        bob: &Client,
        real: impl Fn(&str) -> String,
        title: &str,
    ) -> Convs {
        let (b, c, a) = (real("bob"), real("carol"), real("alice"));
        Convs {
            ab: alice.create_direct(&b).await.unwrap(),
            ac: alice.create_direct(&c).await.unwrap(),
            bc: bob.create_direct(&c).await.unwrap(),
            g1: alice
                .create_group(&format!("{title} one"), &[&b, &c])
                .await
                .unwrap(),
            g2: bob
                .create_group(&format!("{title} two"), &[&a, &c])
                .await
                .unwrap(),
        }
    }

    /// The four conversations `user` (alice, bob or carol) is in.
    pub fn of(&self, user: &str) -> Vec<ConvId> {
        let directs = match user {
            "alice" => [&self.ab, &self.ac],
            "bob" => [&self.ab, &self.bc],
            _ => [&self.ac, &self.bc],
        };
        directs
            .into_iter()
            .chain([&self.g1, &self.g2])
            .cloned()
            .collect()
    }

    /// Device i keeps group 1 (even i) or 2 open (eager; directs always
    /// are); waits until each lists its 4 conversations.
    pub async fn open_groups<'a>(&self, devices: impl IntoIterator<Item = (&'a str, &'a Client)>) {
        for (i, (name, client)) in devices.into_iter().enumerate() {
            drop(client.open(if i % 2 == 0 { &self.g1 } else { &self.g2 }));
            wait_for(
                &format!("{name} to list 4 conversations"),
                Duration::from_secs(20),
                || client.conversations().is_ok_and(|c| c.len() == 4),
            )
            .await;
        }
    }
}
