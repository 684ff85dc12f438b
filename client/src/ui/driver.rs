//! The main loop, generic over the ratatui backend and the engine: turns
//! terminal input and engine events into `Action`s, runs `update`, carries
//! out the `Effect`s (store queries inline, engine commands handed over,
//! engine requests spawned with their answer fed back as an `Action`), and
//! draws. Tests run it against `TestBackend` and a fake engine.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::Event as TermEvent;
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc;

use super::engine::{EngineCommand, EngineEvent, EnginePort, EngineRequest};
use super::model::{ConvId, TimelineQuery};
use super::notify::{window_title, write_bell, write_osc9, write_title};
use super::render::View;
use super::state::{Action, AppState, Effect};
use super::update::update;

/// Search hits read at most (the overlay pages through all of them; more
/// than this shows as "10000+").
pub const SEARCH_LIMIT: usize = 10_000;
/// Spinner / typing-expiry tick.
const TICK: Duration = Duration::from_millis(250);

/// Switches for bytes written outside ratatui.
#[derive(Debug, Clone, Copy)]
pub struct Notifications {
    pub bell: bool,
    pub osc9: bool,
    /// Set the window title (off in tests that compare output).
    pub title: bool,
}

/// Store data the UI must re-read after a batch of engine events.
#[derive(Debug, Default)]
struct Dirty {
    convs: bool,
    timeline: bool,
    outbox: bool,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs until quit (Ctrl+C, /quit) or until the input channel closes.
/// `out` receives bell/OSC 9/title bytes (the real terminal's stdout).
pub async fn run_loop<B, E>(
    terminal: &mut Terminal<B>,
    engine: Arc<E>,
    mut events: mpsc::Receiver<EngineEvent>,
    mut input: mpsc::Receiver<TermEvent>,
    state: &mut AppState,
    notes: Notifications,
    out: &mut dyn Write,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
    E: EnginePort,
{
    let (action_tx, mut actions) = mpsc::unbounded_channel::<Action>();
    // First frame comes from the local store only: no network has answered yet.
    let size = terminal.size()?;
    update(state, Action::Resize(size.width, size.height));
    update(state, Action::Tick { now_ms: now_ms() });
    update(state, Action::Connection(engine.state()));
    refresh(
        state,
        &*engine,
        &Dirty {
            convs: true,
            timeline: true,
            outbox: true,
        },
        &action_tx,
    );
    let mut title_unread = None;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        draw(terminal, state)?;
        if notes.title {
            let unread: u64 = state.convs.iter().map(|r| r.unread).sum();
            if title_unread != Some(unread) {
                title_unread = Some(unread);
                write_title(out, &window_title(&state.user, unread))?;
            }
        }
        let mut pending: Vec<Action> = Vec::new();
        let mut dirty = Dirty::default();
        tokio::select! {
            ev = input.recv() => match ev {
                Some(ev) => pending.extend(term_action(ev)),
                None => break,
            },
            Some(ev) = events.recv() => {
                on_engine_event(ev, &mut pending, &mut dirty);
                // Coalesce a burst (catch-up) into one re-query and one frame.
                while let Ok(ev) = events.try_recv() {
                    on_engine_event(ev, &mut pending, &mut dirty);
                }
            }
            Some(a) = actions.recv() => pending.push(a),
            _ = tick.tick() => pending.push(Action::Tick { now_ms: now_ms() }),
        }
        while let Ok(ev) = input.try_recv() {
            pending.extend(term_action(ev));
        }
        for action in pending {
            if matches!(action, Action::OlderLoaded { .. } | Action::Opened(_)) {
                dirty.timeline = true;
                dirty.convs = true;
            }
            let effects = update(state, action);
            for fx in effects {
                if let Effect::External(x) = fx {
                    if let Some(back) = super::external::run(terminal, x, out)? {
                        let _ = action_tx.send(back);
                    }
                    continue;
                }
                apply(state, &engine, fx, &action_tx, notes, out, &mut dirty)?;
            }
        }
        refresh(state, &*engine, &dirty, &action_tx);
        if state.quit {
            break;
        }
    }
    Ok(())
}

/// Draws one frame.
pub fn draw<B>(terminal: &mut Terminal<B>, state: &AppState) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let mut cursor = None;
    let mut links = Vec::new();
    let frame = terminal.draw(|f| {
        let view = View { state };
        let area = f.area();
        f.render_widget(&view, area);
        cursor = view.cursor(area);
        if let Some(p) = cursor {
            f.set_cursor_position(p);
        }
        if state.hyperlinks {
            links = super::render::timeline_links(state, area);
        }
    })?;
    // OSC 8 goes around cells already drawn, outside ratatui's diff; then
    // emoji of disputed width are drawn again (see `wide_emoji`).
    let mut cells = super::hyperlink::link_cells(frame.buffer, &links);
    cells.extend(super::wide_emoji::rewrite_cells(frame.buffer));
    if !cells.is_empty() {
        let backend = terminal.backend_mut();
        backend.draw(cells.iter().map(|(x, y, c)| (*x, *y, c)))?;
        if let Some(p) = cursor {
            backend.set_cursor_position(p)?;
        }
        backend.flush()?;
    }
    Ok(())
}

