//! `EnginePort` for the real `sync_core::Client`, and `run`: the TUI wired to it.

use std::sync::Arc;

use sync_core::{Client, Event, Events};
use tokio::sync::mpsc;

use super::TuiOptions;
use super::engine::{BoxFut, EngineCommand, EngineEvent, EnginePort, EngineReply, EngineRequest};
use super::model::{
    ConnState, ConvId, ConvRow, OutboxItem, SearchHit, Seq, ThreadWindow, TimelineItem,
    TimelineQuery,
};

/// Engine events buffered between the engine and the UI loop.
const EVENT_BUFFER: usize = 4096;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A request's failure as the TUI shows it: when the server refused, its
/// own words (`no user bob`), without the protocol's wrapping (`server
/// refused create: not_found: …`).
fn request_err(e: sync_core::Error) -> String {
    match e {
        sync_core::Error::Server { message, .. } if !message.trim().is_empty() => message,
        e => e.to_string(),
    }
}

fn users(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

impl EnginePort for Client {
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
    fn server_url(&self) -> Option<String> {
        Some(Client::current_url(self))
    }
    fn limits(&self) -> sync_core::ServerLimits {
        Client::server_limits(self)
    }
    fn features(&self) -> Vec<String> {
        sync_core::protocol::features::ALL
            .iter()
            .filter(|f| Client::supports(self, f))
            .map(|f| (*f).to_owned())
            .collect()
    }
    fn archived_conversations(&self) -> Result<Vec<ConvRow>, String> {
        Client::archived_conversations(self).map_err(err)
    }
    fn thread(&self, conv: &ConvId, root: Seq) -> Result<ThreadWindow, String> {
        Client::thread(self, conv, root).map_err(err)
    }
    fn command(&self, command: EngineCommand) -> Result<(), String> {
        let c = self.blocking();
        let sends = matches!(
            command,
            EngineCommand::Send { .. } | EngineCommand::Reply { .. }
        );
        match command {
            EngineCommand::Send { conv, body } => c.send(&conv, &body).map(drop),
            EngineCommand::Reply {
                conv,
                reply_to,
                body,
            } => self.send_reply(&conv, reply_to, &body).wait().map(drop),
            EngineCommand::React { conv, target, key } => {
                self.react(&conv, target, &key).wait().map(drop)
            }
            EngineCommand::Unreact { conv, target, key } => {
                self.unreact(&conv, target, &key).wait().map(drop)
            }
            EngineCommand::Edit { conv, seq, body } => c.edit(&conv, seq, &body).map(drop),
            EngineCommand::Redact { conv, seq } => c.redact(&conv, seq).map(drop),
            EngineCommand::Retry { client_id } => c.retry(&client_id),
            EngineCommand::Discard { client_id } => c.discard(&client_id),
            EngineCommand::MarkRead { conv, seq } => c.mark_read(&conv, seq),
            EngineCommand::MarkAllRead { conv } => c.mark_all_read(&conv),
            EngineCommand::Typing { conv } => {
                Client::typing(self, &conv);
                Ok(())
            }
            EngineCommand::ReconnectNow => {
                Client::reconnect_now(self);
                Ok(())
            }
            EngineCommand::Open { conv } => {
                // The view re-reads on the events that follow; no need to wait.
                drop(Client::open(self, &conv));
                Ok(())
            }
        }
        .map_err(|e| match e {
            // The outbox row is not stored, but the message is queued in
            // memory and goes out while convo runs (sync-core's contract).
            sync_core::Error::NotStored(why) if sends => {
                format!("not saved on this device, but still sent while convo runs: {why}")
            }
            e => err(e),
        })
    }
    fn request(&self, request: EngineRequest) -> BoxFut<EngineReply> {
        let c = self.clone();
        Box::pin(async move {
            match request {
                EngineRequest::LoadOlder { conv } => c.load_older(&conv).await.map(done),
                EngineRequest::CreateDirect { user } => {
                    c.create_direct(&user).await.map(EngineReply::Conv)
                }
                EngineRequest::CreateGroup { title, members } => c
                    .create_group(&title, &users(&members))
                    .await
                    .map(EngineReply::Conv),
                EngineRequest::Invite { conv, users: who } => {
                    c.invite(&conv, &users(&who)).await.map(done)
                }
                EngineRequest::Leave { conv } => c.leave(&conv).await.map(done),
                EngineRequest::Settings { conv, change } => {
                    c.set_settings(&conv, change).await.map(done)
                }
                EngineRequest::LoadThread { conv, root } => {
                    c.load_thread(&conv, root).await.map(done)
                }
            }
            .map_err(request_err)
        })
    }
}

fn done(_: ()) -> EngineReply {
    EngineReply::Done
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
