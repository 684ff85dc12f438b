//! The thread panel (Alt+T, §9.1): opening it over the timeline, its own
//! selection and scrolling, what its next reply answers, closing it with
//! the drafts kept, and taking in the thread windows the store reads.

use super::engine::{EngineCommand, EngineRequest};
use super::features::{as_message, unsupported};
use super::keys::KeyAction;
use super::model::{ConvId, LocalMessage, Seq, ThreadWindow, TimelineItem, features};
use super::selection::{standing_text, thread_source};
use super::state::{AppState, Effect, ThreadPanel};

/// What the thread panel's next reply answers and its reactions go to: the
/// panel's selection, else its newest standing reply, else its root. None
/// before its window is read.
pub fn thread_target(panel: &ThreadPanel) -> Option<&LocalMessage> {
    let window = panel.window.as_ref()?;
    let mut held = window
        .root
        .iter()
        .chain(window.items.iter().filter_map(as_message));
    if let Some(seq) = panel.selected {
        return held.find(|m| m.seq == seq);
    }
    window
        .items
        .iter()
        .rev()
        .filter_map(as_message)
        .find(|m| standing_text(m))
        .or(window.root.as_ref())
}

pub(super) fn open_thread(state: &mut AppState) -> Vec<Effect> {
    if !state.supports(features::REPLY) {
        return unsupported(state, "threads");
    }
    let Some(conv) = state.open.as_ref().map(|o| o.conv.clone()) else {
        state.set_error(state.keys.no_conversation());
        return Vec::new();
    };
    let m = match thread_source(state) {
        Ok(m) => m,
        Err(no) => {
            state.set_error(no.say(
                &state.keys,
                "it has no thread",
                "no message to open the thread of",
            ));
            return Vec::new();
        }
    };
    let root = m.thread.unwrap_or(m.seq);
    let m_seq = m.seq;
    // The thread's own draft, if one was kept, comes back.
    let draft = super::drafts::thread_key(&conv, root);
    let draft = state.drafts.get(&draft).cloned().unwrap_or_default();
    state.compose.cursor = draft.chars().count();
    let saved_draft = std::mem::replace(&mut state.compose.text, draft);
    state.compose.reply_to = None;
    state.thread = Some(ThreadPanel {
        conv: conv.clone(),
        root,
        window: None,
        loading: false,
        saved_draft,
        scroll: 0,
        // Opened from a reply: that reply is what the next one answers.
        selected: (m_seq != root).then_some(m_seq),
    });
    vec![Effect::LoadThread { conv, root }]
}

/// The thread panel's items as it shows them: the root, then the window's
/// items; a reply to the root needs no quote there (the root heads the
/// panel).
pub fn thread_items(panel: &ThreadPanel) -> Vec<TimelineItem> {
    let Some(w) = &panel.window else {
        return Vec::new();
    };
    let root = w.root.iter().map(|m| TimelineItem::Message(m.clone()));
    let replies = w.items.iter().map(|i| match i {
        TimelineItem::Message(m) if m.reply_to == Some(panel.root) => {
            let mut m = m.clone();
            m.reply_to = None;
            TimelineItem::Message(m)
        }
        other => other.clone(),
    });
    root.chain(replies).collect()
}

/// Ctrl+Up / Ctrl+Down with the thread panel open: moves the panel's own
/// selection among its messages (down past the newest: none) and scrolls
/// it into view. False when the panel is closed.
pub fn select_in_thread(state: &mut AppState, delta: isize) -> bool {
    let Some(panel) = state.thread.as_mut() else {
        return false;
    };
    // Deleted replies are event lines here too: the selection steps over them.
    let messages: Vec<LocalMessage> = thread_items(panel)
        .iter()
        .filter_map(as_message)
        .cloned()
        .collect();
    let cur = panel
        .selected
        .and_then(|s| messages.iter().position(|m| m.seq == s));
    let next = super::selection::step(&messages, cur, delta < 0, |m| standing_text(m) && m.seq > 0);
    panel.selected = next.map(|i| messages[i].seq);
    let scroll = if panel.selected.is_some() {
        thread_scroll_to_selection(state)
    } else {
        Some(0)
    };
    if let (Some(scroll), Some(panel)) = (scroll, state.thread.as_mut()) {
        panel.scroll = scroll;
    }
    true
}

