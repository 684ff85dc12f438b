//! Replies, threads and reactions in the TUI (§9.1, §9.2) through the real
//! `update`: reply quotes and the reply key, the thread panel (opening,
//! sending into it, its own selection, paging) and the reaction picker.

mod ui_support;

use client::ui::engine::{EngineCommand, EngineRequest};
use client::ui::model::{ThreadWindow, TimelineItem};
use client::ui::state::{Action, Effect, Overlay};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::style::Modifier;
use ui_support::p11::*;
use ui_support::*;

const NONE: KeyModifiers = KeyModifiers::NONE;
const ALT: KeyModifiers = KeyModifiers::ALT;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;

#[test]
fn thread_panel_shows_root_and_replies_and_sends_into_the_thread() {
    let mut s = p11_state(80, 24);
    open_p11(&mut s);
    typ(&mut s, "draft kept");
    select_root(&mut s);
    let fx = key(&mut s, KeyCode::Char('t'), ALT);
    assert_eq!(
        fx,
        vec![Effect::LoadThread {
            conv: team(),
            root: 400
        }]
    );
    let items = p11_timeline();
    let window = ThreadWindow {
        root: match &items[2] {
            TimelineItem::Message(m) => Some(m.clone()),
            _ => None,
        },
        items: vec![items[3].clone()],
        complete: false,
    };
    // Not complete: the first read asks the server for the thread.
    let fx = update(
        &mut s,
        Action::Thread {
            conv: team(),
            root: 400,
            window: window.clone(),
        },
    );
    assert_eq!(
        fx,
        vec![Effect::Request(EngineRequest::LoadThread {
            conv: team(),
            root: 400
        })]
    );
    let text = screen(&s);
    assert_snapshot("p11_thread_80x24", &text);
    assert!(text.contains("Thread — Esc closes"), "{text}");
    assert!(text.contains("loading replies…"), "{text}");
    // The compose box names what the next reply answers: the newest reply.
    assert!(
        text.contains("┌ replying to carol: yes @ali… (Esc closes the thread) ┐"),
        "{text}"
    );
    // Sends go to the thread, after its newest held reply.
    typ(&mut s, "count me in");
    let fx = key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(
        fx,
        vec![Effect::Command(EngineCommand::Reply {
            conv: team(),
            reply_to: 401,
            body: "count me in".into()
        })]
    );
    key(&mut s, KeyCode::Esc, NONE);
    assert!(s.thread.is_none());
    assert_eq!(s.compose.text, "draft kept");
}

/// With the thread panel open, a reaction goes to the thread's newest
/// reply (the root while it has none), not to the timeline's selection,
/// and a reply whose reaction is mine toggles off.
#[test]
fn reacting_with_the_thread_panel_open_reacts_to_its_newest_reply() {
    let mut s = p11_state(80, 24);
    open_p11(&mut s);
    select_root(&mut s);
    key(&mut s, KeyCode::Char('t'), ALT);
    let items = p11_timeline();
    let root = match &items[2] {
        TimelineItem::Message(m) => m.clone(),
        _ => unreachable!(),
    };
    let mut reply = match &items[3] {
        TimelineItem::Message(m) => m.clone(),
        _ => unreachable!(),
    };
    reply.reactions = vec![react("👍", 1, true)];
    show_thread(&mut s, &root, vec![]);
    key(&mut s, KeyCode::Char('g'), ALT);
    assert!(matches!(s.overlay, Overlay::React { target: 400, .. }));
    key(&mut s, KeyCode::Esc, NONE);
    show_thread(&mut s, &root, vec![TimelineItem::Message(reply)]);
    // The timeline's selection is still 400; the panel's newest reply wins.
    key(&mut s, KeyCode::Char('g'), ALT);
    assert!(matches!(s.overlay, Overlay::React { target: 401, .. }));
    let text = screen(&s);
    assert!(text.contains("to carol: yes @alice"), "{text}");
    // 👍 on 401 is mine (known from the thread window): Enter withdraws it.
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::Unreact {
            conv: team(),
            target: 401,
            key: "👍".into()
        })]
    );
}

/// The thread panel has its own selection (Ctrl+Up / Ctrl+Down while it is
/// open): the selected reply is highlighted there, scrolled into view,
/// reacted to, and quoted by the next reply, which clears it.
#[test]
fn the_thread_panel_selects_a_reply_to_react_and_reply_to() {
    let mut s = p11_state(80, 12);
    open_p11(&mut s);
    select_root(&mut s);
    key(&mut s, KeyCode::Char('t'), ALT);
    let items = p11_timeline();
    let (TimelineItem::Message(root), TimelineItem::Message(first)) = (&items[2], &items[3]) else {
        unreachable!()
    };
    let mut replies = vec![TimelineItem::Message(first.clone())];
    for (i, body) in ["one", "two", "three", "four", "five", "six"]
        .iter()
        .enumerate()
    {
        let mut m = local(410 + i as u64, "bob", DAY2 + 5 * MIN, body);
        (m.reply_to, m.thread) = (Some(400), Some(400));
        replies.push(TimelineItem::Message(m));
    }
    show_thread(&mut s, root, replies);
    let text = screen(&s);
    assert!(text.contains("six"), "{text}");
    assert!(
        !text.contains("yes @alice"),
        "401 is above the panel's view:\n{text}"
    );
    // Up from none: the newest reply, then older ones; 401 scrolls into view.
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(s.thread.as_ref().unwrap().selected, Some(415));
    for _ in 0..6 {
        key(&mut s, KeyCode::Up, CTRL);
    }
    assert_eq!(s.thread.as_ref().unwrap().selected, Some(401));
    let text = screen(&s);
    let buf = buffer(&s);
    assert!(
        style_at(&buf, &text, "yes @alice", "yes").contains(Modifier::REVERSED),
        "the selected reply is highlighted:\n{text}"
    );
    // The timeline's selection (400) is not the panel's.
    assert_eq!(
        s.open.as_ref().unwrap().selected,
        Some(client::ui::state::ItemKey::Seq(400))
    );
    key(&mut s, KeyCode::Char('g'), ALT);
    assert!(matches!(s.overlay, Overlay::React { target: 401, .. }));
    key(&mut s, KeyCode::Esc, NONE);
    send_expecting_reply(&mut s, "to carol", 401);
    // Sent: back to the newest reply.
    assert_eq!(s.thread.as_ref().unwrap().selected, None);
    typ(&mut s, "next");
    assert!(matches!(
        key(&mut s, KeyCode::Enter, NONE).as_slice(),
        [Effect::Command(EngineCommand::Reply { reply_to: 415, .. })]
    ));
    // Down past the newest clears the selection.
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Down, CTRL);
    assert_eq!(s.thread.as_ref().unwrap().selected, None);
}

