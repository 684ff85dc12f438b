//! Key handling and commands through the real `update`, composing: which
//! engine commands and requests (effects) typing, Enter, slash commands and
//! remapped keys produce, and what the user sees change.

mod ui_support;

use client::ui::engine::{EngineCommand, EngineRequest};
use client::ui::model::ConvId;
use client::ui::state::{Action, Effect, Overlay};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers};
use ui_support::*;

const NONE: KeyModifiers = KeyModifiers::NONE;

#[test]
fn enter_sends_and_alt_enter_inserts_a_newline() {
    let mut s = state(80, 24);
    open_team(&mut s);
    typ(&mut s, "hello");
    key(&mut s, KeyCode::Enter, KeyModifiers::ALT);
    typ(&mut s, "world");
    key(&mut s, KeyCode::Enter, KeyModifiers::SHIFT);
    typ(&mut s, "!");
    assert_eq!(s.compose.text, "hello\nworld\n!");
    let fx = key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(
        fx,
        vec![Effect::Command(EngineCommand::Send {
            conv: team(),
            body: "hello\nworld\n!".into()
        })]
    );
    assert_eq!(s.compose.text, "");
    // The compose box grew to three lines while the text was there.
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![],
        "empty compose sends nothing"
    );
}

#[test]
fn up_in_empty_compose_edits_last_own_message() {
    let mut s = state(80, 24);
    open_team(&mut s);
    key(&mut s, KeyCode::Up, NONE);
    assert_eq!(s.compose.editing, Some(315));
    assert_eq!(s.compose.text, "fixed the build (for real)");
    assert!(screen(&s).contains("┌ Edit message "));
    typ(&mut s, "!");
    let fx = key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(
        fx,
        vec![Effect::Command(EngineCommand::Edit {
            conv: team(),
            seq: 315,
            body: "fixed the build (for real)!".into()
        })]
    );
    assert_eq!(s.compose.editing, None);
}

/// Ctrl+U in an edit clears its text and it stays an edit: retyped and
/// sent, it replaces the message (it became a new message, and the notice
/// kept saying `editing your message`).
#[test]
fn clearing_an_edit_keeps_it_an_edit() {
    let mut s = state(80, 24);
    open_team(&mut s);
    key(&mut s, KeyCode::Up, NONE);
    key(&mut s, KeyCode::Char('u'), KeyModifiers::CONTROL);
    assert_eq!(s.compose.text, "");
    assert!(screen(&s).contains("┌ Edit message "));
    typ(&mut s, "short");
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::Edit {
            conv: team(),
            seq: 315,
            body: "short".into()
        })]
    );
}

/// In a group I left, Enter refuses at once and keeps the text (sync-core
/// refused the row after the compose box was cleared: the text was lost).
#[test]
fn a_message_to_a_group_i_left_is_refused_and_kept() {
    let mut s = state(80, 24);
    open_team(&mut s);
    s.convs
        .iter_mut()
        .filter(|r| r.conv == team())
        .for_each(|r| r.left = true);
    typ(&mut s, "can I still post?");
    assert_eq!(key(&mut s, KeyCode::Enter, NONE), vec![]);
    assert_eq!(s.compose.text, "can I still post?");
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("you left this group: it is read-only (your text is kept)")
    );
    assert!(
        screen(&s).contains("# Team chat · you left (read-only)"),
        "{}",
        screen(&s)
    );
}

/// Nothing open: Enter on the empty compose box opens the conversation the
/// list highlights (it did nothing, while the pane said "Pick a
/// conversation").
#[test]
fn enter_with_nothing_open_opens_the_highlighted_conversation() {
    let mut s = state(80, 24);
    assert!(s.open.is_none());
    let fx = key(&mut s, KeyCode::Enter, NONE);
    let first = s.convs[0].conv.clone();
    assert_eq!(s.open.as_ref().map(|o| o.conv.clone()), Some(first.clone()));
    assert!(
        matches!(fx.first(), Some(Effect::Command(EngineCommand::Open { conv })) if *conv == first),
        "{fx:?}"
    );
}

/// Word-wise editing as readline and WeeChat have it: Ctrl+W / Alt+Backspace
/// delete the word before the cursor, Ctrl+Left / Alt+B and Ctrl+Right /
/// Alt+F move by words (spaces before a word go with it).
#[test]
fn words_are_deleted_and_crossed_with_readline_keys() {
    let mut s = state(80, 24);
    open_team(&mut s);
    typ(&mut s, "deploy the  new build");
    key(&mut s, KeyCode::Char('w'), KeyModifiers::CONTROL);
    assert_eq!(s.compose.text, "deploy the  new ");
    key(&mut s, KeyCode::Backspace, KeyModifiers::ALT);
    assert_eq!(s.compose.text, "deploy the  ");
    key(&mut s, KeyCode::Left, KeyModifiers::CONTROL);
    assert_eq!(s.compose.cursor, 7);
    key(&mut s, KeyCode::Char('b'), KeyModifiers::ALT);
    assert_eq!(s.compose.cursor, 0);
    key(&mut s, KeyCode::Right, KeyModifiers::CONTROL);
    assert_eq!(s.compose.cursor, 6);
    key(&mut s, KeyCode::Char('f'), KeyModifiers::ALT);
    assert_eq!(s.compose.cursor, 10);
    typ(&mut s, "ir");
    assert_eq!(s.compose.text, "deploy their  ");
}

