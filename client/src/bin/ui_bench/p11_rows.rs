//! ui_bench rows for protocol 1.1 (§9): a frame of a 100,000-message
//! timeline where every message has reactions (one of them mine) and a
//! reply quote of the message before it, and every fifth mentions the user,
//! next to the plain frame measured in the same run (goal ≤ 1.2×).

use std::time::Duration;

use client::ui::model::{ReactionCount, TimelineItem};
use client::ui::state::AppState;

/// `items` with reactions, a reply quote (parent: the previous message,
/// held in the window) and, every fifth, a mention of alice.
pub fn decorate(items: Vec<TimelineItem>) -> Vec<TimelineItem> {
    let r = |key: &str, count: u64, mine: bool| ReactionCount {
        key: key.to_owned(),
        count,
        mine,
    };
    items
        .into_iter()
        .map(|item| match item {
            TimelineItem::Message(mut m) => {
                m.reactions = vec![r("👍", 3, true), r("🎉", 1, false), r("👀", 2, false)];
                if m.seq > 1 {
                    m.reply_to = Some(m.seq - 1);
                    m.thread = Some(m.seq - 1);
                }
                if m.seq % 5 == 0 {
                    if let Some(b) = m.body.as_mut() {
                        b.push_str(" @alice");
                    }
                    m.mentions = vec!["alice".into()];
                    m.mentions_me = true;
                }
                TimelineItem::Message(m)
            }
            other => other,
        })
        .collect()
}

/// Prints the rows next to `plain` and `plain_scroll` (the plain frames).
pub fn bench(
    frames: u32,
    plain: Duration,
    plain_scroll: Duration,
    mut decorated: AppState,
    time_frames: impl Fn(&mut AppState, u32, &mut dyn FnMut(&mut AppState)) -> anyhow::Result<Duration>,
    tick: &mut dyn FnMut(&mut AppState),
    pgup: &mut dyn FnMut(&mut AppState),
) -> anyhow::Result<()> {
    let t = time_frames(&mut decorated, frames, tick)?;
    let t_scroll = time_frames(&mut decorated, frames, pgup)?;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    println!("5. protocol 1.1: every message with reactions and a reply quote, mean of {frames}:");
    println!(
        "   100,000 plain            {:>9.1} µs   (baseline)",
        us(plain)
    );
    println!(
        "   100,000 reactions+quote  {:>9.1} µs   ratio {:.2} (goal ≤ 1.2)",
        us(t),
        ratio(t, plain)
    );
    println!(
        "   same + PgUp/frame        {:>9.1} µs   ratio {:.2} vs plain + PgUp ({:.1} µs)",
        us(t_scroll),
        ratio(t_scroll, plain_scroll),
        us(plain_scroll)
    );
    Ok(())
}
