//! Protocol 1.1 in the TUI (§9): snapshots of reply quotes, reactions,
//! mention highlights and badges, pinned/archived sections and the thread
//! panel; key-handler tests through the real `update` for replying,
//! reacting, settings, notifications and a server without the features.

mod ui_support;

use client::ui::engine::{EngineCommand, EngineRequest};
use client::ui::model::{
    ConvId, ConvKind, Message, Notify, ReactionCount, SettingsChange, ThreadWindow, TimelineItem,
    TimelineQuery, features,
};
use client::ui::state::{Action, AppState, Effect, Overlay};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Modifier;
use ui_support::*;

const NONE: KeyModifiers = KeyModifiers::NONE;
const ALT: KeyModifiers = KeyModifiers::ALT;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;

fn all_features(s: &mut AppState) {
    let list = features::ALL.iter().map(|f| (*f).to_owned()).collect();
    update(s, Action::Features(list));
}

fn react(key: &str, count: u64, mine: bool) -> ReactionCount {
    ReactionCount {
        key: key.to_owned(),
        count,
        mine,
    }
}

/// 400: root with 2 replies and reactions; 401: reply to it mentioning
/// alice; 402: reply to a message not held; 403: reply to a deleted one.
fn p11_timeline() -> Vec<TimelineItem> {
    let mut root = local(400, "bob", DAY2, "release at 10?");
    root.replies = 2;
    root.last_reply_seq = Some(402);
    root.last_reply_ts = Some(DAY2 + 2 * MIN);
    root.reactions = vec![react("👍", 3, true), react("🎉", 1, false)];
    let mut reply = local(
        401,
        "carol",
        DAY2 + MIN,
        "yes @alice, and @alicex is not you",
    );
    reply.reply_to = Some(400);
    reply.thread = Some(400);
    reply.mentions = vec!["alice".into()];
    reply.mentions_me = true;
    let mut orphan = local(402, "bob", DAY2 + 2 * MIN, "agreed");
    orphan.reply_to = Some(12);
    orphan.thread = Some(12);
    let mut gone = local(399, "dave", DAY2 - MIN, "");
    gone.redacted = true;
    gone.body = None;
    let mut to_gone = local(403, "carol", DAY2 + 3 * MIN, "what did dave say?");
    to_gone.reply_to = Some(399);
    to_gone.thread = Some(399);
    vec![
        TimelineItem::Gap { from: 1, to: 398 },
        TimelineItem::Message(gone),
        TimelineItem::Message(root),
        TimelineItem::Message(reply),
        TimelineItem::Message(orphan),
        TimelineItem::Message(to_gone),
    ]
}

fn open_p11(s: &mut AppState) {
    key(s, KeyCode::Down, ALT);
    update(
        s,
        Action::Timeline {
            conv: team(),
            query: TimelineQuery::Latest { limit: 200 },
            items: p11_timeline(),
            total: 5,
        },
    );
}

fn p11_state(w: u16, h: u16) -> AppState {
    let mut s = state(w, h);
    all_features(&mut s);
    s
}

/// Types `body` and sends it with Enter: the one effect is a reply to
/// `reply_to` in the team conversation.
fn send_expecting_reply(s: &mut AppState, body: &str, reply_to: u64) {
    typ(s, body);
    assert_eq!(
        key(s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::Reply {
            conv: team(),
            reply_to,
            body: body.into()
        })]
    );
}

/// The store's complete thread window of root 400 reaches the open panel.
fn show_thread(
    s: &mut AppState,
    root: &client::ui::model::LocalMessage,
    replies: Vec<TimelineItem>,
) {
    update(
        s,
        Action::Thread {
            conv: team(),
            root: 400,
            window: ThreadWindow {
                root: Some(root.clone()),
                items: replies,
                complete: true,
            },
        },
    );
}

fn buffer(s: &AppState) -> ratatui::buffer::Buffer {
    let mut term = Terminal::new(TestBackend::new(s.size.0, s.size.1)).unwrap();
    client::ui::driver::draw(&mut term, s).unwrap();
    term.backend().buffer().clone()
}