fn term_action(ev: TermEvent) -> Option<Action> {
    match ev {
        TermEvent::Key(k) => Some(Action::Key(k)),
        TermEvent::Mouse(m) => Some(Action::Mouse(m)),
        TermEvent::Paste(p) => Some(Action::Paste(p)),
        TermEvent::Resize(w, h) => Some(Action::Resize(w, h)),
        _ => None,
    }
}

fn on_engine_event(ev: EngineEvent, pending: &mut Vec<Action>, dirty: &mut Dirty) {
    match ev {
        EngineEvent::Connection(c) => {
            // A new `hello` may list other features: re-read them with the list.
            dirty.convs = true;
            pending.push(Action::Connection(c));
        }
        EngineEvent::ConversationsChanged(_) => dirty.convs = true,
        EngineEvent::TimelineChanged { .. } => dirty.timeline = true,
        EngineEvent::NewMessage { conv, message } => {
            pending.push(Action::NewMessage { conv, message })
        }
        EngineEvent::OutboxChanged => {
            dirty.outbox = true;
            dirty.timeline = true;
        }
        EngineEvent::Typing { conv, user } => pending.push(Action::Typing { conv, user }),
        EngineEvent::Receipt { conv, seq, .. } => pending.push(Action::Receipt { conv, seq }),
        EngineEvent::CacheReset { reason } => {
            *dirty = Dirty {
                convs: true,
                timeline: true,
                outbox: true,
            };
            pending.push(Action::Info(format!("cache reset: {reason}")));
        }
        EngineEvent::Lagged => {
            *dirty = Dirty {
                convs: true,
                timeline: true,
                outbox: true,
            };
        }
        EngineEvent::Error(e) => pending.push(Action::ConnectionError(e)),
    }
}

/// Re-reads what changed from the local store (synchronous, fast).
fn refresh<E: EnginePort + ?Sized>(
    state: &mut AppState,
    engine: &E,
    dirty: &Dirty,
    tx: &mpsc::UnboundedSender<Action>,
) {
    let mut follow_up = Vec::new();
    if dirty.convs {
        // Settings changes (here or on another device) arrive as
        // `ConversationsChanged`: the archived section is re-read with the list.
        update(state, Action::Features(engine.features()));
        state.limits = engine.limits();
        if let Some(url) = engine.server_url() {
            update(state, Action::ServerUrl(url));
        }
        match engine.archived_conversations() {
            Ok(rows) => follow_up.extend(update(state, Action::Archived(rows))),
            Err(e) => state.set_error(format!("reading archived conversations: {e}")),
        }
        match engine.conversations() {
            Ok(rows) => follow_up.extend(update(state, Action::Conversations(rows))),
            Err(e) => state.set_error(format!("reading conversations: {e}")),
        }
    }
    if dirty.outbox {
        match engine.outbox() {
            Ok(items) => follow_up.extend(update(state, Action::Outbox(items))),
            Err(e) => state.set_error(format!("reading outbox: {e}")),
        }
    }
    if dirty.timeline
        && let Some((conv, query)) = state.window_query()
    {
        follow_up.extend(load_timeline(state, engine, conv, query));
    }
    if dirty.timeline
        && let Some((conv, root)) = state.thread.as_ref().map(|p| (p.conv.clone(), p.root))
    {
        follow_up.extend(load_thread(state, engine, conv, root));
    }
    // Read markers produced by the refresh go straight to the engine; a
    // thread fetch is spawned.
    for fx in follow_up {
        match fx {
            Effect::Command(command @ EngineCommand::MarkRead { .. }) => {
                if let Err(e) = engine.command(command) {
                    let _ = tx.send(Action::Error(format!("mark read: {e}")));
                }
            }
            Effect::Request(request @ EngineRequest::LoadThread { .. }) => {
                let fut = engine.request(request.clone());
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(request.answer(fut.await));
                });
            }
            _ => {}
        }
    }
}

