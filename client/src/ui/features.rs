//! Protocol 1.1 in the TUI (PROTOCOL.md §9): replying and threads, the
//! reaction picker, mentions (completion, next mention), and the
//! per-conversation settings (slash commands and the menu). Each control
//! checks that the server lists its feature first, and says so when not.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::engine::{EngineCommand, EngineRequest};
use super::keys::KeyAction;
use super::model::{
    ConvRow, LocalMessage, Message, Notify, Seq, SettingsChange, TimelineItem, features,
};
use super::selection::{NoTarget, standing_text, target};
use super::state::{Action, AppState, Effect, Overlay, ReplyTarget};

/// The picker's common reactions, in order.
pub const COMMON_EMOJI: [&str; 8] = ["👍", "❤️", "😂", "🎉", "👀", "🚀", "🙏", "✅"];

/// `:shortcode:` → emoji for the picker's typed field.
const SHORTCODES: [(&str, &str); 16] = [
    ("+1", "👍"),
    ("thumbsup", "👍"),
    ("heart", "❤️"),
    ("joy", "😂"),
    ("laughing", "😂"),
    ("tada", "🎉"),
    ("eyes", "👀"),
    ("rocket", "🚀"),
    ("pray", "🙏"),
    ("white_check_mark", "✅"),
    ("check", "✅"),
    ("fire", "🔥"),
    ("thinking", "🤔"),
    ("smile", "😄"),
    ("-1", "👎"),
    ("100", "💯"),
];

/// The menu's entries, in order (`ConvMenu.selected` indexes this).
pub const MENU: [&str; 7] = [
    "Notify: all messages",
    "Notify: mentions only",
    "Notify: none (mute)",
    "Pin / unpin",
    "Archive / unarchive",
    "Show / hide archived conversations",
    "Close",
];

pub(super) fn unsupported(state: &mut AppState, what: &str) -> Vec<Effect> {
    state.set_error(format!("the server does not support {what}"));
    Vec::new()
}

/// The line shown once a settings change was accepted.
pub fn describe_change(change: &SettingsChange) -> String {
    let mut parts = Vec::new();
    if let Some(n) = change.notify {
        parts.push(match n {
            Notify::All => "notifications: all messages",
            Notify::Mentions => "notifications: mentions only",
            Notify::None => "notifications: none (muted)",
        });
    }
    match change.pinned {
        Some(true) => parts.push("pinned"),
        Some(false) => parts.push("unpinned"),
        None => {}
    }
    match change.archived {
        Some(true) => parts.push("archived"),
        Some(false) => parts.push("unarchived"),
        None => {}
    }
    parts.join(", ")
}

/// Whether a new message by someone else in `row` should ring the bell /
/// send OSC 9: never when muted, only mentions of me under `mentions`.
pub fn should_notify(row: Option<&ConvRow>, message: &Message, user: &str) -> bool {
    match row.map_or(Notify::All, |r| r.notify) {
        Notify::All => true,
        Notify::Mentions => message.mentions.iter().any(|m| m == user),
        Notify::None => false,
    }
}

/// Without an authenticated connection, says that what the user asked
/// for needs the server and returns true. Requests only the server
/// answers (settings, `/dm`, `/group`, `/invite`, `/leave`) are refused so
/// before the compose box is cleared: the typed command stays for Enter
/// once back online. (Messages, edits, deletions and reactions queue.)
pub fn refused_offline(state: &mut AppState) -> bool {
    use super::model::ConnState;
    if matches!(state.conn, ConnState::Live | ConnState::CatchingUp { .. }) {
        return false;
    }
    state.set_error("not connected: press Enter again once online");
    // Untrue once online: it goes when the connection is Live.
    if let Some(n) = state.notice.as_mut() {
        n.until_live = true;
    }
    true
}

/// `/notify`, `/mute`, `/pin`, `/archive`... for the open conversation
/// (the menu's items too; [`refused_offline`] without a connection).
pub fn settings(state: &mut AppState, change: SettingsChange) -> Vec<Effect> {
    if !state.supports(features::SETTINGS) {
        return unsupported(state, "conversation settings");
    }
    if refused_offline(state) {
        return Vec::new();
    }
    let Some(conv) = state.open.as_ref().map(|o| o.conv.clone()) else {
        state.set_error("no conversation open");
        return Vec::new();
    };
    vec![Effect::Request(EngineRequest::Settings { conv, change })]
}

