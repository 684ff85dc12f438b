//! Papercuts found in a user-level pass of the protocol 1.1 TUI, each
//! through the real `update` and render: the space Tab completion leaves is
//! not sent, the reaction picker names its target, muted and mentions-only
//! conversations are marked in the list, and `❤️` is measured as drawn.

mod ui_support;

use client::ui::engine::EngineCommand;
use client::ui::model::{Notify, TimelineItem};
use client::ui::state::{Action, AppState, Effect};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers};
use ui_support::p11::p11_state;
use ui_support::*;

const NONE: KeyModifiers = KeyModifiers::NONE;
const ALT: KeyModifiers = KeyModifiers::ALT;

/// Team chat open with carol's and dave's messages (members for Tab).
fn open_with(s: &mut AppState, items: Vec<TimelineItem>) {
    key(s, KeyCode::Down, ALT);
    show_items(s, items);
}

fn members() -> Vec<TimelineItem> {
    vec![
        TimelineItem::Message(local(400, "carol", DAY2, "release at 10?")),
        TimelineItem::Message(local(401, "dave", DAY2 + MIN, "yes")),
    ]
}

#[test]
fn the_space_tab_completion_leaves_is_kept_in_the_draft_but_not_sent() {
    let mut s = p11_state(80, 24);
    open_with(&mut s, members());
    typ(&mut s, "ping @ca");
    key(&mut s, KeyCode::Tab, NONE);
    assert_eq!(s.compose.text, "ping @carol ");
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::Send {
            conv: team(),
            body: "ping @carol".into()
        })]
    );
    assert_eq!(s.compose.text, "");
    // Whitespace inside the body (indentation, line breaks) is kept; only
    // the end is trimmed, blank lines included.
    typ(&mut s, "a  b");
    key(&mut s, KeyCode::Enter, ALT);
    typ(&mut s, "  c\t ");
    key(&mut s, KeyCode::Enter, ALT);
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::Send {
            conv: team(),
            body: "a  b\n  c".into()
        })]
    );
    // A reply is trimmed too.
    key(&mut s, KeyCode::Char('r'), ALT);
    typ(&mut s, "@da");
    key(&mut s, KeyCode::Tab, NONE);
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::Reply {
            conv: team(),
            reply_to: 401,
            body: "@dave".into()
        })]
    );
}

#[test]
fn the_reaction_picker_names_the_message_it_reacts_to() {
    let mut s = p11_state(80, 24);
    let long = "\u{1b}[31mthe build is green again after the flaky test was fixed\nsecond line";
    open_with(
        &mut s,
        vec![
            TimelineItem::Message(local(400, "carol", DAY2, "release at 10?")),
            TimelineItem::Message(local(401, "dave", DAY2 + MIN, long)),
        ],
    );
    key(&mut s, KeyCode::Char('g'), ALT);
    let text = screen(&s);
    assert_snapshot("pc_picker_target_80x24", &text);
    // First line only, the escape made harmless, clipped to the popup.
    let line = text
        .lines()
        .find(|l| l.contains("to dave:"))
        .unwrap_or_else(|| panic!("no target line:\n{text}"));
    assert!(
        line.contains("│to dave: ␛[31mthe build is green again after the …│"),
        "{line}"
    );
    assert!(!line.contains("second"), "{line}");
    // The selected one (Ctrl+Up twice: carol's) is named instead.
    key(&mut s, KeyCode::Esc, NONE);
    key(&mut s, KeyCode::Up, KeyModifiers::CONTROL);
    key(&mut s, KeyCode::Up, KeyModifiers::CONTROL);
    key(&mut s, KeyCode::Char('g'), ALT);
    let text = screen(&s);
    assert!(
        text.contains(&format!("│{:<50}│", "to carol: release at 10?")),
        "{text}"
    );
}

