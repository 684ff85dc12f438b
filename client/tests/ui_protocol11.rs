//! Protocol 1.1 in the TUI (§9): snapshots of reply quotes, reactions,
//! mention highlights and badges, pinned/archived sections; key-handler
//! tests through the real `update` for mentions, settings, notifications,
//! deletion and a server without the features. Replies, threads and the
//! reaction picker are `ui_threads.rs`.

mod ui_support;

use client::ui::engine::{EngineCommand, EngineRequest};
use client::ui::model::{
    ConvId, ConvKind, Message, Notify, SettingsChange, TimelineItem, TimelineQuery,
};
use client::ui::state::{Action, AppState, Effect, Overlay};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::style::Modifier;
use ui_support::p11::*;
use ui_support::*;

const NONE: KeyModifiers = KeyModifiers::NONE;
const ALT: KeyModifiers = KeyModifiers::ALT;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;

#[test]
fn replies_quote_their_parent_and_reactions_show_under_the_message() {
    let mut s = p11_state(80, 24);
    open_p11(&mut s);
    let text = screen(&s);
    assert_snapshot("p11_timeline_80x24", &text);
    assert!(text.contains("↳ bob: release at 10?"), "{text}");
    assert!(text.contains("↳ message not loaded"), "{text}");
    assert!(text.contains("↳ dave: ‹message deleted›"), "{text}");
    assert!(text.contains("👍 3  🎉 1"), "{text}");
    assert!(text.contains("💬 2 replies · last 09:02"), "{text}");
    // Mine is reversed; the other is not.
    let buf = buffer(&s);
    assert!(style_at(&buf, &text, "👍 3", "👍 3").contains(Modifier::REVERSED));
    assert!(!style_at(&buf, &text, "👍 3", "🎉 1").contains(Modifier::REVERSED));
}

#[test]
fn a_mention_of_me_is_highlighted_but_not_a_longer_name() {
    let mut s = p11_state(80, 24);
    s.colors = false;
    open_p11(&mut s);
    let text = screen(&s);
    let buf = buffer(&s);
    let at_me = style_at(&buf, &text, "yes @alice", "@alice,");
    assert!(
        at_me.contains(Modifier::REVERSED | Modifier::BOLD),
        "{at_me:?}"
    );
    let longer = style_at(&buf, &text, "yes @alice", "@alicex");
    assert!(!longer.contains(Modifier::REVERSED), "{longer:?}");
}

#[test]
fn mention_boundaries_follow_the_protocol() {
    let mut s = p11_state(80, 12);
    s.colors = false;
    key(&mut s, KeyCode::Down, ALT);
    let mut m = local(1, "bob", DAY2, "@alice- ok, mail x@alice no, @alice.");
    m.mentions = vec!["alice".into()];
    m.mentions_me = true;
    update(
        &mut s,
        Action::Timeline {
            conv: team(),
            query: TimelineQuery::Latest { limit: 200 },
            items: vec![TimelineItem::Message(m)],
            total: 1,
        },
    );
    let text = screen(&s);
    let buf = buffer(&s);
    let line = "@alice- ok";
    assert!(style_at(&buf, &text, line, "@alice-").contains(Modifier::REVERSED));
    // x@alice: the @ follows a name character.
    assert!(!style_at(&buf, &text, line, "@alice no").contains(Modifier::REVERSED));
    assert!(style_at(&buf, &text, line, "@alice.").contains(Modifier::REVERSED));
}

fn list_rows() -> Vec<client::ui::model::ConvRow> {
    let mut rows = convs();
    rows[0].mentions = 2;
    rows[1].pinned = true;
    rows.swap(0, 1);
    rows
}

fn archived_row() -> client::ui::model::ConvRow {
    let mut old = row(
        "c9",
        ConvKind::Group,
        "old project",
        0,
        Some(Message::text(9, "dave", DAY1 - 60 * MIN, "shipped")),
        DAY1 - 60 * MIN,
    );
    old.archived = true;
    old
}

