//! Key handling through the real `update`, the session around the chat: the
//! log-in and password boxes, a session the server ends, the reconnect
//! countdown, notices, and quitting.

mod ui_support;

use client::ui::engine::EngineCommand;
use client::ui::state::{Action, Effect, Overlay};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers};
use ui_support::*;

const NONE: KeyModifiers = KeyModifiers::NONE;

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
    // Refused again: typing starts a new password rather than appending
    // to the refused one (dots after dots), and Ctrl+U clears the field.
    update(
        &mut s,
        Action::LoginResult(Err("refused: wrong password, or no user alice yet".into())),
    );
    typ(&mut s, "again");
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Login {
            password: client::ui::state::Password("again".into()),
            register: false,
            invite: None
        }]
    );
    update(
        &mut s,
        Action::LoginResult(Err("refused: wrong password, or no user alice yet".into())),
    );
    typ(&mut s, "zz");
    key(&mut s, KeyCode::Char('u'), KeyModifiers::CONTROL);
    typ(&mut s, "right-one");
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Login {
            password: client::ui::state::Password("right-one".into()),
            register: false,
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
    // Wrapped whole: the key to press is not cut off at the pane's edge.
    let text = screen(&s);
    assert!(
        text.contains("│2 other connections use this local server, and it stops when you\n"),
        "{text}"
    );
    assert!(text.contains("│quit: Ctrl+C again to quit\n"), "{text}");
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
