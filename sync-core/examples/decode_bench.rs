//! Decoding server frames: `decode_server_frame`, which decodes `message`
//! pushes and `messages` pages straight into their fields, next to serde's
//! general path for the tagged enum (the baseline, same run), which
//! buffers each frame in an intermediate tree first.
//!
//! ```text
//! cargo run --release -p sync-core --example decode_bench
//! ```

use std::hint::black_box;
use std::time::Instant;

use sync_core::protocol::{ConvId, EntryKind, Message, ServerFrame, decode_server_frame};

fn entry(seq: u64, mentions: usize) -> Message {
    let mut m = Message::new(seq, "lgq3k2xf00000", 1_796_550_869_367, EntryKind::Text);
    let names: Vec<String> = (1..=mentions).map(|i| format!("lgq3k2xf{i:05}")).collect();
    let mut body = format!("{:016x} {seq:08} ", seq * 7919);
    for n in &names {
        body.push_str(&format!("@{n} "));
    }
    while body.len() < 100 {
        body.push('x');
    }
    m.body = Some(body);
    m.client_id = Some(format!("lgq3k2xff{seq}"));
    m.mentions = names;
    m
}

/// Microseconds per decode of `text` over `n` runs, by `decode`.
fn time(text: &str, n: usize, decode: impl Fn(&str) -> ServerFrame) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        black_box(decode(black_box(text)));
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn main() {
    let conv = ConvId("c12".into());
    let push = |mentions| {
        ServerFrame::Message {
            conv: conv.clone(),
            message: entry(1234, mentions),
        }
        .to_json()
    };
    let page = ServerFrame::Messages {
        re: 7,
        conv: conv.clone(),
        messages: (1..=200).map(|s| entry(s, 0)).collect(),
        last_seq: 200,
        root: None,
        thread_last_seq: None,
    }
    .to_json();
    let cases = [
        ("push, plain text", push(0), 500_000),
        ("push, 3 mentions", push(3), 500_000),
        ("page of 200 texts", page, 2_000),
    ];
    println!("decode_bench: µs per frame, best of 3 (general serde path = baseline)");
    for (what, text, n) in &cases {
        assert_eq!(
            decode_server_frame(text).unwrap(),
            serde_json::from_str::<ServerFrame>(text).unwrap()
        );
        let best = |f: &dyn Fn(&str) -> ServerFrame| {
            (0..3)
                .map(|_| time(text, *n, f))
                .fold(f64::INFINITY, f64::min)
        };
        let fast = best(&|t| decode_server_frame(t).unwrap());
        let general = best(&|t| serde_json::from_str(t).unwrap());
        println!(
            "{what:<18} {fast:>9.3} µs | general {general:>9.3} µs | {:.2}× ({} bytes)",
            fast / general,
            text.len()
        );
    }
}
