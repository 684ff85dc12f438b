//! TUI benchmarks: `cargo run --release -p client --bin ui_bench [-- --quick]`.
//!
//! 1. Time to first frame from a cache of 1,000 conversations and 1,000,000
//!    messages (store opened through `sync_core::ClientBuilder`, headless
//!    `TestBackend`), next to `convo --version` as the process start-up floor.
//! 2. Render time of a frame of a 100,000-message timeline vs a 40-message
//!    one (a ratio near 1 shows only visible rows are laid out).
//! 3. RSS after opening that cache (goal: under 100 MB).
//! 4. Code blocks (`code_rows`): the 100,000-message frame with a 30-line
//!    Rust block in every third message, next to the plain one, and the
//!    first highlight of a 500-line block.
//! 5. Protocol 1.1 (`p11_rows`): the 100,000-message frame where every
//!    message has reactions and a reply quote, next to the plain one.
//!
//! The cache is built once under the system temp dir and reused. A smaller
//! cache for slow machines: `-- --messages 200000` (the biggest conversation
//! keeps 100,000 messages or half the total, whichever is less).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use client::ui::driver::draw;
use client::ui::engine::EngineRequest;
use client::ui::keys::KeyMap;
use client::ui::model::{ConvId, ConvKind, Message, TimelineItem, TimelineQuery, text_message};
use client::ui::state::{Action, AppState, Effect};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sync_core::store::{Batch, ConvRecord, RangeSet, SeqRange, SqliteStore, Store, Write};

#[path = "ui_bench/code_rows.rs"]
mod code_rows;
#[path = "ui_bench/p11_rows.rs"]
mod p11_rows;

const CONVS: u64 = 1_000;
const BIG_CONV: u64 = 100_000;
const TOTAL: u64 = 1_000_000;
const T0: i64 = 1_795_381_500_000;

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    println!("ui_bench (frames are 120x40, TestBackend)");
    // First-frame and RSS first, before the in-memory render bench allocates.
    bench_first_frame(quick)?;
    bench_render(quick)?;
    Ok(())
}

