//! ui_bench rows for code blocks: a frame of a 100,000-message timeline in
//! which every third message holds a 30-line Rust block (cached after its
//! first frame; goal ≤ 1.5× the plain-text frame), the same while paging up
//! (each frame shows blocks never highlighted before), and the first
//! highlight of one 500-line Rust block.

use std::time::{Duration, Instant};

use client::ui::markdown;
use client::ui::model::{TimelineItem, text_message};
use client::ui::state::{Action, AppState};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A Rust block of `lines` lines; `seed` makes each message's text unique
/// (so the cache can't share one parse between messages).
pub fn rust_block(lines: usize, seed: u64) -> String {
    let shapes = [
        "fn handle_{n}(req: &Request) -> Result<Response, Error> {",
        "    let body = req.body().map(|b| b.trim()).unwrap_or(\"\"); // {n}",
        "    if body.len() > MAX_BODY_{n} { return Err(Error::TooLarge); }",
        "    let parsed: Vec<u64> = body.split(',').filter_map(|s| s.parse().ok()).collect();",
        "    #[cfg(test)] println!(\"parsed {} items\", parsed.len());",
        "    Ok(Response::new(parsed.iter().sum::<u64>() + {n}))",
        "}",
        "",
    ];
    let mut out = String::from("```rust\n");
    for i in 0..lines {
        let line = shapes[i % shapes.len()].replace("{n}", &format!("{}", seed * 1000 + i as u64));
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("```");
    out
}

/// 100,000 items where every third body is a 30-line code block.
pub fn code_items(
    n: u64,
    plain: impl Fn(u64) -> String,
    sender: impl Fn(u64) -> &'static str,
    t0: i64,
) -> Vec<TimelineItem> {
    (1..=n)
        .map(|s| {
            let body = if s % 3 == 0 {
                rust_block(30, s)
            } else {
                plain(s)
            };
            TimelineItem::Message(text_message(
                s,
                sender(s / 3),
                t0 + s as i64 * 20_000,
                &body,
            ))
        })
        .collect()
}

/// Prints the code rows next to `plain` (the plain 100,000-message frame).
pub fn bench(
    frames: u32,
    plain: Duration,
    mut big: AppState,
    time_frames: impl Fn(&mut AppState, u32, &mut dyn FnMut(&mut AppState)) -> anyhow::Result<Duration>,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    markdown::doc(&rust_block(2, 0)).code_blocks[0].runs(1);
    let load = t0.elapsed();
    markdown::clear_cache();
    let block = rust_block(500, 7);
    // Parse, then highlight every row (as when the block's last row is drawn).
    let t0 = Instant::now();
    let d = markdown::doc(&block);
    d.code_blocks[0].runs(499);
    let first = t0.elapsed();
    assert_eq!(d.code_blocks[0].highlighted(), 500);
    let t0 = Instant::now();
    markdown::doc(&block).code_blocks[0].runs(499);
    let again = t0.elapsed();

    let mut tick = |s: &mut AppState| {
        update(s, Action::Tick { now_ms: 0 });
    };
    let t_code = time_frames(&mut big, frames, &mut tick)?;
    let mut pgup = |s: &mut AppState| {
        update(
            s,
            Action::Key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE)),
        );
    };
    let t_scroll = time_frames(&mut big, frames, &mut pgup)?;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let ratio = |a: Duration| a.as_secs_f64() / plain.as_secs_f64().max(1e-9);
    println!(
        "   100,000, 1/3 code    {:>9.1} µs   ratio {:.2} to plain (goal ≤ 1.5, highlighting cached)",
        us(t_code),
        ratio(t_code)
    );
    println!(
        "   … + PgUp/frame       {:>9.1} µs   ratio {:.2} (new blocks highlighted as they appear)",
        us(t_scroll),
        ratio(t_scroll)
    );
    println!(
        "   syntax set load      {:>9.1} µs   (once per process, on the first code block)",
        us(load)
    );
    println!(
        "   500-line Rust block  {:>9.1} µs   first parse + highlight; {:.1} µs from the cache",
        us(first),
        us(again)
    );
    Ok(())
}
