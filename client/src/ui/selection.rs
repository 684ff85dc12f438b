//! The message selection: which timeline items Ctrl+Up / Ctrl+Down stop on
//! (texts one can act on and the user's own queued or failed echoes, never
//! event lines such as joins, renames or deleted texts), moving it in the
//! timeline and in the thread panel, and what the keys and commands that act
//! on "the selected message" (Alt+R, Alt+T, Alt+G, `/react`, `/edit`,
//! `/delete`) resolve it to, or why they cannot.

use super::keys::KeyMap;
use super::model::{EntryKind, LocalMessage, Seq, TimelineItem};
use super::state::{AppState, Effect, ItemKey, ScrollPos};

/// A text that is not deleted: what replies, threads and reactions target.
pub fn standing_text(m: &LocalMessage) -> bool {
    m.kind == EntryKind::Text && !m.redacted
}

/// Whether Ctrl+Up / Ctrl+Down stops on `item` in the timeline: a standing
/// text, a deleted one whose thread has replies (to open it), or an own
/// echo not yet stored (to retry, discard or copy from).
pub fn selectable(item: &TimelineItem) -> bool {
    match item {
        TimelineItem::Message(m) => standing_text(m) || deleted_root(m),
        TimelineItem::Pending(_) => true,
        TimelineItem::Gap { .. } => false,
    }
}

/// The index after one Ctrl+Up (`up`) or Ctrl+Down from `cur` among
/// `items` (oldest first), stopping only where `ok` holds: up from none is
/// the newest such item, up from the oldest stays, down past the newest is
/// none. `cur` may be an item `ok` no longer holds for (a text deleted
/// while selected): the step goes on from where it is.
pub fn step<T>(
    items: &[T],
    cur: Option<usize>,
    up: bool,
    ok: impl Fn(&T) -> bool,
) -> Option<usize> {
    match (cur, up) {
        (None, true) => items.iter().rposition(ok),
        (None, false) => None,
        // Up from the oldest: stays (or, from a text deleted since, goes
        // to the nearest newer one).
        (Some(i), true) => items[..i.min(items.len())]
            .iter()
            .rposition(&ok)
            .or_else(|| items.iter().skip(i).position(&ok).map(|p| p + i)),
        (Some(i), false) => items.iter().skip(i + 1).position(ok).map(|p| p + i + 1),
    }
}

/// Moves the timeline's selection (newest first when nothing is selected)
/// and scrolls it into view. Up at the oldest message of the window, with
/// older history not read yet, asks for it as scrolling up to the top does.
pub fn select_message(state: &mut AppState, delta: isize) -> Vec<Effect> {
    let Some(open) = state.open.as_mut() else {
        return Vec::new();
    };
    let cur = open
        .selected
        .as_ref()
        .and_then(|s| open.items.iter().position(|i| ItemKey::of(i) == *s));
    // Scrolled back with nothing selected, Ctrl+Up starts from the lowest
    // item on the screen rather than the newest one below it.
    let from = match (&cur, &open.scroll) {
        (None, ScrollPos::Anchored { .. }) if delta < 0 => {
            super::timeline::anchor_index(&open.items, &open.scroll).map(|(i, _)| i + 1)
        }
        _ => cur,
    };
    let next = step(&open.items, from, delta < 0, selectable);
    open.selected = next.and_then(|i| open.items.get(i)).map(ItemKey::of);
    let stuck = delta < 0 && next.is_some() && next == cur;
    super::scroll::reveal_selection(state);
    if stuck {
        return super::scroll::scroll_up(state, usize::MAX / 4);
    }
    Vec::new()
}

/// Why no message could be found for an action on "the selected message".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTarget {
    /// No conversation is open.
    NoConversation,
    /// The selection is an echo the server has not stored yet.
    NotSent,
    /// The selected text was deleted since it was selected.
    Deleted,
    /// Nothing is selected and no text is held.
    Nothing,
}

impl NoTarget {
    /// What the notice says; `consequence` ends "this message is not sent
    /// yet: …" (e.g. "it cannot be replied to"), `nothing` is the whole
    /// notice when there is no message at all.
    pub fn say(self, keys: &KeyMap, consequence: &str, nothing: &str) -> String {
        match self {
            NoTarget::NotSent => format!("this message is not sent yet: {consequence}"),
            NoTarget::Deleted => format!("this message is deleted: {consequence}"),
            NoTarget::Nothing => nothing.to_owned(),
            NoTarget::NoConversation => keys.no_conversation(),
        }
    }
}

/// A deleted text that heads a thread with replies (§9.1: a redacted root
/// keeps them).
fn deleted_root(m: &LocalMessage) -> bool {
    m.kind == EntryKind::Text && m.redacted && m.replies > 0
}

/// The message a reply or reaction is about: the selected one, else the
/// newest standing text.
pub fn target(state: &AppState) -> Result<&LocalMessage, NoTarget> {
    resolve(state, standing_text)
}

