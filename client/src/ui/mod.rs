//! The TUI: state, update(action), rendering, key handling.
//!
//! Data flow: terminal input and engine events become [`state::Action`]s;
//! [`update::update`] changes [`state::AppState`] and returns
//! [`state::Effect`]s (engine requests); [`driver`] carries them out against
//! an [`engine::EnginePort`] and draws [`render::View`]. Nothing here waits on the
//! network: network requests are spawned and report back as actions.
//!
//! - [`model`]: the engine types the UI shows (re-exported from sync-core).
//! - [`state`], [`update`], [`commands`], [`scroll`], [`navigate`], [`read_state`]: the state machine;
//!   [`selection`]: which messages Ctrl+Up/Down stop on and what acts on them.
//! - [`drafts`]: unsent text per conversation, kept across restarts.
//! - [`layout`], [`render`], [`timeline`], [`overlay`], [`style`]: drawing.
//! - [`markdown`], [`highlight`], [`body_layout`]: message bodies as markdown
//!   with highlighted code blocks and links (parsed once per body, cached);
//!   [`hyperlink`]: OSC 8 over link text; [`wide_emoji`]: `❤️` drawn right
//!   whether the terminal counts it 1 column or 2.
//! - [`features`] (keys, commands, overlays) and [`features_view`]
//!   (drawing): protocol 1.1 replies, threads, reactions, mentions, settings;
//!   [`thread_panel`]: the Alt+T panel's state (selection, target, drafts).
//! - [`keys`]: remappable key bindings; [`compose_tools`]: grapheme-aware
//!   compose editing, `/code`, preview, links and code-view keys.
//! - [`external`]: `$EDITOR`, `$PAGER`, the URL opener and OSC 52.
//! - [`notify`]: bell, OSC 9 and window title (sanitized).
//! - [`terminal`]: raw mode / alternate screen / panic hook.
//! - [`engine`]: the UI's port to the engine (queries, `EngineCommand`s, `EngineRequest`s);
//!   `engine_sync_core` implements it for `sync_core::Client`.

pub mod body_layout;
mod command_run;
pub mod commands;
pub mod compose_tools;
pub mod drafts;
pub mod driver;
pub mod engine;
#[cfg(feature = "wired")]
mod engine_sync_core;
pub mod external;
pub mod features;
pub mod features_view;
pub mod highlight;
pub mod hyperlink;
pub mod keys;
pub mod layout;
pub mod markdown;
pub mod model;
pub mod navigate;
pub mod notify;
pub mod overlay;
pub mod read_state;
pub mod render;
pub mod scroll;
pub mod selection;
pub mod state;
pub mod style;
pub mod terminal;
pub mod thread_panel;
pub mod timeline;
pub mod update;
pub mod wide_emoji;

/// How the TUI is started (filled from the CLI and config by `cli`).
#[derive(Debug, Clone)]
pub struct TuiOptions {
    pub user: String,
    pub server: String,
    /// Remappable keys (`KeyMap::default()` or `KeyMap::from_config`).
    pub keys: keys::KeyMap,
    /// False when NO_COLOR is set or the config turns colours off.
    pub colors: bool,
    /// Ring the terminal bell for messages in conversations that are not open.
    pub bell: bool,
    /// Send OSC 9 desktop notifications for those messages.
    pub osc9: bool,
    /// Emit OSC 8 hyperlinks over link text (config `hyperlinks`, resolved).
    pub hyperlinks: bool,
    /// Logs in with a typed password: on first use (see `login_now`) and when
    /// the server ends the session.
    pub login: Option<engine::LoginHook>,
    /// No session yet: open on the log-in prompt.
    pub login_now: bool,
    /// `/passwd` and `/logout [all]`.
    pub account: Option<engine::AccountHooks>,
    /// Where unsent drafts are kept between runs (None: only in memory).
    pub drafts_file: Option<std::path::PathBuf>,
    /// Shown in the status line at start (e.g. the server was reset).
    pub startup_notice: Option<String>,
    /// Shown for a few seconds at start when there is no `startup_notice`
    /// (`--local`: how others join, which the TUI covered on stderr).
    pub startup_info: Option<String>,
    /// `--local`: who else uses the embedded server (quit asks first).
    pub local_peers: Option<engine::LocalPeers>,
}

/// Runs the TUI on the real terminal until Ctrl+C or /quit. Installs a panic
/// hook that restores the terminal; enables raw mode, the alternate screen,
/// mouse capture and bracketed paste; restores everything on return.
#[cfg(feature = "wired")]
pub async fn run(
    client: sync_core::Client,
    events: sync_core::Events,
    opts: TuiOptions,
) -> anyhow::Result<()> {
    engine_sync_core::run(client, events, opts).await
}

/// Runs the TUI on the real terminal against any engine (the generic core of `run`).
pub async fn run_with<E: engine::EnginePort>(
    engine: std::sync::Arc<E>,
    events: tokio::sync::mpsc::Receiver<engine::EngineEvent>,
    opts: TuiOptions,
) -> anyhow::Result<()> {
    let guard = terminal::setup()?;
    let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
    let mut term = ratatui::Terminal::new(backend)?;
    term.clear()?;
    let input = terminal::spawn_input_reader();
    let mut state = state::AppState::new(&opts.user, &opts.server, opts.keys.clone(), opts.colors);
    state.login = opts.login.clone();
    state.hyperlinks = opts.hyperlinks;
    state.account = opts.account.clone();
    if let Some(path) = &opts.drafts_file {
        state.drafts = drafts::load(path)?;
    }
    state.drafts_file = opts.drafts_file.clone();
    state.local_peers = opts.local_peers.clone();
    if let Some(text) = &opts.startup_notice {
        state.set_connection_error(text.clone());
    } else if let Some(text) = &opts.startup_info {
        // Its few seconds count from now, not from the first tick.
        state.now_ms = driver::now_ms();
        state.set_info(text.clone());
    }
    if opts.login_now && state.login.is_some() {
        state.needs_login = true;
        state.overlay = state::Overlay::login(None);
    }
    let notes = driver::Notifications {
        bell: opts.bell,
        osc9: opts.osc9,
        title: true,
    };
    let mut out = std::io::stdout();
    let result = driver::run_loop(
        &mut term, engine, events, input, &mut state, notes, &mut out,
    )
    .await;
    // The draft being typed is kept for next time, like the others.
    drafts::stash_draft(&mut state);
    if let Some(path) = &opts.drafts_file
        && let Err(e) = drafts::save(path, &state.drafts)
    {
        eprintln!("convo: could not keep the drafts: {e:#}");
    }
    // Reset the window title we set (sanitized, like everything we write).
    let _ = notify::write_title(&mut out, "");
    drop(guard);
    result
}
