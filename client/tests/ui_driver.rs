//! The real main loop (`driver::run_loop`) against an in-memory engine and
//! `TestBackend`: the first frame comes from the local store with no network,
//! keys flow through to engine calls, engine events refresh the screen.

mod ui_support;

use std::sync::{Arc, Mutex};

use client::ui::driver::{Notifications, run_loop};
use client::ui::engine::{
    BoxFut, EngineCommand, EngineEvent, EnginePort, EngineReply, EngineRequest,
};
use client::ui::model::{
    ConnState, ConvId, ConvRow, Message, OutboxItem, SearchHit, TimelineItem, TimelineQuery,
};
use client::ui::state::AppState;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;
use ui_support::*;

/// What the fake engine was asked, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Timeline(ConvId, TimelineQuery),
    Command(EngineCommand),
    Request(EngineRequest),
}

/// An engine whose store is a few vectors; records the commands it gets.
#[derive(Default)]
struct FakeEngine {
    convs: Mutex<Vec<ConvRow>>,
    timeline: Mutex<Vec<TimelineItem>>,
    calls: Mutex<Vec<Call>>,
    /// What every request is answered (None: "offline").
    reply: Mutex<Option<EngineReply>>,
    /// The URL in use the engine reports (None: it does not say).
    url: Mutex<Option<String>>,
    /// The connection state it reports at start (None: offline).
    conn: Mutex<Option<ConnState>>,
}

impl FakeEngine {
    fn log(&self, call: Call) {
        self.calls.lock().unwrap().push(call);
    }
}

impl EnginePort for FakeEngine {
    fn conversations(&self) -> Result<Vec<ConvRow>, String> {
        Ok(self.convs.lock().unwrap().clone())
    }
    fn timeline(&self, conv: &ConvId, query: TimelineQuery) -> Result<Vec<TimelineItem>, String> {
        self.log(Call::Timeline(conv.clone(), query));
        Ok(if *conv == team() {
            self.timeline.lock().unwrap().clone()
        } else {
            Vec::new()
        })
    }
    fn timeline_len(&self, _: &ConvId) -> Result<u64, String> {
        Ok(self.timeline.lock().unwrap().len() as u64)
    }
    fn receipt(&self, _: &ConvId) -> Result<u64, String> {
        Ok(0)
    }
    fn outbox(&self) -> Result<Vec<OutboxItem>, String> {
        Ok(Vec::new())
    }
    fn search(&self, _: &str, _: usize) -> Result<Vec<SearchHit>, String> {
        Ok(Vec::new())
    }
    fn state(&self) -> ConnState {
        self.conn
            .lock()
            .unwrap()
            .clone()
            .unwrap_or(ConnState::Offline)
    }
    fn server_url(&self) -> Option<String> {
        self.url.lock().unwrap().clone()
    }
    fn command(&self, command: EngineCommand) -> Result<(), String> {
        self.log(Call::Command(command));
        Ok(())
    }
    fn request(&self, request: EngineRequest) -> BoxFut<EngineReply> {
        self.log(Call::Request(request));
        let reply = self.reply.lock().unwrap().clone();
        Box::pin(async move { reply.ok_or_else(|| "offline".to_owned()) })
    }
}

fn k(code: KeyCode, mods: KeyModifiers) -> Event {
    Event::Key(KeyEvent::new(code, mods))
}

/// An engine whose store holds the conversation list and Team chat.
fn team_engine() -> Arc<FakeEngine> {
    let engine = Arc::new(FakeEngine::default());
    *engine.convs.lock().unwrap() = convs();
    *engine.timeline.lock().unwrap() = team_timeline();
    engine
}

