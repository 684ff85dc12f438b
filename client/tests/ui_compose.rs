//! The compose box for developers: the draft in `$EDITOR` (Alt+E), every
//! editing key from the remappable key map, grapheme-aware cursor moves,
//! bracketed paste, `/code LANG`, the preview, and the links / code-view
//! keys of a message.

mod ui_support;

use client::ui::engine::EngineCommand;
use client::ui::external::External;
use client::ui::state::{Action, AppState, Effect, Overlay};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers};
use ui_support::*;

const NONE: KeyModifiers = KeyModifiers::NONE;
const ALT: KeyModifiers = KeyModifiers::ALT;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;

fn with_messages(bodies: &[&str]) -> AppState {
    let mut s = state(80, 24);
    open_team(&mut s);
    show_bodies(&mut s, DAY2, bodies);
    s
}

#[test]
fn alt_e_opens_the_draft_in_the_editor_and_the_result_is_kept_for_review() {
    let mut s = state(80, 24);
    open_team(&mut s);
    typ(&mut s, "draft");
    // Ctrl+E stays end-of-line.
    key(&mut s, KeyCode::Char('a'), CTRL);
    key(&mut s, KeyCode::Char('e'), CTRL);
    assert_eq!(s.compose.cursor, 5);
    let fx = key(&mut s, KeyCode::Char('e'), ALT);
    assert_eq!(
        fx,
        vec![Effect::External(External::Editor {
            draft: "draft".into()
        })]
    );
    // The editor's text replaces the draft; nothing is sent.
    let fx = update(
        &mut s,
        Action::EditorDone(Ok("fn main() {}\nsecond line".into())),
    );
    assert_eq!(fx, vec![]);
    assert_eq!(s.compose.text, "fn main() {}\nsecond line");
    assert_eq!(s.compose.cursor, 24);
    // A failed editor leaves the draft and says why.
    update(
        &mut s,
        Action::EditorDone(Err(
            "the editor exited with exit status: 1: the draft is unchanged".into(),
        )),
    );
    assert_eq!(s.compose.text, "fn main() {}\nsecond line");
    let notice = s.notice.as_ref().expect("a notice says why");
    assert!(
        notice.error && notice.text.ends_with("the draft is unchanged"),
        "{notice:?}"
    );
}

#[test]
fn every_compose_key_comes_from_the_key_map() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let mut cfg = std::collections::BTreeMap::new();
    for (action, spec) in [
        ("cursor_left", "ctrl+b"),
        ("cursor_right", "ctrl+f"),
        ("line_start", "alt+a"),
        ("line_end", "alt+z"),
        ("delete_back", "ctrl+h"),
        ("delete_forward", "ctrl+d"),
        ("clear_compose", "ctrl+w"),
        ("editor", "ctrl+o"),
    ] {
        cfg.insert(action.to_owned(), spec.to_owned());
    }
    s.keys = client::ui::keys::KeyMap::from_config(&cfg).unwrap();
    typ(&mut s, "abcd");
    key(&mut s, KeyCode::Char('b'), CTRL);
    key(&mut s, KeyCode::Char('h'), CTRL);
    assert_eq!((s.compose.text.as_str(), s.compose.cursor), ("abd", 2));
    // The old keys no longer edit.
    key(&mut s, KeyCode::Left, NONE);
    key(&mut s, KeyCode::Backspace, NONE);
    assert_eq!((s.compose.text.as_str(), s.compose.cursor), ("abd", 2));
    key(&mut s, KeyCode::Char('a'), ALT);
    key(&mut s, KeyCode::Char('d'), CTRL);
    assert_eq!((s.compose.text.as_str(), s.compose.cursor), ("bd", 0));
    key(&mut s, KeyCode::Char('z'), ALT);
    key(&mut s, KeyCode::Char('f'), CTRL);
    assert_eq!(s.compose.cursor, 2);
    assert_eq!(
        key(&mut s, KeyCode::Char('o'), CTRL),
        vec![Effect::External(External::Editor { draft: "bd".into() })]
    );
    key(&mut s, KeyCode::Char('w'), CTRL);
    assert_eq!(s.compose.text, "");
}

#[test]
fn a_skin_toned_emoji_and_a_zwj_family_move_and_delete_as_one() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let family = "👨\u{200D}👩\u{200D}👧";
    typ(&mut s, &format!("a{family}b👍🏽"));
    key(&mut s, KeyCode::Backspace, NONE);
    assert_eq!(s.compose.text, format!("a{family}b"));
    key(&mut s, KeyCode::Left, NONE);
    key(&mut s, KeyCode::Left, NONE);
    assert_eq!(s.compose.cursor, 1, "one step over the whole family");
    key(&mut s, KeyCode::Delete, NONE);
    assert_eq!(s.compose.text, "ab");
}