#[test]
fn list_shows_mention_badge_pinned_marker_and_archived_section() {
    let mut s = p11_state(80, 14);
    update(&mut s, Action::Archived(vec![archived_row()]));
    update(&mut s, Action::Conversations(list_rows()));
    let text = screen(&s);
    assert_snapshot("p11_list_80x14", &text);
    assert!(text.contains("@★ bob"), "{text}");
    assert!(text.contains("#  Team chat       @2 3"), "{text}");
    assert!(text.contains("▸ Archived (1) Alt+V"), "{text}");
    assert!(!text.contains("old project"), "{text}");
    // Expanding shows it, and Alt+Down reaches it.
    key(&mut s, KeyCode::Char('v'), ALT);
    let text = screen(&s);
    assert_snapshot("p11_list_archived_open_80x14", &text);
    assert!(text.contains("▾ Archived (1)"), "{text}");
    assert!(text.contains("#  old project"), "{text}");
    assert_eq!(s.convs.len(), 4);
    // A list refresh keeps the section expanded.
    update(&mut s, Action::Conversations(list_rows()));
    assert_eq!(
        s.convs.last().map(|r| r.title.as_str()),
        Some("old project")
    );
    key(&mut s, KeyCode::Char('v'), ALT);
    assert_eq!(s.convs.len(), 3);
}

fn settings_of(s: &mut AppState, cmd: &str) -> Vec<Effect> {
    typ(s, cmd);
    key(s, KeyCode::Enter, NONE)
}

fn settings_fx(change: SettingsChange) -> Vec<Effect> {
    vec![Effect::Request(EngineRequest::Settings {
        conv: team(),
        change,
    })]
}

#[test]
fn settings_commands_and_menu_produce_the_settings_request() {
    let mut s = p11_state(80, 24);
    open_p11(&mut s);
    // Offline: refused, and the typed command stays in the compose box.
    let live = std::mem::replace(
        &mut s.conn,
        client::ui::model::ConnState::Reconnecting {
            in_ms: 900,
            last_error: None,
        },
    );
    assert_eq!(settings_of(&mut s, "/pin"), vec![]);
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("not connected: press Enter again once online")
    );
    assert_eq!(s.compose.text, "/pin");
    key(&mut s, KeyCode::Char('u'), CTRL);
    s.conn = live;
    let notify = |n| SettingsChange {
        notify: Some(n),
        ..Default::default()
    };
    assert_eq!(
        settings_of(&mut s, "/mute"),
        settings_fx(notify(Notify::None))
    );
    assert_eq!(
        settings_of(&mut s, "/notify mentions"),
        settings_fx(notify(Notify::Mentions))
    );
    assert_eq!(
        settings_of(&mut s, "/notify all"),
        settings_fx(notify(Notify::All))
    );
    assert_eq!(settings_of(&mut s, "/notify some"), vec![]);
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("usage: /notify all|mentions|none")
    );
    key(&mut s, KeyCode::Char('u'), CTRL);
    let pin = SettingsChange {
        pinned: Some(true),
        ..Default::default()
    };
    assert_eq!(settings_of(&mut s, "/pin"), settings_fx(pin));
    assert_eq!(
        settings_of(&mut s, "/unarchive"),
        settings_fx(SettingsChange {
            archived: Some(false),
            ..Default::default()
        })
    );
    assert_eq!(
        settings_of(&mut s, "/archive"),
        settings_fx(SettingsChange {
            archived: Some(true),
            ..Default::default()
        })
    );
    // The menu: Down twice = "Notify: none", then pin (toggles the current value).
    key(&mut s, KeyCode::Char('s'), ALT);
    assert_snapshot("p11_menu_80x24", &screen(&s));
    key(&mut s, KeyCode::Down, NONE);
    key(&mut s, KeyCode::Down, NONE);
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        settings_fx(notify(Notify::None))
    );
    key(&mut s, KeyCode::Char('s'), ALT);
    for _ in 0..3 {
        key(&mut s, KeyCode::Down, NONE);
    }
    assert_eq!(key(&mut s, KeyCode::Enter, NONE), settings_fx(pin));
    // The answer says what changed.
    let answer = EngineRequest::Settings {
        conv: team(),
        change: pin,
    }
    .answer(Ok(client::ui::engine::EngineReply::Done));
    assert_eq!(answer, Action::Info("pinned".into()));
}