/// Reply parents read from the store per window read, at most.
const PARENT_READS: usize = 64;

/// The parents of replies in `items` that neither `items` nor the parents
/// already read hold, read from the store one by one (local, indexed).
fn missing_parents<E: EnginePort + ?Sized>(
    state: &AppState,
    engine: &E,
    conv: &ConvId,
    items: &[super::model::TimelineItem],
) -> Vec<super::model::LocalMessage> {
    use super::model::TimelineItem;
    let known = state
        .open
        .as_ref()
        .filter(|o| &o.conv == conv)
        .map(|o| &o.parents);
    let mut want: Vec<super::model::Seq> = items
        .iter()
        .filter_map(|i| match i {
            TimelineItem::Message(m) => m.reply_to,
            _ => None,
        })
        .filter(|p| super::timeline::find_message(items, *p).is_none())
        .filter(|p| known.is_none_or(|k| !k.contains_key(p)))
        .collect();
    want.sort_unstable();
    want.dedup();
    want.into_iter()
        .take(PARENT_READS)
        .filter_map(|seq| {
            let query = TimelineQuery::Around {
                seq,
                before: 0,
                after: 1,
            };
            engine
                .timeline(conv, query)
                .ok()?
                .into_iter()
                .find_map(|i| match i {
                    TimelineItem::Message(m) if m.seq == seq => Some(m),
                    _ => None,
                })
        })
        .collect()
}

/// Reads the open thread from the store (its answer may ask to fetch it).
fn load_thread<E: EnginePort + ?Sized>(
    state: &mut AppState,
    engine: &E,
    conv: ConvId,
    root: super::model::Seq,
) -> Vec<Effect> {
    match engine.thread(&conv, root) {
        Ok(window) => update(state, Action::Thread { conv, root, window }),
        Err(e) => {
            // Closed as Esc closes it: no draft is lost.
            super::thread_panel::close_thread(state);
            state.set_error(format!("thread: {e}"));
            Vec::new()
        }
    }
}

fn load_timeline<E: EnginePort + ?Sized>(
    state: &mut AppState,
    engine: &E,
    conv: ConvId,
    query: TimelineQuery,
) -> Vec<Effect> {
    let items = engine.timeline(&conv, query);
    let total = engine.timeline_len(&conv);
    // Receipts received in earlier runs still mark own messages read.
    if let Ok(seq) = engine.receipt(&conv)
        && seq > 0
    {
        update(
            state,
            Action::Receipt {
                conv: conv.clone(),
                seq,
            },
        );
    }
    match (items, total) {
        (Ok(items), Ok(total)) => {
            let found = missing_parents(state, engine, &conv, &items);
            if !found.is_empty() {
                update(
                    state,
                    Action::Parents {
                        conv: conv.clone(),
                        found,
                    },
                );
            }
            update(
                state,
                Action::Timeline {
                    conv,
                    query,
                    items,
                    total,
                },
            )
        }
        (Err(e), _) | (_, Err(e)) => {
            state.set_error(format!("reading timeline: {e}"));
            Vec::new()
        }
    }
}

