//! Screen snapshots of the TUI, drawn into ratatui's `TestBackend` after
//! driving the real key handler. Snapshots live in `tests/snapshots/*.txt`
//! (reviewed by hand; `UPDATE_SNAPSHOTS=1` rewrites them).

mod ui_support;

use client::ui::engine::{EngineCommand, EngineRequest};
use client::ui::model::{ConnState, ConvId, ConvKind, Message, TimelineItem, TimelineQuery};
use client::ui::state::{Action, Effect, Overlay};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers};
use ui_support::*;

const NONE: KeyModifiers = KeyModifiers::NONE;

#[test]
fn conversation_list_before_opening() {
    let s = state(80, 12);
    assert_snapshot("list_80x12", &screen(&s));
}

#[test]
fn timeline_with_gap_edits_pending_and_failed() {
    let mut s = state(80, 24);
    let fx = open_team(&mut s);
    // Opening marks the newest message on screen read.
    assert_eq!(
        fx,
        vec![Effect::Command(EngineCommand::MarkRead {
            conv: team(),
            seq: 320
        })]
    );
    assert_eq!(s.convs[0].unread, 0);
    assert_snapshot("timeline_80x24", &screen(&s));
}

#[test]
fn scrolling_up_to_the_gap_loads_older_with_a_spinner() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let fx = key(&mut s, KeyCode::PageUp, NONE);
    assert_eq!(
        fx,
        vec![Effect::Request(EngineRequest::LoadOlder { conv: team() })]
    );
    let text = screen(&s);
    assert!(text.contains("312 earlier entries — loading ⠙"), "{text}");
    // A second PgUp while loading does not ask again.
    assert_eq!(key(&mut s, KeyCode::PageUp, NONE), vec![]);
    assert_snapshot("timeline_top_loading_80x24", &text);
}

#[test]
fn help_overlay_only_with_empty_compose() {
    let mut s = state(80, 35);
    open_team(&mut s);
    typ(&mut s, "why?");
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(s.compose.text, "why?");
    key(&mut s, KeyCode::Char('u'), KeyModifiers::CONTROL);
    key(&mut s, KeyCode::Char('?'), KeyModifiers::SHIFT);
    assert_eq!(s.overlay, Overlay::Help);
    assert_snapshot("help_80x35", &screen(&s));
    key(&mut s, KeyCode::Esc, NONE);
    assert_eq!(s.overlay, Overlay::None);
}

#[test]
fn quick_switcher_filters_fuzzily_and_opens() {
    let mut s = state(80, 20);
    key(&mut s, KeyCode::Char('k'), KeyModifiers::CONTROL);
    typ(&mut s, "cl");
    assert_snapshot("switcher_80x20", &screen(&s));
    let fx = key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(
        fx,
        vec![
            Effect::Command(EngineCommand::Open {
                conv: ConvId::from("c3")
            }),
            Effect::LoadTimeline {
                conv: ConvId::from("c3"),
                query: TimelineQuery::Latest { limit: 200 }
            }
        ]
    );
    assert_eq!(s.overlay, Overlay::None);
}

#[test]
fn narrow_terminal_shows_one_pane() {
    let mut s = state(40, 20);
    assert_snapshot("narrow_list_40x20", &screen(&s));
    open_team(&mut s);
    assert_snapshot("narrow_timeline_40x20", &screen(&s));
}

#[test]
fn first_use_login_prompt() {
    let mut s = state(80, 20);
    at_login_prompt(&mut s);
    typ(&mut s, "secret");
    key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    update(
        &mut s,
        Action::LoginResult(Err("refused: wrong password, or no user alice yet".into())),
    );
    assert_snapshot("login_80x20", &screen(&s));
}

#[test]
fn wide_terminal() {
    let mut s = state(120, 24);
    open_team(&mut s);
    assert_snapshot("wide_120x24", &screen(&s));
}

#[test]
fn cjk_and_emoji_keep_columns() {
    let mut s = state(60, 16);
    let mut rows = convs();
    rows[0].title = "開発チーム 🚀".to_owned();
    rows[0].last = Some(Message::text(3, "小林", DAY2, "了解です👍"));
    update(&mut s, Action::Conversations(rows));
    key(&mut s, KeyCode::Down, KeyModifiers::ALT);
    let items = vec![
        TimelineItem::Message(local(
            1,
            "小林",
            DAY2,
            "こんにちは、世界！今日のデプロイは十時からです。よろしくお願いします。",
        )),
        TimelineItem::Message(local(
            2,
            "bob",
            DAY2 + MIN,
            "👨‍👩‍👧 family emoji and 한국어 text",
        )),
        TimelineItem::Message(local(3, "小林", DAY2 + 2 * MIN, "了解です👍")),
    ];
    update(
        &mut s,
        Action::Timeline {
            conv: team(),
            query: TimelineQuery::Latest { limit: 200 },
            items,
            total: 3,
        },
    );
    typ(&mut s, "日本語");
    assert_snapshot("cjk_60x16", &screen(&s));
}

