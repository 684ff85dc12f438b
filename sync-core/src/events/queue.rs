//! The [`crate::Events`] channel: bounded and coalescing. The engine never
//! waits for the app, and an app that reads slowly (or never) costs at most
//! [`CAPACITY`] queued notifications: repeated ones merge (one
//! `TimelineChanged` per conversation, one `ConversationsChanged`, one
//! `OutboxChanged`), and when the queue is still full the droppable ones
//! (`NewMessage`, `Typing`, `Receipt`) are dropped and counted in a
//! `Lagged` notification. Connection states, errors and cache resets are
//! always kept.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::Event;

/// Notifications kept at most.
pub(crate) const CAPACITY: usize = 1_024;

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Event>,
    dropped: u64,
    senders: usize,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    ready: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // Held only to push or pop: a panic cannot leave it half-changed.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The engine's end.
#[derive(Debug)]
pub(crate) struct EventSender {
    shared: Arc<Shared>,
}

/// The app's end.
#[derive(Debug)]
pub(crate) struct EventReceiver {
    shared: Arc<Shared>,
}

pub(crate) fn channel() -> (EventSender, EventReceiver) {
    let shared = Arc::new(Shared::default());
    shared.lock().senders = 1;
    (
        EventSender {
            shared: shared.clone(),
        },
        EventReceiver { shared },
    )
}

fn droppable(e: &Event) -> bool {
    matches!(
        e,
        Event::NewMessage { .. } | Event::Typing { .. } | Event::Receipt { .. }
    )
}

impl Queue {
    /// Merges `e` into a queued notification of the same kind; true if it did.
    fn merge(&mut self, e: &Event) -> bool {
        match e {
            Event::TimelineChanged { conv } => self
                .items
                .iter()
                .any(|q| matches!(q, Event::TimelineChanged { conv: c } if c == conv)),
            Event::OutboxChanged => self.items.iter().any(|q| *q == Event::OutboxChanged),
            Event::Typing { conv, user } => self
                .items
                .iter()
                .any(|q| matches!(q, Event::Typing { conv: c, user: u } if c == conv && u == user)),
            Event::ConversationsChanged(convs) => {
                let Some(Event::ConversationsChanged(queued)) = self
                    .items
                    .iter_mut()
                    .find(|q| matches!(q, Event::ConversationsChanged(_)))
                else {
                    return false;
                };
                for c in convs {
                    if !queued.contains(c) {
                        queued.push(c.clone());
                    }
                }
                true
            }
            _ => false,
        }
    }

    fn push(&mut self, e: Event) {
        if self.merge(&e) {
            return;
        }
        if self.items.len() >= CAPACITY {
            if let Some(i) = self.items.iter().position(droppable) {
                self.items.remove(i);
                self.dropped += 1;
            } else if droppable(&e) {
                self.dropped += 1;
                return;
            }
        }
        self.items.push_back(e);
    }

    fn pop(&mut self) -> Option<Event> {
        if self.dropped > 0 {
            let dropped = std::mem::take(&mut self.dropped);
            return Some(Event::Lagged { dropped });
        }
        self.items.pop_front()
    }
}

impl EventSender {
    /// Queues a notification; never waits.
    pub(crate) fn send(&self, e: Event) {
        self.shared.lock().push(e);
        self.shared.ready.notify_one();
    }
}

impl Clone for EventSender {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        EventSender {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for EventSender {
    fn drop(&mut self) {
        self.shared.lock().senders -= 1;
        self.shared.ready.notify_one();
    }
}

impl EventReceiver {
    /// The next notification; None once the engine is gone and all are read.
    pub(crate) async fn recv(&mut self) -> Option<Event> {
        loop {
            let ready = self.shared.ready.notified();
            {
                let mut q = self.shared.lock();
                if let Some(e) = q.pop() {
                    return Some(e);
                }
                if q.senders == 0 {
                    return None;
                }
            }
            ready.await;
        }
    }

    /// The next notification if one is queued.
    pub(crate) fn try_recv(&mut self) -> Option<Event> {
        self.shared.lock().pop()
    }

    /// Notifications queued now.
    pub(crate) fn len(&self) -> usize {
        self.shared.lock().items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ConvId, Message};

    #[test]
    fn repeated_notifications_merge_and_a_full_queue_drops_only_droppable_ones() {
        let (tx, mut rx) = channel();
        for _ in 0..10_000 {
            tx.send(Event::TimelineChanged {
                conv: ConvId::from("c1"),
            });
            tx.send(Event::ConversationsChanged(vec![ConvId::from("c1")]));
        }
        tx.send(Event::ConversationsChanged(vec![ConvId::from("c2")]));
        assert_eq!(rx.len(), 2);
        for i in 0..5_000 {
            tx.send(Event::NewMessage {
                conv: ConvId::from("c1"),
                message: Message::text(i + 1, "bob", 0, "hi"),
            });
        }
        tx.send(Event::CacheReset { reason: "r".into() });
        assert_eq!(rx.len(), CAPACITY);
        // 5,000 new-message notifications, room for CAPACITY - 2 of them,
        // and one more made room for the cache reset.
        assert_eq!(
            rx.try_recv(),
            Some(Event::Lagged {
                dropped: 5_000 - (CAPACITY as u64 - 2) + 1
            })
        );
        assert_eq!(
            rx.try_recv(),
            Some(Event::TimelineChanged {
                conv: ConvId::from("c1")
            })
        );
        assert_eq!(
            rx.try_recv(),
            Some(Event::ConversationsChanged(vec![
                ConvId::from("c1"),
                ConvId::from("c2")
            ]))
        );
        let rest: Vec<Event> = std::iter::from_fn(|| rx.try_recv()).collect();
        assert_eq!(rest.last(), Some(&Event::CacheReset { reason: "r".into() }));
        assert_eq!(rest.len(), CAPACITY - 2);
    }

    #[tokio::test]
    async fn recv_ends_once_every_sender_is_gone() {
        let (tx, mut rx) = channel();
        let tx2 = tx.clone();
        tx.send(Event::OutboxChanged);
        drop(tx);
        drop(tx2);
        assert_eq!(rx.recv().await, Some(Event::OutboxChanged));
        assert_eq!(rx.recv().await, None);
    }
}
