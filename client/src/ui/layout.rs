//! Screen geometry: where the conversation list, timeline, compose box and
//! status bar go for a terminal size. Shared by rendering and by `update`
//! (scrolling by a page and mouse clicks need the same rectangles).

use ratatui::layout::Rect;

use super::state::AppState;
use super::timeline::wrap;
use crate::sanitize::{for_terminal, for_terminal_multiline};

/// Below this width only one pane shows: the list, or the open conversation.
pub const NARROW: u16 = 50;
/// Rows per conversation in the list (title line + preview line).
pub const ROW_HEIGHT: u16 = 2;
/// The compose box grows up to this many text lines, then scrolls.
const MAX_COMPOSE_LINES: u16 = 6;

/// The rectangles of one frame. Empty rects are hidden panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub list: Rect,
    pub header: Rect,
    pub timeline: Rect,
    /// Typing indicator / notice: one line, or as many as a long notice
    /// needs wrapped (taken from the timeline, or in the one-pane list
    /// from the list's foot).
    pub info: Rect,
    pub compose: Rect,
    pub status: Rect,
}

pub fn areas(state: &AppState, full: Rect) -> Areas {
    let status = Rect {
        y: full.bottom().saturating_sub(1),
        height: full.height.min(1),
        ..full
    };
    let body = Rect {
        height: full.height.saturating_sub(1),
        ..full
    };
    let list_w = if full.width < NARROW {
        if state.open.is_some() { 0 } else { full.width }
    } else if full.width >= 100 {
        30
    } else if full.width >= 70 {
        24
    } else {
        18
    };
    let list = Rect {
        width: list_w,
        ..body
    };
    let main = Rect {
        x: body.x + list_w,
        width: body.width - list_w,
        ..body
    };
    if main.width == 0 {
        let empty = Rect {
            width: 0,
            height: 0,
            ..main
        };
        // No notice line in the one-pane list: a notice takes its foot.
        let n = notice_lines(state, list.width).min(list.height.saturating_sub(ROW_HEIGHT));
        let info = Rect {
            y: list.bottom() - n,
            height: n,
            ..list
        };
        return Areas {
            list: Rect {
                height: list.height - n,
                ..list
            },
            header: empty,
            timeline: empty,
            info,
            compose: empty,
            status,
        };
    }
    let compose_lines = compose_lines(state, main.width.saturating_sub(2));
    let compose_h = (compose_lines + 2).min(main.height);
    let header = Rect {
        height: main.height.min(1),
        ..main
    };
    let compose = Rect {
        y: main.bottom() - compose_h,
        height: compose_h,
        ..main
    };
    // One line, more for a long notice; the timeline keeps at least one.
    let room = compose.y.saturating_sub(header.bottom());
    let info_h = notice_lines(state, main.width)
        .clamp(1, room.saturating_sub(1).max(1))
        .min(room);
    let info = Rect {
        y: compose.y - info_h,
        height: info_h,
        ..main
    };
    let timeline = Rect {
        y: header.bottom(),
        height: info.y.saturating_sub(header.bottom()),
        ..main
    };
    Areas {
        list,
        header,
        timeline,
        info,
        compose,
        status,
    }
}

/// The notice's lines wrapped at `width` columns (0 without a notice).
pub fn notice_lines(state: &AppState, width: u16) -> u16 {
    state.notice.as_ref().map_or(0, |n| {
        let lines = wrap(&for_terminal(&n.text), usize::from(width.max(1))).len();
        u16::try_from(lines).unwrap_or(u16::MAX)
    })
}

/// Wrapped lines of the compose text at `width` columns (at least 1).
pub fn compose_lines(state: &AppState, width: u16) -> u16 {
    let text = for_terminal_multiline(&state.compose.text);
    let n: usize = text
        .split('\n')
        .map(|l| wrap(l, usize::from(width.max(1)) - 1).len())
        .sum();
    u16::try_from(n)
        .unwrap_or(u16::MAX)
        .clamp(1, MAX_COMPOSE_LINES)
}

/// First conversation shown in the list so that `selected` stays visible.
pub fn list_offset(state: &AppState, list: Rect) -> usize {
    let rows = usize::from((list.height / ROW_HEIGHT).max(1));
    state.selected.saturating_sub(rows - 1)
}
