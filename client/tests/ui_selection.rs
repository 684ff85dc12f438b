//! The message selection (Ctrl+Up / Ctrl+Down) through the real `update`,
//! as a new user in tmux met it: it steps over event lines (create, join,
//! leave, title, deleted texts) to the messages one can act on, in the
//! timeline and in the thread panel; what Alt+R, Alt+T, Alt+G, /edit and
//! /delete do with it; and the compose box naming what the next reply in a
//! thread answers.

mod ui_support;

use client::ui::engine::EngineCommand;
use client::ui::model::{EntryKind, LocalMessage, OutboxState, TimelineItem};
use client::ui::state::{AppState, Effect, ItemKey, Overlay};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers};
use ui_support::p11::*;
use ui_support::*;

const NONE: KeyModifiers = KeyModifiers::NONE;
const ALT: KeyModifiers = KeyModifiers::ALT;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;

fn event(
    seq: u64,
    sender: &str,
    kind: EntryKind,
    user: Option<&str>,
    body: Option<&str>,
) -> TimelineItem {
    let mut m = local(seq, sender, DAY2 + seq as i64 * MIN, "");
    m.kind = kind;
    m.body = body.map(str::to_owned);
    m.user = user.map(str::to_owned);
    if kind == EntryKind::Create {
        m.title = Some("Team chat".into());
    }
    TimelineItem::Message(m)
}

fn text(seq: u64, sender: &str, body: &str) -> TimelineItem {
    TimelineItem::Message(local(seq, sender, DAY2 + seq as i64 * MIN, body))
}

fn deleted(seq: u64, sender: &str) -> TimelineItem {
    let mut m = local(seq, sender, DAY2 + seq as i64 * MIN, "");
    m.redacted = true;
    m.body = None;
    TimelineItem::Message(m)
}

/// 1 create, 2 bob's text, 3 carol joined, 4 renamed, 5 alice's text,
/// 6 bob's deleted text, 7 dave left: two messages one can act on.
fn with_events() -> Vec<TimelineItem> {
    vec![
        event(1, "alice", EntryKind::Create, None, None),
        text(2, "bob", "first line of bob\nsecond"),
        event(3, "alice", EntryKind::Join, Some("carol"), None),
        event(4, "alice", EntryKind::Title, None, Some("Team")),
        text(5, "alice", "hello from alice"),
        deleted(6, "bob"),
        event(7, "dave", EntryKind::Leave, Some("dave"), None),
    ]
}

fn open_with(s: &mut AppState, items: Vec<TimelineItem>) {
    key(s, KeyCode::Down, ALT);
    show_items(s, items);
}

fn selected(s: &AppState) -> Option<ItemKey> {
    s.open.as_ref().and_then(|o| o.selected.clone())
}

#[test]
fn ctrl_up_and_down_step_over_event_lines_to_messages() {
    let mut s = p11_state(90, 20);
    open_with(&mut s, with_events());
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(selected(&s), Some(ItemKey::Seq(5)), "not dave's leave line");
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(
        selected(&s),
        Some(ItemKey::Seq(2)),
        "not the title or join line"
    );
    // The oldest message: Ctrl+Up stays (the create line is no message).
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(selected(&s), Some(ItemKey::Seq(2)));
    key(&mut s, KeyCode::Down, CTRL);
    assert_eq!(selected(&s), Some(ItemKey::Seq(5)));
    // Down past the newest message (the deleted one and the leave line
    // are below it): no selection, as from the newest.
    key(&mut s, KeyCode::Down, CTRL);
    assert_eq!(selected(&s), None);
    // The screen highlights the message, and Alt+T / Alt+G act on it.
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL);
    let screen_text = screen(&s);
    let buf = buffer(&s);
    assert!(
        style_at(&buf, &screen_text, "first line of bob", "first")
            .contains(ratatui::style::Modifier::REVERSED),
        "{screen_text}"
    );
    key(&mut s, KeyCode::Char('g'), ALT);
    assert!(
        matches!(s.overlay, Overlay::React { target: 2, .. }),
        "{:?}",
        s.overlay
    );
    key(&mut s, KeyCode::Esc, NONE);
    // Esc closed the picker only; the selection stands.
    assert_eq!(selected(&s), Some(ItemKey::Seq(2)));
    assert_eq!(
        key(&mut s, KeyCode::Char('t'), ALT),
        vec![Effect::LoadThread {
            conv: team(),
            root: 2
        }]
    );
    assert!(s.notice.is_none(), "{:?}", s.notice);
}

