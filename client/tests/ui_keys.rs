//! Key handling and commands through the real `update`: which engine
//! requests (effects) a keypress produces, and what the user sees change.

mod ui_support;

use client::ui::engine::{EngineCommand, EngineRequest};
use client::ui::model::{ConvId, Message, OutboxState, TimelineItem, TimelineQuery};
use client::ui::state::{Action, Effect, Overlay, ScrollPos};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
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
    let text = screen(&s);
    assert!(
        text.contains("unknown command /frobnicate (see /help)"),
        "{text}"
    );
}

#[test]
fn selected_message_is_the_target_of_delete() {
    let mut s = state(80, 24);
    open_team(&mut s);
    // Ctrl+Up from the bottom: failed p2, pending p1, 320, 319, 318, 317, 316, 315 (own).
    for _ in 0..8 {
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

/// The window the real store returns for `Around { seq, 200, 200 }` in a
/// 2,000-message conversation: 200 below the anchor, the anchor, 199 above.
#[test]
fn ctrl_c_quits_from_anywhere() {
    let mut s = state(80, 24);
    key(&mut s, KeyCode::Char('k'), KeyModifiers::CONTROL);
    assert_eq!(
        key(&mut s, KeyCode::Char('c'), KeyModifiers::CONTROL),
        vec![Effect::Quit]
    );
    assert!(s.quit);
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
fn first_use_login_prompt_masks_logs_in_and_offers_register() {
    let mut s = state(80, 24);
    at_login_prompt(&mut s);
    // Enter with nothing typed asks for the password instead of sending.
    assert_eq!(key(&mut s, KeyCode::Enter, NONE), vec![]);
    assert!(screen(&s).contains("type your password first"));
    typ(&mut s, "hunter22");
    key(&mut s, KeyCode::Backspace, NONE);
    let text = screen(&s);
    assert!(text.contains("Password: •••••••"), "{text}");
    assert!(!text.contains("hunter"), "{text}");
    assert!(!format!("{:?}", s.overlay).contains("hunter"));
    assert_eq!(
        s.compose.text, "",
        "typing went to the prompt, not the compose box"
    );
    let fx = key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(
        fx,
        vec![Effect::Login {
            password: client::ui::state::Password("hunter2".into()),
            register: false,
            invite: None
        }]
    );
    // While it is on the wire, keys do nothing.
    assert_eq!(key(&mut s, KeyCode::Enter, NONE), vec![]);
    assert!(screen(&s).contains("talking to the server"));
    // Refused: the reason shows, the password stays for Ctrl+R (register).
    update(
        &mut s,
        Action::LoginResult(Err("refused: wrong password, or no user alice yet".into())),
    );
    assert!(screen(&s).contains("refused: wrong password, or no user alice yet"));
    let fx = key(&mut s, KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert_eq!(
        fx,
        vec![Effect::Login {
            password: client::ui::state::Password("hunter2".into()),
            register: true,
            invite: None
        }]
    );
    update(
        &mut s,
        Action::LoginResult(Ok("registered as alice".into())),
    );
    assert_eq!(s.overlay, Overlay::None);
    assert!(!s.needs_login);
    assert!(screen(&s).contains("registered as alice"));
    // Logged in: /login only says so.
    typ(&mut s, "/login");
    key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(s.overlay, Overlay::None);
    assert!(screen(&s).contains("already logged in as alice"));
}

#[test]
fn an_invite_only_server_makes_the_register_key_ask_for_a_code() {
    let mut s = state(80, 24);
    at_login_prompt(&mut s);
    typ(&mut s, "hunter22");
    let fx = key(&mut s, KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert_eq!(
        fx,
        vec![Effect::Login {
            password: client::ui::state::Password("hunter22".into()),
            register: true,
            invite: None
        }]
    );
    update(
        &mut s,
        Action::NeedsInvite("ws://chat needs an invite code to register".into()),
    );
    let text = screen(&s);
    assert!(text.contains("Invite code:"), "{text}");
    assert!(text.contains("needs an invite code to register"), "{text}");
    // Enter with no code yet asks for it; typing goes to the code field.
    assert_eq!(key(&mut s, KeyCode::Enter, NONE), vec![]);
    assert!(screen(&s).contains("type the invite code first"));
    typ(&mut s, "abcd-efgx");
    key(&mut s, KeyCode::Backspace, NONE);
    assert!(screen(&s).contains("Invite code: abcd-efg"));
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Login {
            password: client::ui::state::Password("hunter22".into()),
            register: true,
            invite: Some("abcd-efg".into())
        }]
    );
}

#[test]
fn esc_leaves_the_login_prompt_for_the_cache_and_login_reopens_it() {
    let mut s = state(80, 24);
    at_login_prompt(&mut s);
    key(&mut s, KeyCode::Esc, NONE);
    assert_eq!(s.overlay, Overlay::None);
    assert!(screen(&s).contains("/login to log in"));
    typ(&mut s, "/login");
    key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(s.overlay, login_overlay());
    // Ctrl+C still quits from the prompt.
    key(&mut s, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(s.quit);
}

#[test]
fn a_session_the_server_ends_reopens_the_login_prompt() {
    use client::ui::model::ConnState;
    let mut s = state(80, 24);
    s.login = Some(login_hook());
    update(&mut s, Action::Connection(ConnState::Live));
    assert_eq!(s.overlay, Overlay::None);
    // Logged in: /login does not open the prompt.
    typ(&mut s, "/login");
    key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(s.overlay, Overlay::None);
    // Revoked elsewhere: the engine reports LoggedOut and the prompt opens once.
    update(&mut s, Action::Connection(ConnState::LoggedOut));
    assert_eq!(
        s.overlay,
        Overlay::Login {
            password: Default::default(),
            error: Some("the server ended the session: log in again".into()),
            busy: false,
            invite: None,
        }
    );
    assert!(screen(&s).contains("the server ended the session"));
    key(&mut s, KeyCode::Esc, NONE);
    update(&mut s, Action::Connection(ConnState::LoggedOut));
    assert_eq!(s.overlay, Overlay::None, "not reopened for the same logout");
    typ(&mut s, "/login");
    key(&mut s, KeyCode::Enter, NONE);
    assert!(matches!(s.overlay, Overlay::Login { .. }));
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
fn the_reconnect_countdown_counts_down_and_errors_clear_once_live() {
    use client::ui::model::ConnState;
    let mut s = state(80, 24);
    let t0 = s.now_ms;
    update(
        &mut s,
        Action::Connection(ConnState::Reconnecting {
            in_ms: 14_000,
            last_error: None,
        }),
    );
    update(
        &mut s,
        Action::ConnectionError("connecting to ws://127.0.0.1:9/v1: Connection refused".into()),
    );
    let text = screen(&s);
    assert!(text.contains("Reconnecting in 14s"), "{text}");
    assert!(text.contains("Connection refused"), "{text}");
    update(&mut s, Action::Tick { now_ms: t0 + 5_000 });
    let text = screen(&s);
    assert!(text.contains("Reconnecting in 9s"), "{text}");
    update(
        &mut s,
        Action::Tick {
            now_ms: t0 + 13_100,
        },
    );
    assert!(screen(&s).contains("Reconnecting in 1s (F5: now)"));
    // F5 skips the rest of the wait; it does nothing once connected.
    assert_eq!(
        key(&mut s, KeyCode::F(5), NONE),
        vec![Effect::Command(EngineCommand::ReconnectNow)]
    );
    // The connection error holds until the client is Live, then goes.
    update(
        &mut s,
        Action::Tick {
            now_ms: t0 + 60_000,
        },
    );
    assert!(screen(&s).contains("Connection refused"));
    update(&mut s, Action::Connection(ConnState::Live));
    let text = screen(&s);
    assert!(!text.contains("Connection refused"), "{text}");
    assert!(!text.contains("Reconnecting"), "{text}");
    assert_eq!(key(&mut s, KeyCode::F(5), NONE), vec![]);
}

#[test]
fn notices_expire_instead_of_staying_for_minutes() {
    let mut s = state(80, 24);
    let t0 = s.now_ms;
    update(
        &mut s,
        Action::Info("registered as bob on ws://127.0.0.1:7878/v1".into()),
    );
    assert!(screen(&s).contains("registered as bob"));
    update(&mut s, Action::Tick { now_ms: t0 + 7_000 });
    assert!(screen(&s).contains("registered as bob"));
    update(&mut s, Action::Tick { now_ms: t0 + 8_000 });
    assert!(!screen(&s).contains("registered as bob"));
    update(&mut s, Action::Error("invite: not_found".into()));
    update(
        &mut s,
        Action::Tick {
            now_ms: t0 + 37_000,
        },
    );
    assert!(screen(&s).contains("invite: not_found"));
    update(
        &mut s,
        Action::Tick {
            now_ms: t0 + 38_000,
        },
    );
    assert!(!screen(&s).contains("invite: not_found"));
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

/// The timeline pane's rows (right of the list), top to bottom.
#[test]
fn quitting_a_local_server_others_use_asks_first() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let others = Arc::new(AtomicUsize::new(2));
    let mut s = state(100, 24);
    let count = others.clone();
    s.local_peers = Some(client::ui::engine::LocalPeers(Arc::new(move || {
        count.load(Ordering::SeqCst)
    })));
    let t0 = s.now_ms;
    assert_eq!(
        key(&mut s, KeyCode::Char('c'), KeyModifiers::CONTROL),
        vec![]
    );
    assert!(!s.quit);
    let text = screen(&s);
    assert!(
        text.contains("2 other connections use this local server, and it stops when you quit"),
        "{text}"
    );
    // A second press within 5 s quits.
    update(&mut s, Action::Tick { now_ms: t0 + 4_000 });
    assert_eq!(
        key(&mut s, KeyCode::Char('c'), KeyModifiers::CONTROL),
        vec![Effect::Quit]
    );
    // Alone on the server: quit at once.
    let mut s = state(100, 24);
    let count = others.clone();
    others.store(0, Ordering::SeqCst);
    s.local_peers = Some(client::ui::engine::LocalPeers(Arc::new(move || {
        count.load(Ordering::SeqCst)
    })));
    assert_eq!(
        key(&mut s, KeyCode::Char('c'), KeyModifiers::CONTROL),
        vec![Effect::Quit]
    );
}

#[test]
fn passwd_asks_for_the_passwords_in_a_box_and_logout_all_is_a_command() {
    let mut s = state(80, 24);
    typ(&mut s, "/passwd");
    key(&mut s, KeyCode::Enter, NONE);
    assert!(matches!(s.overlay, Overlay::Passwd { .. }));
    let text = screen(&s);
    assert!(text.contains("Change password"), "{text}");
    typ(&mut s, "old-password");
    key(&mut s, KeyCode::Enter, NONE);
    typ(&mut s, "new-password-1");
    key(&mut s, KeyCode::Tab, NONE);
    typ(&mut s, "new-password-2");
    assert_eq!(key(&mut s, KeyCode::Enter, NONE), vec![]);
    assert!(screen(&s).contains("the two new passwords differ"));
    // Nothing typed shows in clear.
    assert!(!screen(&s).contains("password-1"));
    key(&mut s, KeyCode::Backspace, NONE);
    typ(&mut s, "1");
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Passwd {
            old: client::ui::state::Password("old-password".into()),
            new: client::ui::state::Password("new-password-1".into()),
        }]
    );
    assert!(screen(&s).contains("talking to the server"));
    update(
        &mut s,
        Action::AccountResult(Err(
            "the current password is wrong; nothing was changed".into()
        )),
    );
    assert!(screen(&s).contains("the current password is wrong"));
    key(&mut s, KeyCode::Enter, NONE);
    update(
        &mut s,
        Action::AccountResult(Ok("changed the password of alice".into())),
    );
    assert_eq!(s.overlay, Overlay::None);
    assert!(screen(&s).contains("changed the password of alice"));

    typ(&mut s, "/logout all");
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Logout { all: true }]
    );
    typ(&mut s, "/logout everywhere");
    key(&mut s, KeyCode::Enter, NONE);
    assert!(screen(&s).contains("usage: /logout [all]"));
}
