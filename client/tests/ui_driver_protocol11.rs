//! The real main loop (`driver::run_loop`) with protocol 1.1 data: the
//! features and the archived section are read from the engine with the list,
//! a settings change made on another device (a `ConversationsChanged` event)
//! shows at once, and a reply's parent outside the window is read from the
//! store for its quote.

mod ui_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use client::ui::driver::{Notifications, run_loop};
use client::ui::engine::{
    BoxFut, EngineCommand, EngineEvent, EnginePort, EngineReply, EngineRequest,
};
use client::ui::model::{
    ConnState, ConvId, ConvRow, OutboxItem, SearchHit, TimelineItem, TimelineQuery,
};
use client::ui::state::AppState;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;
use ui_support::*;

/// A store of a list, an archived list and Team chat, where seq 12 is held
/// but outside the newest window.
#[derive(Default)]
struct Fake {
    convs: Mutex<Vec<ConvRow>>,
    archived: Mutex<Vec<ConvRow>>,
}

fn window() -> Vec<TimelineItem> {
    let mut reply = local(401, "carol", DAY2, "yes, still the plan");
    reply.reply_to = Some(12);
    reply.thread = Some(12);
    vec![
        TimelineItem::Gap { from: 1, to: 400 },
        TimelineItem::Message(reply),
    ]
}

impl EnginePort for Fake {
    fn conversations(&self) -> Result<Vec<ConvRow>, String> {
        Ok(self.convs.lock().unwrap().clone())
    }
    fn archived_conversations(&self) -> Result<Vec<ConvRow>, String> {
        Ok(self.archived.lock().unwrap().clone())
    }
    fn features(&self) -> Vec<String> {
        vec!["reply".into(), "settings".into()]
    }
    fn timeline(&self, conv: &ConvId, query: TimelineQuery) -> Result<Vec<TimelineItem>, String> {
        if *conv != team() {
            return Ok(Vec::new());
        }
        Ok(match query {
            TimelineQuery::Around { seq: 12, .. } => vec![TimelineItem::Message(local(
                12,
                "erin",
                DAY1,
                "ship it friday",
            ))],
            _ => window(),
        })
    }
    fn timeline_len(&self, _: &ConvId) -> Result<u64, String> {
        Ok(2)
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
        ConnState::Live
    }
    fn command(&self, _: EngineCommand) -> Result<(), String> {
        Ok(())
    }
    fn request(&self, _: EngineRequest) -> BoxFut<EngineReply> {
        Box::pin(async { Ok(EngineReply::Done) })
    }
}

#[tokio::test]
async fn archiving_elsewhere_shows_at_once_and_quotes_read_parents_from_the_store() {
    let engine = Arc::new(Fake::default());
    *engine.convs.lock().unwrap() = convs();
    let (ev_tx, ev_rx) = mpsc::channel(16);
    let (in_tx, in_rx) = mpsc::channel(16);
    let mut term = Terminal::new(TestBackend::new(80, 16)).unwrap();
    let mut state = AppState::new("alice", "ws://127.0.0.1:7878/v1", Default::default(), true);
    let notes = Notifications {
        bell: false,
        osc9: false,
        title: false,
    };
    in_tx
        .send(Event::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::ALT)))
        .await
        .unwrap();
    let mut out = Vec::new();
    let before = {
        let task = run_loop(
            &mut term,
            engine.clone(),
            ev_rx,
            in_rx,
            &mut state,
            notes,
            &mut out,
        );
        let script = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let before = (
                engine.convs.lock().unwrap().len(),
                engine.archived.lock().unwrap().len(),
            );
            // Another device archives carol: the server's `settings` event
            // becomes `ConversationsChanged` here.
            let mut carol = engine.convs.lock().unwrap().pop().unwrap();
            carol.archived = true;
            engine.archived.lock().unwrap().push(carol);
            ev_tx
                .send(EngineEvent::ConversationsChanged(vec![ConvId::from("c3")]))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(in_tx);
            before
        };
        let (result, before) = tokio::join!(task, script);
        result.unwrap();
        before
    };
    assert_eq!(before, (3, 0));
    let text = buffer_text(term.backend().buffer());
    assert!(text.contains("▸ Archived (1)"), "{text}");
    assert!(!text.contains("@ carol"), "{text}");
    assert!(text.contains("↳ erin: ship it friday"), "{text}");
    assert!(!text.contains("message not loaded"), "{text}");
    assert_eq!(state.features, vec!["reply".to_owned(), "settings".into()]);
}
