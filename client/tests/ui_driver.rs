//! The real main loop (`driver::run_loop`) against an in-memory engine and
//! `TestBackend`: the first frame comes from the local store with no network,
//! keys flow through to engine calls, engine events refresh the screen.

mod ui_support;

use std::sync::{Arc, Mutex};

use client::ui::driver::{Notifications, run_loop};
use client::ui::engine::{BoxFut, Engine, EngineEvent};
use client::ui::model::{
    ConnState, ConvId, ConvRow, Message, OutboxItem, SearchHit, Seq, TimelineItem, TimelineQuery,
};
use client::ui::state::AppState;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;
use ui_support::*;

/// An engine whose store is a few vectors; records the commands it gets.
#[derive(Default)]
struct FakeEngine {
    convs: Mutex<Vec<ConvRow>>,
    timeline: Mutex<Vec<TimelineItem>>,
    calls: Mutex<Vec<String>>,
}

impl FakeEngine {
    fn log(&self, s: String) {
        self.calls.lock().unwrap().push(s);
    }
}

impl Engine for FakeEngine {
    fn conversations(&self) -> Result<Vec<ConvRow>, String> {
        Ok(self.convs.lock().unwrap().clone())
    }
    fn timeline(&self, conv: &ConvId, query: TimelineQuery) -> Result<Vec<TimelineItem>, String> {
        self.log(format!("timeline {conv} {query:?}"));
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
        ConnState::Offline
    }
    fn send(&self, conv: &ConvId, body: &str) -> Result<(), String> {
        self.log(format!("send {conv} {body}"));
        Ok(())
    }
    fn edit(&self, _: &ConvId, _: Seq, _: &str) -> Result<(), String> {
        Ok(())
    }
    fn redact(&self, _: &ConvId, _: Seq) -> Result<(), String> {
        Ok(())
    }
    fn retry(&self, _: &str) -> Result<(), String> {
        Ok(())
    }
    fn discard(&self, _: &str) -> Result<(), String> {
        Ok(())
    }
    fn mark_read(&self, conv: &ConvId, seq: Seq) -> Result<(), String> {
        self.log(format!("mark_read {conv} {seq}"));
        Ok(())
    }
    fn mark_all_read(&self, _: &ConvId) -> Result<(), String> {
        Ok(())
    }
    fn typing(&self, conv: &ConvId) {
        self.log(format!("typing {conv}"));
    }
    fn reconnect_now(&self) {
        self.log("reconnect now".to_owned());
    }
    fn open(&self, conv: &ConvId) {
        self.log(format!("open {conv}"));
    }
    fn load_older(&self, _: &ConvId) -> BoxFut<()> {
        Box::pin(async { Ok(()) })
    }
    fn create_direct(&self, _: &str) -> BoxFut<ConvId> {
        Box::pin(async { Err("offline".to_owned()) })
    }
    fn create_group(&self, _: &str, _: &[String]) -> BoxFut<ConvId> {
        Box::pin(async { Err("offline".to_owned()) })
    }
    fn invite(&self, _: &ConvId, _: &[String]) -> BoxFut<()> {
        Box::pin(async { Ok(()) })
    }
    fn leave(&self, _: &ConvId) -> BoxFut<()> {
        Box::pin(async { Ok(()) })
    }
}

fn k(code: KeyCode, mods: KeyModifiers) -> Event {
    Event::Key(KeyEvent::new(code, mods))
}

#[tokio::test]
async fn offline_start_draws_from_the_store_and_sends_through_the_engine() {
    let engine = Arc::new(FakeEngine::default());
    *engine.convs.lock().unwrap() = convs();
    *engine.timeline.lock().unwrap() = team_timeline();
    let (ev_tx, ev_rx) = mpsc::channel(16);
    let (in_tx, in_rx) = mpsc::channel(64);
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let mut state = AppState::new("alice", "ws://127.0.0.1:7878/v1", Default::default(), true);
    let notes = Notifications {
        bell: true,
        osc9: true,
        title: false,
    };
    // Keys: open Team chat, type and send; then a message elsewhere arrives.
    for ev in [
        k(KeyCode::Down, KeyModifiers::ALT),
        k(KeyCode::Char('h'), KeyModifiers::NONE),
        k(KeyCode::Char('i'), KeyModifiers::NONE),
        k(KeyCode::Enter, KeyModifiers::NONE),
    ] {
        in_tx.send(ev).await.unwrap();
    }
    ev_tx
        .send(EngineEvent::NewMessage {
            conv: ConvId::from("c3"),
            message: Message::text(8, "carol", DAY2, "ping\x1b]0;x\x07"),
        })
        .await
        .unwrap();
    ev_tx
        .send(EngineEvent::Connection(ConnState::Reconnecting {
            in_ms: 2_000,
            last_error: None,
        }))
        .await
        .unwrap();
    let mut out = Vec::new();
    let engine2 = engine.clone();
    let task = async {
        run_loop(
            &mut term, engine2, ev_rx, in_rx, &mut state, notes, &mut out,
        )
        .await
        .unwrap();
    };
    let closer = async {
        // Let the loop drain everything, then close input: the loop ends.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        drop(in_tx);
    };
    tokio::join!(task, closer);
    let calls = engine.calls.lock().unwrap().clone();
    assert_eq!(
        calls[..4],
        [
            "open c1".to_owned(),
            "timeline c1 Latest { limit: 200 }".to_owned(),
            "mark_read c1 320".to_owned(),
            "typing c1".to_owned(),
        ]
    );
    assert!(calls.contains(&"send c1 hi".to_owned()), "{calls:?}");
    // Bell + sanitized OSC 9 for the message in the conversation that is not open.
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "\x07\x1b]9;carol: carol: ping␛]0;x␇\x07"
    );
    let text = buffer_text(term.backend().buffer());
    assert!(
        text.contains("│ ○ Reconnecting in 2s (F5: now) │ 0 queued"),
        "{text}"
    );
    assert!(text.contains("09:12 see you at 10"), "{text}");
}