#[test]
fn muted_and_mentions_only_conversations_are_marked_in_the_list() {
    let mut s = p11_state(80, 12);
    let mut rows = convs();
    rows[0].notify = Notify::None;
    rows[0].mentions = 2;
    rows[1].notify = Notify::Mentions;
    rows[1].pinned = true;
    update(&mut s, Action::Conversations(rows));
    let text = screen(&s);
    assert_snapshot("pc_list_notify_80x12", &text);
    let lines: Vec<&str> = text.lines().collect();
    // A pinned row (bob) adds a pin column to every row.
    assert!(lines[0].starts_with("#  Team chat 🔕    @2 3│"), "{text}");
    assert!(lines[2].starts_with("@★ bob 🔔@"), "{text}");
    // Back to `all` (the list refreshed after a settings event): it goes.
    let mut rows = convs();
    rows[0].mentions = 2;
    update(&mut s, Action::Conversations(rows));
    let text = screen(&s);
    assert!(text.starts_with("# Team chat        @2 3│"), "{text}");
}

/// The columns where each of `needles` starts on row `y` of the buffer.
fn columns(buf: &ratatui::buffer::Buffer, y: u16, needles: &[&str]) -> Vec<u16> {
    needles
        .iter()
        .map(|n| {
            (0..buf.area.width)
                .find(|&x| buf[(x, y)].symbol() == *n)
                .unwrap_or_else(|| panic!("{n} not on row {y}"))
        })
        .collect()
}

fn row_of(buf: &ratatui::buffer::Buffer, needle: &str) -> u16 {
    (0..buf.area.height)
        .find(|&y| (0..buf.area.width).any(|x| buf[(x, y)].symbol() == needle))
        .unwrap_or_else(|| panic!("{needle} not drawn"))
}

#[test]
fn heart_with_vs16_is_two_columns_in_the_picker_reactions_and_code() {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    // The string is 2 columns though its chars sum to 1: convo measures
    // strings (graphemes) everywhere.
    assert_eq!("❤️".width(), 2);
    assert_eq!(
        "❤️".chars().map(|c| c.width().unwrap_or(0)).sum::<usize>(),
        1
    );
    let mut heart = local(401, "dave", DAY2 + MIN, "```\n❤️\tx\n```");
    heart.reactions = vec![
        client::ui::model::ReactionCount {
            key: "❤️".into(),
            count: 2,
            mine: false,
        },
        client::ui::model::ReactionCount {
            key: "👍".into(),
            count: 1,
            mine: true,
        },
    ];
    let mut s = p11_state(80, 24);
    open_with(
        &mut s,
        vec![
            TimelineItem::Message(local(400, "carol", DAY2, "release at 10?")),
            TimelineItem::Message(heart),
        ],
    );
    let buf = buffer(&s);
    // Reactions row: `❤️ 2  👍 1`: 👍 starts 6 columns after ❤️.
    let y = row_of(&buf, "👍");
    let at = columns(&buf, y, &["❤️", "👍"]);
    assert_eq!(at[1] - at[0], 6, "{}", screen(&s));
    // A tab after ❤️ in code goes to the next stop at column 4: two spaces.
    let text = screen(&s);
    assert!(text.contains("❤️  x"), "{text}");
    assert!(!text.contains("❤️   x"), "{text}");
    // The picker: every emoji on a 4-column pitch, ❤️ included.
    key(&mut s, KeyCode::Char('g'), ALT);
    let buf = buffer(&s);
    let y = row_of(&buf, "😂");
    let at = columns(&buf, y, &["👍", "❤️", "😂", "🎉", "✅"]);
    let rel: Vec<u16> = at.iter().map(|x| x - at[0]).collect();
    assert_eq!(rel, vec![0, 4, 8, 12, 28]);
}