/// The panel scroll that shows its selected message whole (as little
/// movement as needed); None when nothing is selected or laid out.
fn thread_scroll_to_selection(state: &AppState) -> Option<usize> {
    let panel = state.thread.as_ref()?;
    // The panel's rows: the timeline pane's, less its title border.
    let h = super::scroll::page_height(state).saturating_sub(1).max(1);
    let (retry, discard) = (String::new(), String::new());
    let ctx = super::scroll::ctx_of(state, &retry, &discard)?;
    let (lines, range) = super::features_view::thread_lines(state, panel, &ctx);
    let range = range?;
    let len = lines.len();
    let bottom = len.saturating_sub(panel.scroll);
    let bottom = if range.end > bottom {
        range.end
    } else if range.start < bottom.saturating_sub(h) {
        (range.start + h).min(len)
    } else {
        bottom
    };
    Some(len - bottom)
}

/// Esc with the thread panel open closes it: the conversation's draft
/// comes back, and what was typed in the panel is kept as the thread's
/// draft (Alt+T on the thread brings it back). False when none was open.
pub fn close_thread(state: &mut AppState) -> bool {
    let Some(panel) = state.thread.take() else {
        return false;
    };
    let typed = std::mem::replace(&mut state.compose.text, panel.saved_draft);
    state.compose.cursor = state.compose.text.chars().count();
    if !typed.trim().is_empty() {
        let key = state.keys.describe_keys(KeyAction::Thread);
        state.set_info(format!(
            "your reply in the thread is kept: {key} on it brings it back"
        ));
    }
    let key = super::drafts::thread_key(&panel.conv, panel.root);
    super::drafts::keep(&mut state.drafts, key, typed);
    true
}

/// What Enter sends instead of a plain text: into the open thread (as a
/// reply to the panel's selection, else after its newest reply; the
/// selection is then cleared), or as a reply to the chosen message.
pub fn reply_command(state: &mut AppState, body: &str) -> Option<EngineCommand> {
    if let Some(panel) = state.thread.as_mut() {
        let reply_to = thread_target(panel).map_or(panel.root, |m| m.seq);
        panel.selected = None;
        panel.scroll = 0;
        return Some(EngineCommand::Reply {
            conv: panel.conv.clone(),
            reply_to,
            body: body.to_owned(),
        });
    }
    let target = state.compose.reply_to.take()?;
    let conv = state.open.as_ref()?.conv.clone();
    Some(EngineCommand::Reply {
        conv,
        reply_to: target.seq,
        body: body.to_owned(),
    })
}

/// A thread window read from the store: shown in the panel if it is still
/// that thread's (the first one of an opening fetches the thread when the
/// store's copy is incomplete, and scrolls to a reply opened from).
pub(super) fn on_window(
    state: &mut AppState,
    conv: ConvId,
    root: Seq,
    window: ThreadWindow,
) -> Vec<Effect> {
    let mut fetch = false;
    if let Some(panel) = state
        .thread
        .as_mut()
        .filter(|p| p.conv == conv && p.root == root)
    {
        // Fetched once per opening: a live reply past a gap keeps
        // it incomplete, and the panel shows that gap.
        fetch = !window.complete && panel.window.is_none() && !panel.loading;
        panel.loading |= fetch;
        let first = panel.window.replace(window).is_none();
        // Opened from a reply: shown where it is.
        if first
            && panel.selected.is_some()
            && let Some(scroll) = thread_scroll_to_selection(state)
            && let Some(panel) = state.thread.as_mut()
        {
            panel.scroll = scroll;
        }
    }
    if fetch {
        return vec![Effect::Request(EngineRequest::LoadThread { conv, root })];
    }
    Vec::new()
}
