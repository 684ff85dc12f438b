//! Timeline scrolling: moves the item-anchored scroll position by lines,
//! laying out only the items passed over, and asks for older history (or a
//! newer window) when the view reaches an edge of the loaded window.

use super::engine::EngineRequest;
use super::layout::areas;
use super::model::{TimelineItem, TimelineQuery};
use super::state::{AppState, Effect, ItemKey, OPEN_WINDOW, ScrollPos};
use super::timeline::{LayoutCtx, anchor_index, item_lines};
use ratatui::layout::Rect;

/// Rows of the timeline pane.
pub fn page_height(state: &AppState) -> usize {
    let full = Rect::new(0, 0, state.size.0, state.size.1);
    usize::from(areas(state, full).timeline.height).max(1)
}

/// A layout context for the open conversation (None when nothing is open).
pub fn ctx_of<'a>(state: &'a AppState, retry: &'a str, discard: &'a str) -> Option<LayoutCtx<'a>> {
    let open = state.open.as_ref()?;
    let full = Rect::new(0, 0, state.size.0, state.size.1);
    Some(LayoutCtx {
        user: &state.user,
        read_marker: open.read_marker,
        colors: state.colors,
        width: areas(state, full).timeline.width,
        frame: state.frame,
        loading_older: open.loading_older,
        selected: open.selected.as_ref(),
        retry_key: retry,
        discard_key: discard,
        seen_up_to: state.seen.get(&open.conv).copied().unwrap_or(0),
        parents: Some(&open.parents),
    })
}

fn height_of(items: &[TimelineItem], idx: usize, ctx: &LayoutCtx<'_>) -> usize {
    item_lines(items, idx, ctx).len().max(1)
}

/// Scrolls up `n` lines. At the top of the window it asks for older history.
pub fn scroll_up(state: &mut AppState, n: usize) -> Vec<Effect> {
    let page = page_height(state);
    let (retry, discard) = (String::new(), String::new());
    let Some(ctx) = ctx_of(state, &retry, &discard) else {
        return Vec::new();
    };
    let Some(open) = state.open.as_ref() else {
        return Vec::new();
    };
    let items = &open.items;
    let Some((mut idx, mut below)) = anchor_index(items, &open.scroll) else {
        return Vec::new();
    };
    below += n;
    let mut h = height_of(items, idx, &ctx);
    while below >= h && idx > 0 {
        below -= h;
        idx -= 1;
        h = height_of(items, idx, &ctx);
    }
    below = below.min(h - 1);
    // Never scroll past the point where the window's first line is at the top.
    let mut above = h - below;
    let mut j = idx;
    while above < page && j > 0 {
        j -= 1;
        above += height_of(items, j, &ctx);
    }
    let at_top = above <= page && j == 0;
    if at_top {
        // Clamp: the lowest visible line is `page` lines below the window top.
        let mut left = page;
        let mut k = 0;
        loop {
            let hk = height_of(items, k, &ctx);
            if left <= hk || k + 1 >= items.len() {
                idx = k;
                below = hk.saturating_sub(left);
                break;
            }
            left -= hk;
            k += 1;
        }
    }
    let key = ItemKey::of(&items[idx]);
    let more_history = match items.first() {
        Some(TimelineItem::Gap { .. }) => true,
        Some(TimelineItem::Message(m)) => m.seq > 1,
        _ => false,
    };
    let conv = open.conv.clone();
    let was_loading = open.loading_older;
    let follow = idx + 1 == items.len() && below == 0 && !open.has_newer;
    let mut effects = Vec::new();
    if let Some(open) = state.open.as_mut() {
        open.scroll = if follow {
            ScrollPos::Bottom
        } else {
            ScrollPos::Anchored { item: key, below }
        };
        if at_top && more_history && !was_loading {
            open.loading_older = true;
            open.grow_window = true;
            effects.push(Effect::Request(EngineRequest::LoadOlder { conv }));
        }
    }
    effects
}

/// Scrolls down `n` lines. At the bottom of the window it follows new
/// messages again, or reads the next window when the store holds newer ones.
pub fn scroll_down(state: &mut AppState, n: usize) -> Vec<Effect> {
    let (retry, discard) = (String::new(), String::new());
    let Some(ctx) = ctx_of(state, &retry, &discard) else {
        return Vec::new();
    };
    let Some(open) = state.open.as_ref() else {
        return Vec::new();
    };
    let items = &open.items;
    let Some((mut idx, mut below)) = anchor_index(items, &open.scroll) else {
        return Vec::new();
    };
    let mut n = n;
    let mut reached_end = false;
    loop {
        if below >= n {
            below -= n;
            break;
        }
        n -= below;
        if idx + 1 >= items.len() {
            below = 0;
            reached_end = true;
            break;
        }
        idx += 1;
        below = height_of(items, idx, &ctx);
    }
    let key = ItemKey::of(&items[idx]);
    let conv = open.conv.clone();
    let has_newer = open.has_newer;
    let items_len = items.len();
    let mut effects = Vec::new();
    if let Some(open) = state.open.as_mut() {
        let at_end = reached_end || (idx + 1 == items_len && below == 0);
        if at_end && !has_newer {
            open.scroll = ScrollPos::Bottom;
        } else {
            open.scroll = ScrollPos::Anchored {
                item: key.clone(),
                below,
            };
            if reached_end && let ItemKey::Seq(seq) = key {
                let query = TimelineQuery::Around {
                    seq,
                    before: OPEN_WINDOW,
                    after: OPEN_WINDOW,
                };
                effects.push(Effect::LoadTimeline { conv, query });
            }
        }
    }
    effects
}

