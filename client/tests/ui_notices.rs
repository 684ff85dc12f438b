//! Notices (errors, "not supported", hints) longer than the screen is
//! wide are wrapped onto as many lines as they need, above the compose box,
//! never cut: a new user in tmux lost the end of them. At 60x15 too, and in
//! the narrow one-pane list, where there was no notice line at all.

mod ui_support;

use client::ui::state::{Action, AppState};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers};
use ui_support::p11::p11_state;
use ui_support::*;

const LONG: &str = "connection failed: TLS handshake with chat.example.org:443 failed: \
invalid peer certificate: UnknownIssuer (start convo with --ca-file PEM to trust a private CA)";

/// The right pane's rows (after the list's border), trimmed.
fn right_pane(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| match l.split_once('│') {
            Some((_, r)) => r.trim().to_owned(),
            None => l.trim().to_owned(),
        })
        .collect()
}

fn rows_with(text: &str, first: &str, n: usize) -> Vec<String> {
    let rows = right_pane(text);
    let at = rows
        .iter()
        .position(|r| r.starts_with(first))
        .unwrap_or_else(|| panic!("no row starts with {first:?}:\n{text}"));
    rows[at..at + n].to_vec()
}

#[test]
fn a_long_error_is_wrapped_above_the_compose_box_not_cut() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let page_before = client::ui::scroll::page_height(&s);
    update(&mut s, Action::Error(LONG.into()));
    let text = screen(&s);
    // The right pane is 56 columns wide.
    assert_eq!(
        rows_with(&text, "connection failed", 5),
        [
            "connection failed: TLS handshake with",
            "chat.example.org:443 failed: invalid peer certificate:",
            "UnknownIssuer (start convo with --ca-file PEM to trust",
            "a private CA)",
            "┌ Message ─────────────────────────────────────────────┐",
        ]
    );
    // The timeline gave up three rows, and still ends with its newest.
    assert_eq!(client::ui::scroll::page_height(&s), page_before - 3);
    let rows = right_pane(&text);
    let at = rows
        .iter()
        .position(|r| r.starts_with("connection"))
        .unwrap();
    assert!(
        rows[at - 1].contains("this one is too long")
            || rows[..at].iter().any(|r| r.contains("retry")),
        "{text}"
    );
    // Gone (Esc): the timeline has its rows back.
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(client::ui::scroll::page_height(&s), page_before);
}

#[test]
fn at_60x15_a_hint_wraps_too() {
    let mut s = p11_state(60, 15);
    open_team(&mut s);
    // Alt+L with no link anywhere: the hint is longer than the 42 columns.
    key(&mut s, KeyCode::Char('l'), KeyModifiers::ALT);
    let text = screen(&s);
    assert_eq!(
        rows_with(&text, "no links", 3),
        [
            "no links in the selected message (select",
            "one with Ctrl+Up)",
            "┌ Message ───────────────────────────────┐",
        ],
        "{text}"
    );
}

#[test]
fn the_narrow_list_shows_notices_at_its_foot() {
    let mut s: AppState = state(40, 20);
    update(&mut s, Action::Error(LONG.into()));
    let text = screen(&s);
    let lines: Vec<&str> = text.lines().collect();
    // Above the status bar, over the whole width; the list keeps its rows
    // above.
    assert_eq!(
        lines[14..19],
        [
            "connection failed: TLS handshake with",
            "chat.example.org:443 failed: invalid",
            "peer certificate: UnknownIssuer (start",
            "convo with --ca-file PEM to trust a",
            "private CA)",
        ][..],
        "{text}"
    );
    assert!(text.contains("# Team chat"), "{text}");
}

/// On a screen too short for the whole notice, its last row says it goes
/// on; no size panics, the timeline keeps a row.
#[test]
fn tiny_screens_cut_the_notice_with_an_ellipsis_and_never_panic() {
    let mut s = state(60, 9);
    open_team(&mut s);
    update(&mut s, Action::Error(LONG.into()));
    let rows = right_pane(&screen(&s));
    let at = rows
        .iter()
        .position(|r| r.starts_with("connection"))
        .unwrap();
    let compose = rows.iter().position(|r| r.starts_with('┌')).unwrap();
    assert!(at >= 2, "header and a timeline row stay:\n{rows:#?}");
    assert!(rows[compose - 1].ends_with('…'), "{rows:#?}");
    for w in 10..=90u16 {
        for h in 1..=16u16 {
            let mut s = state(w, h);
            update(&mut s, Action::Error(LONG.into()));
            let _ = screen(&s);
            open_team(&mut s);
            update(&mut s, Action::Error(LONG.into()));
            let _ = screen(&s);
            let _ = client::ui::scroll::page_height(&s);
        }
    }
}

/// The hint where no conversation is open wraps too (at 60 columns it
/// lost "or click.").
#[test]
fn the_pick_a_conversation_hint_wraps() {
    let s = state(60, 15);
    let rows = right_pane(&screen(&s));
    let at = rows
        .iter()
        .position(|r| r.starts_with("Pick a conversation"))
        .expect("the hint");
    assert_eq!(
        rows[at..at + 3],
        [
            "Pick a conversation: Alt+Up/Down, Ctrl+K,",
            "or click.",
            "Press ? for help."
        ]
    );
}