#[test]
fn a_selection_left_on_a_message_deleted_since_moves_on_from_where_it_was() {
    let mut s = p11_state(90, 20);
    open_with(&mut s, with_events());
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(selected(&s), Some(ItemKey::Seq(5)));
    // Someone deletes 5 while it is selected: Ctrl+Up goes on to 2, not
    // back to the newest.
    let mut items = with_events();
    items[4] = deleted(5, "alice");
    show_items(&mut s, items);
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(selected(&s), Some(ItemKey::Seq(2)));
}

#[test]
fn the_selection_reaches_failed_echoes_to_retry_them_but_reply_refuses_them() {
    let mut s = p11_state(90, 20);
    let mut items = with_events();
    items.push(pending(
        "p1",
        "not sent",
        OutboxState::Failed {
            code: sync_core::FailCode::Server(sync_core::protocol::ErrorCode::TooLarge),
            message: "body too large".into(),
        },
        DAY2 + 9 * MIN,
    ));
    open_with(&mut s, items);
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(selected(&s), Some(ItemKey::Pending("p1".into())));
    // Alt+R must not quietly answer another message instead.
    key(&mut s, KeyCode::Char('r'), ALT);
    assert_eq!(s.compose.reply_to, None);
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("this message is not sent yet: it cannot be replied to")
    );
    assert_eq!(key(&mut s, KeyCode::Char('t'), ALT), vec![]);
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("this message is not sent yet: it has no thread")
    );
    key(&mut s, KeyCode::Char('g'), ALT);
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("this message is not sent yet: it cannot be reacted to")
    );
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(selected(&s), Some(ItemKey::Seq(5)));
}

/// Types `cmd` and Enter: the engine is asked for `expected` alone.
fn sends(s: &mut AppState, cmd: &str, expected: EngineCommand) {
    typ(s, cmd);
    assert_eq!(
        key(s, KeyCode::Enter, NONE),
        vec![Effect::Command(expected)]
    );
}

/// Types `cmd` and Enter: nothing is asked of the engine, the notice says
/// `says`, and the typed command is kept (then cleared for the next one).
fn refused(s: &mut AppState, cmd: &str, says: &str) {
    typ(s, cmd);
    assert_eq!(key(s, KeyCode::Enter, NONE), vec![]);
    assert_eq!(s.notice.as_ref().map(|n| n.text.as_str()), Some(says));
    assert_eq!(s.compose.text, cmd);
    key(s, KeyCode::Char('u'), CTRL);
}

#[test]
fn edit_and_delete_refuse_someone_elses_selected_message() {
    let mut s = p11_state(90, 20);
    open_with(&mut s, with_events());
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(selected(&s), Some(ItemKey::Seq(2)));
    // Before: /delete deleted alice's own newest message (5) instead.
    refused(&mut s, "/delete", "only bob can delete this message");
    refused(&mut s, "/edit fixed", "only bob can edit this message");
    refused(&mut s, "/edit", "only bob can edit this message");
    assert_eq!(s.compose.editing, None);
    // Alice's own message selected: both act on it.
    key(&mut s, KeyCode::Down, CTRL);
    sends(
        &mut s,
        "/edit fixed",
        EngineCommand::Edit {
            conv: team(),
            seq: 5,
            body: "fixed".into(),
        },
    );
    // The edit cleared the selection: Ctrl+Up takes 5 again.
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(selected(&s), Some(ItemKey::Seq(5)));
    sends(
        &mut s,
        "/delete",
        EngineCommand::Redact {
            conv: team(),
            seq: 5,
        },
    );
}

/// Root 400 by bob, replies 401 (carol), 402 deleted (dave), 403 (bob).
fn thread_replies() -> (LocalMessage, Vec<TimelineItem>) {
    let items = p11_timeline();
    let TimelineItem::Message(root) = &items[2] else {
        unreachable!()
    };
    let TimelineItem::Message(first) = &items[3] else {
        unreachable!()
    };
    let mut gone = local(402, "dave", DAY2 + 2 * MIN, "");
    (gone.redacted, gone.body) = (true, None);
    let mut last = local(403, "bob", DAY2 + 3 * MIN, "ship it\nnow");
    for m in [&mut gone, &mut last] {
        (m.reply_to, m.thread) = (Some(400), Some(400));
    }
    (
        root.clone(),
        vec![
            TimelineItem::Message(first.clone()),
            TimelineItem::Message(gone),
            TimelineItem::Message(last),
        ],
    )
}

