//! Shared fixtures for the UI tests: a conversation list, a timeline with a
//! gap, edits, a deletion, pending and failed echoes; key helpers; drawing
//! into `TestBackend` and file snapshots under `tests/snapshots/`.
#![allow(dead_code)]

pub mod p11;

use std::path::PathBuf;

use client::ui::driver::draw;
use client::ui::engine::EngineCommand;
use client::ui::keys::KeyMap;
use client::ui::model::{
    ConvId, ConvKind, ConvRow, EntryKind, LocalMessage, Message, OutboxItem, OutboxKind,
    OutboxState, TimelineItem, TimelineQuery, text_message,
};
use client::ui::state::{Action, AppState, Effect};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// 2026-11-22 21:05 UTC.
pub const DAY1: i64 = 1_795_381_500_000;
/// 2026-11-23 09:00 UTC.
pub const DAY2: i64 = 1_795_424_400_000;
pub const MIN: i64 = 60_000;

pub fn team() -> ConvId {
    ConvId::from("c1")
}

pub fn row(
    conv: &str,
    kind: ConvKind,
    title: &str,
    unread: u64,
    last: Option<Message>,
    ts: i64,
) -> ConvRow {
    ConvRow {
        conv: ConvId::from(conv),
        kind,
        title: title.to_owned(),
        member_count: if kind == ConvKind::Group { 3 } else { 2 },
        last_seq: last.as_ref().map_or(1, |m| m.seq),
        read_seq: last.as_ref().map_or(1, |m| m.seq.saturating_sub(unread)),
        unread,
        last,
        left: false,
        last_activity_ts: ts,
        pending: 0,
        mentions: 0,
        notify: sync_core::Notify::All,
        pinned: false,
        archived: false,
    }
}

pub fn convs() -> Vec<ConvRow> {
    let mut carol = row(
        "c3",
        ConvKind::Direct,
        "carol",
        1,
        Some(Message::text(7, "carol", DAY2 - 30 * MIN, "lunch?")),
        DAY2 - 30 * MIN,
    );
    carol.pending = 1;
    vec![
        row(
            "c1",
            ConvKind::Group,
            "Team chat",
            3,
            Some(Message::text(320, "bob", DAY2 + 12 * MIN, "see you at 10")),
            DAY2 + 12 * MIN,
        ),
        row(
            "c2",
            ConvKind::Direct,
            "bob",
            0,
            Some(Message::text(40, "alice", DAY1, "thanks!")),
            DAY1,
        ),
        carol,
    ]
}

fn msg(seq: u64, sender: &str, ts: i64, body: &str) -> TimelineItem {
    TimelineItem::Message(text_message(seq, sender, ts, body))
}

/// Team chat: 312 missing, then day 1 and day 2 messages, read up to 317.
pub fn team_timeline() -> Vec<TimelineItem> {
    let mut edited = text_message(315, "alice", DAY1 + 2 * MIN, "fixed the build (for real)");
    edited.edited = true;
    let mut deleted = text_message(316, "bob", DAY1 + 3 * MIN, "");
    deleted.redacted = true;
    deleted.body = None;
    let mut join = text_message(314, "alice", DAY1 + MIN, "");
    join.kind = EntryKind::Join;
    join.body = None;
    join.user = Some("carol".to_owned());
    vec![
        TimelineItem::Gap { from: 1, to: 312 },
        msg(313, "bob", DAY1, "did anyone look at the flaky test?"),
        TimelineItem::Message(join),
        TimelineItem::Message(edited),
        TimelineItem::Message(deleted),
        msg(317, "carol", DAY1 + 4 * MIN, "night all"),
        msg(
            318,
            "bob",
            DAY2,
            "morning! the deploy is at 10, please review the release notes before then",
        ),
        msg(319, "bob", DAY2 + MIN, "and bring coffee"),
        msg(320, "carol", DAY2 + 12 * MIN, "see you at 10"),
        pending("p1", "on my way", OutboxState::Sending, DAY2 + 13 * MIN),
        pending(
            "p2",
            "this one is too long",
            OutboxState::Failed {
                code: sync_core::FailCode::Server(sync_core::protocol::ErrorCode::TooLarge),
                message: "body too large".into(),
            },
            DAY2 + 14 * MIN,
        ),
    ]
}

pub fn pending(id: &str, body: &str, state: OutboxState, ts: i64) -> TimelineItem {
    TimelineItem::Pending(OutboxItem {
        client_id: id.to_owned(),
        conv: team(),
        kind: OutboxKind::Send,
        body: Some(body.to_owned()),
        state,
        created_ts: ts,
    })
}