/// The modifiers of the cell where `needle` starts on the line containing it.
fn style_at(buf: &ratatui::buffer::Buffer, text: &str, line_has: &str, needle: &str) -> Modifier {
    let (y, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(line_has))
        .unwrap_or_else(|| panic!("no line with {line_has:?}:\n{text}"));
    let prefix = &line[..line.find(needle).expect("needle on the line")];
    let x = unicode_width::UnicodeWidthStr::width(prefix);
    buf[(x as u16, y as u16)].modifier
}

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
    assert!(text.contains("@★bob"), "{text}");
    assert!(text.contains("# Team chat        @2 3"), "{text}");
    assert!(text.contains("▸ Archived (1) Alt+V"), "{text}");
    assert!(!text.contains("old project"), "{text}");
    // Expanding shows it, and Alt+Down reaches it.
    key(&mut s, KeyCode::Char('v'), ALT);
    let text = screen(&s);
    assert_snapshot("p11_list_archived_open_80x14", &text);
    assert!(text.contains("▾ Archived (1)"), "{text}");
    assert!(text.contains("# old project"), "{text}");
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

#[test]
fn thread_panel_shows_root_and_replies_and_sends_into_the_thread() {
    let mut s = p11_state(80, 24);
    open_p11(&mut s);
    typ(&mut s, "draft kept");
    // Select the root (Ctrl+Up from the newest: 403, 402, 401, 400).
    for _ in 0..4 {
        key(&mut s, KeyCode::Up, CTRL);
    }
    let fx = key(&mut s, KeyCode::Char('t'), ALT);
    assert_eq!(
        fx,
        vec![Effect::LoadThread {
            conv: team(),
            root: 400
        }]
    );
    let items = p11_timeline();
    let window = ThreadWindow {
        root: match &items[2] {
            TimelineItem::Message(m) => Some(m.clone()),
            _ => None,
        },
        items: vec![items[3].clone()],
        complete: false,
    };
    // Not complete: the first read asks the server for the thread.
    let fx = update(
        &mut s,
        Action::Thread {
            conv: team(),
            root: 400,
            window: window.clone(),
        },
    );
    assert_eq!(
        fx,
        vec![Effect::Request(EngineRequest::LoadThread {
            conv: team(),
            root: 400
        })]
    );
    let text = screen(&s);
    assert_snapshot("p11_thread_80x24", &text);
    assert!(text.contains("Thread — Esc closes"), "{text}");
    assert!(text.contains("loading replies…"), "{text}");
    assert!(
        text.contains("replying in the thread (Esc closes it)"),
        "{text}"
    );
    // Sends go to the thread, after its newest held reply.
    typ(&mut s, "count me in");
    let fx = key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(
        fx,
        vec![Effect::Command(EngineCommand::Reply {
            conv: team(),
            reply_to: 401,
            body: "count me in".into()
        })]
    );
    key(&mut s, KeyCode::Esc, NONE);
    assert!(s.thread.is_none());
    assert_eq!(s.compose.text, "draft kept");
}

/// With the thread panel open, a reaction goes to the thread's newest
/// reply (the root while it has none), not to the timeline's selection,
/// and a reply whose reaction is mine toggles off.
#[test]
fn reacting_with_the_thread_panel_open_reacts_to_its_newest_reply() {
    let mut s = p11_state(80, 24);
    open_p11(&mut s);
    for _ in 0..4 {
        key(&mut s, KeyCode::Up, CTRL); // 400
    }
    key(&mut s, KeyCode::Char('t'), ALT);
    let items = p11_timeline();
    let root = match &items[2] {
        TimelineItem::Message(m) => m.clone(),
        _ => unreachable!(),
    };
    let mut reply = match &items[3] {
        TimelineItem::Message(m) => m.clone(),
        _ => unreachable!(),
    };
    reply.reactions = vec![react("👍", 1, true)];
    show_thread(&mut s, &root, vec![]);
    key(&mut s, KeyCode::Char('g'), ALT);
    assert!(matches!(s.overlay, Overlay::React { target: 400, .. }));
    key(&mut s, KeyCode::Esc, NONE);
    show_thread(&mut s, &root, vec![TimelineItem::Message(reply)]);
    // The timeline's selection is still 400; the panel's newest reply wins.
    key(&mut s, KeyCode::Char('g'), ALT);
    assert!(matches!(s.overlay, Overlay::React { target: 401, .. }));
    let text = screen(&s);
    assert!(text.contains("to carol: yes @alice"), "{text}");
    // 👍 on 401 is mine (known from the thread window): Enter withdraws it.
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::Unreact {
            conv: team(),
            target: 401,
            key: "👍".into()
        })]
    );
}

