//! Moving between conversations: Alt+Up/Down, Alt+A (next unread), mouse
//! clicks on the list and wheel scrolling, and quick-switcher selection.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::layout::{ROW_HEIGHT, areas, list_offset};
use super::overlay::switcher_matches;
use super::read_state::mark_visible_read;
use super::scroll::{scroll_down, scroll_up};
use super::state::{AppState, Effect, Overlay};
use super::update::open_conv;

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