/// The message whose thread Alt+T opens: as [`target`], and a deleted
/// thread root too.
pub fn thread_source(state: &AppState) -> Result<&LocalMessage, NoTarget> {
    resolve(state, |m| standing_text(m) || deleted_root(m))
}

fn resolve(state: &AppState, ok: fn(&LocalMessage) -> bool) -> Result<&LocalMessage, NoTarget> {
    let open = state.open.as_ref().ok_or(NoTarget::NoConversation)?;
    let messages = || {
        open.items.iter().filter_map(|i| match i {
            TimelineItem::Message(m) => Some(m),
            _ => None,
        })
    };
    match &open.selected {
        Some(ItemKey::Pending(_)) => Err(NoTarget::NotSent),
        Some(ItemKey::Seq(s)) => match messages().find(|m| m.seq == *s) {
            Some(m) if ok(m) => Ok(m),
            Some(_) => Err(NoTarget::Deleted),
            None => newest_text(messages()),
        },
        _ => newest_text(messages()),
    }
}

fn newest_text<'a>(
    mut messages: impl DoubleEndedIterator<Item = &'a LocalMessage>,
) -> Result<&'a LocalMessage, NoTarget> {
    messages
        .rfind(|m| standing_text(m))
        .ok_or(NoTarget::Nothing)
}

/// The own text `/edit` and `/delete` act on (`verb`: "edit", `done`:
/// "edited"): the selected message, which must be the user's, else the
/// newest of theirs. The error is the notice to show.
pub fn own_target(state: &AppState, verb: &str, done: &str) -> Result<Seq, String> {
    let open = state.open.as_ref().ok_or("no conversation open")?;
    let own = |m: &LocalMessage| {
        if m.sender != state.user {
            Err(format!("only {} can {verb} this message", m.sender))
        } else if !standing_text(m) {
            Err(format!(
                "this message is deleted: there is nothing to {verb}"
            ))
        } else {
            Ok(m.seq)
        }
    };
    // With the thread panel open, its selection, else the newest own
    // message of the thread: the panel is where the user is reading.
    if let Some(panel) = state.thread.as_ref() {
        return match panel
            .selected
            .and_then(|seq| super::features::message(state, seq))
        {
            Some(m) => own(m),
            None => newest_own(state)
                .ok_or_else(|| format!("no message of yours in this thread to {verb}")),
        };
    }
    if let Some(sel) = &open.selected {
        match open.items.iter().find(|i| ItemKey::of(i) == *sel) {
            Some(TimelineItem::Pending(_)) => {
                let discard = state.keys.describe_keys(super::keys::KeyAction::Discard);
                return Err(format!(
                    "this message is not sent yet: it cannot be {done} ({discard} discards it)"
                ));
            }
            Some(TimelineItem::Message(m)) => return own(m),
            _ => {}
        }
    }
    newest_own(state).ok_or_else(|| format!("no message of yours to {verb}"))
}

/// The selected own text, else the newest own text (Up in an empty compose
/// box: "edit your last message", whoever's message is selected); with the
/// thread panel open, among the thread's messages.
pub fn newest_own(state: &AppState) -> Option<Seq> {
    let own = |m: &LocalMessage| m.sender == state.user && standing_text(m);
    if let Some(panel) = state.thread.as_ref() {
        let items = super::thread_panel::thread_items(panel);
        let mut mine = items.iter().filter_map(|i| match i {
            TimelineItem::Message(m) if own(m) => Some(m.seq),
            _ => None,
        });
        return match panel.selected {
            Some(s) if mine.clone().any(|seq| seq == s) => Some(s),
            _ => mine.next_back(),
        };
    }
    let open = state.open.as_ref()?;
    let mine = |i: &TimelineItem| match i {
        TimelineItem::Message(m) if own(m) => Some(m.seq),
        _ => None,
    };
    if let Some(ItemKey::Seq(s)) = &open.selected
        && let Some(seq) = open.items.iter().filter_map(mine).find(|seq| seq == s)
    {
        return Some(seq);
    }
    open.items.iter().rev().find_map(mine)
}

#[cfg(test)]
mod tests {
    use super::step;

    #[test]
    fn step_stops_only_where_allowed() {
        let ok = |x: &u8| *x == 1;
        let items = [1, 0, 1, 0, 0];
        assert_eq!(step(&items, None, true, ok), Some(2));
        assert_eq!(step(&items, Some(2), true, ok), Some(0));
        assert_eq!(step(&items, Some(0), true, ok), Some(0));
        assert_eq!(step(&items, Some(0), false, ok), Some(2));
        assert_eq!(step(&items, Some(2), false, ok), None);
        assert_eq!(step(&items, None, false, ok), None);
        // From an item no longer allowed: on from where it is.
        assert_eq!(step(&items, Some(3), true, ok), Some(2));
        assert_eq!(step(&items, Some(1), false, ok), Some(2));
        // Nothing older allowed and the current one not either: the
        // nearest newer one.
        assert_eq!(step(&[0, 0, 1], Some(1), true, ok), Some(2));
        assert_eq!(step(&[0u8; 0], None, true, ok), None);
    }
}