/// A writer the test reads back after the terminal wrote to it.
#[derive(Clone, Default)]
struct Tape(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl std::io::Write for Tape {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the TUI writes to a real terminal for the frame of `s`.
fn terminal_bytes(s: &AppState) -> String {
    let tape = Tape::default();
    let backend = ratatui::backend::CrosstermBackend::new(tape.clone());
    let area = ratatui::layout::Rect::new(0, 0, s.size.0, s.size.1);
    let options = ratatui::TerminalOptions {
        viewport: ratatui::Viewport::Fixed(area),
    };
    let mut term = ratatui::Terminal::with_options(backend, options).unwrap();
    client::ui::driver::draw(&mut term, s).unwrap();
    String::from_utf8_lossy(&tape.0.borrow()).into_owned()
}

#[test]
fn the_column_under_a_vs16_heart_is_blanked_before_the_heart_is_drawn() {
    let mut s = p11_state(80, 24);
    open_with(&mut s, members());
    key(&mut s, KeyCode::Char('g'), ALT);
    // The picker row is row 11, ❤️ at column 21 (1-based), 4 after 👍.
    let buf = buffer(&s);
    let y = row_of(&buf, "😂");
    assert_eq!((y, columns(&buf, y, &["👍", "❤️"])), (10, vec![16, 20]));
    let out = terminal_bytes(&s);
    // After the frame: a space at column 22 (which a terminal drawing ❤️ in
    // one column, as tmux 3.3a does, would otherwise leave stale), then the
    // heart over it at 21 (a terminal drawing it in two covers the space).
    let tail = "\u{1b}[11;22H \u{1b}[11;21H❤\u{fe0f}";
    let at = out
        .rfind(tail)
        .unwrap_or_else(|| panic!("no rewrite in {out:?}"));
    assert_eq!(out[at + tail.len()..].matches('❤').count(), 0);
    assert_eq!(out.matches('❤').count(), 2, "drawn once, rewritten once");
    assert_eq!(out.matches('👍').count(), 1, "an emoji-default one is not");
}

/// A command only the server answers (`/group`, `/invite`, `/leave`, `/dm`,
/// settings) is refused without a connection and stays typed; a message
/// typed offline still goes to the outbox.
#[test]
fn a_server_only_command_typed_offline_stays_in_the_compose_box() {
    let mut s = p11_state(80, 24);
    open_with(&mut s, members());
    update(
        &mut s,
        Action::Connection(client::ui::model::ConnState::Reconnecting {
            in_ms: 800,
            last_error: None,
        }),
    );
    for cmd in ["/invite carol", "/leave", "/group ops bob", "/dm bob"] {
        typ(&mut s, cmd);
        assert_eq!(
            key(&mut s, KeyCode::Enter, KeyModifiers::NONE),
            vec![],
            "{cmd}"
        );
        assert_eq!(s.compose.text, cmd);
        assert_eq!(
            s.notice.as_ref().map(|n| n.text.as_str()),
            Some("not connected: press Enter again once online")
        );
        key(&mut s, KeyCode::Char('u'), KeyModifiers::CONTROL);
    }
    typ(&mut s, "still queued");
    let fx = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(
        matches!(fx.as_slice(), [Effect::Command(EngineCommand::Send { body, .. })] if body == "still queued"),
        "{fx:?}"
    );
    // Back online, the notice goes (it is not true any more), and the
    // same Enter goes out.
    typ(&mut s, "/leave");
    assert_eq!(key(&mut s, KeyCode::Enter, KeyModifiers::NONE), vec![]);
    key(&mut s, KeyCode::Char('u'), KeyModifiers::CONTROL);
    update(
        &mut s,
        Action::Connection(client::ui::model::ConnState::Live),
    );
    assert_eq!(s.notice, None);
    typ(&mut s, "/leave");
    let fx = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(
        matches!(fx.as_slice(), [Effect::Request(r)] if r.needs_server()),
        "{fx:?}"
    );
}

/// The server refuses `/dm zed` (no such user): the reason shows and the
/// command comes back into the compose box to fix, unless something new
/// was typed meanwhile.
#[test]
fn a_refused_dm_comes_back_into_the_compose_box() {
    let mut s = p11_state(80, 24);
    typ(&mut s, "/dm zed");
    let fx = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    let [Effect::Request(request)] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(s.compose.text, "");
    update(&mut s, request.clone().answer(Err("no user zed".into())));
    assert_eq!(s.compose.text, "/dm zed");
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("no user zed")
    );
    key(&mut s, KeyCode::Char('u'), KeyModifiers::CONTROL);
    typ(&mut s, "/dm zed");
    let fx = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    let [Effect::Request(request)] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    typ(&mut s, "something new");
    update(&mut s, request.clone().answer(Err("no user zed".into())));
    assert_eq!(s.compose.text, "something new");
}

/// A lone CR in the newest text breaks the line in the timeline; the
/// list's one-line preview showed it as `␍` instead of a space.
#[test]
fn a_lone_cr_reads_as_a_space_in_the_list_preview() {
    let mut s = state(80, 24);
    let mut rows = convs();
    rows[0].last = Some(sync_core::protocol::Message::text(
        320, "bob", DAY2, "one\rtwo",
    ));
    update(&mut s, Action::Conversations(rows));
    let text = screen(&s);
    assert!(text.contains("bob: one two"), "{text}");
    assert!(!text.contains('␍'), "{text}");
}

/// Alt+S with no conversation open showed the menu, whose every entry then
/// said "no conversation open": it says so at once instead.
#[test]
fn the_conversation_menu_needs_an_open_conversation() {
    let mut s = p11_state(120, 40);
    key(&mut s, KeyCode::Char('s'), ALT);
    assert_eq!(s.overlay, client::ui::state::Overlay::None);
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("no conversation open — pick one with Ctrl+K or Alt+Up/Down")
    );
    open_with(&mut s, members());
    key(&mut s, KeyCode::Char('s'), ALT);
    assert_eq!(
        s.overlay,
        client::ui::state::Overlay::ConvMenu { selected: 0 }
    );
}

