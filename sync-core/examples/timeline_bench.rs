//! What protocol 1.1 decoration costs a timeline read: `Latest { limit: 50 }`
//! and a thread window on a SQLite cache, for a conversation of plain texts
//! (the baseline: 1.0-shaped data) next to one where every text has
//! reactions and every tenth is a thread root with replies. Run with
//! `cargo run --release -p sync-core --example timeline_bench`.

use std::time::Instant;

use sync_core::TimelineQuery;
use sync_core::protocol::{ConvId, ConvKind, EntryKind, Message, Summary};
use sync_core::store::{Batch, ConvRecord, MetaKey, SqliteStore, Store, TextTotals, Write};

const N: u64 = 10_000;
const READS: u32 = 300;

fn record(conv: &str) -> ConvRecord {
    ConvRecord::from_summary(&Summary {
        member_count: 5,
        last_seq: N,
        read_seq: N,
        ..Summary::new(conv, ConvKind::Group, conv)
    })
}

fn fill(store: &mut SqliteStore, conv: &str, rich: bool) {
    let mut rec = record(conv);
    let mut msgs = Vec::new();
    let mut totals = Vec::new();
    let mut root = 1;
    for seq in 1..=N {
        let mut m = Message::text(seq, "bob", seq as i64, format!("message {seq}"));
        if rich {
            match seq % 4 {
                // A reaction to the text before it.
                0 => {
                    m = Message::new(seq, "carol", seq as i64, EntryKind::Reaction);
                    m.target = Some(seq - 1);
                    m.key = Some("👍".into());
                }
                _ if seq % 10 == 1 => root = seq,
                // A reply in the newest root's thread.
                2 => {
                    m.reply_to = Some(root);
                    m.thread = Some(root);
                }
                _ => {}
            }
            if m.kind == EntryKind::Text {
                totals.push(TextTotals {
                    seq,
                    reactions: [("🎉".to_string(), 2), (":ok:".to_string(), 1)].into(),
                    replies: 0,
                    last_reply_seq: None,
                });
            }
        }
        msgs.push(m);
        rec.held.insert(seq);
    }
    let mut writes = vec![Write::Conv(rec), Write::Messages(ConvId::from(conv), msgs)];
    if rich {
        writes.push(Write::Totals {
            conv: ConvId::from(conv),
            as_of: N / 2,
            texts: totals,
        });
    }
    store
        .apply(&Batch {
            writes,
            durable: false,
        })
        .expect("fill");
}

fn mean_us(mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..READS {
        f();
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(READS)
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = SqliteStore::open(dir.path().join("bench.db")).expect("open");
    store
        .apply(&Batch {
            writes: vec![Write::Meta(MetaKey::User, Some("me".into()))],
            durable: false,
        })
        .expect("meta");
    fill(&mut store, "plain", false);
    fill(&mut store, "rich", true);
    println!("timeline_bench: SQLite, {N} entries per conversation, mean of {READS} reads");
    for q in [
        TimelineQuery::Latest { limit: 50 },
        TimelineQuery::Around {
            seq: N / 2,
            before: 25,
            after: 25,
        },
    ] {
        let plain = mean_us(|| {
            store.timeline(&ConvId::from("plain"), q).expect("read");
        });
        let rich = mean_us(|| {
            store.timeline(&ConvId::from("rich"), q).expect("read");
        });
        println!(
            "{q:?}: plain texts (baseline) {plain:.0} µs, with reactions and threads {rich:.0} µs ({:.2}x)",
            rich / plain
        );
    }
    let thread = mean_us(|| {
        store.thread(&ConvId::from("rich"), N - 9).expect("thread");
    });
    println!("thread window of a root near the top: {thread:.0} µs");
}