#[test]
fn slash_commands_produce_engine_requests() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let run = |s: &mut client::ui::state::AppState, text: &str| {
        typ(s, text);
        key(s, KeyCode::Enter, NONE)
    };
    assert_eq!(
        run(&mut s, "/dm bob"),
        vec![Effect::Request(EngineRequest::CreateDirect {
            user: "bob".into()
        })]
    );
    assert_eq!(
        run(&mut s, "/group \"Ops team\" bob carol"),
        vec![Effect::Request(EngineRequest::CreateGroup {
            title: "Ops team".into(),
            members: vec!["bob".into(), "carol".into()]
        })]
    );
    assert_eq!(
        run(&mut s, "/invite dave"),
        vec![Effect::Request(EngineRequest::Invite {
            conv: team(),
            users: vec!["dave".into()]
        })]
    );
    assert_eq!(
        run(&mut s, "/delete"),
        vec![Effect::Command(EngineCommand::Redact {
            conv: team(),
            seq: 315
        })]
    );
    assert_eq!(
        run(&mut s, "/edit new text"),
        vec![Effect::Command(EngineCommand::Edit {
            conv: team(),
            seq: 315,
            body: "new text".into()
        })]
    );
    assert_eq!(
        run(&mut s, "/search deploy"),
        vec![Effect::Search {
            query: "deploy".into()
        }]
    );
    assert_eq!(
        run(&mut s, "/read"),
        vec![Effect::Command(EngineCommand::MarkAllRead {
            conv: ConvId::from("c3")
        })]
    );
    assert_eq!(
        run(&mut s, "/leave"),
        vec![Effect::Request(EngineRequest::Leave { conv: team() })]
    );
    assert_eq!(
        run(&mut s, "//not a command"),
        vec![Effect::Command(EngineCommand::Send {
            conv: team(),
            body: "/not a command".into()
        })]
    );
    assert_eq!(run(&mut s, "/quit"), vec![Effect::Quit]);
    assert!(s.quit);
}

#[test]
fn unknown_command_shows_an_error_and_sends_nothing() {
    let mut s = state(80, 24);
    open_team(&mut s);
    typ(&mut s, "/frobnicate now");
    assert_eq!(key(&mut s, KeyCode::Enter, NONE), vec![]);
    assert_eq!(
        s.compose.text, "/frobnicate now",
        "text kept so it can be fixed"
    );
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some(
            "unknown command /frobnicate (see /help; a message that starts with / is sent as //…)"
        )
    );
    assert!(screen(&s).contains("unknown command /frobnicate"));
}

#[test]
fn selected_message_is_the_target_of_delete() {
    let mut s = state(80, 24);
    open_team(&mut s);
    // Ctrl+Up from the bottom: failed p2, pending p1, 320, 319, 318, 317,
    // 315 (own; 316 is deleted, no message to act on).
    for _ in 0..7 {
        key(&mut s, KeyCode::Up, KeyModifiers::CONTROL);
    }
    assert_eq!(
        s.open.as_ref().unwrap().selected,
        Some(client::ui::state::ItemKey::Seq(315))
    );
    typ(&mut s, "/delete");
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::Redact {
            conv: team(),
            seq: 315
        })]
    );
}

#[test]
fn retry_and_discard_target_the_failed_message() {
    let mut s = state(80, 24);
    open_team(&mut s);
    assert_eq!(
        key(&mut s, KeyCode::Char('r'), KeyModifiers::CONTROL),
        vec![Effect::Command(EngineCommand::Retry {
            client_id: "p2".into()
        })]
    );
    assert_eq!(
        key(&mut s, KeyCode::Char('x'), KeyModifiers::CONTROL),
        vec![Effect::Command(EngineCommand::Discard {
            client_id: "p2".into()
        })]
    );
}

#[test]
fn typing_is_sent_at_most_every_three_seconds() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let fx = typ(&mut s, "abc");
    assert_eq!(
        fx,
        vec![Effect::Command(EngineCommand::Typing { conv: team() })]
    );
    update(
        &mut s,
        Action::Tick {
            now_ms: DAY2 + 15 * MIN + 2_999,
        },
    );
    assert_eq!(typ(&mut s, "d"), vec![]);
    update(
        &mut s,
        Action::Tick {
            now_ms: DAY2 + 15 * MIN + 3_000,
        },
    );
    assert_eq!(
        typ(&mut s, "e"),
        vec![Effect::Command(EngineCommand::Typing { conv: team() })]
    );
}

#[test]
fn remapped_keys_are_used() {
    let mut s = state(80, 24);
    let mut cfg = std::collections::BTreeMap::new();
    cfg.insert("switcher".to_owned(), "ctrl+p".to_owned());
    s.keys = client::ui::keys::KeyMap::from_config(&cfg).unwrap();
    key(&mut s, KeyCode::Char('k'), KeyModifiers::CONTROL);
    assert_eq!(s.overlay, Overlay::None);
    key(&mut s, KeyCode::Char('p'), KeyModifiers::CONTROL);
    assert!(matches!(s.overlay, Overlay::Switcher { .. }));
}

