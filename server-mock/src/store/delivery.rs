//! The delivery task: queues the replies and pushes of committed batches, in
//! commit order, on the async runtime.
//!
//! The writer thread hands over each committed batch as one message and goes
//! straight back to committing; it never touches a connection. This single
//! task then queues every reply and push. One consumer keeps commit order,
//! which is what keeps pushes per connection in seq order and replies in
//! request order (a `barrier` resolves only once every earlier reply has been
//! queued). Queueing a frame is a non-blocking `try_send` on a bounded
//! [`Outbox`](crate::connection::Outbox): a full queue closes that connection
//! with 1013, and nobody waits for it.
//!
//! Waking a connection's writer task from inside the runtime is cheap (the
//! task goes on this worker's run queue); from the writer thread every wake
//! went through the runtime's shared inject queue, one per member per push.

use std::sync::Arc;

use sync_core::protocol::ServerFrame;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::batch::{Done, Fanout};
use super::writer::ReplyTo;
use crate::error::Reject;
use crate::registry::Registry;

/// One committed (or failed) job: where its result goes and the fan-out it
/// caused.
#[derive(Debug)]
pub struct Delivery {
    pub reply: ReplyTo,
    pub result: Result<Done, Reject>,
    pub events: Vec<Fanout>,
}

/// The writer's handle to the delivery task: one message per batch.
pub type Deliveries = mpsc::UnboundedSender<Vec<Delivery>>;

/// Starts the delivery task on the current runtime. It ends once every
/// [`Deliveries`] handle is dropped (the writer thread stopped) and what was
/// handed over is delivered.
/// With `bus` (`--cluster`), pushes go to the cluster's order task instead
/// of straight to the registry.
pub fn spawn(
    registry: Arc<Registry>,
    bus: Option<crate::cluster::Inbox>,
) -> (Deliveries, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, tokio::spawn(run(rx, registry, bus)))
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<Vec<Delivery>>,
    registry: Arc<Registry>,
    bus: Option<crate::cluster::Inbox>,
) {
    while let Some(batch) = rx.recv().await {
        for d in batch {
            deliver(d, &registry, bus.as_ref());
        }
    }
    tracing::debug!("delivery task stopped");
}

fn deliver(d: Delivery, registry: &Registry, bus: Option<&crate::cluster::Inbox>) {
    match d.reply {
        ReplyTo::Conn { outbox, re } => {
            let frame = match d.result {
                Ok(done) => done_frame(done, re),
                Err(rej) => rej.to_frame(Some(re)),
            };
            outbox.push_frame(&frame);
            outbox.end_write();
        }
        ReplyTo::Chan(tx) => {
            // The requester may have gone away; the write is stored anyway.
            let _ = tx.send(d.result);
        }
    }
    if let Some(bus) = bus {
        if !d.events.is_empty() {
            let _ = bus.send(crate::cluster::Inbound::Local(d.events));
        }
        return;
    }
    for ev in d.events {
        registry.send_to_members(&ev.users, &ev.frame, ev.except);
    }
}

/// The reply frame for a successful write.
pub fn done_frame(done: Done, re: sync_core::protocol::RequestId) -> ServerFrame {
    match done {
        Done::Ok => ServerFrame::Ok { re },
        Done::Conversation(s) => ServerFrame::Conversation {
            re: Some(re),
            conversation: *s,
        },
        Done::Sent {
            conv,
            client_id,
            seq,
            ts,
        } => ServerFrame::Sent {
            re,
            conv,
            client_id,
            seq,
            ts,
        },
    }
}