/// The connection stops for good: the server's certificate is refused.
fn stop_on_a_certificate(s: &mut AppState) {
    let error = sync_core::ConnectError::Tls(
        "the certificate of chat.example.org is from an unknown issuer".into(),
    );
    update(
        s,
        Action::Connection(client::ui::model::ConnState::Failed { error }),
    );
}

/// A connection that stopped for good (a certificate problem) said why
/// only in the status bar, where a long reason was cut: the reason is now
/// a notice above the compose box, whole, and the bar keeps what fits.
#[test]
fn a_stopped_connection_says_why_in_full() {
    let mut s = state(60, 15);
    open_team(&mut s);
    stop_on_a_certificate(&mut s);
    let text = screen(&s);
    assert_eq!(
        rows_with(&text, "connection stopped", 4),
        [
            "connection stopped: TLS: the certificate",
            "of chat.example.org is from an unknown",
            "issuer",
            "┌ Message ───────────────────────────────┐",
        ],
        "{text}"
    );
    let status = text.lines().last().unwrap();
    assert_eq!(
        status, " alice │ ✗ Stopped │ 0 queued             1 unread │ ? help",
        "{text}"
    );
    // Wide enough: the bar says why too.
    let mut s = state(160, 15);
    stop_on_a_certificate(&mut s);
    let text = screen(&s);
    assert!(
        text.lines().last().unwrap().contains(
            "│ ✗ Stopped: TLS: the certificate of chat.example.org is from an unknown issuer │"
        ),
        "{text}"
    );
}

/// The "N newer messages ↓ (End or Esc: newest)" line under a scrolled-back
/// timeline was cut in a narrow terminal; it now shortens to what fits,
/// keeping the count and the key.
#[test]
fn the_newer_messages_line_shortens_to_fit() {
    let mut s = state(40, 16);
    open_team(&mut s);
    let items: Vec<client::ui::model::TimelineItem> = (0..300u64)
        .map(|i| {
            client::ui::model::TimelineItem::Message(local(
                1000 + i,
                "bob",
                DAY2 + i as i64 * MIN,
                &format!("m{i}"),
            ))
        })
        .collect();
    show_items(&mut s, items);
    for _ in 0..30 {
        key(&mut s, KeyCode::PageUp, KeyModifiers::NONE);
    }
    let text = screen(&s);
    let line = text
        .lines()
        .find(|l| l.contains("newer"))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(line, "270 newer messages ↓  (End: newest)", "{text}");
}

/// The status bar in a 34-column terminal: reconnecting, the queue count
/// goes before the countdown's key is cut, and what is cut says so.
#[test]
fn the_status_bar_keeps_the_connection_state_when_narrow() {
    let mut s = state(34, 16);
    update(
        &mut s,
        Action::Connection(client::ui::model::ConnState::Reconnecting {
            in_ms: 10_000,
            last_error: None,
        }),
    );
    let text = screen(&s);
    assert_eq!(
        text.lines().last().unwrap(),
        " alice │ ○ Reconnecting in 10s (F…",
        "{text}"
    );
    s.queued = 3;
    update(&mut s, Action::Resize(60, 16));
    let text = screen(&s);
    assert_eq!(
        text.lines().last().unwrap(),
        " alice │ ○ Reconnecting in 10s (F5: now) │ 3 queued",
        "{text}"
    );
}

/// The help at 60x15 cut descriptions at its right border ("$VISUAL /
/// $ED"): they wrap under their column now, and Down reaches the last one.
#[test]
fn the_help_wraps_its_descriptions_in_a_narrow_terminal() {
    use client::ui::keys::KeyAction;
    let mut s = state(60, 15);
    key(&mut s, KeyCode::Char('?'), KeyModifiers::NONE);
    let mut seen = String::new();
    let mut last = String::new();
    for _ in 0..200 {
        let text = screen(&s);
        if text == last {
            break;
        }
        for l in text.lines() {
            // The rows inside the box, borders off.
            if let Some(inner) = l.strip_prefix('│').and_then(|r| r.strip_suffix('│')) {
                seen.push_str(inner.trim());
                seen.push(' ');
            }
        }
        last = text;
        key(&mut s, KeyCode::Down, KeyModifiers::NONE);
    }
    let flat: String = seen.split_whitespace().collect::<Vec<_>>().join(" ");
    for a in KeyAction::ALL {
        let what = a.describe();
        let words: Vec<&str> = what.split_whitespace().collect();
        // Each description whole (a wrapped one reads the same joined).
        assert!(flat.contains(&words.join(" ")), "{what:?} not shown whole");
    }
    assert!(flat.contains("edit the draft in $VISUAL / $EDITOR"));
    assert!(flat.contains("/quit quit"), "the last command reached");
}

/// Who is typing, in a narrow pane: cut with "…" so the cut shows, the
/// names first.
#[test]
fn the_typing_line_is_cut_visibly() {
    let mut s = state(40, 16);
    open_team(&mut s);
    for user in ["bartholomew", "cornelius", "desdemona"] {
        update(
            &mut s,
            Action::Typing {
                conv: team(),
                user: user.into(),
            },
        );
    }
    let text = screen(&s);
    let line = text
        .lines()
        .find(|l| l.starts_with("bartholomew"))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(line, "bartholomew, cornelius, desdemona are t…");
}
