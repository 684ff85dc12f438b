//! Read state of the open conversation: what counts as seen (and is marked
//! read), and opening a conversation at a given message (the first unread of
//! a long stretch, or the oldest for Home), loading history until it is held.

use super::engine::{EngineCommand, EngineRequest};
use super::model::{Seq, TimelineItem};
use super::scroll::{place_at_top, scroll_bottom};
use super::state::{AppState, Effect, ScrollPos};
use super::timeline::anchor_index;

/// Marks read what the user has seen: up to the newest message fully on screen.
pub fn mark_visible_read(state: &mut AppState) -> Vec<Effect> {
    let Some(open) = state.open.as_mut() else {
        return Vec::new();
    };
    if open.top_on.is_some() {
        return Vec::new(); // still moving to where the user will read
    }
    // What the user has seen: up to the newest message fully on screen
    // (read advances as they scroll down through a long unread stretch).
    let bottom = if open.scroll == ScrollPos::Bottom {
        if open.has_newer {
            return Vec::new(); // the newest window is on its way
        }
        open.items.len()
    } else {
        match anchor_index(&open.items, &open.scroll) {
            Some((idx, 0)) => idx + 1,
            Some((idx, _)) => idx,
            None => return Vec::new(),
        }
    };
    let Some(mut newest) = open.items[..bottom.min(open.items.len())]
        .iter()
        .rev()
        .find_map(|i| match i {
            TimelineItem::Message(m) => Some(m.seq),
            _ => None,
        })
    else {
        return Vec::new();
    };
    if bottom >= open.items.len() {
        // All of the window is seen: so are the edits, deletions and
        // reactions after its last message (a deleted newest text would
        // stay unread otherwise).
        newest = newest.max(open.newest_entry);
    }
    // An archived conversation's row is only in `archived` while that
    // section is collapsed (and in both while it is open).
    let mut rows: Vec<&mut super::model::ConvRow> = state
        .convs
        .iter_mut()
        .chain(state.archived.iter_mut())
        .filter(|r| r.conv == open.conv)
        .collect();
    let Some(read) = rows.iter().map(|r| r.read_seq).max() else {
        return Vec::new();
    };
    if newest <= read.max(open.marked_read) {
        return Vec::new();
    }
    open.marked_read = newest;
    for row in &mut rows {
        row.read_seq = newest;
        if newest >= row.last_seq {
            row.unread = 0;
            row.mentions = 0;
        }
    }
    vec![Effect::Command(EngineCommand::MarkRead {
        conv: open.conv.clone(),
        seq: newest,
    })]
}

/// With the window read around `seq`: loads older history while `seq` is not
/// held yet (spinner at the top), then shows the first message at or after it
/// at the top of the screen.
pub fn show_at_top(state: &mut AppState, seq: Seq) -> Vec<Effect> {
    let Some(open) = state.open.as_mut() else {
        return Vec::new();
    };
    let missing = open
        .items
        .iter()
        .any(|i| matches!(i, TimelineItem::Gap { from, to } if *from <= seq && seq <= *to))
        || open.items.is_empty();
    if missing {
        if open.loading_older {
            return Vec::new();
        }
        open.loading_older = true;
        return vec![Effect::Request(EngineRequest::LoadOlder {
            conv: open.conv.clone(),
        })];
    }
    open.top_on = None;
    let Some(idx) = open
        .items
        .iter()
        .position(|i| matches!(i, TimelineItem::Message(m) if m.seq >= seq))
    else {
        return scroll_bottom(state);
    };
    place_at_top(state, idx);
    mark_visible_read(state)
}