/// Runs the loop (bell and OSC 9 on) over `keys`, then `events`, until it has
/// drained them; returns the screen and the bytes written outside ratatui.
async fn run_keys(
    engine: Arc<FakeEngine>,
    keys: Vec<Event>,
    events: Vec<EngineEvent>,
) -> (String, String) {
    let (ev_tx, ev_rx) = mpsc::channel(16);
    let (in_tx, in_rx) = mpsc::channel(64);
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let mut state = AppState::new("alice", "ws://127.0.0.1:7878/v1", Default::default(), true);
    let notes = Notifications {
        bell: true,
        osc9: true,
        title: false,
    };
    for ev in keys {
        in_tx.send(ev).await.unwrap();
    }
    for ev in events {
        ev_tx.send(ev).await.unwrap();
    }
    let mut out = Vec::new();
    let task = async {
        run_loop(&mut term, engine, ev_rx, in_rx, &mut state, notes, &mut out)
            .await
            .unwrap();
    };
    let closer = async {
        // Let the loop drain everything, then close input: the loop ends.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        drop(in_tx);
    };
    tokio::join!(task, closer);
    let text = buffer_text(term.backend().buffer());
    (text, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn offline_start_draws_from_the_store_and_sends_through_the_engine() {
    let engine = team_engine();
    // Keys: open Team chat, type and send; then a message elsewhere arrives.
    let keys = vec![
        k(KeyCode::Down, KeyModifiers::ALT),
        k(KeyCode::Char('h'), KeyModifiers::NONE),
        k(KeyCode::Char('i'), KeyModifiers::NONE),
        k(KeyCode::Enter, KeyModifiers::NONE),
    ];
    let events = vec![
        EngineEvent::NewMessage {
            conv: ConvId::from("c3"),
            message: Message::text(8, "carol", DAY2, "ping\x1b]0;x\x07"),
        },
        EngineEvent::Connection(ConnState::Reconnecting {
            in_ms: 2_000,
            last_error: None,
        }),
    ];
    let (text, out) = run_keys(engine.clone(), keys, events).await;
    let calls = engine.calls.lock().unwrap().clone();
    assert_eq!(
        calls[..4],
        [
            Call::Command(EngineCommand::Open { conv: team() }),
            Call::Timeline(team(), TimelineQuery::Latest { limit: 200 }),
            Call::Command(EngineCommand::MarkRead {
                conv: team(),
                seq: 320
            }),
            Call::Command(EngineCommand::Typing { conv: team() }),
        ]
    );
    assert!(
        calls.contains(&Call::Command(EngineCommand::Send {
            conv: team(),
            body: "hi".to_owned()
        })),
        "{calls:?}"
    );
    // Bell + sanitized OSC 9 for the message in the conversation that is not open.
    assert_eq!(out, "\x07\x1b]9;carol: carol: ping␛]0;x␇\x07");
    assert!(
        text.contains("│ ○ Reconnecting in 2s (F5: now) │ 0 queued"),
        "{text}"
    );
    assert!(text.contains("09:12 see you at 10"), "{text}");
}

#[tokio::test]
async fn the_status_line_shows_the_url_failed_over_to() {
    let engine = team_engine();
    *engine.url.lock().unwrap() = Some("ws://10.0.0.2:7878/v1".to_owned());
    let (text, _) = run_keys(
        engine,
        Vec::new(),
        vec![EngineEvent::Connection(ConnState::Live)],
    )
    .await;
    assert!(
        text.contains(" alice@ws://10.0.0.2:7878/v1 │ ● Live │ 0 queued"),
        "{text}"
    );
    assert!(!text.contains("127.0.0.1:7878"), "{text}");
}

fn typed(text: &str) -> Vec<Event> {
    let mut keys = vec![k(KeyCode::Down, KeyModifiers::ALT)];
    keys.extend(
        text.chars()
            .map(|c| k(KeyCode::Char(c), KeyModifiers::NONE)),
    );
    keys.push(k(KeyCode::Enter, KeyModifiers::NONE));
    keys
}

fn requests(engine: &FakeEngine) -> Vec<EngineRequest> {
    let calls = engine.calls.lock().unwrap();
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Request(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_slash_command_reaches_the_engine_as_a_request_and_its_answer_shows() {
    let engine = team_engine();
    *engine.conn.lock().unwrap() = Some(ConnState::Live);
    *engine.reply.lock().unwrap() = Some(EngineReply::Done);
    let (text, _) = run_keys(engine.clone(), typed("/invite bob dave"), Vec::new()).await;
    assert_eq!(
        requests(&engine),
        [EngineRequest::Invite {
            conv: team(),
            users: vec!["bob".to_owned(), "dave".to_owned()]
        }]
    );
    assert!(text.contains("invited bob, dave"), "{text}");
}

#[tokio::test]
async fn a_failed_request_shows_its_error_in_the_status_line() {
    let engine = team_engine();
    *engine.conn.lock().unwrap() = Some(ConnState::Live);
    let (text, _) = run_keys(engine.clone(), typed("/leave"), Vec::new()).await;
    assert_eq!(requests(&engine), [EngineRequest::Leave { conv: team() }]);
    assert!(text.contains("leave: offline"), "{text}");
}