/// The text a reaction goes to: with the thread panel open, the thread's
/// [`thread_target`], as the panel is where the user is reading and
/// typing; otherwise [`target`].
pub fn react_target(state: &AppState) -> Result<&LocalMessage, NoTarget> {
    let Some(panel) = state.thread.as_ref().filter(|p| p.window.is_some()) else {
        return target(state);
    };
    match super::thread_panel::thread_target(panel) {
        Some(m) if standing_text(m) && m.seq > 0 => Ok(m),
        Some(_) => Err(NoTarget::Deleted),
        None => Err(NoTarget::Nothing),
    }
}

/// The held message `seq` of the open conversation: in the thread panel's
/// window or the timeline's.
pub fn message(state: &AppState, seq: Seq) -> Option<&LocalMessage> {
    let in_thread = state.thread.as_ref().and_then(|p| p.window.as_ref());
    let thread = in_thread
        .into_iter()
        .flat_map(|w| w.root.iter().chain(w.items.iter().filter_map(as_message)));
    let timeline = state
        .open
        .as_ref()
        .into_iter()
        .flat_map(|o| o.items.iter().filter_map(as_message));
    thread.chain(timeline).find(|m| m.seq == seq)
}

pub(super) fn as_message(i: &TimelineItem) -> Option<&LocalMessage> {
    match i {
        TimelineItem::Message(m) => Some(m),
        _ => None,
    }
}

/// The first line of a body, for quotes and the "replying to" line.
pub fn first_line(body: Option<&str>) -> String {
    body.unwrap_or("")
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// The keys of protocol 1.1; None when `action` is not one of them.
pub fn on_key(state: &mut AppState, action: KeyAction) -> Option<Vec<Effect>> {
    let fx = match action {
        KeyAction::Reply => start_reply(state),
        KeyAction::Thread => super::thread_panel::open_thread(state),
        KeyAction::React => {
            if !state.supports(features::REACTIONS) {
                return Some(unsupported(state, "reactions"));
            }
            match react_target(state).map(|m| m.seq) {
                Ok(target) => {
                    state.overlay = Overlay::React {
                        target,
                        typed: String::new(),
                        selected: 0,
                    };
                }
                Err(no) => state.set_error(no.say(
                    &state.keys,
                    "it cannot be reacted to",
                    "no message to react to",
                )),
            }
            Vec::new()
        }
        KeyAction::NextMention => next_mention(state),
        KeyAction::ConvMenu => {
            if !state.supports(features::SETTINGS) {
                return Some(unsupported(state, "conversation settings"));
            }
            if state.open.is_none() {
                state.set_error(state.keys.no_conversation());
                return Some(Vec::new());
            }
            state.overlay = Overlay::ConvMenu { selected: 0 };
            Vec::new()
        }
        KeyAction::PageUp | KeyAction::PageDown if state.thread.is_some() => {
            let page = super::scroll::page_height(state).saturating_sub(1).max(1);
            if let Some(panel) = state.thread.as_mut() {
                panel.scroll = if action == KeyAction::PageUp {
                    panel.scroll.saturating_add(page)
                } else {
                    panel.scroll.saturating_sub(page)
                };
            }
            Vec::new()
        }
        KeyAction::ToggleArchived => {
            // Archived rows come only from a server with `settings`; rows
            // already held (the server lost the feature) stay reachable.
            if !state.supports(features::SETTINGS) && state.archived.is_empty() {
                return Some(unsupported(state, "conversation settings"));
            }
            toggle_archived(state);
            Vec::new()
        }
        KeyAction::Complete => {
            complete_mention(state);
            Vec::new()
        }
        _ => return None,
    };
    Some(fx)
}

fn start_reply(state: &mut AppState) -> Vec<Effect> {
    if !state.supports(features::REPLY) {
        return unsupported(state, "replies");
    }
    // In the thread panel every message is a reply, to what its compose
    // box names: another target here would only be misleading.
    if state.thread.is_some() {
        let up = state.keys.describe_keys(KeyAction::SelectUp);
        let down = state.keys.describe_keys(KeyAction::SelectDown);
        state.set_info(format!(
            "in a thread, Enter replies to the message the compose box names; {up} / {down} picks another"
        ));
        return Vec::new();
    }
    let m = match target(state) {
        Ok(m) => m,
        Err(no) => {
            state.set_error(no.say(
                &state.keys,
                "it cannot be replied to",
                "no message to reply to",
            ));
            return Vec::new();
        }
    };
    state.compose.reply_to = Some(ReplyTarget {
        seq: m.seq,
        sender: m.sender.clone(),
        preview: first_line(m.body.as_deref()),
    });
    state.compose.editing = None;
    Vec::new()
}

fn next_mention(state: &mut AppState) -> Vec<Effect> {
    if !state.supports(features::MENTIONS) {
        return unsupported(state, "mentions");
    }
    // A mention only inside the collapsed archived section (its row shows
    // `@N`): open the section so the search reaches it.
    if !state.archived_open
        && !state.convs.iter().any(|r| r.mentions > 0)
        && state.archived.iter().any(|r| r.mentions > 0)
    {
        toggle_archived(state);
    }
    super::navigate::next_where(state, |r| r.mentions > 0, "no conversation mentions you")
}

fn toggle_archived(state: &mut AppState) {
    state.archived_open = !state.archived_open;
    let main = state.main_len();
    state.convs.truncate(main);
    if state.archived_open {
        state.convs.extend(state.archived.iter().cloned());
    }
    state.selected = state.selected.min(state.convs.len().saturating_sub(1));
}

/// Names a `@` in the compose box can complete to: the open
/// conversation's senders, members it was created with and who joined.
pub fn member_names(state: &AppState) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |n: &str| {
        if n != state.user && !names.iter().any(|x| x == n) {
            names.push(n.to_owned());
        }
    };
    if let Some(open) = &state.open {
        for item in open.items.iter().rev() {
            if let TimelineItem::Message(m) = item {
                add(&m.sender);
                if let Some(u) = &m.user {
                    add(u);
                }
                for u in m.members.iter().flatten() {
                    add(u);
                }
            }
        }
    }
    names
}