/// Carries out one effect.
fn apply<E: EnginePort>(
    state: &mut AppState,
    engine: &Arc<E>,
    fx: Effect,
    tx: &mpsc::UnboundedSender<Action>,
    notes: Notifications,
    out: &mut dyn Write,
    dirty: &mut Dirty,
) -> anyhow::Result<()> {
    let report = |r: Result<(), String>, what: &str| {
        if let Err(e) = r {
            let _ = tx.send(Action::Error(format!("{what}: {e}")));
        }
    };
    match fx {
        Effect::Command(command) => {
            let what = command.label();
            if command.changes_outbox() {
                dirty.outbox = true;
                dirty.timeline = true;
            }
            dirty.convs |= command.changes_list();
            report(engine.command(command), what);
        }
        Effect::Request(request) => {
            let fut = engine.request(request.clone());
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(request.answer(fut.await));
            });
        }
        Effect::LoadTimeline { conv, query } => {
            let more = load_timeline(state, &**engine, conv, query);
            for fx in more {
                apply(state, engine, fx, tx, notes, out, dirty)?;
            }
        }
        Effect::LoadThread { conv, root } => {
            let more = load_thread(state, &**engine, conv, root);
            for fx in more {
                apply(state, engine, fx, tx, notes, out, dirty)?;
            }
        }
        Effect::Search { query } => match engine.search(&query, SEARCH_LIMIT) {
            Ok(hits) => {
                // Search covers what the store holds; groups load lazily.
                let full = state
                    .convs
                    .iter()
                    .filter(|r| engine.timeline_len(&r.conv).is_ok_and(|n| n >= r.last_seq))
                    .count();
                let coverage = (full, state.convs.len());
                let _ = tx.send(Action::SearchResults {
                    query,
                    hits,
                    coverage,
                });
            }
            Err(e) => state.set_error(format!("search: {e}")),
        },
        Effect::Notify { title, body } => {
            if notes.bell {
                write_bell(out)?;
            }
            if notes.osc9 {
                write_osc9(out, &title, &body)?;
            }
        }
        Effect::Login {
            password,
            register,
            invite,
        } => {
            let tx = tx.clone();
            match state.login.clone() {
                Some(hook) => {
                    let fut = (hook.0)(password.0, register, invite);
                    tokio::spawn(async move {
                        let action = match fut.await {
                            Err(e) if e.starts_with(super::engine::NEEDS_INVITE) => {
                                Action::NeedsInvite(e[super::engine::NEEDS_INVITE.len()..].into())
                            }
                            other => Action::LoginResult(other),
                        };
                        let _ = tx.send(action);
                    });
                }
                None => {
                    let _ = tx.send(Action::LoginResult(Err("already logged in".into())));
                }
            }
        }
        Effect::Passwd { old, new } => {
            let tx = tx.clone();
            match state.account.clone() {
                Some(hooks) => {
                    let fut = (hooks.passwd)(old.0, new.0);
                    tokio::spawn(async move {
                        let _ = tx.send(Action::AccountResult(fut.await));
                    });
                }
                None => {
                    let _ = tx.send(Action::AccountResult(Err(
                        "not available here (--local or a test)".into(),
                    )));
                }
            }
        }
        Effect::Logout { all } => {
            let tx = tx.clone();
            match state.account.clone() {
                Some(hooks) => {
                    let fut = (hooks.logout)(all);
                    tokio::spawn(async move {
                        let _ = tx.send(Action::AccountResult(fut.await));
                    });
                }
                None => {
                    let _ = tx.send(Action::AccountResult(Err(
                        "not available here (--local or a test)".into(),
                    )));
                }
            }
        }
        Effect::Quit => state.quit = true,
        // Carried out by `run_loop`, which holds the terminal.
        Effect::External(_) => {}
        Effect::SaveDrafts(drafts) => {
            if let Some(path) = &state.drafts_file
                && let Err(e) = super::drafts::save(path, &drafts)
            {
                state.set_error(format!("could not keep the drafts: {e:#}"));
            }
        }
    }
    Ok(())
}
