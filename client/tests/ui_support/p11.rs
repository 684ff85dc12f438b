//! Protocol 1.1 fixtures shared by the UI tests: a state with every §9
//! feature, the team timeline of a thread root (400) with replies,
//! reactions and mentions, the thread panel's window, and a style probe.

use client::ui::engine::EngineCommand;
use client::ui::model::{
    LocalMessage, ReactionCount, ThreadWindow, TimelineItem, TimelineQuery, features,
};
use client::ui::state::{Action, AppState, Effect};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::style::Modifier;

use super::*;

pub fn all_features(s: &mut AppState) {
    let list = features::ALL.iter().map(|f| (*f).to_owned()).collect();
    update(s, Action::Features(list));
}

pub fn react(key: &str, count: u64, mine: bool) -> ReactionCount {
    ReactionCount {
        key: key.to_owned(),
        count,
        mine,
    }
}

/// 400: root with 2 replies and reactions; 401: reply to it mentioning
/// alice; 402: reply to a message not held; 403: reply to a deleted one.
pub fn p11_timeline() -> Vec<TimelineItem> {
    let mut root = local(400, "bob", DAY2, "release at 10?");
    root.replies = 2;
    root.last_reply_seq = Some(402);
    root.last_reply_ts = Some(DAY2 + 2 * MIN);
    root.reactions = vec![react("👍", 3, true), react("🎉", 1, false)];
    let mut reply = local(
        401,
        "carol",
        DAY2 + MIN,
        "yes @alice, and @alicex is not you",
    );
    reply.reply_to = Some(400);
    reply.thread = Some(400);
    reply.mentions = vec!["alice".into()];
    reply.mentions_me = true;
    let mut orphan = local(402, "bob", DAY2 + 2 * MIN, "agreed");
    orphan.reply_to = Some(12);
    orphan.thread = Some(12);
    let mut gone = local(399, "dave", DAY2 - MIN, "");
    gone.redacted = true;
    gone.body = None;
    let mut to_gone = local(403, "carol", DAY2 + 3 * MIN, "what did dave say?");
    to_gone.reply_to = Some(399);
    to_gone.thread = Some(399);
    vec![
        TimelineItem::Gap { from: 1, to: 398 },
        TimelineItem::Message(gone),
        TimelineItem::Message(root),
        TimelineItem::Message(reply),
        TimelineItem::Message(orphan),
        TimelineItem::Message(to_gone),
    ]
}

pub fn open_p11(s: &mut AppState) {
    key(s, KeyCode::Down, KeyModifiers::ALT);
    update(
        s,
        Action::Timeline {
            conv: team(),
            query: TimelineQuery::Latest { limit: 200 },
            items: p11_timeline(),
            total: 5,
        },
    );
}

/// Selects the thread root 400 in the timeline (Ctrl+Up from the newest:
/// 403, 402, 401, 400).
pub fn select_root(s: &mut AppState) {
    for _ in 0..4 {
        key(s, KeyCode::Up, KeyModifiers::CONTROL);
    }
}

pub fn p11_state(w: u16, h: u16) -> AppState {
    let mut s = state(w, h);
    all_features(&mut s);
    s
}

/// Types `body` and sends it with Enter: the one effect is a reply to
/// `reply_to` in the team conversation.
pub fn send_expecting_reply(s: &mut AppState, body: &str, reply_to: u64) {
    typ(s, body);
    assert_eq!(
        key(s, KeyCode::Enter, KeyModifiers::NONE),
        vec![Effect::Command(EngineCommand::Reply {
            conv: team(),
            reply_to,
            body: body.into()
        })]
    );
}

/// The store's complete thread window of root 400 reaches the open panel.
pub fn show_thread(s: &mut AppState, root: &LocalMessage, replies: Vec<TimelineItem>) {
    update(
        s,
        Action::Thread {
            conv: team(),
            root: 400,
            window: ThreadWindow {
                root: Some(root.clone()),
                items: replies,
                complete: true,
            },
        },
    );
}

/// The modifiers of the cell where `needle` starts on the line containing it.
pub fn style_at(
    buf: &ratatui::buffer::Buffer,
    text: &str,
    line_has: &str,
    needle: &str,
) -> Modifier {
    let (y, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(line_has))
        .unwrap_or_else(|| panic!("no line with {line_has:?}:\n{text}"));
    let prefix = &line[..line.find(needle).expect("needle on the line")];
    let x = unicode_width::UnicodeWidthStr::width(prefix);
    buf[(x as u16, y as u16)].modifier
}
