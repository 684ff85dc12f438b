//! Bugs found using convo as a user would (QA round 11), each pinned
//! through the real key handler and renderer.

mod ui_support;

use client::ui::engine::EngineCommand;
use client::ui::state::{Action, Effect};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers};
use ui_support::p11::all_features;
use ui_support::*;

const NONE: KeyModifiers = KeyModifiers::NONE;

/// Archiving the open conversation (here or on another device) moved its
/// row out of the main list, and the header fell back to the bare id `c1`.
#[test]
fn archiving_the_open_conversation_keeps_its_title_in_the_header() {
    let mut s = state(80, 16);
    all_features(&mut s);
    open_team(&mut s);
    assert!(screen(&s).contains("# Team chat · 3 members"));
    let mut rows = convs();
    let mut team_row = rows.remove(0);
    team_row.archived = true;
    update(&mut s, Action::Archived(vec![team_row]));
    update(&mut s, Action::Conversations(rows));
    let text = screen(&s);
    assert!(text.contains("# Team chat · 3 members"), "{text}");
    assert!(text.contains("▸ Archived (1)"), "{text}");
}

fn reaction_sent(fx: &[Effect]) -> Option<String> {
    fx.iter().find_map(|e| match e {
        Effect::Command(EngineCommand::React { key, .. }) => Some(key.clone()),
        _ => None,
    })
}

/// `/react :tada:` sent the literal `:tada:` while Alt+G `:tada:` sends 🎉:
/// the same reaction showed as two.
#[test]
fn slash_react_with_a_shortcode_sends_the_same_emoji_as_the_picker() {
    let mut s = state(80, 16);
    all_features(&mut s);
    open_team(&mut s);
    typ(&mut s, "/react :tada:");
    let fx = key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(reaction_sent(&fx).as_deref(), Some("🎉"));
    // An emoji, or a shortcode the table does not know, goes as typed.
    typ(&mut s, "/react :shipit:");
    let fx = key(&mut s, KeyCode::Enter, NONE);
    assert_eq!(reaction_sent(&fx).as_deref(), Some(":shipit:"));
}

/// Against a version 1 server Alt+V did nothing at all, where every other
/// protocol 1.1 key says why.
#[test]
fn toggle_archived_on_a_v1_server_says_it_is_not_supported() {
    let mut s = state(80, 16);
    update(&mut s, Action::Features(Vec::new()));
    let before = s.convs.len();
    key(&mut s, KeyCode::Char('v'), KeyModifiers::ALT);
    let text = screen(&s);
    assert!(
        text.contains("the server does not support conversation settings"),
        "{text}"
    );
    assert!(!text.contains("Archived"), "{text}");
    assert_eq!(s.convs.len(), before);
    assert_eq!(s.compose.text, "");
}