/// Tab after `@pre`: completes to the best matching member name (prefix
/// matches first, then fuzzy with nucleo, as the quick switcher).
fn complete_mention(state: &mut AppState) {
    let c = &state.compose;
    let before: String = c.text.chars().take(c.cursor).collect();
    let Some(at) = before.rfind('@') else {
        return;
    };
    let partial = &before[at + 1..];
    if partial.chars().any(char::is_whitespace) {
        return;
    }
    let names = member_names(state);
    let lower = partial.to_lowercase();
    let best = names
        .iter()
        .find(|n| n.to_lowercase().starts_with(&lower))
        .cloned()
        .or_else(|| fuzzy_best(&names, partial));
    let Some(name) = best else {
        state.set_info(format!("no member matches @{partial}"));
        return;
    };
    let after: String = state
        .compose
        .text
        .chars()
        .skip(state.compose.cursor)
        .collect();
    let head = format!("{}@{name} ", &before[..at]);
    state.compose.cursor = head.chars().count();
    state.compose.text = format!("{head}{after}");
}

fn fuzzy_best(names: &[String], pattern: &str) -> Option<String> {
    use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
    let mut matcher = nucleo_matcher::Matcher::new(nucleo_matcher::Config::DEFAULT);
    let pat = Pattern::parse(pattern, CaseMatching::Ignore, Normalization::Smart);
    pat.match_list(names.iter().map(String::as_str), &mut matcher)
        .first()
        .map(|(n, _)| (*n).to_owned())
}

/// Whether my reaction `key` already stands on `target` (the picker toggles).
fn mine(state: &AppState, target: Seq, key: &str) -> bool {
    message(state, target).is_some_and(|m| m.reactions.iter().any(|r| r.key == key && r.mine))
}

/// The key a typed `:shortcode:` or emoji stands for (None: unknown shortcode).
pub fn typed_key(typed: &str) -> Option<String> {
    let t = typed.trim();
    if t.is_empty() {
        return None;
    }
    match t.strip_prefix(':').and_then(|s| s.strip_suffix(':')) {
        Some(code) => SHORTCODES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, e)| (*e).to_owned()),
        None if t.starts_with(':') => None,
        None => Some(t.to_owned()),
    }
}

/// The key a reaction given as an argument (`/react`, `convo react`) stands
/// for: a known `:shortcode:` is its emoji, as in the picker, so the same
/// reaction is one key whichever way it was given; anything else as typed.
pub fn canonical_key(given: &str) -> String {
    let t = given.trim();
    match t.strip_prefix(':').and_then(|s| s.strip_suffix(':')) {
        Some(_) => typed_key(t).unwrap_or_else(|| t.to_owned()),
        None => t.to_owned(),
    }
}

/// Reacts with `key` on `target`, or withdraws it when it is mine already.
pub fn toggle_reaction(state: &mut AppState, target: Seq, key: String) -> Vec<Effect> {
    let Some(conv) = state.open.as_ref().map(|o| o.conv.clone()) else {
        return Vec::new();
    };
    state.overlay = Overlay::None;
    let cmd = if mine(state, target, &key) {
        EngineCommand::Unreact { conv, target, key }
    } else {
        EngineCommand::React { conv, target, key }
    };
    vec![Effect::Command(cmd)]
}