/// The thread panel has its own selection (Ctrl+Up / Ctrl+Down while it is
/// open): the selected reply is highlighted there, scrolled into view,
/// reacted to, and quoted by the next reply, which clears it.
#[test]
fn the_thread_panel_selects_a_reply_to_react_and_reply_to() {
    let mut s = p11_state(80, 12);
    open_p11(&mut s);
    for _ in 0..4 {
        key(&mut s, KeyCode::Up, CTRL); // 400 in the timeline
    }
    key(&mut s, KeyCode::Char('t'), ALT);
    let items = p11_timeline();
    let (TimelineItem::Message(root), TimelineItem::Message(first)) = (&items[2], &items[3]) else {
        unreachable!()
    };
    let mut replies = vec![TimelineItem::Message(first.clone())];
    for (i, body) in ["one", "two", "three", "four", "five", "six"]
        .iter()
        .enumerate()
    {
        let mut m = local(410 + i as u64, "bob", DAY2 + 5 * MIN, body);
        (m.reply_to, m.thread) = (Some(400), Some(400));
        replies.push(TimelineItem::Message(m));
    }
    show_thread(&mut s, root, replies);
    let text = screen(&s);
    assert!(text.contains("six"), "{text}");
    assert!(
        !text.contains("yes @alice"),
        "401 is above the panel's view:\n{text}"
    );
    // Up from none: the newest reply, then older ones; 401 scrolls into view.
    key(&mut s, KeyCode::Up, CTRL);
    assert_eq!(s.thread.as_ref().unwrap().selected, Some(415));
    for _ in 0..6 {
        key(&mut s, KeyCode::Up, CTRL);
    }
    assert_eq!(s.thread.as_ref().unwrap().selected, Some(401));
    let text = screen(&s);
    let buf = buffer(&s);
    assert!(
        style_at(&buf, &text, "yes @alice", "yes").contains(Modifier::REVERSED),
        "the selected reply is highlighted:\n{text}"
    );
    // The timeline's selection (400) is not the panel's.
    assert_eq!(
        s.open.as_ref().unwrap().selected,
        Some(client::ui::state::ItemKey::Seq(400))
    );
    key(&mut s, KeyCode::Char('g'), ALT);
    assert!(matches!(s.overlay, Overlay::React { target: 401, .. }));
    key(&mut s, KeyCode::Esc, NONE);
    send_expecting_reply(&mut s, "to carol", 401);
    // Sent: back to the newest reply.
    assert_eq!(s.thread.as_ref().unwrap().selected, None);
    typ(&mut s, "next");
    assert!(matches!(
        key(&mut s, KeyCode::Enter, NONE).as_slice(),
        [Effect::Command(EngineCommand::Reply { reply_to: 415, .. })]
    ));
    // Down past the newest clears the selection.
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Down, CTRL);
    assert_eq!(s.thread.as_ref().unwrap().selected, None);
}

#[test]
fn reply_key_sends_a_reply_and_esc_cancels_it() {
    let mut s = p11_state(80, 24);
    open_p11(&mut s);
    key(&mut s, KeyCode::Up, CTRL); // 403
    key(&mut s, KeyCode::Up, CTRL); // 402
    key(&mut s, KeyCode::Char('r'), ALT);
    let text = screen(&s);
    assert!(
        text.contains("replying to bob: agreed (Esc cancels)"),
        "{text}"
    );
    send_expecting_reply(&mut s, "same", 402);
    assert_eq!(s.compose.reply_to, None);
    // Esc cancels: the next Enter is a plain send.
    key(&mut s, KeyCode::Char('r'), ALT);
    assert!(s.compose.reply_to.is_some());
    key(&mut s, KeyCode::Esc, NONE);
    assert_eq!(s.compose.reply_to, None);
    typ(&mut s, "plain");
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::Send {
            conv: team(),
            body: "plain".into()
        })]
    );
}

