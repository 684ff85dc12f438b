//! Moving between conversations: Alt+Up/Down, Alt+A (next unread), mouse
//! clicks on the list and wheel scrolling, quick-switcher selection, and
//! `open_conv` (every way of opening a conversation ends there).

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::drafts::stash_draft;
use super::engine::EngineCommand;
use super::layout::{ROW_HEIGHT, areas, list_offset};
use super::model::{ConvId, Seq, TimelineQuery};
use super::overlay::switcher_matches;
use super::read_state::mark_visible_read;
use super::scroll::page_height;
use super::scroll::{scroll_down, scroll_up};
use super::state::{AppState, Effect, Overlay};
use super::state::{ItemKey, OPEN_WINDOW, OpenConv, ScrollPos};

/// Lines scrolled per mouse-wheel notch.
const WHEEL_LINES: usize = 3;

pub fn move_conv(state: &mut AppState, delta: isize) -> Vec<Effect> {
    if state.convs.is_empty() {
        return Vec::new();
    }
    let cur = match &state.open {
        Some(o) => state
            .convs
            .iter()
            .position(|r| r.conv == o.conv)
            .unwrap_or(state.selected),
        None if delta > 0 => usize::MAX,
        None => 0,
    };
    let n = state.convs.len() as isize;
    let next = if cur == usize::MAX {
        0
    } else {
        (cur as isize + delta).rem_euclid(n) as usize
    };
    let conv = state.convs[next].conv.clone();
    open_conv(state, conv, None)
}

pub fn next_unread(state: &mut AppState) -> Vec<Effect> {
    next_where(state, |r| r.unread > 0, "no unread conversations")
}

/// Opens the next conversation after the open one (wrapping) for which
/// `pred` holds; else says `none`.
pub fn next_where(
    state: &mut AppState,
    pred: impl Fn(&super::model::ConvRow) -> bool,
    none: &str,
) -> Vec<Effect> {
    let start = state
        .open
        .as_ref()
        .and_then(|o| state.convs.iter().position(|r| r.conv == o.conv));
    let n = state.convs.len();
    let from = start.map_or(0, |s| s + 1);
    let found = (0..n)
        .map(|k| (from + k) % n)
        .find(|&i| pred(&state.convs[i]) && Some(i) != start);
    match found {
        Some(i) => {
            let conv = state.convs[i].conv.clone();
            open_conv(state, conv, None)
        }
        None => {
            state.set_info(none);
            Vec::new()
        }
    }
}

pub fn on_mouse(state: &mut AppState, ev: MouseEvent) -> Vec<Effect> {
    let full = Rect::new(0, 0, state.size.0, state.size.1);
    let a = areas(state, full);
    let pos = Position::new(ev.column, ev.row);
    match ev.kind {
        MouseEventKind::ScrollUp if a.timeline.contains(pos) => scroll_up(state, WHEEL_LINES),
        MouseEventKind::ScrollDown if a.timeline.contains(pos) => {
            let mut fx = scroll_down(state, WHEEL_LINES);
            fx.extend(mark_visible_read(state));
            fx
        }
        MouseEventKind::Down(MouseButton::Left)
            if a.list.contains(pos) && state.overlay == Overlay::None =>
        {
            let idx = list_offset(state, a.list) + usize::from((pos.y - a.list.y) / ROW_HEIGHT);
            match state.convs.get(idx) {
                Some(row) => {
                    let conv = row.conv.clone();
                    open_conv(state, conv, None)
                }
                None => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

/// Quick-switcher selection → open that conversation.
pub fn switch_to(state: &mut AppState, query: &str, selected: usize) -> Vec<Effect> {
    let matches = switcher_matches(state, query);
    state.overlay = Overlay::None;
    match matches.get(selected) {
        Some(&i) => {
            let conv = state.convs[i].conv.clone();
            open_conv(state, conv, None)
        }
        None => Vec::new(),
    }
}

/// Opens `conv`; with `at`, the window is read around that seq and it is selected.
pub fn open_conv(state: &mut AppState, conv: ConvId, at: Option<Seq>) -> Vec<Effect> {
    if let Some(i) = state.convs.iter().position(|r| r.conv == conv) {
        state.selected = i;
    }
    let read_marker = state
        .convs
        .get(state.selected)
        .filter(|r| r.conv == conv)
        .map_or(0, |r| r.read_seq);
    let same = state.open.as_ref().is_some_and(|o| o.conv == conv);
    let mut fx = Vec::new();
    if !same {
        // Each conversation keeps its own unsent text; the thread panel
        // belongs to the conversation it was opened in (it closes, its
        // text kept as the thread's draft).
        if stash_draft(state) {
            fx.push(Effect::SaveDrafts(state.drafts.clone()));
        }
        let draft = state.drafts.get(conv.as_str()).cloned().unwrap_or_default();
        state.compose.cursor = draft.chars().count();
        state.compose.text = draft;
        state.open = Some(OpenConv {
            conv: conv.clone(),
            items: Vec::new(),
            total: 0,
            has_newer: false,
            scroll: ScrollPos::Bottom,
            loading_older: false,
            grow_window: false,
            read_marker,
            marked_read: 0,
            newest_entry: 0,
            selected: None,
            top_on: None,
            parents: Default::default(),
        });
        state.compose.editing = None;
        // Alt+R's target is a message of the conversation left.
        state.compose.reply_to = None;
    }
    // More unread than fit on a screen: open at the first unread message,
    // under the "new messages" line, rather than at the newest (the read
    // cursor only moves forward, so skipping them could not be undone).
    let unread = state
        .convs
        .iter()
        .find(|r| r.conv == conv)
        .map_or(0, |r| r.unread);
    let at = match at {
        // A message takes a line or more: over half a page of them will not
        // fit (and a handful never counts as a long stretch).
        None if !same && unread as usize > (page_height(state) / 2).max(8) => {
            if let Some(open) = state.open.as_mut() {
                open.top_on = Some(read_marker + 1);
                open.scroll = ScrollPos::Anchored {
                    item: ItemKey::Seq(read_marker + 1),
                    below: 0,
                };
            }
            let query = TimelineQuery::Around {
                seq: read_marker + 1,
                before: OPEN_WINDOW,
                after: OPEN_WINDOW,
            };
            fx.push(Effect::Command(EngineCommand::Open { conv: conv.clone() }));
            fx.push(Effect::LoadTimeline { conv, query });
            return fx;
        }
        other => other,
    };
    let query = match at {
        Some(seq) => {
            if let Some(open) = state.open.as_mut() {
                open.scroll = ScrollPos::Anchored {
                    item: ItemKey::Seq(seq),
                    below: 0,
                };
                open.selected = Some(ItemKey::Seq(seq));
            }
            TimelineQuery::Around {
                seq,
                before: OPEN_WINDOW,
                after: OPEN_WINDOW,
            }
        }
        None => TimelineQuery::Latest { limit: OPEN_WINDOW },
    };
    if !same {
        fx.push(Effect::Command(EngineCommand::Open { conv: conv.clone() }));
    }
    fx.push(Effect::LoadTimeline { conv, query });
    fx
}