pub fn state(w: u16, h: u16) -> AppState {
    let mut s = AppState::new("alice", "ws://127.0.0.1:7878/v1", KeyMap::default(), true);
    update(&mut s, Action::Resize(w, h));
    update(
        &mut s,
        Action::Tick {
            now_ms: DAY2 + 15 * MIN,
        },
    );
    update(
        &mut s,
        Action::Connection(client::ui::model::ConnState::Live),
    );
    update(&mut s, Action::Conversations(convs()));
    s
}

/// Feeds a key through the real handler.
pub fn key(s: &mut AppState, code: KeyCode, mods: KeyModifiers) -> Vec<Effect> {
    update(s, Action::Key(KeyEvent::new(code, mods)))
}

pub fn typ(s: &mut AppState, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| key(s, KeyCode::Char(c), KeyModifiers::NONE))
        .collect()
}

/// Opens Team chat with Alt+Down and answers the timeline query as the engine would.
pub fn open_team(s: &mut AppState) -> Vec<Effect> {
    let mut fx = key(s, KeyCode::Down, KeyModifiers::ALT);
    assert_eq!(
        fx,
        vec![
            Effect::Command(EngineCommand::Open { conv: team() }),
            Effect::LoadTimeline {
                conv: team(),
                query: TimelineQuery::Latest { limit: 200 }
            }
        ]
    );
    fx.clear();
    update(
        s,
        Action::Timeline {
            conv: team(),
            query: TimelineQuery::Latest { limit: 200 },
            items: team_timeline(),
            total: 8,
        },
    )
}

/// The screen as drawn (text and styles).
pub fn buffer(s: &AppState) -> ratatui::buffer::Buffer {
    let mut term = Terminal::new(TestBackend::new(s.size.0, s.size.1)).unwrap();
    draw(&mut term, s).unwrap();
    term.backend().buffer().clone()
}

/// The screen as text, one line per row, trailing spaces trimmed.
pub fn screen(s: &AppState) -> String {
    buffer_text(&buffer(s))
}

pub fn buffer_text(buf: &ratatui::buffer::Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..buf.area.width {
            // Cells covered by a wide character are not printed.
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(x, y)].symbol();
            skip = unicode_width::UnicodeWidthStr::width(sym).saturating_sub(1);
            line.push_str(sym);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Compares with `tests/snapshots/NAME.txt`; `UPDATE_SNAPSHOTS=1` rewrites it.
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = snapshot_dir().join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {}; run with UPDATE_SNAPSHOTS=1 and review it",
            path.display()
        )
    });
    assert_eq!(
        actual, expected,
        "screen differs from snapshot {name}:\n{actual}"
    );
}

/// `tests/snapshots`, found from this file's path (absolute, or relative to
/// the workspace root, depending on how cargo invoked rustc).
fn snapshot_dir() -> PathBuf {
    let this = PathBuf::from(file!());
    let this = if this.is_absolute() {
        this
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(this)
    };
    this.parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("snapshots"))
        .unwrap_or_default()
}

pub fn local(seq: u64, sender: &str, ts: i64, body: &str) -> LocalMessage {
    text_message(seq, sender, ts, body)
}

/// A log-in hook that is never run (`update` only produces `Effect::Login`).
pub fn login_hook() -> client::ui::engine::LoginHook {
    client::ui::engine::LoginHook(std::sync::Arc::new(|_, _, _| {
        Box::pin(async { Err("not in this test".to_string()) })
    }))
}

/// The empty log-in prompt.
pub fn login_overlay() -> client::ui::state::Overlay {
    client::ui::state::Overlay::login(None)
}

/// The state of a TUI started without a session: the log-in prompt is open.
pub fn at_login_prompt(s: &mut AppState) {
    s.login = Some(login_hook());
    s.needs_login = true;
    s.overlay = login_overlay();
}

/// Replaces the open conversation's window with `bodies` sent by bob, one
/// minute apart from `ts0`, seqs from 313 (markdown and compose tests).
pub fn show_bodies(s: &mut AppState, ts0: i64, bodies: &[&str]) {
    let items: Vec<TimelineItem> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            TimelineItem::Message(text_message(313 + i as u64, "bob", ts0 + i as i64 * MIN, b))
        })
        .collect();
    show_items(s, items);
}

/// Replaces the open conversation's (team chat's) window with `items`;
/// returns what `update` asked for (a mark-read, …).
pub fn show_items(s: &mut AppState, items: Vec<TimelineItem>) -> Vec<Effect> {
    let total = items.len() as u64;
    update(
        s,
        Action::Timeline {
            conv: team(),
            query: TimelineQuery::Latest { limit: 200 },
            items,
            total,
        },
    )
}