#[test]
fn reply_key_sends_a_reply_and_esc_cancels_it() {
    let mut s = p11_state(80, 24);
    open_p11(&mut s);
    key(&mut s, KeyCode::Up, CTRL); // 403
    key(&mut s, KeyCode::Up, CTRL); // 402
    key(&mut s, KeyCode::Char('r'), ALT);
    let text = screen(&s);
    assert!(
        text.contains("replying to bob: agreed (Esc cancels)"),
        "{text}"
    );
    send_expecting_reply(&mut s, "same", 402);
    assert_eq!(s.compose.reply_to, None);
    // Esc cancels: the next Enter is a plain send.
    key(&mut s, KeyCode::Char('r'), ALT);
    assert!(s.compose.reply_to.is_some());
    key(&mut s, KeyCode::Esc, NONE);
    assert_eq!(s.compose.reply_to, None);
    typ(&mut s, "plain");
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::Send {
            conv: team(),
            body: "plain".into()
        })]
    );
}

#[test]
fn picker_reacts_and_toggles_my_reaction_off() {
    let mut s = p11_state(80, 24);
    open_p11(&mut s);
    select_root(&mut s); // my 👍 stands on 400
    key(&mut s, KeyCode::Char('g'), ALT);
    assert!(matches!(s.overlay, Overlay::React { target: 400, .. }));
    assert_snapshot("p11_picker_80x24", &screen(&s));
    // 👍 is first and mine: Enter withdraws it.
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::Unreact {
            conv: team(),
            target: 400,
            key: "👍".into()
        })]
    );
    assert_eq!(s.overlay, Overlay::None);
    // 🎉 is not mine: react. Chosen with Right x3.
    key(&mut s, KeyCode::Char('g'), ALT);
    for _ in 0..3 {
        key(&mut s, KeyCode::Right, NONE);
    }
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::React {
            conv: team(),
            target: 400,
            key: "🎉".into()
        })]
    );
    // A typed shortcode.
    key(&mut s, KeyCode::Char('g'), ALT);
    typ(&mut s, ":fire:");
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::React {
            conv: team(),
            target: 400,
            key: "🔥".into()
        })]
    );
    // An unknown one is refused, the picker stays.
    key(&mut s, KeyCode::Char('g'), ALT);
    typ(&mut s, ":nope:");
    assert_eq!(key(&mut s, KeyCode::Enter, NONE), vec![]);
    assert!(matches!(s.overlay, Overlay::React { .. }));
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("unknown shortcode :nope:")
    );
}

#[test]
fn a_parent_outside_the_window_is_quoted_once_read_from_the_store() {
    let mut s = p11_state(80, 24);
    open_p11(&mut s);
    assert!(screen(&s).contains("↳ message not loaded"));
    update(
        &mut s,
        Action::Parents {
            conv: team(),
            found: vec![local(12, "erin", DAY1, "old plan\nsecond line")],
        },
    );
    let text = screen(&s);
    assert!(text.contains("↳ erin: old plan"), "{text}");
    assert!(!text.contains("message not loaded"), "{text}");
    assert!(!text.contains("second line"), "{text}");
}

#[test]
fn a_long_thread_scrolls_with_page_keys() {
    let mut s = p11_state(80, 24);
    open_p11(&mut s);
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL); // 400
    key(&mut s, KeyCode::Char('t'), ALT);
    let root = match &p11_timeline()[2] {
        TimelineItem::Message(m) => m.clone(),
        _ => unreachable!(),
    };
    let replies = (0..30)
        .map(|i| {
            let mut r = local(
                500 + i,
                if i % 2 == 0 { "bob" } else { "carol" },
                DAY2 + (10 + i as i64) * MIN,
                &format!("reply number {i}"),
            );
            r.reply_to = Some(400);
            r.thread = Some(400);
            TimelineItem::Message(r)
        })
        .collect();
    show_thread(&mut s, &root, replies);
    let text = screen(&s);
    assert!(text.contains("reply number 29"), "{text}");
    assert!(!text.contains("09:00 release at 10?"), "{text}");
    // Replies to the root do not quote it inside the panel.
    assert!(!text.contains("↳ bob: release at 10?"), "{text}");
    // PgUp until the root shows; PgDn back to the newest.
    for _ in 0..6 {
        key(&mut s, KeyCode::PageUp, NONE);
    }
    let text = screen(&s);
    assert!(text.contains("09:00 release at 10?"), "{text}");
    assert!(!text.contains("reply number 29"), "{text}");
    for _ in 0..6 {
        key(&mut s, KeyCode::PageDown, NONE);
    }
    assert!(screen(&s).contains("reply number 29"));
}