#[test]
fn picker_reacts_and_toggles_my_reaction_off() {
    let mut s = p11_state(80, 24);
    open_p11(&mut s);
    for _ in 0..4 {
        key(&mut s, KeyCode::Up, CTRL); // 400: my 👍 stands
    }
    key(&mut s, KeyCode::Char('g'), ALT);
    assert!(matches!(s.overlay, Overlay::React { target: 400, .. }));
    assert_snapshot("p11_picker_80x24", &screen(&s));
    // 👍 is first and mine: Enter withdraws it.
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::Unreact {
            conv: team(),
            target: 400,
            key: "👍".into()
        })]
    );
    assert_eq!(s.overlay, Overlay::None);
    // 🎉 is not mine: react. Chosen with Right x3.
    key(&mut s, KeyCode::Char('g'), ALT);
    for _ in 0..3 {
        key(&mut s, KeyCode::Right, NONE);
    }
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::React {
            conv: team(),
            target: 400,
            key: "🎉".into()
        })]
    );
    // A typed shortcode.
    key(&mut s, KeyCode::Char('g'), ALT);
    typ(&mut s, ":fire:");
    assert_eq!(
        key(&mut s, KeyCode::Enter, NONE),
        vec![Effect::Command(EngineCommand::React {
            conv: team(),
            target: 400,
            key: "🔥".into()
        })]
    );
    // An unknown one is refused, the picker stays.
    key(&mut s, KeyCode::Char('g'), ALT);
    typ(&mut s, ":nope:");
    assert_eq!(key(&mut s, KeyCode::Enter, NONE), vec![]);
    assert!(matches!(s.overlay, Overlay::React { .. }));
    assert_eq!(
        s.notice.as_ref().map(|n| n.text.as_str()),
        Some("unknown shortcode :nope:")
    );
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
        Some("not connected: this needs the server (press Enter again once online)")
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
fn a_parent_outside_the_window_is_quoted_once_read_from_the_store() {
    let mut s = p11_state(80, 24);
    open_p11(&mut s);
    assert!(screen(&s).contains("↳ message not loaded"));
    update(
        &mut s,
        Action::Parents {
            conv: team(),
            found: vec![local(12, "erin", DAY1, "old plan\nsecond line")],
        },
    );
    let text = screen(&s);
    assert!(text.contains("↳ erin: old plan"), "{text}");
    assert!(!text.contains("message not loaded"), "{text}");
    assert!(!text.contains("second line"), "{text}");
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

#[test]
fn a_long_thread_scrolls_with_page_keys() {
    let mut s = p11_state(80, 24);
    open_p11(&mut s);
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL);
    key(&mut s, KeyCode::Up, CTRL); // 400
    key(&mut s, KeyCode::Char('t'), ALT);
    let root = match &p11_timeline()[2] {
        TimelineItem::Message(m) => m.clone(),
        _ => unreachable!(),
    };
    let replies = (0..30)
        .map(|i| {
            let mut r = local(
                500 + i,
                if i % 2 == 0 { "bob" } else { "carol" },
                DAY2 + (10 + i as i64) * MIN,
                &format!("reply number {i}"),
            );
            r.reply_to = Some(400);
            r.thread = Some(400);
            TimelineItem::Message(r)
        })
        .collect();
    show_thread(&mut s, &root, replies);
    let text = screen(&s);
    assert!(text.contains("reply number 29"), "{text}");
    assert!(!text.contains("09:00 release at 10?"), "{text}");
    // Replies to the root do not quote it inside the panel.
    assert!(!text.contains("↳ bob: release at 10?"), "{text}");
    // PgUp until the root shows; PgDn back to the newest.
    for _ in 0..6 {
        key(&mut s, KeyCode::PageUp, NONE);
    }
    let text = screen(&s);
    assert!(text.contains("09:00 release at 10?"), "{text}");
    assert!(!text.contains("reply number 29"), "{text}");
    for _ in 0..6 {
        key(&mut s, KeyCode::PageDown, NONE);
    }
    assert!(screen(&s).contains("reply number 29"));
}
