//! The thread panel and what goes with it, through the real `update` and
//! render: the line under it speaks of the panel, not of the timeline hidden
//! behind it; Alt+T on a reply selects that reply; the reaction picker's
//! hint fits a narrow terminal.
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

/// Alt+T on a reply (not the root) opens its thread with that reply
/// selected and in view: the next message answers what the user chose,
/// and the compose box says so.
#[test]
fn alt_t_on_a_reply_opens_its_thread_with_that_reply_selected() {
    use ui_support::p11::*;
    let mut s = p11_state(80, 12);
    open_p11(&mut s);
    // 403, 402, 401: carol's reply in 400's thread.
    for _ in 0..3 {
        key(&mut s, KeyCode::Up, KeyModifiers::CONTROL);
    }
    assert_eq!(
        key(&mut s, KeyCode::Char('t'), KeyModifiers::ALT),
        vec![client::ui::state::Effect::LoadThread {
            conv: team(),
            root: 400
        }]
    );
    let items = p11_timeline();
    let (TimelineItem::Message(root), TimelineItem::Message(first)) = (&items[2], &items[3]) else {
        unreachable!()
    };
    let mut replies = vec![TimelineItem::Message(first.clone())];
    for i in 0..8u64 {
        let mut m = local(410 + i, "bob", DAY2 + 5 * MIN, &format!("later reply {i}"));
        (m.reply_to, m.thread) = (Some(400), Some(400));
        replies.push(TimelineItem::Message(m));
    }
    show_thread(&mut s, root, replies);
    assert_eq!(s.thread.as_ref().unwrap().selected, Some(401));
    let text = screen(&s);
    assert!(
        text.contains("yes @alice"),
        "401 scrolled into view:\n{text}"
    );
    assert!(
        text.contains("┌ replying to carol: yes @ali… (Esc closes the thread) ┐"),
        "{text}"
    );
    send_expecting_reply(&mut s, "sure", 401);
}

/// The reaction picker's key hint in a 40-column terminal was cut
/// ("(again: remov"): it shortens to what fits.
#[test]
fn the_reaction_pickers_hint_fits_a_narrow_terminal() {
    use ui_support::p11::*;
    let mut s = p11_state(40, 20);
    open_p11(&mut s);
    key(&mut s, KeyCode::Char('g'), KeyModifiers::ALT);
    let text = screen(&s);
    assert!(text.contains("│←/→ choose · Enter react · Esc"), "{text}");
    let s = {
        let mut s = p11_state(80, 24);
        open_p11(&mut s);
        key(&mut s, KeyCode::Char('g'), KeyModifiers::ALT);
        s
    };
    let text = screen(&s);
    assert!(
        text.contains("│←/→ choose · Enter react (again: remove) · Esc"),
        "{text}"
    );
}