/// Team chat open at 90x20, the thread panel of root 400 open with
/// [`thread_replies`].
fn in_thread() -> AppState {
    let mut s = p11_state(90, 20);
    open_p11(&mut s);
    select_root(&mut s);
    key(&mut s, KeyCode::Char('t'), ALT);
    let (root, replies) = thread_replies();
    show_thread(&mut s, &root, replies);
    s
}

/// [`in_thread`], carol's reply 401 selected in the panel (Ctrl+Up twice).
fn in_thread_with_401_selected() -> AppState {
    let mut s = in_thread();
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(s.thread.as_ref().unwrap().selected, Some(401));
    s
}

fn compose_title(s: &AppState) -> String {
    let text = screen(s);
    let line = text
        .lines()
        .find(|l| l.contains('┌') && l.rfind('┌') > l.find('│'))
        .unwrap_or_else(|| panic!("no compose box:\n{text}"));
    line[line.rfind('┌').unwrap()..].to_owned()
}

#[test]
fn the_thread_panel_selection_skips_deleted_replies() {
    let mut s = in_thread();
    let sel = |s: &AppState| s.thread.as_ref().unwrap().selected;
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(sel(&s), Some(403));
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(sel(&s), Some(401), "not dave's deleted reply");
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(sel(&s), Some(400));
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(sel(&s), Some(400));
    key(&mut s, KeyCode::Down, CTRL);
    key(&mut s, KeyCode::Down, CTRL);
    assert_eq!(sel(&s), Some(403));
    key(&mut s, KeyCode::Down, CTRL);
    assert_eq!(sel(&s), None);
}

#[test]
fn the_thread_compose_box_names_what_the_next_reply_answers() {
    let mut s = p11_state(90, 20);
    open_p11(&mut s);
    select_root(&mut s);
    key(&mut s, KeyCode::Char('t'), ALT);
    let (root, replies) = thread_replies();
    show_thread(&mut s, &root, vec![]);
    // No replies yet: the next one answers the root.
    assert!(
        compose_title(&s)
            .starts_with("┌ replying to bob: release at 10? (Esc closes the thread) ─"),
        "{}",
        compose_title(&s)
    );
    show_thread(&mut s, &root, replies);
    // Nothing selected: after the newest reply (403), its first line.
    assert!(
        compose_title(&s).starts_with("┌ replying to bob: ship it (Esc closes the thread) ─"),
        "{}",
        compose_title(&s)
    );
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(s.thread.as_ref().unwrap().selected, Some(401));
    // 90 columns: the list takes 24, the box 66; the first line is cut to
    // fit, the sender and the way out stay.
    assert_eq!(
        compose_title(&s),
        "┌ replying to carol: yes @alice, and @a… (Esc closes the thread) ┐"
    );
    send_expecting_reply(&mut s, "ok", 401);
    assert!(
        compose_title(&s).starts_with("┌ replying to bob: ship it (Esc closes the thread) ─"),
        "{}",
        compose_title(&s)
    );
}

#[test]
fn the_reply_banner_cuts_the_first_line_to_fit_the_box() {
    let mut s = p11_state(90, 20);
    open_p11(&mut s);
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Char('r'), ALT);
    assert_eq!(s.compose.reply_to.as_ref().map(|r| r.seq), Some(401));
    assert_eq!(
        compose_title(&s),
        "┌ replying to carol: yes @alice, and @alicex is n… (Esc cancels) ┐"
    );
    // 60 columns: the list takes 18, the title 38: too few for both a
    // readable first line and the way out, which goes.
    let mut s = p11_state(60, 15);
    open_p11(&mut s);
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Char('r'), ALT);
    assert_eq!(
        compose_title(&s),
        "┌ replying to carol: yes @alice, and @a… ┐"
    );
}

/// `/react` in the thread panel goes where Alt+G goes: the panel's
/// selection, not the timeline's (the root 400 here).
#[test]
fn slash_react_in_the_thread_panel_reacts_to_the_panels_selection() {
    let mut s = in_thread_with_401_selected();
    sends(
        &mut s,
        "/react :tada:",
        EngineCommand::React {
            conv: team(),
            target: 401,
            key: "🎉".into(),
        },
    );
}