#[test]
fn status_bar_tells_the_truth() {
    let mut s = state(80, 6);
    update(&mut s, Action::Outbox(vec![]));
    let status = |s: &client::ui::state::AppState| screen(s).lines().last().unwrap().to_owned();
    assert_eq!(
        status(&s),
        " alice@ws://127.0.0.1:7878/v1 │ ● Live │ 0 queued             4 unread │ ? help"
    );
    update(
        &mut s,
        Action::Connection(ConnState::CatchingUp { remaining: 3 }),
    );
    assert!(
        status(&s).contains("│ ⠙ Catching up 3 │ 0 queued"),
        "{}",
        status(&s)
    );
    update(
        &mut s,
        Action::Connection(ConnState::Reconnecting {
            in_ms: 3_200,
            last_error: None,
        }),
    );
    assert!(
        status(&s).contains("│ ○ Reconnecting in 4s (F5: now) │"),
        "{}",
        status(&s)
    );
    let p = |id: &str| match pending(id, "x", client::ui::model::OutboxState::Pending, DAY2) {
        TimelineItem::Pending(p) => p,
        _ => unreachable!(),
    };
    update(&mut s, Action::Outbox(vec![p("a"), p("b")]));
    update(&mut s, Action::Connection(ConnState::Offline));
    assert!(
        status(&s).contains("│ ○ Offline │ 2 queued"),
        "{}",
        status(&s)
    );
}

#[test]
fn no_color_uses_no_colours() {
    let mut s = state(80, 24);
    s.colors = false;
    open_team(&mut s);
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    client::ui::driver::draw(&mut term, &s).unwrap();
    let buf = term.backend().buffer();
    for cell in buf.content() {
        assert_eq!(
            cell.fg,
            ratatui::style::Color::Reset,
            "coloured cell {:?}",
            cell
        );
        assert_eq!(
            cell.bg,
            ratatui::style::Color::Reset,
            "coloured cell {:?}",
            cell
        );
    }
    // The status bar is reversed instead of coloured.
    assert!(
        buf[(0, 23)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED)
    );
}

#[test]
fn group_and_direct_are_marked_in_list() {
    let s = state(80, 12);
    let text = screen(&s);
    assert!(text.contains("# Team chat"), "{text}");
    assert!(text.contains("@ bob"), "{text}");
    assert_eq!(s.convs[0].kind, ConvKind::Group);
}

#[test]
fn help_scrolls_on_a_short_terminal() {
    let mut s = state(80, 24);
    key(&mut s, KeyCode::Char('?'), NONE);
    let first = screen(&s);
    assert!(
        first.contains("Help — Up/Down scroll, Esc closes"),
        "{first}"
    );
    assert!(!first.contains("/quit"), "{first}");
    // Down scrolls a line, PageDown ten.
    key(&mut s, KeyCode::Down, NONE);
    assert!(
        screen(&s).contains("Help — Up/Down scroll, Esc closes ─") && !screen(&s).contains("│Keys"),
        "{}",
        screen(&s)
    );
    for _ in 0..5 {
        key(&mut s, KeyCode::PageDown, NONE);
    }
    let last = screen(&s);
    // The command column is as wide as the longest command, plus two.
    assert!(last.contains(&format!("{:<27}quit", "/quit")), "{last}");
    assert!(
        last.contains("/notify all|mentions|none  when this conversation notifies"),
        "{last}"
    );
    assert_snapshot("help_scrolled_80x24", &last);
}

#[test]
fn tiny_and_odd_sizes_do_not_panic() {
    for (w, h) in [
        (1, 1),
        (2, 2),
        (10, 3),
        (20, 5),
        (45, 8),
        (49, 30),
        (50, 4),
        (300, 100),
    ] {
        let mut s = state(w, h);
        screen(&s);
        open_team(&mut s);
        typ(
            &mut s,
            "some text that is long enough to wrap in a small box",
        );
        key(&mut s, KeyCode::PageUp, NONE);
        screen(&s);
        key(&mut s, KeyCode::Char('?'), NONE);
        key(&mut s, KeyCode::Char('k'), KeyModifiers::CONTROL);
        screen(&s);
    }
}
