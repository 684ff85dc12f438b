//! The conversation list's row marks (pinned, muted, mentions-only, unread
//! and mention badges) never run into the names, at any width, with wide
//! (CJK, emoji) titles too: a new user in tmux read `#★team`.

mod ui_support;

use client::ui::model::{ConvKind, ConvRow, Message, Notify};
use client::ui::state::{Action, AppState};
use client::ui::update::update;
use ui_support::p11::p11_state;
use ui_support::*;
use unicode_width::UnicodeWidthStr;

/// Pinned group, pinned direct with mentions, muted CJK group,
/// mentions-only group with a long name, a plain direct with a queued
/// message.
fn rows() -> Vec<ConvRow> {
    let last = |seq, who: &str, body: &str| Some(Message::text(seq, who, DAY2, body));
    let mut team = row("c1", ConvKind::Group, "team", 0, last(5, "bob", "hi"), DAY2);
    team.pinned = true;
    let mut bob = row(
        "c2",
        ConvKind::Direct,
        "bob",
        3,
        last(9, "bob", "ping"),
        DAY2,
    );
    (bob.pinned, bob.mentions) = (true, 2);
    let mut cjk = row(
        "c3",
        ConvKind::Group,
        "開発チーム 🚀 東京",
        12,
        last(30, "小林", "了解"),
        DAY2,
    );
    cjk.notify = Notify::None;
    let mut long = row(
        "c4",
        ConvKind::Group,
        "release-planning-2026",
        1,
        last(7, "dave", "@alice ok?"),
        DAY2,
    );
    (long.notify, long.mentions) = (Notify::Mentions, 1);
    let mut carol = row(
        "c5",
        ConvKind::Direct,
        "carol",
        0,
        last(2, "carol", "yo"),
        DAY2,
    );
    carol.pending = 1;
    vec![team, bob, cjk, long, carol]
}

fn list_state(w: u16, h: u16) -> AppState {
    let mut s = p11_state(w, h);
    update(&mut s, Action::Conversations(rows()));
    s
}

/// The list's title rows (every other row from the top), up to its border.
fn title_rows(text: &str, n: usize) -> Vec<String> {
    text.lines()
        .step_by(2)
        .take(n)
        .map(|l| l.split('│').next().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn pinned_and_other_marks_are_spaced_from_the_names() {
    let s = list_state(80, 14);
    let text = screen(&s);
    assert_snapshot("list_marks_80x14", &text);
    // Names line up; previews sit under them.
    assert_eq!(
        title_rows(&text, 5),
        [
            "#★ team                ",
            "@★ bob             @2 3",
            "#  開発チーム 🚀… 🔕 12",
            "#  release-pl… 🔔@ @1 1",
            "@  carol             ⋯1",
        ]
    );
}

#[test]
fn narrow_lists_keep_the_space_too() {
    let text = screen(&list_state(60, 12));
    assert_snapshot("list_marks_60x12", &text);
    assert_eq!(
        title_rows(&text, 5),
        [
            "#★ team          ",
            "@★ bob       @2 3",
            "#  開発チ… 🔕  12",
            "#  rele… 🔔@ @1 1",
            "@  carol       ⋯1",
        ]
    );
}

#[test]
fn without_a_pinned_conversation_the_pin_column_is_not_kept() {
    let mut s = p11_state(80, 14);
    let mut plain = rows();
    for r in &mut plain {
        r.pinned = false;
    }
    update(&mut s, Action::Conversations(plain));
    let text = screen(&s);
    assert_eq!(title_rows(&text, 1), ["# team                 "]);
}

/// At every width the list can have (the narrow one-pane list included),
/// each title row reads: kind, pin column, a space, then the name or its
/// cut start, and only after a space any mark or badge.
#[test]
fn marks_never_touch_names_at_any_width() {
    let titles: Vec<String> = rows().iter().map(|r| r.title.clone()).collect();
    for w in 20..=130u16 {
        let s = list_state(w, 14);
        let text = screen(&s);
        for (line, title) in title_rows(&text, 5).iter().zip(&titles) {
            let rest: String = line.chars().skip(3).collect();
            assert!(
                line.chars().nth(2) == Some(' '),
                "width {w}: no space after the marks in {line:?}\n{text}"
            );
            // The name's shown part: the longest start of it the row holds.
            let shown = (0..=title.chars().count())
                .rev()
                .map(|n| title.chars().take(n).collect::<String>())
                .find(|p| rest.starts_with(p.as_str()))
                .unwrap_or_default();
            let after = &rest[shown.len()..];
            let after = after.strip_prefix('…').unwrap_or(after);
            assert!(
                !shown.trim().is_empty() || title.is_empty(),
                "width {w}: the name is gone from {line:?}\n{text}"
            );
            assert!(
                after.is_empty() || after.starts_with(' '),
                "width {w}: a mark runs into the name in {line:?}\n{text}"
            );
            assert!(
                line.width() <= usize::from(w),
                "width {w}: {line:?} is wider than the screen"
            );
        }
    }
}

/// A pinned conversation inside the collapsed archived section shows no
/// star, so the rows shown keep no empty pin column for it.
#[test]
fn a_pinned_row_hidden_in_the_archive_adds_no_column() {
    let mut s = p11_state(80, 14);
    let mut plain = rows();
    for r in &mut plain {
        r.pinned = false;
    }
    let mut old = row("c9", ConvKind::Group, "old", 0, None, DAY2);
    (old.archived, old.pinned) = (true, true);
    update(&mut s, Action::Archived(vec![old]));
    update(&mut s, Action::Conversations(plain));
    let text = screen(&s);
    assert_eq!(title_rows(&text, 1), ["# team                 "], "{text}");
}

/// Each row of `text` as (column, char) pairs, wide characters taking two.
fn columns_of(line: &str) -> Vec<(usize, char)> {
    let mut col = 0;
    line.chars()
        .map(|c| {
            let at = col;
            col += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            (at, c)
        })
        .collect()
}

/// An overlay over the list: a wide (CJK) character of a name straddling
/// the overlay's left edge hid the border on that row (the terminal drew
/// the character's second half over it).
#[test]
fn an_overlay_border_is_whole_over_wide_names() {
    let mut s = list_state(90, 20);
    key(
        &mut s,
        crossterm::event::KeyCode::Char('?'),
        crossterm::event::KeyModifiers::NONE,
    );
    let text = screen(&s);
    let lines: Vec<&str> = text.lines().collect();
    let top = lines
        .iter()
        .position(|l| l.contains("┌ Help"))
        .expect("help");
    let left = columns_of(lines[top])
        .into_iter()
        .find(|(_, c)| *c == '┌')
        .map(|(x, _)| x)
        .unwrap();
    for (y, line) in lines.iter().enumerate().skip(top + 1) {
        if line.contains('└') {
            break;
        }
        assert!(
            columns_of(line).contains(&(left, '│')),
            "row {y} lost the border at column {left}:\n{text}"
        );
    }
}
