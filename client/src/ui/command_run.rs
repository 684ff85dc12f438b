//! Running a parsed slash command (`/dm`, `/edit`, `/react`, …): the
//! requests and state changes it causes. Parsing is `commands.rs`; the
//! compose box hands the result here through [`super::update`].

use super::commands::Command;
use super::engine::{EngineCommand, EngineRequest};
use super::model::ConvId;
use super::selection::own_target;
use super::state::{AppState, Effect, Overlay};
use super::update::{clear_compose, quit, start_edit};

/// Runs `cmd`; the compose box is cleared unless the command failed.
pub(super) fn run_command(state: &mut AppState, cmd: Command) -> Vec<Effect> {
    let open = state.open.as_ref().map(|o| o.conv.clone());
    let need_open = |state: &mut AppState| {
        if open.is_none() {
            state.set_error("no conversation open");
        }
        open.clone()
    };
    let effects = match cmd {
        Command::Dm(user) => vec![Effect::Request(EngineRequest::CreateDirect { user })],
        Command::Group { title, members } => vec![Effect::Request(EngineRequest::CreateGroup {
            title,
            members,
        })],
        Command::Invite(users) => match need_open(state) {
            Some(conv) => vec![Effect::Request(EngineRequest::Invite { conv, users })],
            None => return Vec::new(),
        },
        Command::Leave => match need_open(state) {
            Some(conv) => vec![Effect::Request(EngineRequest::Leave { conv })],
            None => return Vec::new(),
        },
        // A refusal keeps what was typed (the command, or the new text).
        Command::Edit(None) => {
            match own_target(state, "edit", "edited") {
                Ok(seq) => {
                    clear_compose(state);
                    start_edit(state, seq);
                }
                Err(e) => state.set_error(e),
            }
            return Vec::new();
        }
        Command::Edit(Some(body)) => {
            match (need_open(state), own_target(state, "edit", "edited")) {
                (Some(conv), Ok(seq)) => {
                    vec![Effect::Command(EngineCommand::Edit { conv, seq, body })]
                }
                (Some(_), Err(e)) => {
                    state.set_error(e);
                    return Vec::new();
                }
                _ => return Vec::new(),
            }
        }
        Command::Settings(change) => {
            let fx = super::features::settings(state, change);
            if fx.is_empty() {
                return fx;
            }
            fx
        }
        Command::React(key) => {
            if !state.supports(super::model::features::REACTIONS) {
                state.set_error("the server does not support reactions");
                return Vec::new();
            }
            match super::features::react_target(state).map(|m| m.seq) {
                Ok(target) => {
                    let key = super::features::canonical_key(&key);
                    super::features::toggle_reaction(state, target, key)
                }
                Err(no) => {
                    state.set_error(no.say(
                        &state.keys,
                        "it cannot be reacted to",
                        "no message to react to",
                    ));
                    return Vec::new();
                }
            }
        }
        Command::Delete => match (need_open(state), own_target(state, "delete", "deleted")) {
            (Some(conv), Ok(seq)) => {
                clear_compose(state);
                clear_selections(state);
                // §9.5: only a server with `redaction` erases the content.
                state.set_info(if state.supports(super::model::features::REDACTION) {
                    "deleted: the content is erased for everyone"
                } else {
                    "deleted: the content may remain on the server (it does not support real deletion)"
                });
                return vec![Effect::Command(EngineCommand::Redact { conv, seq })];
            }
            (Some(_), Err(e)) => {
                state.set_error(e);
                return Vec::new();
            }
            _ => return Vec::new(),
        },
        Command::Search(query) => vec![Effect::Search { query }],
        Command::Read => {
            let convs: Vec<ConvId> = state
                .convs
                .iter()
                .filter(|r| r.unread > 0)
                .map(|r| r.conv.clone())
                .collect();
            for row in state.convs.iter_mut() {
                row.unread = 0;
                row.read_seq = row.last_seq;
            }
            convs
                .into_iter()
                .map(|conv| Effect::Command(EngineCommand::MarkAllRead { conv }))
                .collect()
        }
        Command::Passwd => {
            clear_compose(state);
            state.overlay = Overlay::Passwd {
                fields: Default::default(),
                at: 0,
                error: None,
                busy: false,
            };
            return Vec::new();
        }
        Command::Logout { all } => {
            clear_compose(state);
            return vec![Effect::Logout { all }];
        }
        Command::Login => {
            clear_compose(state);
            if state.login.is_some() && state.needs_login {
                state.overlay = Overlay::login(None);
            } else {
                state.set_info(format!("already logged in as {}", state.user));
            }
            return Vec::new();
        }
        Command::Help => {
            state.overlay = Overlay::Help;
            Vec::new()
        }
        Command::Quit => quit(state),
    };
    let needs_server = |e: &Effect| matches!(e, Effect::Request(r) if r.needs_server());
    if effects.iter().any(needs_server) && super::features::refused_offline(state) {
        return Vec::new();
    }
    clear_compose(state);
    state.notice = None;
    clear_selections(state);
    effects
}

/// A command done, the message selections (timeline and thread panel) go.
fn clear_selections(state: &mut AppState) {
    if let Some(open) = state.open.as_mut() {
        open.selected = None;
    }
    if let Some(panel) = state.thread.as_mut() {
        panel.selected = None;
    }
}