/// The keys that act on a message, with no conversation open, say that
/// rather than "no message to reply to" or "no links in the selected
/// message".
#[test]
fn message_keys_with_no_conversation_open_say_so() {
    let mut s = p11_state(120, 40);
    for c in ['r', 't', 'g', 'l', 'c'] {
        s.notice = None;
        assert_eq!(key(&mut s, KeyCode::Char(c), ALT), vec![], "Alt+{c}");
        assert_eq!(
            s.notice.as_ref().map(|n| n.text.as_str()),
            Some("no conversation open — pick one with Ctrl+K or Alt+Up/Down"),
            "Alt+{c}"
        );
    }
}

/// In a narrow pane a long group title is shortened with '…' so the member
/// count stays in the header (it was cut off the end).
#[test]
fn a_long_title_shortens_in_the_header_and_the_member_count_stays() {
    let mut s = state(70, 20);
    for row in s.convs.iter_mut().filter(|r| r.conv == team()) {
        row.title = "Release engineering and infrastructure".to_owned();
    }
    open_team(&mut s);
    let shown = screen(&s);
    // The timeline pane's header, right of the list.
    let line = shown.lines().next().unwrap_or_default();
    let header = line.rsplit('│').next().unwrap_or_default().trim_end();
    assert!(header.starts_with("# Release engineer"), "{line}");
    assert!(header.contains("…"), "{line}");
    assert!(header.ends_with("… · 3 members"), "{line}");
    let mut wide = state(140, 20);
    for row in wide.convs.iter_mut().filter(|r| r.conv == team()) {
        row.title = "Release engineering and infrastructure".to_owned();
    }
    open_team(&mut wide);
    let header = screen(&wide).lines().next().unwrap_or_default().to_owned();
    assert!(
        header.contains("# Release engineering and infrastructure · 3 members"),
        "{header}"
    );
}

/// A group of one says "1 member" in the header ("1 members" before).
#[test]
fn a_group_of_one_says_1_member() {
    let mut s = state(100, 20);
    for row in s.convs.iter_mut().filter(|r| r.conv == team()) {
        row.member_count = 1;
    }
    open_team(&mut s);
    let line = screen(&s).lines().next().unwrap_or_default().to_owned();
    let header = line.rsplit('│').next().unwrap_or_default().trim_end();
    assert_eq!(header, "# Team chat · 1 member");
}