/// Jumps to the newest message (re-reading the latest window if needed).
pub fn scroll_bottom(state: &mut AppState) -> Vec<Effect> {
    let Some(open) = state.open.as_mut() else {
        return Vec::new();
    };
    open.scroll = ScrollPos::Bottom;
    if open.has_newer {
        let query = TimelineQuery::Latest { limit: OPEN_WINDOW };
        return vec![Effect::LoadTimeline {
            conv: open.conv.clone(),
            query,
        }];
    }
    Vec::new()
}

/// Places the view so that the selected item is on screen with as many newer
/// items under it as fit in half a page; when that reaches the newest held
/// item, the view follows the live end again. Nothing newer is hidden behind
/// a selection pinned to the bottom line.
pub fn reveal_selection(state: &mut AppState) {
    let page = page_height(state);
    let (retry, discard) = (String::new(), String::new());
    let Some(ctx) = ctx_of(state, &retry, &discard) else {
        return;
    };
    let Some(open) = state.open.as_ref() else {
        return;
    };
    let Some(key) = open.selected.as_ref() else {
        return;
    };
    let items = &open.items;
    let Some(mut idx) = items.iter().position(|i| ItemKey::of(i) == *key) else {
        return;
    };
    let sel = idx;
    // Everything newer, when it fits under the selected item...
    let room = page.saturating_sub(height_of(items, sel, &ctx));
    let mut under = 0;
    while idx + 1 < items.len() {
        let h = height_of(items, idx + 1, &ctx);
        if under + h > room {
            break;
        }
        under += h;
        idx += 1;
    }
    let fits = idx + 1 == items.len() && !open.has_newer;
    if !fits {
        // ...else half a page of it, with context above the selection too.
        (idx, under) = (sel, 0);
        while idx + 1 < items.len() {
            let h = height_of(items, idx + 1, &ctx);
            if under + h > page / 2 {
                break;
            }
            under += h;
            idx += 1;
        }
    }
    let scroll = if fits {
        ScrollPos::Bottom
    } else {
        ScrollPos::Anchored {
            item: ItemKey::of(&items[idx]),
            below: 0,
        }
    };
    if let Some(open) = state.open.as_mut() {
        open.scroll = scroll;
    }
}

/// Messages below the screen: those after the lowest visible item in the
/// window, plus the entries the store holds beyond the window.
pub fn newer_below(state: &AppState) -> u64 {
    let Some(open) = state.open.as_ref() else {
        return 0;
    };
    let Some((bottom_index, _)) = anchor_index(&open.items, &open.scroll) else {
        return 0;
    };
    let in_window = open.items[(bottom_index + 1).min(open.items.len())..]
        .iter()
        .filter(|i| !matches!(i, TimelineItem::Gap { .. }))
        .count() as u64;
    let beyond = if open.has_newer {
        let newest = open
            .items
            .iter()
            .rev()
            .find_map(|i| match i {
                TimelineItem::Message(m) => Some(m.seq),
                _ => None,
            })
            .unwrap_or(0);
        state
            .open_row()
            .map_or(0, |r| r.last_seq.saturating_sub(newest))
    } else {
        0
    };
    in_window + beyond
}

/// Scrolls so that item `idx` starts on the top row of the timeline (its
/// separators, such as the "new messages" line, included); follows the live
/// end when everything from it on fits.
pub fn place_at_top(state: &mut AppState, idx: usize) {
    let page = page_height(state);
    let (retry, discard) = (String::new(), String::new());
    let Some(ctx) = ctx_of(state, &retry, &discard) else {
        return;
    };
    let Some(open) = state.open.as_ref() else {
        return;
    };
    let items = &open.items;
    let mut cum = 0;
    let mut j = idx;
    let scroll = loop {
        cum += height_of(items, j, &ctx);
        if cum >= page {
            break ScrollPos::Anchored {
                item: ItemKey::of(&items[j]),
                below: cum - page,
            };
        }
        if j + 1 >= items.len() {
            break if open.has_newer {
                ScrollPos::Anchored {
                    item: ItemKey::of(&items[j]),
                    below: 0,
                }
            } else {
                ScrollPos::Bottom
            };
        }
        j += 1;
    };
    if let Some(open) = state.open.as_mut() {
        open.scroll = scroll;
    }
}