/// The highlight covers the selected message (its sender line and body),
/// not the day and "new messages" separators drawn above it.
#[test]
fn the_selection_highlight_leaves_the_separators_above_it_alone() {
    use ratatui::style::Modifier;
    let mut s = state(80, 24);
    open_team(&mut s);
    // p2, p1, 320, 319, 318: bob's first message of the day, first unread.
    for _ in 0..5 {
        key(&mut s, KeyCode::Up, CTRL);
    }
    assert_eq!(selected(&s), Some(ItemKey::Seq(318)));
    let text = screen(&s);
    let buf = buffer(&s);
    let reversed = |line: &str, needle: &str| {
        p11::style_at(&buf, &text, line, needle).contains(Modifier::REVERSED)
    };
    assert!(reversed("morning! the deploy", "morning"), "{text}");
    assert!(!reversed("new messages", "new"), "{text}");
    assert!(!reversed("Mon 23 Nov 2026", "Mon"), "{text}");
}

/// Scrolled back (PgUp), Ctrl+Up starts from the lowest message on the
/// screen, not from the newest far below (which threw the reader back to
/// the bottom).
#[test]
fn ctrl_up_after_scrolling_back_selects_on_the_screen() {
    let mut s = p11_state(80, 12);
    let items: Vec<TimelineItem> = (0..40u64)
        .map(|i| {
            text(
                100 + i,
                if i % 2 == 0 { "bob" } else { "carol" },
                &format!("message number {i}"),
            )
        })
        .collect();
    open_with(&mut s, items);
    key(&mut s, KeyCode::PageUp, NONE);
    key(&mut s, KeyCode::PageUp, NONE);
    let before = screen(&s);
    let lowest = before
        .lines()
        .filter_map(|l| l.split("message number ").nth(1))
        .next_back()
        .map(|n| 100 + n.trim().parse::<u64>().unwrap())
        .expect("messages on screen");
    assert!(lowest < 139, "scrolled back:\n{before}");
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(selected(&s), Some(ItemKey::Seq(lowest)), "{before}");
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(selected(&s), Some(ItemKey::Seq(lowest - 1)));
}

/// In the thread panel, `/edit` and `/delete` act on the panel's selection
/// (before: on the timeline's, or the newest own text of the timeline),
/// and an edit loads the reply's text even when only the panel holds it.
#[test]
fn edit_and_delete_in_the_thread_panel_act_on_its_selection() {
    let mut s = p11_state(90, 20);
    open_p11(&mut s);
    select_root(&mut s);
    key(&mut s, KeyCode::Char('t'), ALT);
    let (root, mut replies) = thread_replies();
    let mut mine = local(404, "alice", DAY2 + 4 * MIN, "my reply, only in the thread");
    (mine.reply_to, mine.thread) = (Some(400), Some(400));
    replies.push(TimelineItem::Message(mine));
    show_thread(&mut s, &root, replies);
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(s.thread.as_ref().unwrap().selected, Some(404));
    typ(&mut s, "/edit");
    key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(s.compose.editing, Some(404));
    assert_eq!(s.compose.text, "my reply, only in the thread");
    sends(
        &mut s,
        " (fixed)",
        EngineCommand::Edit {
            conv: team(),
            seq: 404,
            body: "my reply, only in the thread (fixed)".into(),
        },
    );
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(s.thread.as_ref().unwrap().selected, Some(404));
    sends(
        &mut s,
        "/delete",
        EngineCommand::Redact {
            conv: team(),
            seq: 404,
        },
    );
    // Someone else's reply selected in the panel: refused.
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(s.thread.as_ref().unwrap().selected, Some(403));
    refused(&mut s, "/delete", "only bob can delete this message");
}

/// Alt+R in the thread panel set the timeline's reply target: the compose
/// box then named that message while Enter answered the panel's. It now
/// says how replies work there and changes nothing.
#[test]
fn alt_r_in_the_thread_panel_does_not_name_another_message() {
    let mut s = in_thread_with_401_selected();
    key(&mut s, KeyCode::Char('r'), ALT);
    assert_eq!(s.compose.reply_to, None);
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some(
            "in a thread, Enter replies to the message the compose box names; Ctrl+Up / Ctrl+Down picks another"
        )
    );
    assert!(
        compose_title(&s).starts_with("┌ replying to carol: "),
        "{}",
        compose_title(&s)
    );
    send_expecting_reply(&mut s, "ok", 401);
}

