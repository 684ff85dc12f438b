//! Key handling through the real `update`, moving around: switching
//! conversations, the mouse, search, loading older history, notifications,
//! and how typing, edits, receipts and failed echoes show.

mod ui_support;

use client::ui::engine::{EngineCommand, EngineRequest};
use client::ui::model::{ConvId, Message, OutboxState, TimelineItem, TimelineQuery};
use client::ui::state::{Action, Effect, Overlay, ScrollPos};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use sync_core::{OutboxItem, OutboxKind};
use ui_support::*;

const NONE: KeyModifiers = KeyModifiers::NONE;

#[test]
fn alt_arrows_move_between_conversations_and_alt_a_finds_unread() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let fx = key(&mut s, KeyCode::Down, KeyModifiers::ALT);
    assert_eq!(
        fx[0],
        Effect::Command(EngineCommand::Open {
            conv: ConvId::from("c2")
        })
    );
    let fx = key(&mut s, KeyCode::Up, KeyModifiers::ALT);
    assert_eq!(fx[0], Effect::Command(EngineCommand::Open { conv: team() }));
    // Team chat was read on open; carol (c3) is the only unread one left.
    let fx = key(&mut s, KeyCode::Char('a'), KeyModifiers::ALT);
    assert_eq!(
        fx[0],
        Effect::Command(EngineCommand::Open {
            conv: ConvId::from("c3")
        })
    );
}

#[test]
fn typing_indicator_shows_and_expires() {
    let mut s = state(80, 24);
    open_team(&mut s);
    update(
        &mut s,
        Action::Typing {
            conv: team(),
            user: "bob".into(),
        },
    );
    assert!(screen(&s).contains("bob is typing…"));
    update(
        &mut s,
        Action::Tick {
            now_ms: DAY2 + 15 * MIN + 5_000,
        },
    );
    assert!(!screen(&s).contains("typing"));
}

#[test]
fn notifications_only_for_conversations_not_open() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let in_open = update(
        &mut s,
        Action::NewMessage {
            conv: team(),
            message: Message::text(321, "bob", DAY2, "hi"),
        },
    );
    assert_eq!(in_open, vec![]);
    let other = update(
        &mut s,
        Action::NewMessage {
            conv: ConvId::from("c3"),
            message: Message::text(8, "carol", DAY2, "ping"),
        },
    );
    assert_eq!(
        other,
        vec![Effect::Notify {
            title: "carol".into(),
            body: "carol: ping".into()
        }]
    );
    let own = update(
        &mut s,
        Action::NewMessage {
            conv: ConvId::from("c3"),
            message: Message::text(9, "alice", DAY2, "me"),
        },
    );
    assert_eq!(own, vec![]);
}

#[test]
fn mouse_wheel_scrolls_and_click_opens() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let ev = |kind, column, row| {
        Action::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: NONE,
        })
    };
    update(&mut s, ev(MouseEventKind::ScrollUp, 40, 10));
    assert!(matches!(
        s.open.as_ref().unwrap().scroll,
        ScrollPos::Anchored { .. }
    ));
    let before = screen(&s);
    assert!(before.contains("21:06 → carol joined"), "{before}");
    update(&mut s, ev(MouseEventKind::ScrollDown, 40, 10));
    assert_eq!(s.open.as_ref().unwrap().scroll, ScrollPos::Bottom);
    // Row 2-3 of the list is the second conversation (bob).
    let fx = update(&mut s, ev(MouseEventKind::Down(MouseButton::Left), 3, 2));
    assert_eq!(
        fx[0],
        Effect::Command(EngineCommand::Open {
            conv: ConvId::from("c2")
        })
    );
}

#[test]
fn search_results_jump_to_the_message() {
    let mut s = state(80, 24);
    update(
        &mut s,
        Action::SearchResults {
            query: "night".into(),
            hits: vec![client::ui::model::SearchHit {
                conv: team(),
                seq: 317,
                sender: "carol".into(),
                ts: DAY1 + 4 * MIN,
                body: "night all".into(),
            }],
            coverage: (1, 3),
        },
    );
    assert!(matches!(s.overlay, Overlay::Search { .. }));
    let fx = key(&mut s, KeyCode::Enter, NONE);
    let around = TimelineQuery::Around {
        seq: 317,
        before: 200,
        after: 200,
    };
    assert_eq!(
        fx,
        vec![
            Effect::Command(EngineCommand::Open { conv: team() }),
            Effect::LoadTimeline {
                conv: team(),
                query: around
            }
        ]
    );
    update(
        &mut s,
        Action::Timeline {
            conv: team(),
            query: around,
            items: team_timeline(),
            total: 8,
        },
    );
    let open = s.open.as_ref().unwrap();
    assert_eq!(open.selected, Some(client::ui::state::ItemKey::Seq(317)));
    // The hit is on screen and the newer messages under it stay visible: they
    // fit, so the view follows the live end with the hit selected.
    assert_eq!(open.scroll, ScrollPos::Bottom);
    let text = screen(&s);
    assert!(text.contains("21:09 night all"), "{text}");
    assert!(text.contains("09:12 see you at 10"), "{text}");
    assert!(!text.contains("newer message"), "{text}");
    // Esc clears the selection.
    key(&mut s, KeyCode::Esc, NONE);
    assert_eq!(s.open.as_ref().unwrap().selected, None);
}

