//! `Engine` for the real `sync_core::Client`, and `run`: the TUI wired to it.

use std::sync::Arc;

use sync_core::{Client, Event, Events};
use tokio::sync::mpsc;

use super::TuiOptions;
use super::engine::{BoxFut, Engine, EngineEvent};
use super::model::{
    ConnState, ConvId, ConvRow, OutboxItem, SearchHit, Seq, TimelineItem, TimelineQuery,
};

/// Engine events buffered between the engine and the UI loop.
const EVENT_BUFFER: usize = 4096;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn users(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

impl Engine for Client {
    fn conversations(&self) -> Result<Vec<ConvRow>, String> {
        Client::conversations(self).map_err(err)
    }
    fn timeline(&self, conv: &ConvId, query: TimelineQuery) -> Result<Vec<TimelineItem>, String> {
        Client::timeline(self, conv, query).map_err(err)
    }
    fn timeline_len(&self, conv: &ConvId) -> Result<u64, String> {
        Client::timeline_len(self, conv).map_err(err)
    }
    fn receipt(&self, conv: &ConvId) -> Result<Seq, String> {
        Client::receipt(self, conv).map_err(err)
    }
    fn outbox(&self) -> Result<Vec<OutboxItem>, String> {
        Client::outbox(self).map_err(err)
    }
    fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>, String> {
        Client::search(self, text, limit).map_err(err)
    }
    fn state(&self) -> ConnState {
        Client::state(self)
    }
    fn send(&self, conv: &ConvId, body: &str) -> Result<(), String> {
        self.blocking().send(conv, body).map(drop).map_err(err)
    }
    fn edit(&self, conv: &ConvId, seq: Seq, body: &str) -> Result<(), String> {
        self.blocking().edit(conv, seq, body).map(drop).map_err(err)
    }
    fn redact(&self, conv: &ConvId, seq: Seq) -> Result<(), String> {
        self.blocking().redact(conv, seq).map(drop).map_err(err)
    }
    fn retry(&self, client_id: &str) -> Result<(), String> {
        self.blocking().retry(client_id).map_err(err)
    }
    fn discard(&self, client_id: &str) -> Result<(), String> {
        self.blocking().discard(client_id).map_err(err)
    }
    fn mark_read(&self, conv: &ConvId, seq: Seq) -> Result<(), String> {
        self.blocking().mark_read(conv, seq).map_err(err)
    }
    fn mark_all_read(&self, conv: &ConvId) -> Result<(), String> {
        self.blocking().mark_all_read(conv).map_err(err)
    }
    fn typing(&self, conv: &ConvId) {
        Client::typing(self, conv);
    }
    fn reconnect_now(&self) {
        Client::reconnect_now(self);
    }
    fn open(&self, conv: &ConvId) {
        // The view re-reads on the events that follow; no need to wait.
        drop(Client::open(self, conv));
    }
    fn load_older(&self, conv: &ConvId) -> BoxFut<()> {
        let (c, conv) = (self.clone(), conv.clone());
        Box::pin(async move { c.load_older(&conv).await.map_err(err) })
    }
    fn create_direct(&self, user: &str) -> BoxFut<ConvId> {
        let (c, user) = (self.clone(), user.to_owned());
        Box::pin(async move { c.create_direct(&user).await.map_err(err) })
    }
    fn create_group(&self, title: &str, members: &[String]) -> BoxFut<ConvId> {
        let (c, title, members) = (self.clone(), title.to_owned(), members.to_vec());
        Box::pin(async move { c.create_group(&title, &users(&members)).await.map_err(err) })
    }
    fn invite(&self, conv: &ConvId, who: &[String]) -> BoxFut<()> {
        let (c, conv, who) = (self.clone(), conv.clone(), who.to_vec());
        Box::pin(async move { c.invite(&conv, &users(&who)).await.map_err(err) })
    }
    fn leave(&self, conv: &ConvId) -> BoxFut<()> {
        let (c, conv) = (self.clone(), conv.clone());
        Box::pin(async move { c.leave(&conv).await.map_err(err) })
    }
}

fn convert(ev: Event) -> EngineEvent {
    match ev {
        Event::Connection(c) => EngineEvent::Connection(c),
        Event::ConversationsChanged(v) => EngineEvent::ConversationsChanged(v),
        Event::TimelineChanged { conv } => EngineEvent::TimelineChanged { conv },
        Event::NewMessage { conv, message } => EngineEvent::NewMessage { conv, message },
        Event::OutboxChanged => EngineEvent::OutboxChanged,
        Event::Typing { conv, user } => EngineEvent::Typing { conv, user },
        Event::Receipt { conv, user, seq } => EngineEvent::Receipt { conv, user, seq },
        Event::CacheReset { reason } => EngineEvent::CacheReset { reason },
        Event::Error(e) => EngineEvent::Error(e.to_string()),
        Event::Lagged { .. } => EngineEvent::Lagged,
    }
}

/// Starts the engine's driver and runs the TUI over it.
pub async fn run(client: Client, mut events: Events, opts: TuiOptions) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel(EVENT_BUFFER);
    let forward = tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            if tx.send(convert(ev)).await.is_err() {
                break;
            }
        }
    });
    // Idempotent: connects, catches up and flushes the outbox in the background.
    client.start();
    let result = super::run_with(Arc::new(client.clone()), rx, opts).await;
    forward.abort();
    client.stop().await;
    result
}