/// Body text of message `i` (varied lengths so wrapping is exercised).
fn body(i: u64) -> String {
    let words = [
        "deploy",
        "review",
        "coffee",
        "ラーメン",
        "flaky",
        "build",
        "🚀",
        "tomorrow",
        "release",
    ];
    let n = 3 + (i % 17) as usize;
    (0..n)
        .map(|k| words[(i as usize + k) % words.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

fn sender(i: u64) -> &'static str {
    ["alice", "bob", "carol", "dave"][(i % 4) as usize]
}

fn items(n: u64) -> Vec<TimelineItem> {
    (1..=n)
        .map(|s| {
            TimelineItem::Message(text_message(
                s,
                sender(s / 3),
                T0 + s as i64 * 20_000,
                &body(s),
            ))
        })
        .collect()
}

fn app() -> AppState {
    let mut s = AppState::new("alice", "ws://127.0.0.1:7878/v1", KeyMap::default(), true);
    update(&mut s, Action::Resize(120, 40));
    s
}

/// Mean time per frame over `frames` draws, each after `step` (e.g. a PgUp).
fn time_frames(
    s: &mut AppState,
    frames: u32,
    mut step: impl FnMut(&mut AppState),
) -> anyhow::Result<Duration> {
    let mut term = Terminal::new(TestBackend::new(120, 40))?;
    draw(&mut term, s)?;
    let start = Instant::now();
    for _ in 0..frames {
        step(s);
        draw(&mut term, s)?;
    }
    Ok(start.elapsed() / frames)
}

fn open_with(s: &mut AppState, conv: &str, items: Vec<TimelineItem>) {
    let conv = ConvId::from(conv);
    update(s, Action::Opened(conv.clone()));
    let total = items.len() as u64;
    update(
        s,
        Action::Timeline {
            conv,
            query: TimelineQuery::Latest { limit: 200 },
            items,
            total,
        },
    );
}

fn bench_render(quick: bool) -> anyhow::Result<()> {
    let frames = if quick { 50 } else { 300 };
    let mut small = app();
    open_with(&mut small, "c1", items(40));
    let mut big = app();
    open_with(&mut big, "c1", items(BIG_CONV));
    let tick = |s: &mut AppState| {
        update(s, Action::Tick { now_ms: T0 });
    };
    let t_small = time_frames(&mut small, frames, tick)?;
    let t_big = time_frames(&mut big, frames, tick)?;
    // Scrolling: every frame follows a PgUp (deep into the window).
    let pgup = |s: &mut AppState| {
        let fx = update(
            s,
            Action::Key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE)),
        );
        debug_assert!(
            fx.iter()
                .all(|f| matches!(f, Effect::Request(EngineRequest::LoadOlder { .. })))
        );
    };
    let t_scroll = time_frames(&mut big, frames, pgup)?;
    // Same run, same kind of frames: the plain rows are the baseline.
    let mut decorated = app();
    open_with(&mut decorated, "c1", p11_rows::decorate(items(BIG_CONV)));
    let p11 = (decorated, tick, pgup);
    println!("2. render one frame (bottom of timeline), mean of {frames}:");
    println!(
        "   40 messages          {:>9.1} µs   (baseline)",
        us(t_small)
    );
    println!(
        "   100,000 messages     {:>9.1} µs   ratio {:.2}",
        us(t_big),
        ratio(t_big, t_small)
    );
    println!(
        "   100,000 + PgUp/frame {:>9.1} µs   ratio {:.2}",
        us(t_scroll),
        ratio(t_scroll, t_small)
    );
    let mut code = app();
    open_with(
        &mut code,
        "c1",
        code_rows::code_items(BIG_CONV, body, sender, T0),
    );
    code_rows::bench(frames, t_big, code, |s, n, step| {
        time_frames(s, n, |s| step(s))
    })?;
    let (decorated, mut tick, mut pgup) = p11;
    p11_rows::bench(
        frames,
        t_big,
        t_scroll,
        decorated,
        |s, n, step| time_frames(s, n, |s| step(s)),
        &mut tick,
        &mut pgup,
    )
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

/// Builds the 1,000-conversation / 1,000,000-message cache if it is missing.
fn build_cache(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let tmp = path.with_extension("building");
    let _ = std::fs::remove_file(&tmp);
    let start = Instant::now();
    let mut store = SqliteStore::open(&tmp)?;
    let total = total_messages();
    let big = big_conv(total);
    let per_conv = ((total - big) / (CONVS - 1)).max(1);
    for c in 0..CONVS {
        let n = if c == 0 { big } else { per_conv };
        let conv = ConvId(format!("c{}", c + 1));
        let ts0 = T0 + c as i64 * 1_000;
        let msgs: Vec<Message> = (1..=n)
            .map(|s| Message::text(s, sender(s / 3 + c), ts0 + s as i64 * 20_000, body(s + c)))
            .collect();
        let kind = if c % 3 == 0 {
            ConvKind::Direct
        } else {
            ConvKind::Group
        };
        let record = ConvRecord {
            conv: conv.clone(),
            kind,
            title: format!("conversation {}", c + 1),
            member_count: if kind == ConvKind::Direct { 2 } else { 5 },
            last_seq: n,
            read_seq: n - (c % 5),
            unread: c % 5,
            local_read: n - (c % 5),
            last: msgs.last().cloned(),
            left: false,
            held: RangeSet::from_ranges([SeqRange::new(1, n)]),
            mentions: 0,
            mention_seqs: Vec::new(),
            notify: sync_core::Notify::All,
            pinned: false,
            archived: false,
        };
        let batch = Batch {
            writes: vec![Write::Conv(record), Write::Messages(conv, msgs)],
            durable: false,
        };
        store.apply(&batch)?;
    }
    drop(store);
    std::fs::rename(&tmp, path)?;
    println!(
        "   (built cache in {:.1} s: {})",
        start.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}

/// `--messages N` (default 1,000,000).
fn total_messages() -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--messages")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .filter(|&n: &u64| n >= 2 * CONVS)
        .unwrap_or(TOTAL)
}

fn big_conv(total: u64) -> u64 {
    BIG_CONV.min(total / 2)
}

fn rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `convo --version` next to this executable: the process start-up floor.
fn convo_floor() -> Option<Duration> {
    let exe = std::env::current_exe().ok()?;
    let convo: PathBuf = exe.parent()?.join("convo");
    if !convo.exists() {
        return None;
    }
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        Command::new(&convo).arg("--version").output().ok()?;
        best = best.min(start.elapsed());
    }
    Some(best)
}