#[test]
fn a_server_without_the_features_refuses_with_a_reason() {
    let mut s = state(80, 24); // no features: a v1 server
    open_p11(&mut s);
    let err = |s: &AppState| s.notice.as_ref().map(|n| n.text.clone());
    assert_eq!(key(&mut s, KeyCode::Char('r'), ALT), vec![]);
    assert_eq!(
        err(&s).as_deref(),
        Some("the server does not support replies")
    );
    assert_eq!(s.compose.reply_to, None);
    assert_eq!(key(&mut s, KeyCode::Char('t'), ALT), vec![]);
    assert_eq!(
        err(&s).as_deref(),
        Some("the server does not support threads")
    );
    assert_eq!(key(&mut s, KeyCode::Char('g'), ALT), vec![]);
    assert_eq!(
        err(&s).as_deref(),
        Some("the server does not support reactions")
    );
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(key(&mut s, KeyCode::Char('s'), ALT), vec![]);
    assert_eq!(
        err(&s).as_deref(),
        Some("the server does not support conversation settings")
    );
    assert_eq!(settings_of(&mut s, "/pin"), vec![]);
    assert_eq!(
        err(&s).as_deref(),
        Some("the server does not support conversation settings")
    );
    key(&mut s, KeyCode::Char('u'), CTRL);
    assert_eq!(key(&mut s, KeyCode::Char('m'), ALT), vec![]);
    assert_eq!(
        err(&s).as_deref(),
        Some("the server does not support mentions")
    );
    // No archived section, no mention badge without the data.
    let text = screen(&s);
    assert!(!text.contains("Archived"), "{text}");
}

#[test]
fn delete_says_whether_the_content_is_erased() {
    let mut s = p11_state(80, 24);
    open_team(&mut s);
    let fx = settings_of(&mut s, "/delete");
    assert_eq!(
        fx,
        vec![Effect::Command(EngineCommand::Redact {
            conv: team(),
            seq: 315
        })]
    );
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("deleted: the content is erased for everyone")
    );
    update(&mut s, Action::Features(vec!["reply".into()]));
    settings_of(&mut s, "/delete");
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("deleted: the content may remain on the server (it does not support real deletion)")
    );
}

fn new_message(s: &mut AppState, conv: &str, mentions: &[&str]) -> Vec<Effect> {
    let mut m = Message::text(500, "bob", DAY2 + 20 * MIN, "hello @alice");
    m.mentions = mentions.iter().map(|x| (*x).to_owned()).collect();
    update(
        s,
        Action::NewMessage {
            conv: ConvId::from(conv),
            message: m,
        },
    )
}

#[test]
fn notifications_follow_the_notify_setting() {
    let mut s = p11_state(80, 24);
    // Nothing open: every conversation may notify.
    assert_eq!(new_message(&mut s, "c1", &[]).len(), 1);
    let mut rows = convs();
    rows[0].notify = Notify::Mentions;
    rows[1].notify = Notify::None;
    update(&mut s, Action::Conversations(rows));
    assert_eq!(new_message(&mut s, "c1", &[]), vec![]);
    assert_eq!(
        new_message(&mut s, "c1", &["alice"]),
        vec![Effect::Notify {
            title: "Team chat".into(),
            body: "bob: hello @alice".into()
        }]
    );
    assert_eq!(new_message(&mut s, "c1", &["carol"]), vec![]);
    assert_eq!(new_message(&mut s, "c2", &["alice"]), vec![]);
    assert_eq!(new_message(&mut s, "c3", &[]).len(), 1);
}

#[test]
fn next_mention_key_opens_the_conversation_that_mentions_me() {
    let mut s = p11_state(80, 24);
    let mut rows = convs();
    rows[2].mentions = 1;
    update(&mut s, Action::Conversations(rows));
    let fx = key(&mut s, KeyCode::Char('m'), ALT);
    assert_eq!(
        fx.first(),
        Some(&Effect::Command(EngineCommand::Open {
            conv: ConvId::from("c3")
        }))
    );
    // From there, no other conversation mentions me.
    assert_eq!(key(&mut s, KeyCode::Char('m'), ALT), vec![]);
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("no conversation mentions you")
    );
}

#[test]
fn tab_completes_member_names_after_at() {
    let mut s = p11_state(80, 24);
    open_p11(&mut s);
    typ(&mut s, "ping @ca");
    key(&mut s, KeyCode::Tab, NONE);
    assert_eq!(s.compose.text, "ping @carol ");
    typ(&mut s, "and @dv");
    key(&mut s, KeyCode::Tab, NONE);
    // Fuzzy: "dv" matches dave.
    assert_eq!(s.compose.text, "ping @carol and @dave ");
    assert_eq!(s.compose.cursor, s.compose.text.chars().count());
}

#[test]
fn with_everything_archived_the_section_still_shows() {
    let mut s = p11_state(80, 8);
    update(&mut s, Action::Archived(vec![archived_row()]));
    update(&mut s, Action::Conversations(Vec::new()));
    let text = screen(&s);
    assert!(text.contains("▸ Archived (1)"), "{text}");
    assert!(!text.contains("No conversations"), "{text}");
}