#[test]
fn failed_echo_and_pending_render_with_state() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let mut items = team_timeline();
    items.truncate(9);
    items.push(pending(
        "p3",
        "queued offline",
        OutboxState::Pending,
        DAY2 + 14 * MIN,
    ));
    update(
        &mut s,
        Action::Timeline {
            conv: team(),
            query: TimelineQuery::Latest { limit: 200 },
            items,
            total: 8,
        },
    );
    let text = screen(&s);
    assert!(text.contains("09:14 queued offline ⋯ queued"), "{text}");
    assert!(matches!(
        s.open.as_ref().unwrap().items.last(),
        Some(TimelineItem::Pending(_))
    ));
}

/// Queued edits, deletions and reactions name their message as the
/// timeline shows it (the sender and its first words): they said `#315`,
/// a number the TUI shows nowhere else.
#[test]
fn queued_edits_and_reactions_name_their_message() {
    let mut s = state(130, 30);
    open_team(&mut s);
    let mut items = team_timeline();
    items.truncate(9);
    let queued = |id: &str, kind: OutboxKind, body: Option<&str>| {
        TimelineItem::Pending(OutboxItem {
            client_id: id.to_owned(),
            conv: team(),
            kind,
            body: body.map(str::to_owned),
            state: OutboxState::Pending,
            created_ts: DAY2 + 14 * MIN,
        })
    };
    items.push(queued(
        "e1",
        OutboxKind::Edit { target: 315 },
        Some("for good"),
    ));
    items.push(queued(
        "r1",
        OutboxKind::React {
            target: 313,
            key: "👍".into(),
        },
        None,
    ));
    items.push(queued("d1", OutboxKind::Redact { target: 9 }, None));
    show_items(&mut s, items);
    let text = screen(&s);
    assert!(
        text.contains("✎ edit of alice’s “fixed the build (for real)”: for good ⋯ queued"),
        "{text}"
    );
    assert!(
        text.contains("👍 on bob’s “did anyone look at the flaky t…” ⋯ queued"),
        "{text}"
    );
    assert!(
        text.contains("✗ delete an earlier message ⋯ queued"),
        "{text}"
    );
}

#[test]
fn loading_older_grows_the_window_read_from_the_store() {
    let mut s = state(80, 24);
    open_team(&mut s);
    assert_eq!(
        s.window_query(),
        Some((team(), TimelineQuery::Latest { limit: 200 }))
    );
    assert_eq!(
        key(&mut s, KeyCode::PageUp, NONE),
        vec![Effect::Request(EngineRequest::LoadOlder { conv: team() })]
    );
    assert_eq!(
        s.window_query(),
        Some((team(), TimelineQuery::Latest { limit: 400 }))
    );
    update(
        &mut s,
        Action::OlderLoaded {
            conv: team(),
            error: None,
        },
    );
    update(
        &mut s,
        Action::Timeline {
            conv: team(),
            query: TimelineQuery::Latest { limit: 400 },
            items: team_timeline(),
            total: 8,
        },
    );
    assert_eq!(
        s.window_query(),
        Some((team(), TimelineQuery::Latest { limit: 200 }))
    );
    assert!(!screen(&s).contains("loading"));
}

#[test]
fn edits_and_deletions_mark_their_message_without_seq_lines() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let mut items = team_timeline();
    let mut edit = client::ui::model::text_message(321, "alice", DAY2 + 20 * MIN, "x");
    edit.kind = client::ui::model::EntryKind::Edit;
    edit.target = Some(315);
    let mut redact = client::ui::model::text_message(322, "bob", DAY2 + 21 * MIN, "");
    redact.kind = client::ui::model::EntryKind::Redact;
    redact.target = Some(316);
    redact.body = None;
    items.insert(9, TimelineItem::Message(edit));
    items.insert(10, TimelineItem::Message(redact));
    update(
        &mut s,
        Action::Timeline {
            conv: team(),
            query: TimelineQuery::Latest { limit: 200 },
            items,
            total: 10,
        },
    );
    let text = screen(&s);
    assert!(!text.contains("edited #315"), "{text}");
    assert!(!text.contains("deleted #316"), "{text}");
    assert!(text.contains("(edited)"), "{text}");
    assert!(text.contains("‹message deleted›"), "{text}");
    // No line of its own: the newest lines are still carol's and the echoes.
    assert!(text.contains("09:12 see you at 10"), "{text}");
}

#[test]
fn a_receipt_marks_own_messages_read_by_the_other_member() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let text = screen(&s);
    assert!(text.contains("(edited) ✓"), "{text}");
    assert!(!text.contains("✓✓"), "{text}");
    update(
        &mut s,
        Action::Receipt {
            conv: team(),
            seq: 314,
        },
    );
    assert!(
        !screen(&s).contains("✓✓"),
        "read up to 314 is before alice's 315"
    );
    update(
        &mut s,
        Action::Receipt {
            conv: team(),
            seq: 318,
        },
    );
    let text = screen(&s);
    assert!(text.contains("(edited) ✓✓"), "{text}");
    // Receipts never move back.
    update(
        &mut s,
        Action::Receipt {
            conv: team(),
            seq: 300,
        },
    );
    assert!(screen(&s).contains("(edited) ✓✓"));
}