#[test]
fn a_multi_line_paste_is_inserted_not_sent_and_an_over_limit_one_is_kept() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let fx = update(&mut s, Action::Paste("line 1\r\nline 2\nline 3".into()));
    assert!(
        !fx.iter()
            .any(|f| matches!(f, Effect::Command(EngineCommand::Send { .. }))),
        "{fx:?}"
    );
    assert_eq!(s.compose.text, "line 1\nline 2\nline 3");
    key(&mut s, KeyCode::Char('u'), CTRL);
    let big = "y\n".repeat(9000);
    update(&mut s, Action::Paste(big.clone()));
    assert_eq!(s.compose.text, big);
    assert_eq!(key(&mut s, KeyCode::Enter, NONE), vec![]);
    assert_eq!(s.compose.text, big, "the draft is kept");
    // The size of what would be sent: the final newline is trimmed.
    assert!(screen(&s).contains("message is 17999 bytes, the limit is 16384"));
}

#[test]
fn slash_code_fences_the_draft_and_the_preview_shows_it_rendered() {
    let mut s = state(80, 24);
    open_team(&mut s);
    update(
        &mut s,
        Action::Paste("/code rust\nfn main() {\n    go();\n}".into()),
    );
    assert_eq!(key(&mut s, KeyCode::Enter, NONE), vec![]);
    assert_eq!(s.compose.text, "```rust\nfn main() {\n    go();\n}\n```");
    key(&mut s, KeyCode::Char('p'), ALT);
    assert_eq!(s.overlay, Overlay::Preview);
    assert_snapshot("md_preview_80x24", &screen(&s));
    key(&mut s, KeyCode::Esc, NONE);
    assert_eq!(s.overlay, Overlay::None);
    // Enter now sends the fenced text.
    let fx = key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(
        fx,
        vec![Effect::Command(EngineCommand::Send {
            conv: team(),
            body: "```rust\nfn main() {\n    go();\n}\n```".into()
        })]
    );
}

#[test]
fn the_links_key_lists_a_messages_links_to_open_or_copy() {
    let mut s = with_messages(&[
        "docs: [guide](https://docs.example/g) and https://x.example/issue/1",
        "no links here",
    ]);
    // Nothing selected: the newest message that has links.
    key(&mut s, KeyCode::Char('l'), ALT);
    assert_eq!(
        s.overlay,
        Overlay::Links {
            urls: vec![
                "https://docs.example/g".into(),
                "https://x.example/issue/1".into()
            ],
            selected: 0
        }
    );
    assert_snapshot("md_links_overlay_80x24", &screen(&s));
    key(&mut s, KeyCode::Down, NONE);
    let fx = key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(
        fx,
        vec![Effect::External(External::OpenUrl(
            "https://x.example/issue/1".into()
        ))]
    );
    assert_eq!(s.overlay, Overlay::None);
    key(&mut s, KeyCode::Char('l'), ALT);
    let fx = key(&mut s, KeyCode::Char('c'), NONE);
    assert_eq!(
        fx,
        vec![Effect::External(External::Copy(
            "https://docs.example/g".into()
        ))]
    );
    // The selected message without links: nothing to list.
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Char('l'), ALT);
    assert_eq!(s.overlay, Overlay::None);
    assert!(screen(&s).contains("no links in the selected message"));
}

#[test]
fn the_code_key_pages_a_messages_code_blocks() {
    let mut s = with_messages(&["```py\nprint(1)\n\n\tx = 2\n```\ntext", "plain"]);
    let fx = key(&mut s, KeyCode::Char('c'), ALT);
    assert_eq!(
        fx,
        vec![Effect::External(External::Pager {
            text: "print(1)\n\n    x = 2\n".into()
        })]
    );
}

/// A paste of control characters within the body limit whose frame would
/// pass the server's 64 KiB (each takes 6 bytes in JSON) is refused before
/// anything is queued, and the draft is kept: sent, it would get the
/// connection closed at every reconnect.
#[test]
fn a_body_too_large_once_encoded_is_refused_and_kept() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let hostile = format!("x{}", "\u{1}".repeat(15_000));
    update(&mut s, Action::Paste(hostile.clone()));
    assert_eq!(s.compose.text.len(), hostile.len(), "what the paste holds");
    let fx = key(&mut s, KeyCode::Enter, NONE);
    assert!(fx.is_empty(), "{} effects", fx.len());
    assert!(s.compose.text == hostile, "the draft is kept");
    let shown = screen(&s);
    assert!(
        shown.contains("message is 90"),
        "{}",
        shown
            .lines()
            .filter(|l| l.contains("message"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