/// The p11 timeline with alice's own text 410 after it, and the thread
/// panel of 400 opened (its window not read yet).
fn own_timeline_text_then_thread_of_400() -> AppState {
    let mut s = p11_state(90, 20);
    let mut items = p11_timeline();
    items.push(text(410, "alice", "my newest in the timeline"));
    key(&mut s, KeyCode::Down, ALT);
    show_items(&mut s, items);
    for _ in 0..5 {
        key(&mut s, KeyCode::Up, CTRL);
    }
    assert_eq!(selected(&s), Some(ItemKey::Seq(400)));
    key(&mut s, KeyCode::Char('t'), ALT);
    s
}

/// Up in the empty compose box of the thread panel edits your newest reply
/// in that thread (as Slack does), not your newest message of the timeline.
#[test]
fn up_in_the_thread_panel_edits_your_newest_reply_there() {
    let mut s = own_timeline_text_then_thread_of_400();
    let (root, mut replies) = thread_replies();
    let mut mine = local(404, "alice", DAY2 + 4 * MIN, "my reply in the thread");
    (mine.reply_to, mine.thread) = (Some(400), Some(400));
    replies.insert(1, TimelineItem::Message(mine));
    show_thread(&mut s, &root, replies);
    key(&mut s, KeyCode::Up, NONE);
    assert_eq!(s.compose.editing, Some(404));
    assert_eq!(s.compose.text, "my reply in the thread");
}

/// `/delete` in the thread panel with nothing selected there: your newest
/// message of the thread, as Up; none there: it says so.
#[test]
fn slash_delete_in_the_thread_panel_without_a_selection_stays_in_the_thread() {
    let mut s = own_timeline_text_then_thread_of_400();
    let (root, replies) = thread_replies();
    show_thread(&mut s, &root, replies);
    refused(
        &mut s,
        "/delete",
        "no message of yours in this thread to delete",
    );
}

/// Ctrl+Up at the oldest message of the window, with older history not
/// read yet (the gap above it), asks for it, as scrolling up there does;
/// before, it just stopped.
#[test]
fn ctrl_up_at_the_oldest_loaded_message_loads_older_history() {
    let mut s = state(80, 24);
    open_team(&mut s);
    // p2, p1, 320, 319, 318, 317, 315, 313.
    for _ in 0..8 {
        assert_eq!(key(&mut s, KeyCode::Up, CTRL), vec![]);
    }
    assert_eq!(selected(&s), Some(ItemKey::Seq(313)));
    assert_eq!(
        key(&mut s, KeyCode::Up, CTRL),
        vec![Effect::Request(
            client::ui::engine::EngineRequest::LoadOlder { conv: team() }
        )]
    );
    assert_eq!(selected(&s), Some(ItemKey::Seq(313)));
    // Once they are in, Ctrl+Up goes on into them.
    let mut items = team_timeline();
    items[0] = TimelineItem::Gap { from: 1, to: 310 };
    items.insert(1, text(311, "dave", "older, now loaded"));
    items.insert(2, text(312, "dave", "older too"));
    update(
        &mut s,
        client::ui::state::Action::Timeline {
            conv: team(),
            query: client::ui::model::TimelineQuery::Latest { limit: 400 },
            items,
            total: 10,
        },
    );
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(selected(&s), Some(ItemKey::Seq(312)));
}

/// A deleted text whose thread has replies stays selectable, to open the
/// thread (§9.1: a redacted root keeps its replies); replying to it or
/// reacting says it is deleted.
#[test]
fn a_deleted_thread_root_can_be_selected_to_open_its_thread() {
    let mut s = p11_state(90, 20);
    let TimelineItem::Message(mut root) = deleted(3, "bob") else {
        unreachable!()
    };
    (root.replies, root.last_reply_seq) = (1, Some(4));
    let mut reply = local(4, "carol", DAY2 + 4 * MIN, "answer");
    (reply.reply_to, reply.thread) = (Some(3), Some(3));
    open_with(
        &mut s,
        vec![
            text(2, "bob", "before"),
            TimelineItem::Message(root),
            TimelineItem::Message(reply),
            deleted(5, "dave"),
        ],
    );
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(selected(&s), Some(ItemKey::Seq(3)));
    key(&mut s, KeyCode::Char('r'), ALT);
    assert_eq!(s.compose.reply_to, None);
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("this message is deleted: it cannot be replied to")
    );
    key(&mut s, KeyCode::Char('g'), ALT);
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(
        key(&mut s, KeyCode::Char('t'), ALT),
        vec![Effect::LoadThread {
            conv: team(),
            root: 3
        }]
    );
}