/// Hints name the keys as the user bound them, not the defaults.
#[test]
fn hints_name_the_remapped_keys() {
    let mut s = state(80, 24);
    let mut cfg = std::collections::BTreeMap::new();
    cfg.insert("switcher".to_owned(), "ctrl+o".to_owned());
    cfg.insert("prev_conversation".to_owned(), "ctrl+up".to_owned());
    cfg.insert("next_conversation".to_owned(), "ctrl+down".to_owned());
    cfg.insert("select_up".to_owned(), "alt+k".to_owned());
    cfg.insert("select_down".to_owned(), "alt+j".to_owned());
    cfg.insert("help".to_owned(), "f1".to_owned());
    s.keys = client::ui::keys::KeyMap::from_config(&cfg).unwrap();
    let shown = screen(&s);
    assert!(
        shown.contains("Pick a conversation: Ctrl+Up/Down, Ctrl+O, or click."),
        "{shown}"
    );
    assert!(shown.contains("Press F1 for help."), "{shown}");
    assert!(shown.contains("│ F1 help"), "the status bar: {shown}");
    key(&mut s, KeyCode::Char('l'), KeyModifiers::ALT);
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("no conversation open — pick one with Ctrl+O or Ctrl+Up/Down")
    );
}

/// Every "Esc …" hint names the cancel key as bound.
#[test]
fn hints_name_a_remapped_cancel_key() {
    let mut s = state(80, 24);
    let mut cfg = std::collections::BTreeMap::new();
    cfg.insert("cancel".to_owned(), "ctrl+g".to_owned());
    s.keys = client::ui::keys::KeyMap::from_config(&cfg).unwrap();
    open_team(&mut s);
    key(&mut s, KeyCode::Char('?'), NONE);
    assert!(
        screen(&s).contains(" Help — Up/Down scroll, Ctrl+G closes "),
        "{}",
        screen(&s)
    );
    key(&mut s, KeyCode::Esc, NONE);
    assert_eq!(s.overlay, Overlay::Help, "Esc is not bound now");
    key(&mut s, KeyCode::Char('g'), KeyModifiers::CONTROL);
    assert_eq!(s.overlay, Overlay::None);
    typ(&mut s, "**draft**");
    key(&mut s, KeyCode::Char('p'), KeyModifiers::ALT);
    assert!(
        screen(&s).contains(" Preview (Ctrl+G closes) "),
        "{}",
        screen(&s)
    );
    assert!(!screen(&s).contains("Esc"), "{}", screen(&s));
}

#[test]
fn a_too_long_message_is_refused_and_the_draft_kept() {
    let mut s = state(100, 24);
    open_team(&mut s);
    let long = "x".repeat(16 * 1024 + 1);
    typ(&mut s, &long[..12_000]);
    assert!(
        !screen(&s).contains("/16384 bytes"),
        "no count far below the limit"
    );
    typ(&mut s, &long[12_000..]);
    assert!(screen(&s).contains("16385/16384 bytes — too long"));
    let fx = key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(fx, vec![], "nothing is sent or queued");
    assert_eq!(s.compose.text, long, "the draft is kept");
    assert!(screen(&s).contains("message is 16385 bytes, the limit is 16384"));
    // Shortened to the limit, it goes.
    key(&mut s, KeyCode::Backspace, NONE);
    let fx = key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(
        fx,
        vec![Effect::Command(EngineCommand::Send {
            conv: team(),
            body: "x".repeat(16 * 1024)
        })]
    );
}

#[test]
fn each_conversation_keeps_its_draft_and_drafts_are_saved_for_a_restart() {
    let mut s = state(80, 24);
    open_team(&mut s);
    typ(&mut s, "half a thought");
    let fx = key(&mut s, KeyCode::Down, KeyModifiers::ALT);
    let mut saved = client::ui::drafts::DraftMap::new();
    saved.insert("c1".into(), "half a thought".into());
    assert!(fx.contains(&Effect::SaveDrafts(saved.clone())), "{fx:?}");
    assert_eq!(s.compose.text, "", "bob's conversation has no draft");
    typ(&mut s, "for bob");
    key(&mut s, KeyCode::Up, KeyModifiers::ALT);
    assert_eq!(s.compose.text, "half a thought");
    assert_eq!(s.compose.cursor, "half a thought".chars().count());
    assert_eq!(s.drafts.get("c2").map(String::as_str), Some("for bob"));
    // A later run starts with the saved drafts.
    let mut t = state(80, 24);
    t.drafts = saved;
    open_team(&mut t);
    assert_eq!(t.compose.text, "half a thought");
    // Sending clears the draft on the next switch.
    key(&mut t, KeyCode::Enter, NONE);
    let fx = key(&mut t, KeyCode::Down, KeyModifiers::ALT);
    assert!(
        fx.contains(&Effect::SaveDrafts(Default::default())),
        "{fx:?}"
    );
}
