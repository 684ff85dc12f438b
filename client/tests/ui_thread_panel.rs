//! The thread panel's surroundings, through the real `update` and render:
//! the line under it speaks of the panel, not of the timeline hidden
//! behind it.

mod ui_support;

use client::ui::model::TimelineItem;
use crossterm::event::{KeyCode, KeyModifiers};
use ui_support::p11::p11_state;
use ui_support::*;

/// Scrolled back in the timeline, then Alt+T: the line under the panel
/// said "N newer messages ↓ (End or Esc: newest)", about the timeline
/// hidden behind the panel, where Esc closes the panel instead.
#[test]
fn the_timelines_newer_messages_hint_is_not_shown_under_the_panel() {
    let mut s = p11_state(90, 20);
    key(&mut s, KeyCode::Down, KeyModifiers::ALT);
    let items: Vec<TimelineItem> = (0..40u64)
        .map(|i| {
            TimelineItem::Message(local(
                100 + i,
                "bob",
                DAY2 + i as i64 * MIN,
                &format!("message number {i}"),
            ))
        })
        .collect();
    show_items(&mut s, items);
    for _ in 0..3 {
        key(&mut s, KeyCode::PageUp, KeyModifiers::NONE);
    }
    key(&mut s, KeyCode::Up, KeyModifiers::CONTROL);
    assert!(screen(&s).contains("newer messages ↓"), "{}", screen(&s));
    key(&mut s, KeyCode::Char('t'), KeyModifiers::ALT);
    assert!(s.thread.is_some());
    let text = screen(&s);
    assert!(text.contains("Thread — Esc closes"), "{text}");
    assert!(!text.contains("newer messages"), "{text}");
}