/// Keys in the reaction picker: Left/Right (or Up/Down) choose an emoji,
/// typing fills the `:shortcode:` field, Enter reacts, Esc closes.
pub fn react_key(state: &mut AppState, ev: KeyEvent, action: Option<KeyAction>) -> Vec<Effect> {
    let Overlay::React {
        target,
        typed,
        selected,
    } = &mut state.overlay
    else {
        return Vec::new();
    };
    let target = *target;
    match (action, ev.code) {
        (Some(KeyAction::Cancel), _) => state.overlay = Overlay::None,
        (Some(KeyAction::Send), _) => {
            let key = if typed.is_empty() {
                Some(COMMON_EMOJI[*selected % COMMON_EMOJI.len()].to_owned())
            } else {
                typed_key(typed)
            };
            match key {
                Some(key) => return toggle_reaction(state, target, key),
                None => {
                    let typed = typed.clone();
                    state.set_error(format!("unknown shortcode {typed}"));
                }
            }
        }
        (_, KeyCode::Left | KeyCode::Up) => {
            *selected = (*selected + COMMON_EMOJI.len() - 1) % COMMON_EMOJI.len();
        }
        (_, KeyCode::Right | KeyCode::Down | KeyCode::Tab) => {
            *selected = (*selected + 1) % COMMON_EMOJI.len();
        }
        (_, KeyCode::Backspace) => {
            typed.pop();
        }
        // A key is at most 64 bytes without whitespace (§9.2).
        (_, KeyCode::Char(ch))
            if !ev
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
                && !ch.is_whitespace()
                && typed.len() + ch.len_utf8() <= 64 =>
        {
            typed.push(ch);
        }
        _ => {}
    }
    Vec::new()
}

/// Keys in the conversation menu: Up/Down choose, Enter applies, Esc closes.
pub fn menu_key(state: &mut AppState, ev: KeyEvent, action: Option<KeyAction>) -> Vec<Effect> {
    let Overlay::ConvMenu { selected } = &mut state.overlay else {
        return Vec::new();
    };
    match (action, ev.code) {
        (Some(KeyAction::Cancel), _) => state.overlay = Overlay::None,
        (Some(KeyAction::Send), _) => {
            let pick = *selected;
            state.overlay = Overlay::None;
            let row = state.open_row();
            let pinned = row.is_some_and(|r| r.pinned);
            let archived = row.is_some_and(|r| r.archived);
            let change = |f: fn(&mut SettingsChange)| {
                let mut c = SettingsChange::default();
                f(&mut c);
                c
            };
            let change = match pick {
                0 => change(|c| c.notify = Some(Notify::All)),
                1 => change(|c| c.notify = Some(Notify::Mentions)),
                2 => change(|c| c.notify = Some(Notify::None)),
                3 => SettingsChange {
                    pinned: Some(!pinned),
                    ..Default::default()
                },
                4 => SettingsChange {
                    archived: Some(!archived),
                    ..Default::default()
                },
                5 => {
                    toggle_archived(state);
                    return Vec::new();
                }
                _ => return Vec::new(),
            };
            return settings(state, change);
        }
        (_, KeyCode::Up) => *selected = (*selected + MENU.len() - 1) % MENU.len(),
        (_, KeyCode::Down | KeyCode::Tab) => *selected = (*selected + 1) % MENU.len(),
        _ => {}
    }
    Vec::new()
}

/// The protocol 1.1 data actions: features, the archived list, reply
/// parents and the open thread.
pub fn on_action(state: &mut AppState, action: Action) -> Vec<Effect> {
    match action {
        Action::Features(list) => {
            state.features = list;
            Vec::new()
        }
        Action::Archived(rows) => {
            state.archived = rows;
            if state.archived_open {
                let main = state.main_len();
                state.convs.truncate(main);
                state.convs.extend(state.archived.iter().cloned());
            }
            Vec::new()
        }
        Action::Thread { conv, root, window } => {
            super::thread_panel::on_window(state, conv, root, window)
        }
        Action::Parents { conv, found } => {
            if let Some(open) = state.open.as_mut().filter(|o| o.conv == conv) {
                open.parents.extend(found.into_iter().map(|m| (m.seq, m)));
            }
            Vec::new()
        }
        Action::ThreadLoaded { conv, root, error } => {
            if let Some(panel) = state
                .thread
                .as_mut()
                .filter(|p| p.conv == conv && p.root == root)
            {
                panel.loading = false;
            }
            if let Some(e) = error {
                state.set_error(format!("could not load the thread: {e}"));
            }
            vec![Effect::LoadThread { conv, root }]
        }
        _ => Vec::new(),
    }
}
