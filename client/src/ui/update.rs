//! `update(&mut AppState, Action) -> Vec<Effect>`: the only place UI state
//! changes. Key handling, compose editing, engine data arriving; slash
//! commands run in `command_run.rs`.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::commands;
use super::engine::EngineCommand;
use super::keys::KeyAction;
use super::model::{EntryKind, OutboxState, Seq, TimelineItem, TimelineQuery};
pub use super::navigate::open_conv;
use super::navigate::{move_conv, next_unread, on_mouse};
use super::overlay::overlay_key;
use super::read_state::{mark_visible_read, show_at_top};
use super::scroll::{page_height, reveal_selection, scroll_bottom, scroll_down, scroll_up};
use super::state::{
    Action, AppState, Effect, ItemKey, Overlay, ScrollPos, TYPING_SEND_EVERY_MS, TYPING_SHOW_MS,
};

/// Applies one action; returns the engine requests it causes.
pub fn update(state: &mut AppState, action: Action) -> Vec<Effect> {
    match action {
        Action::Key(ev) => on_key(state, ev),
        Action::EditorDone(result) => {
            super::compose_tools::editor_done(state, result);
            Vec::new()
        }
        Action::Mouse(ev) => on_mouse(state, ev),
        Action::Paste(text) if matches!(state.overlay, Overlay::Login { .. }) => {
            if let Overlay::Login { password, busy, .. } = &mut state.overlay
                && !*busy
            {
                password.0.push_str(text.lines().next().unwrap_or_default());
            }
            Vec::new()
        }
        Action::AccountResult(result) => {
            match result {
                Ok(line) => {
                    if matches!(state.overlay, Overlay::Passwd { .. }) {
                        state.overlay = Overlay::None;
                    }
                    state.set_info(line);
                }
                Err(why) => {
                    if let Overlay::Passwd { error, busy, .. } = &mut state.overlay {
                        *busy = false;
                        *error = Some(why);
                    } else {
                        state.set_error(why);
                    }
                }
            }
            Vec::new()
        }
        Action::NeedsInvite(why) => {
            if let Overlay::Login {
                error,
                busy,
                invite,
                ..
            } = &mut state.overlay
            {
                *busy = false;
                *error = Some(format!("{why}: type the code, then Enter"));
                invite.get_or_insert_with(String::new);
            }
            Vec::new()
        }
        Action::LoginResult(result) => {
            match result {
                Ok(line) => {
                    if matches!(state.overlay, Overlay::Login { .. }) {
                        state.overlay = Overlay::None;
                    }
                    state.needs_login = false;
                    state.set_info(line);
                }
                Err(why) => {
                    if let Overlay::Login { error, busy, .. } = &mut state.overlay {
                        *busy = false;
                        *error = Some(why);
                    } else {
                        state.set_error(why);
                    }
                }
            }
            Vec::new()
        }
        Action::Paste(text) => {
            let text = text.replace("\r\n", "\n").replace('\r', "\n");
            insert_text(state, &text);
            typing(state)
        }
        Action::Resize(w, h) => {
            state.size = (w, h);
            Vec::new()
        }
        Action::Tick { now_ms } => {
            state.now_ms = now_ms;
            state.frame = state.frame.wrapping_add(1);
            state.typing.retain(|(_, _, until)| *until > now_ms);
            if state
                .notice
                .as_ref()
                .is_some_and(|n| n.expires_ms.is_some_and(|t| t <= now_ms))
            {
                state.notice = None;
            }
            Vec::new()
        }
        Action::Conversations(rows) => {
            let keep = state.convs.get(state.selected).map(|r| r.conv.clone());
            state.convs = rows;
            if state.archived_open {
                state.convs.extend(state.archived.iter().cloned());
            }
            if let Some(i) = keep.and_then(|c| state.convs.iter().position(|r| r.conv == c)) {
                state.selected = i;
            }
            state.selected = state.selected.min(state.convs.len().saturating_sub(1));
            mark_visible_read(state)
        }
        Action::Timeline {
            conv,
            query,
            items,
            total,
        } => {
            let Some(open) = state.open.as_mut().filter(|o| o.conv == conv) else {
                return Vec::new();
            };
            // `Around` returns at most `after` entries *at and after* the
            // anchor (the anchor included): a full share means the store may
            // hold newer entries than the window.
            open.has_newer = match query {
                TimelineQuery::Latest { .. } => false,
                TimelineQuery::Around { seq, after, .. } => {
                    items
                        .iter()
                        .filter(|i| matches!(i, TimelineItem::Message(m) if m.seq >= seq))
                        .count()
                        >= after
                }
                TimelineQuery::After { limit, .. } => {
                    items
                        .iter()
                        .filter(|i| matches!(i, TimelineItem::Message(_)))
                        .count()
                        >= limit
                }
            };
            // Edits, deletions and reactions show on the message they change
            // ("(edited)", the deleted placeholder, the counts), never as
            // lines of their own (nor as a "new messages" line over nothing).
            let mut items = items;
            open.newest_entry = items
                .iter()
                .filter_map(|i| match i {
                    TimelineItem::Message(m) => Some(m.seq),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            items.retain(|i| {
                !matches!(i, TimelineItem::Message(m)
                    if matches!(m.kind, EntryKind::Edit | EntryKind::Redact | EntryKind::Reaction | EntryKind::Unknown))
            });
            open.items = items;
            open.total = total;
            if !open.loading_older {
                open.grow_window = false;
            }
            if let Some(seq) = open.top_on {
                return show_at_top(state, seq);
            }
            let jumped = open.selected.as_ref().is_some_and(|k| {
                open.scroll
                    == ScrollPos::Anchored {
                        item: k.clone(),
                        below: 0,
                    }
            });
            if jumped {
                reveal_selection(state);
            }
            mark_visible_read(state)
        }
        Action::OlderLoaded { conv, error } => {
            if let Some(open) = state.open.as_mut().filter(|o| o.conv == conv) {
                open.loading_older = false;
                if error.is_some() {
                    // Cannot load further: show what is there.
                    open.top_on = None;
                }
            }
            if let Some(e) = error {
                state.set_error(format!("could not load older messages: {e}"));
            }
            Vec::new()
        }
        Action::Connection(c) => {
            use super::model::ConnState;
            let ended = c == ConnState::LoggedOut && state.conn != ConnState::LoggedOut;
            state.reconnect_at = match c {
                ConnState::Reconnecting { in_ms, .. } => {
                    Some(state.now_ms + i64::try_from(in_ms).unwrap_or(i64::MAX / 2))
                }
                _ => None,
            };
            if c == ConnState::Live && state.notice.as_ref().is_some_and(|n| n.until_live) {
                state.notice = None;
            }
            // Stopped for good: the reason, whole and wrapped, above the
            // compose box (the status bar has room for little of it).
            if let ConnState::Failed { error } = &c {
                state.set_connection_error(format!("connection stopped: {error}"));
            }
            state.conn = c;
            // The server ended the session (revoked elsewhere): ask again.
            if ended && state.login.is_some() {
                state.needs_login = true;
                if state.overlay == Overlay::None {
                    state.overlay =
                        Overlay::login(Some("the server ended the session: log in again".into()));
                }
            }
            Vec::new()
        }
        Action::Outbox(items) => {
            state.queued = items
                .iter()
                .filter(|i| !matches!(i.state, OutboxState::Failed { .. }))
                .count();
            Vec::new()
        }
        Action::Receipt { conv, seq } => {
            let seen = state.seen.entry(conv).or_insert(0);
            *seen = (*seen).max(seq);
            Vec::new()
        }
        Action::Typing { conv, user } => {
            if user != state.user {
                let until = state.now_ms + TYPING_SHOW_MS;
                state.typing.retain(|(c, u, _)| !(c == &conv && u == &user));
                state.typing.push((conv, user, until));
            }
            Vec::new()
        }
        Action::NewMessage { conv, message } => {
            state
                .typing
                .retain(|(c, u, _)| !(c == &conv && u == &message.sender));
            let is_open = state.open.as_ref().is_some_and(|o| o.conv == conv);
            if message.sender == state.user || is_open || message.kind != EntryKind::Text {
                return Vec::new();
            }
            let row = state.convs.iter().find(|r| r.conv == conv);
            if !super::features::should_notify(row, &message, &state.user) {
                return Vec::new();
            }
            let title = row.map_or_else(|| conv.to_string(), |r| r.title.clone());
            let body = format!("{}: {}", message.sender, message.body.unwrap_or_default());
            vec![Effect::Notify { title, body }]
        }
        Action::SearchResults {
            query,
            hits,
            coverage,
        } => {
            if hits.is_empty() {
                let (full, of) = coverage;
                state.set_info(format!(
                    "no messages match \"{query}\" (searched {full} of {of} conversations fully)"
                ));
            } else {
                state.overlay = Overlay::Search {
                    query,
                    hits,
                    selected: 0,
                    coverage,
                };
            }
            Vec::new()
        }
        Action::Opened(conv) => open_conv(state, conv, None),
        Action::ServerUrl(url) => {
            state.server = url;
            Vec::new()
        }
        action @ (Action::Features(_)
        | Action::Archived(_)
        | Action::Thread { .. }
        | Action::Parents { .. }
        | Action::ThreadLoaded { .. }) => super::features::on_action(state, action),
        Action::Error(e) => {
            state.set_error(e);
            Vec::new()
        }
        Action::ConnectionError(e) => {
            if state.conn == super::model::ConnState::Live {
                state.set_error(e);
                if let Some(n) = state.notice.as_mut() {
                    n.from_connection = true;
                }
            } else if state.notice.as_ref().is_none_or(|n| n.from_connection) {
                // What a command just said stays until it expires: the
                // status bar already says Reconnecting, and an attempt fails
                // every few seconds.
                state.set_connection_error(e);
            }
            Vec::new()
        }
        Action::Info(i) => {
            state.set_info(i);
            Vec::new()
        }
        Action::Refused { retype, why } => {
            state.set_error(why);
            if state.compose.text.is_empty() && state.compose.editing.is_none() {
                state.compose.cursor = retype.chars().count();
                state.compose.text = retype;
            }
            Vec::new()
        }
    }
}

fn on_key(state: &mut AppState, ev: KeyEvent) -> Vec<Effect> {
    if ev.kind == KeyEventKind::Release {
        return Vec::new();
    }
    let action = state.keys.action_for(&ev);
    if action == Some(KeyAction::Quit) {
        return quit(state);
    }
    if state.overlay != Overlay::None {
        return overlay_key(state, ev, action);
    }
    let compose_empty = state.compose.text.is_empty();
    if let Some(a) = action
        && let Some(fx) = super::features::on_key(state, a)
    {
        return fx;
    }
    match action {
        Some(KeyAction::Send) => return submit(state),
        Some(KeyAction::Newline) => {
            insert_text(state, "\n");
            return Vec::new();
        }
        Some(KeyAction::Help) if compose_empty => {
            state.overlay = Overlay::Help;
            return Vec::new();
        }
        Some(KeyAction::EditLast) if compose_empty => {
            match super::selection::newest_own(state) {
                Some(seq) => start_edit(state, seq),
                None => state.set_error("no message of yours to edit"),
            }
            return Vec::new();
        }
        Some(KeyAction::Switcher) => {
            state.overlay = Overlay::Switcher {
                query: String::new(),
                selected: 0,
            };
            return Vec::new();
        }
        Some(KeyAction::PrevConv) => return move_conv(state, -1),
        Some(KeyAction::NextConv) => return move_conv(state, 1),
        Some(KeyAction::NextUnread) => return next_unread(state),
        Some(KeyAction::PageUp) => {
            let page = page_height(state).saturating_sub(1).max(1);
            return scroll_up(state, page);
        }
        Some(KeyAction::PageDown) => {
            let page = page_height(state).saturating_sub(1).max(1);
            let mut fx = scroll_down(state, page);
            fx.extend(mark_visible_read(state));
            return fx;
        }
        Some(KeyAction::Top) => {
            // The oldest message of the conversation, loading history as needed.
            // The view goes to the top of the window at once (the spinner
            // shows there while older pages load).
            let mut fx = scroll_up(state, usize::MAX / 4);
            if let Some(open) = state.open.as_mut() {
                open.top_on = Some(1);
                open.selected = None;
            }
            fx.extend(
                state
                    .window_query()
                    .map(|(conv, query)| Effect::LoadTimeline { conv, query }),
            );
            return fx;
        }
        Some(KeyAction::Bottom) => {
            let mut fx = scroll_bottom(state);
            fx.extend(mark_visible_read(state));
            return fx;
        }
        Some(KeyAction::SelectUp) => {
            if !super::thread_panel::select_in_thread(state, -1) {
                return super::selection::select_message(state, -1);
            }
            return Vec::new();
        }
        Some(KeyAction::SelectDown) => {
            if !super::thread_panel::select_in_thread(state, 1) {
                return super::selection::select_message(state, 1);
            }
            return Vec::new();
        }
        Some(KeyAction::ReconnectNow) => {
            use super::model::ConnState;
            return match state.conn {
                ConnState::Reconnecting { .. } => {
                    vec![Effect::Command(EngineCommand::ReconnectNow)]
                }
                _ => Vec::new(),
            };
        }
        Some(KeyAction::Retry) => return failed_action(state, true),
        Some(KeyAction::Discard) => return failed_action(state, false),
        Some(KeyAction::Cancel) if state.thread.is_some() || state.compose.reply_to.is_some() => {
            if state.compose.reply_to.take().is_none() {
                super::thread_panel::close_thread(state);
            }
            return Vec::new();
        }
        Some(KeyAction::Cancel) => {
            if state.compose.editing.take().is_some() {
                state.compose.text.clear();
                state.compose.cursor = 0;
            }
            state.notice = None;
            // Esc leaves a selection (or a scrolled-back view) for the live end.
            let away = state
                .open
                .as_ref()
                .is_some_and(|o| o.selected.is_some() || o.scroll != ScrollPos::Bottom);
            if let Some(open) = state.open.as_mut() {
                open.selected = None;
            }
            if away {
                let mut fx = scroll_bottom(state);
                fx.extend(mark_visible_read(state));
                return fx;
            }
            return Vec::new();
        }
        _ => {}
    }
    if let Some(fx) = super::compose_tools::dev_key(state, action) {
        return fx;
    }
    if super::compose_tools::edit_compose(state, action).is_some() {
        return Vec::new();
    }
    edit_compose(state, ev)
}

/// Typed characters (every other compose key is in the key map).
fn edit_compose(state: &mut AppState, ev: KeyEvent) -> Vec<Effect> {
    match ev.code {
        KeyCode::Char(ch)
            if !ev
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            insert_text(state, &ch.to_string());
            typing(state)
        }
        _ => Vec::new(),
    }
}

fn insert_text(state: &mut AppState, text: &str) {
    let c = &mut state.compose;
    let at = c
        .text
        .char_indices()
        .nth(c.cursor)
        .map_or(c.text.len(), |(b, _)| b);
    c.text.insert_str(at, text);
    c.cursor += text.chars().count();
}

/// Sends `typing` at most once per `TYPING_SEND_EVERY_MS` per conversation.
fn typing(state: &mut AppState) -> Vec<Effect> {
    let Some(conv) = state.open.as_ref().map(|o| o.conv.clone()) else {
        return Vec::new();
    };
    if state.compose.text.starts_with('/') {
        return Vec::new();
    }
    let due = match &state.typing_sent {
        Some((c, at)) => c != &conv || state.now_ms - at >= TYPING_SEND_EVERY_MS,
        None => true,
    };
    if !due {
        return Vec::new();
    }
    state.typing_sent = Some((conv.clone(), state.now_ms));
    vec![Effect::Command(EngineCommand::Typing { conv })]
}

/// Enter: send the text, apply an edit, or run a command.
fn submit(state: &mut AppState) -> Vec<Effect> {
    let text = state.compose.text.clone();
    if text.trim().is_empty() {
        // Nothing open: Enter opens the conversation highlighted in the list.
        if state.open.is_none()
            && let Some(conv) = state.convs.get(state.selected).map(|r| r.conv.clone())
        {
            return super::navigate::open_conv(state, conv, None);
        }
        return Vec::new();
    }
    if let Some(wrapped) = super::compose_tools::code_command(&text) {
        // The fenced draft goes back into the box, to review before sending.
        match wrapped {
            Ok(body) => {
                state.compose.cursor = body.chars().count();
                state.compose.text = body;
            }
            Err(e) => state.set_error(e),
        }
        return Vec::new();
    }
    if let Some(rest) = text.strip_prefix("//") {
        send_text(state, format!("/{rest}"))
    } else if text.starts_with('/') {
        match commands::parse(&text) {
            Ok(cmd) => super::command_run::run_command(state, cmd),
            Err(e) => {
                state.set_error(e);
                Vec::new()
            }
        }
    } else {
        send_text(state, text)
    }
}

pub(super) fn clear_compose(state: &mut AppState) {
    state.compose.text.clear();
    state.compose.cursor = 0;
    state.compose.editing = None;
    state.compose.reply_to = None;
}

fn send_text(state: &mut AppState, body: String) -> Vec<Effect> {
    // Trailing whitespace is never meant (Tab completion leaves a space after
    // `@name`; Slack and Element trim too): spaces, tabs and blank lines at the
    // end go, whitespace inside the body stays.
    let body = match body.trim_end() {
        trimmed if trimmed.len() == body.len() => body,
        trimmed => trimmed.to_owned(),
    };
    let Some(conv) = state.open.as_ref().map(|o| o.conv.clone()) else {
        state.set_error(state.keys.no_conversation());
        return Vec::new();
    };
    // A group I left is read-only (sync-core refuses the row, after the
    // compose box was cleared): say so and keep the text.
    if state.open_row().is_some_and(|r| r.left) {
        state.set_error("you left this group: it is read-only (your text is kept)".to_owned());
        return Vec::new();
    }
    // Refuse before anything is queued, and keep the draft: the user's text
    // is never thrown away (the server would answer `too_large` anyway).
    let max = state.limits.max_body_bytes;
    if body.len() > max {
        state.set_error(format!(
            "message is {} bytes, the limit is {max}: shorten it (your text is kept)",
            body.len()
        ));
        return Vec::new();
    }
    // JSON writes a control character in 6 bytes: a body within the limit
    // can still make a frame the server refuses (sync-core would refuse it
    // too, after the compose box was cleared).
    let encoded = sync_core::protocol::validate::encoded_send_len(&body);
    if encoded > state.limits.max_frame_bytes {
        state.set_error(format!(
            "message is {encoded} bytes once encoded (control characters take 6 each), the limit \
             is {}: shorten it (your text is kept)",
            state.limits.max_frame_bytes
        ));
        return Vec::new();
    }
    let effect = match state.compose.editing {
        Some(seq) => Effect::Command(EngineCommand::Edit { conv, seq, body }),
        None => match super::thread_panel::reply_command(state, &body) {
            Some(reply) => Effect::Command(reply),
            None => Effect::Command(EngineCommand::Send { conv, body }),
        },
    };
    let in_thread = state.thread.is_some();
    clear_compose(state);
    state.notice = None;
    if let Some(panel) = state.thread.as_mut() {
        panel.selected = None;
    }
    if let Some(open) = state.open.as_mut().filter(|_| !in_thread) {
        open.scroll = ScrollPos::Bottom;
        open.selected = None;
    }
    vec![effect]
}

/// Loads the own text `seq` into the compose box for editing.
pub(super) fn start_edit(state: &mut AppState, seq: Seq) {
    // From the timeline or the thread panel, whichever holds it.
    let body = super::features::message(state, seq).and_then(|m| m.body.clone());
    state.compose.text = body.unwrap_or_default();
    state.compose.cursor = state.compose.text.chars().count();
    state.compose.editing = Some(seq);
    let esc = state.keys.describe_keys(KeyAction::Cancel);
    state.set_info(format!("editing your message — Enter saves, {esc} cancels"));
}

/// Retry or discard the selected failed message, else the newest failed one.
fn failed_action(state: &mut AppState, retry: bool) -> Vec<Effect> {
    let Some(open) = state.open.as_ref() else {
        return Vec::new();
    };
    let failed = |i: &TimelineItem| match i {
        TimelineItem::Pending(p) if matches!(p.state, OutboxState::Failed { .. }) => {
            Some(p.client_id.clone())
        }
        _ => None,
    };
    let selected = match &open.selected {
        Some(ItemKey::Pending(id)) => open.items.iter().filter_map(failed).find(|c| c == id),
        _ => None,
    };
    match selected.or_else(|| open.items.iter().rev().find_map(failed)) {
        Some(client_id) if retry => vec![Effect::Command(EngineCommand::Retry { client_id })],
        Some(client_id) => vec![Effect::Command(EngineCommand::Discard { client_id })],
        None => {
            state.set_info("no failed message here");
            Vec::new()
        }
    }
}

/// Quits, unless this process runs the `--local` server and others are
/// connected to it: then the first press says so and a second one (within
/// 5 s) quits.
pub(super) fn quit(state: &mut AppState) -> Vec<Effect> {
    let others = state.local_peers.as_ref().map_or(0, |p| (p.0)());
    let armed = state.quit_armed_until.is_some_and(|t| state.now_ms < t);
    if others > 0 && !armed {
        state.quit_armed_until = Some(state.now_ms + 5_000);
        let who = if others == 1 {
            "1 other connection uses".to_owned()
        } else {
            format!("{others} other connections use")
        };
        let key = state.keys.describe_keys(KeyAction::Quit);
        state.set_error(format!(
            "{who} this local server, and it stops when you quit: {key} again to quit"
        ));
        return Vec::new();
    }
    state.quit = true;
    vec![Effect::Quit]
}
