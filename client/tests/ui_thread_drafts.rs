//! What is typed in the thread panel is never thrown away: Esc, switching
//! conversations or quitting keep it as that thread's draft (with the
//! conversation's own draft), and Alt+T on the thread brings it back. A new
//! user in tmux lost a reply by pressing Esc. And what a draft answers
//! stays with its conversation.

mod ui_support;

use client::ui::state::{Action, AppState};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers};
use ui_support::p11::*;
use ui_support::*;

const NONE: KeyModifiers = KeyModifiers::NONE;
const ALT: KeyModifiers = KeyModifiers::ALT;

fn open_thread_of_root(s: &mut AppState) {
    select_root(s);
    key(s, KeyCode::Char('t'), ALT);
    let items = p11_timeline();
    let client::ui::model::TimelineItem::Message(root) = &items[2] else {
        unreachable!()
    };
    show_thread(s, root, vec![items[3].clone()]);
}

#[test]
fn esc_keeps_the_thread_draft_and_alt_t_brings_it_back() {
    let mut s = p11_state(90, 20);
    open_p11(&mut s);
    typ(&mut s, "main draft");
    open_thread_of_root(&mut s);
    assert_eq!(s.compose.text, "");
    typ(&mut s, "a long thoughtful reply");
    key(&mut s, KeyCode::Esc, NONE);
    assert!(s.thread.is_none());
    assert_eq!(s.compose.text, "main draft");
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("your reply in the thread is kept: Alt+T on it brings it back")
    );
    // The timeline's selection is still the root: Alt+T reopens the thread
    // with the reply as it was, the cursor at its end.
    key(&mut s, KeyCode::Char('t'), ALT);
    assert_eq!(s.compose.text, "a long thoughtful reply");
    assert_eq!(s.compose.cursor, "a long thoughtful reply".chars().count());
    // Sent: nothing is kept for the thread any more.
    let items = p11_timeline();
    let client::ui::model::TimelineItem::Message(root) = &items[2] else {
        unreachable!()
    };
    show_thread(&mut s, root, vec![items[3].clone()]);
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![client::ui::state::Effect::Command(
            client::ui::engine::EngineCommand::Reply {
                conv: team(),
                reply_to: 401,
                body: "a long thoughtful reply".into()
            }
        )]
    );
    assert_eq!(s.compose.text, "");
    key(&mut s, KeyCode::Esc, NONE);
    assert_eq!(s.compose.text, "main draft");
    assert!(s.notice.is_none(), "{:?}", s.notice);
    assert!(
        !s.drafts.keys().any(|k| k.contains("thread")),
        "{:?}",
        s.drafts
    );
}

#[test]
fn switching_conversations_keeps_both_drafts() {
    let mut s = p11_state(90, 20);
    open_p11(&mut s);
    typ(&mut s, "main draft");
    open_thread_of_root(&mut s);
    typ(&mut s, "thread reply");
    // Alt+Down: the next conversation.
    key(&mut s, KeyCode::Down, ALT);
    assert_ne!(s.open.as_ref().map(|o| o.conv.clone()), Some(team()));
    assert_eq!(s.drafts.get("c1").map(String::as_str), Some("main draft"));
    assert_eq!(
        s.drafts.get("c1/thread/400").map(String::as_str),
        Some("thread reply")
    );
    key(&mut s, KeyCode::Up, ALT);
    update(
        &mut s,
        Action::Timeline {
            conv: team(),
            query: client::ui::model::TimelineQuery::Latest { limit: 200 },
            items: p11_timeline(),
            total: 5,
        },
    );
    assert_eq!(s.compose.text, "main draft");
    open_thread_of_root(&mut s);
    assert_eq!(s.compose.text, "thread reply");
}

/// Quitting with the panel open keeps both too (what `run` stashes).
#[test]
fn quitting_with_the_panel_open_keeps_both_drafts() {
    let mut s = p11_state(90, 20);
    open_p11(&mut s);
    typ(&mut s, "main draft");
    open_thread_of_root(&mut s);
    typ(&mut s, "thread reply");
    client::ui::drafts::stash_draft(&mut s);
    assert_eq!(s.drafts.get("c1").map(String::as_str), Some("main draft"));
    assert_eq!(
        s.drafts.get("c1/thread/400").map(String::as_str),
        Some("thread reply")
    );
}

/// Alt+R's target belongs to its conversation: opening another one drops
/// it (before, Enter there sent a reply to a seq of the first one).
#[test]
fn a_reply_target_does_not_follow_into_another_conversation() {
    let mut s = p11_state(90, 20);
    open_p11(&mut s);
    key(&mut s, KeyCode::Char('r'), ALT);
    assert_eq!(s.compose.reply_to.as_ref().map(|r| r.seq), Some(403));
    key(&mut s, KeyCode::Down, ALT);
    let bob = s.open.as_ref().map(|o| o.conv.clone()).unwrap();
    assert_ne!(bob, team());
    assert_eq!(s.compose.reply_to, None);
    assert!(!screen(&s).contains("replying to"), "{}", screen(&s));
    typ(&mut s, "hello bob");
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![client::ui::state::Effect::Command(
            client::ui::engine::EngineCommand::Send {
                conv: bob,
                body: "hello bob".into()
            }
        )]
    );
}