/// Someone reacting after my read position drew a red "new messages" line
/// with nothing under it: reaction entries reached the timeline's layout
/// (they show only as counts on their target).
#[test]
fn a_reaction_after_the_read_position_draws_no_new_messages_line() {
    use client::ui::model::{EntryKind, TimelineItem, TimelineQuery};
    let mut s = state(80, 16);
    all_features(&mut s);
    let mut rows = convs();
    rows[0].unread = 0;
    rows[0].read_seq = rows[0].last_seq;
    update(&mut s, Action::Conversations(rows));
    key(&mut s, KeyCode::Down, KeyModifiers::ALT);
    let mut react = local(321, "carol", DAY2 + 13 * MIN, "");
    react.kind = EntryKind::Reaction;
    react.body = None;
    react.key = Some("👍".into());
    react.target = Some(320);
    let items = vec![
        TimelineItem::Message(local(319, "bob", DAY2 + 11 * MIN, "ship it?")),
        TimelineItem::Message(local(320, "bob", DAY2 + 12 * MIN, "see you at 10")),
        TimelineItem::Message(react),
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
    let text = screen(&s);
    assert!(text.contains("see you at 10"), "{text}");
    assert!(!text.contains("new messages"), "{text}");
}

/// An archived group with 2 unread texts, 1 of them mentioning alice.
fn archived_mentioning_me() -> client::ui::model::ConvRow {
    use client::ui::model::{ConvKind, Message};
    let mut old = row(
        "c9",
        ConvKind::Group,
        "old project",
        2,
        Some(Message::text(9, "dave", DAY1, "@alice are you there?")),
        DAY1,
    );
    old.archived = true;
    old.mentions = 1;
    old
}

/// A message mentioning me in an archived conversation left no trace on
/// the collapsed `Archived (N)` row: the mention was invisible until the
/// section was opened.
#[test]
fn the_collapsed_archived_row_shows_unread_mentions_inside() {
    let mut s = state(80, 12);
    all_features(&mut s);
    update(&mut s, Action::Archived(vec![archived_mentioning_me()]));
    update(&mut s, Action::Conversations(convs()));
    let text = screen(&s);
    assert!(text.contains("▸ Archived (1) @1 Alt+V"), "{text}");
}

/// While reconnecting, every failed attempt (each second or two) replaced
/// the notice line with `connecting to URL: Connection refused`, so what a
/// command just said (`/pin`'s answer, a usage error) vanished before it
/// could be read. The status bar already says `Reconnecting`.
#[test]
fn reconnect_errors_do_not_hide_what_a_command_just_said() {
    use client::ui::model::ConnState;
    let mut s = state(80, 16);
    all_features(&mut s);
    open_team(&mut s);
    update(
        &mut s,
        Action::Connection(ConnState::Reconnecting {
            in_ms: 1000,
            last_error: None,
        }),
    );
    update(
        &mut s,
        Action::ConnectionError("connecting to ws://x/v1: Connection refused".into()),
    );
    assert!(screen(&s).contains("Connection refused"));
    typ(&mut s, "/notify loud");
    key(&mut s, KeyCode::Enter, NONE);
    let said = s
        .notice
        .as_ref()
        .map(|n| n.text.clone())
        .unwrap_or_default();
    assert!(said.contains("/notify all|mentions|none"), "{said}");
    update(
        &mut s,
        Action::ConnectionError("connecting to ws://x/v1: Connection refused".into()),
    );
    let text = screen(&s);
    assert!(text.contains("/notify all|mentions|none"), "{text}");
    assert!(!text.contains("Connection refused"), "{text}");
}

/// The list's preview of a code block (`convo send --file`, `/code`) read
/// "```python print(…" : the fence markup, not the code.
#[test]
fn the_list_preview_of_a_code_block_shows_the_code_not_the_fence() {
    use client::ui::model::Message;
    let mut s = state(80, 12);
    let mut rows = convs();
    rows[0].last = Some(Message::text(
        321,
        "bob",
        DAY2 + 13 * MIN,
        "```python\nprint(\"x\")\n```",
    ));
    update(&mut s, Action::Conversations(rows));
    let text = screen(&s);
    assert!(text.contains("  bob: print(\"x\")"), "{text}");
    assert!(!text.contains("```"), "{text}");
}

/// Alt+M said "no conversation mentions you" while the only mention was in
/// an archived conversation (collapsed section): it now opens that section
/// and the conversation.
#[test]
fn next_mention_reaches_an_archived_conversation() {
    use client::ui::engine::EngineCommand;
    use client::ui::model::ConvId;
    let mut s = state(80, 12);
    all_features(&mut s);
    update(&mut s, Action::Archived(vec![archived_mentioning_me()]));
    update(&mut s, Action::Conversations(convs()));
    let fx = key(&mut s, KeyCode::Char('m'), KeyModifiers::ALT);
    assert!(
        fx.contains(&Effect::Command(EngineCommand::Open {
            conv: ConvId::from("c9")
        })),
        "{fx:?}"
    );
    assert!(s.archived_open);
}

/// Reading an archived conversation while the archived section is
/// collapsed: what arrives on screen is read, and its row in the section
/// loses its unread and mention counts (it kept `Archived (1) @1`, because
/// only the main list's rows were looked at).
#[test]
fn an_archived_conversation_read_with_its_section_collapsed_is_read() {
    let mut s = state(80, 16);
    all_features(&mut s);
    open_team(&mut s);
    let mut rows = convs();
    let mut team_row = rows.remove(0);
    team_row.archived = true;
    team_row.last_seq = 321;
    team_row.unread = 1;
    team_row.mentions = 1;
    team_row.read_seq = 320;
    update(&mut s, Action::Archived(vec![team_row]));
    update(&mut s, Action::Conversations(rows));
    assert!(!s.archived_open);
    let mut items = ui_support::team_timeline();
    items.push(client::ui::model::TimelineItem::Message(
        client::ui::model::text_message(321, "carol", DAY2 + 14 * 60_000, "@alice look"),
    ));
    let fx = show_items(&mut s, items);
    assert_eq!(
        fx,
        vec![Effect::Command(EngineCommand::MarkRead {
            conv: team(),
            seq: 321
        })]
    );
    let row = &s.archived[0];
    assert_eq!((row.read_seq, row.unread, row.mentions), (321, 0, 0));
    let text = screen(&s);
    assert!(text.contains("▸ Archived (1)"), "{text}");
    assert!(!text.contains("@1"), "{text}");
}