fn bench_first_frame(quick: bool) -> anyhow::Result<()> {
    if quick {
        println!("1./3. skipped with --quick (needs the 1M-message cache)");
        return Ok(());
    }
    let total = total_messages();
    let path = std::env::temp_dir().join(format!("convo-ui-bench-1k-{total}.db"));
    build_cache(&path)?;
    let rss_before = rss_kb();
    let start = Instant::now();
    // What `convo` does before its first frame: open the store, read the list
    // and the newest window of the top conversation, draw.
    let (client, _events) =
        sync_core::ClientBuilder::new("ws://127.0.0.1:9/v1", &path, "bench-1").open()?;
    let t_open = start.elapsed();
    let mut s = app();
    let rows = client.conversations()?;
    let t_list = start.elapsed();
    let n_rows = rows.len();
    update(&mut s, Action::Conversations(rows));
    let big = ConvId::from("c1");
    let fx = update(&mut s, Action::Opened(big.clone()));
    for f in fx {
        if let Effect::LoadTimeline { conv, query } = f {
            let items = client.timeline(&conv, query)?;
            let total = client.timeline_len(&conv)?;
            update(
                &mut s,
                Action::Timeline {
                    conv,
                    query,
                    items,
                    total,
                },
            );
        }
    }
    let t_window = start.elapsed();
    let mut term = Terminal::new(TestBackend::new(120, 40))?;
    draw(&mut term, &s)?;
    let first_frame = start.elapsed();
    let rss_after = rss_kb();
    println!("1. time to first frame, cache of {n_rows} conversations / {total} messages:");
    println!(
        "   first frame          {:>9.1} ms   (store open {:.1}, list {:.1}, window {:.1}, draw {:.1})",
        first_frame.as_secs_f64() * 1e3,
        t_open.as_secs_f64() * 1e3,
        (t_list - t_open).as_secs_f64() * 1e3,
        (t_window - t_list).as_secs_f64() * 1e3,
        (first_frame - t_window).as_secs_f64() * 1e3
    );
    match convo_floor() {
        Some(f) => println!(
            "   convo --version      {:>9.1} ms   (start-up floor)",
            f.as_secs_f64() * 1e3
        ),
        None => println!(
            "   convo --version           n/a   (build it: cargo build --release -p client --bin convo)"
        ),
    }
    // Re-query a window deep in the 100,000-message conversation.
    let t = Instant::now();
    let w = client.timeline(
        &big,
        TimelineQuery::Around {
            seq: big_conv(total) / 2,
            before: 200,
            after: 200,
        },
    )?;
    println!(
        "   window of {} around seq {} in the biggest conv: {:.1} ms",
        w.len(),
        big_conv(total) / 2,
        t.elapsed().as_secs_f64() * 1e3
    );
    match (rss_before, rss_after) {
        (Some(b), Some(a)) => println!(
            "3. RSS after opening the cache: {:.1} MB (bench process before opening: {:.1} MB; goal < 100 MB)",
            a as f64 / 1024.0,
            b as f64 / 1024.0
        ),
        _ => println!("3. RSS: /proc/self/status not readable"),
    }
    Ok(())
}
