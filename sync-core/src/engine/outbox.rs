//! The durable outbox: ordered per conversation, retried with the same
//! client id until acknowledged, failed visibly on permanent errors.

use std::time::{Duration, Instant};

use super::{Engine, Pending, Phase, ReplyToken, ReplyValue};
use crate::error::Error;
use crate::events::Event;
use crate::protocol::{
    ClientFrame, ConvId, EntryKind, ErrorCode, Message, RequestId, Seq, ServerFrame,
};
use crate::store::{OutboxItem, OutboxKind, OutboxState, Write};

/// Delay before resending after a transient server error (e.g. `internal`).
pub(super) const TRANSIENT_RETRY: Duration = Duration::from_secs(1);

/// Client ids of delivered or discarded rows kept to tell a stale store
/// read from a row another process queued.
const OUTBOX_DONE_KEPT: usize = 512;

impl Engine {
    pub(super) fn enqueue(
        &mut self,
        _now: Instant,
        item: OutboxItem,
        wait: Option<ReplyToken>,
        ack: Option<super::ConsumerAck>,
    ) -> Result<(), Error> {
        self.check_new_row(&item)?;
        if let Some(t) = wait {
            self.calls.waiters.insert(item.client_id.clone(), t);
        }
        self.queue_checked(vec![item], ack);
        Ok(())
    }

    /// Whether `item` may join the outbox: the conversation is not left,
    /// the id is not queued, the server is not known to lack its feature,
    /// and it fits the server's limits.
    fn check_new_row(&self, item: &OutboxItem) -> Result<(), Error> {
        // A conversation not cached yet (e.g. before the first sync) is
        // accepted: the server decides, and `not_found` fails the row.
        if self.convs.get(&item.conv).is_some_and(|r| r.left) {
            return Err(Error::ReadOnly(item.conv.0.clone()));
        }
        if self.outbox.iter().any(|o| o.client_id == item.client_id) {
            return Err(Error::AlreadyQueued(item.client_id.clone()));
        }
        // A server that said it lacks the feature gets no such row. Before
        // any server said anything the row is queued; `dispatch_outbox`
        // fails it if the server turns out to lack the feature.
        if let Some(feature) = item.kind.feature()
            && self.features_known
            && !self.has_feature(feature)
        {
            return Err(Error::Unsupported(feature));
        }
        let body_len = item.body.as_deref().map_or(0, str::len);
        let limits = self.limits();
        if body_len > limits.max_body_bytes {
            return Err(Error::Invalid {
                field: "body",
                message: format!(
                    "body is {body_len} bytes; this server takes up to {}",
                    limits.max_body_bytes
                ),
            });
        }
        if let Some(message) = self.over_frame_limit(item, u64::MAX) {
            return Err(Error::Invalid {
                field: "body",
                message,
            });
        }
        Ok(())
    }

    /// [`Engine::enqueue`] for several rows and one consumer ack in one
    /// batch: each row is checked first (and their ids must differ), so
    /// either all are queued with the ack or nothing is.
    pub(super) fn enqueue_all(
        &mut self,
        items: Vec<OutboxItem>,
        ack: Option<super::ConsumerAck>,
    ) -> Result<(), Error> {
        for (i, item) in items.iter().enumerate() {
            self.check_new_row(item)?;
            if items[..i].iter().any(|o| o.client_id == item.client_id) {
                return Err(Error::AlreadyQueued(item.client_id.clone()));
            }
        }
        self.queue_checked(items, ack);
        Ok(())
    }

    /// Queues rows already checked ([`Engine::check_new_row`]) and a
    /// consumer's ack in one durable batch, then sends what it can.
    fn queue_checked(&mut self, items: Vec<OutboxItem>, ack: Option<super::ConsumerAck>) {
        let mut convs: Vec<ConvId> = Vec::new();
        for mut item in items {
            item.state = OutboxState::Pending;
            self.outbox.push(item.clone());
            if !convs.contains(&item.conv) {
                convs.push(item.conv.clone());
            }
            self.write(Write::OutboxPut(item));
        }
        if let Some(a) = ack {
            // Same transaction: the reply exists if and only if the
            // consumer's position moved past what it answers.
            self.write(Write::ConsumerAck {
                name: a.name,
                conv: a.conv,
                seq: a.seq,
            });
        }
        // The user was told "sent": these rows must survive a power cut.
        self.out.batch.durable = true;
        self.seal();
        for conv in &convs {
            self.outbox_changed(conv);
        }
        self.dispatch_outbox();
    }

    /// Rows another process queued in the shared store (`convo send
    /// --no-wait` while the TUI runs): the pending ones not held here join
    /// the outbox, in the store's order, and go out like the others. Rows
    /// held here already, or in another state (that process is sending
    /// them, or they failed there), are left alone.
    pub(super) fn adopt_outbox(&mut self, rows: Vec<OutboxItem>) {
        let mut convs = Vec::new();
        for row in rows {
            let known = self.outbox.iter().any(|o| o.client_id == row.client_id)
                || self.outbox_done.contains(&row.client_id);
            if known || row.state != OutboxState::Pending {
                continue;
            }
            if !convs.contains(&row.conv) {
                convs.push(row.conv.clone());
            }
            self.outbox.push(row);
        }
        for conv in &convs {
            self.outbox_changed(conv);
        }
        if !convs.is_empty() {
            self.dispatch_outbox();
        }
    }

    /// Remembers that `client_id` left the outbox (the last few hundred).
    fn outbox_gone(&mut self, client_id: &str) {
        if self.outbox_done.len() >= OUTBOX_DONE_KEPT {
            self.outbox_done.pop_front();
        }
        self.outbox_done.push_back(client_id.to_owned());
    }

    fn outbox_changed(&mut self, conv: &ConvId) {
        self.emit(Event::OutboxChanged);
        self.emit(Event::TimelineChanged { conv: conv.clone() });
        self.emit(Event::ConversationsChanged(vec![conv.clone()]));
    }

    /// Sends the head row of every conversation's queue that is not on the
    /// wire yet. One row per conversation at a time keeps the user's order:
    /// row k+1 goes out only after k was acknowledged (or failed). Returns
    /// how many rows were sent.
    pub(super) fn dispatch_outbox(&mut self) -> usize {
        if self.link.phase != Phase::Live {
            return 0;
        }
        let mut busy: std::collections::HashSet<ConvId> =
            self.calls.retry_at.keys().cloned().collect();
        let mut sent = 0;
        for i in 0..self.outbox.len() {
            let o = &self.outbox[i];
            if matches!(o.state, OutboxState::Failed { .. }) || busy.contains(&o.conv) {
                continue;
            }
            if let Some(feature) = o.kind.feature()
                && !self.has_feature(feature)
            {
                self.fail_unsupported(i, feature);
                continue;
            }
            busy.insert(o.conv.clone());
            if o.state == OutboxState::Sending {
                continue;
            }
            let o = o.clone();
            // A row queued before this server said its frame limit.
            if let Some(message) = self.over_frame_limit(&o, u64::MAX) {
                self.fail_too_large(i, message);
                busy.remove(&o.conv);
                continue;
            }
            let id = self.track(Pending::Out {
                client_id: o.client_id.clone(),
            });
            self.transmit(outbox_frame(&o, id));
            self.outbox[i].state = OutboxState::Sending;
            sent += 1;
        }
        if sent > 0 {
            self.emit(Event::OutboxChanged);
        }
        sent
    }

    /// Why `o`'s frame, with request id `id`, is more than the server takes
    /// (`hello.max_frame_bytes`); None when it fits. A body within
    /// `max_body_bytes` can still pass it: JSON writes each control
    /// character in 6 bytes.
    fn over_frame_limit(&self, o: &OutboxItem, id: RequestId) -> Option<String> {
        // Most rows fit whatever their text holds: encode only those that
        // might not (a send would otherwise be encoded twice).
        let max = self.limits().max_frame_bytes;
        if worst_case_len(o) <= max {
            return None;
        }
        let len = outbox_frame(o, id).to_json().len();
        (len > max).then(|| {
            format!(
                "{len} bytes once encoded, over the server's limit of {} bytes per frame \
                 (each control character takes 6)",
                max
            )
        })
    }

    /// Fails row `i` as too large to send: resending it would only get the
    /// connection closed again.
    fn fail_too_large(&mut self, i: usize, message: String) {
        self.outbox[i].state = OutboxState::Failed {
            code: crate::store::FailCode::Server(ErrorCode::TooLarge),
            message: message.clone(),
        };
        let item = self.outbox[i].clone();
        self.write(Write::OutboxPut(item.clone()));
        if let Some(t) = self.calls.waiters.remove(&item.client_id) {
            self.reply(
                t,
                Err(Error::Invalid {
                    field: "body",
                    message,
                }),
            );
        }
        self.outbox_changed(&item.conv);
    }

    /// The row with this client id reached the timeline at `seq` (by `sent`
    /// or by push): the local echo becomes that entry.
    pub(super) fn acknowledge(&mut self, conv: &ConvId, client_id: &str, seq: Seq) {
        let Some(pos) = self
            .outbox
            .iter()
            .position(|o| o.client_id == client_id && &o.conv == conv)
        else {
            return;
        };
        self.outbox.remove(pos);
        self.outbox_gone(client_id);
        self.write(Write::OutboxRemove(client_id.to_owned()));
        if let Some(t) = self.calls.waiters.remove(client_id) {
            self.reply(t, Ok(ReplyValue::Seq(seq)));
        }
        self.outbox_changed(conv);
        self.dispatch_outbox();
    }

    pub(super) fn on_send_reply(&mut self, now: Instant, client_id: String, frame: ServerFrame) {
        let Some(pos) = self.outbox.iter().position(|o| o.client_id == client_id) else {
            return; // already acknowledged by its push, or discarded
        };
        match frame {
            ServerFrame::Sent { conv, seq, ts, .. } => {
                let o = &self.outbox[pos];
                let mut m = Message::new(seq, self.me().to_owned(), ts, EntryKind::Text);
                m.client_id = Some(client_id.clone());
                m.body = o.body.clone();
                match &o.kind {
                    OutboxKind::Send => {}
                    OutboxKind::Reply { reply_to } => m.reply_to = Some(*reply_to),
                    OutboxKind::React { target, key } => {
                        m.kind = EntryKind::Reaction;
                        m.target = Some(*target);
                        m.key = Some(key.clone());
                        m.body = None;
                    }
                    OutboxKind::Edit { target } => {
                        m.kind = EntryKind::Edit;
                        m.target = Some(*target);
                    }
                    OutboxKind::Redact { target } => {
                        m.kind = EntryKind::Redact;
                        m.target = Some(*target);
                        m.body = None;
                    }
                }
                let o_conv = o.conv.clone();
                // The server appended exactly this entry: store it (a later push
                // of the same seq is a duplicate), which also acknowledges the row.
                self.apply_entries(&o_conv, vec![m], None);
                if conv == o_conv {
                    self.acknowledge(&o_conv, &client_id, seq);
                }
            }
            ServerFrame::Error {
                code,
                message,
                retry_after_ms,
                ..
            } => {
                let conv = self.outbox[pos].conv.clone();
                if code == ErrorCode::RateLimited || !code.is_permanent() {
                    let wait = match retry_after_ms {
                        Some(ms) if code == ErrorCode::RateLimited => Duration::from_millis(ms),
                        _ => TRANSIENT_RETRY,
                    };
                    self.outbox[pos].state = OutboxState::Pending;
                    self.calls.retry_at.insert(conv, now + wait);
                    return;
                }
                self.outbox[pos].state = OutboxState::Failed {
                    code: crate::store::FailCode::Server(code),
                    message: message.clone(),
                };
                let item = self.outbox[pos].clone();
                self.write(Write::OutboxPut(item));
                if let Some(t) = self.calls.waiters.remove(&client_id) {
                    self.reply(
                        t,
                        Err(Error::Server {
                            request: self.outbox[pos].kind.request(),
                            code,
                            message,
                        }),
                    );
                }
                self.outbox_changed(&conv);
                self.dispatch_outbox();
            }
            other => {
                self.emit(Event::Error(super::error_event("send", other)));
                self.outbox[pos].state = OutboxState::Pending;
            }
        }
    }

    /// Fails row `i`: the server lacks the feature it needs. Nothing was sent.
    fn fail_unsupported(&mut self, i: usize, feature: &'static str) {
        self.outbox[i].state = OutboxState::Failed {
            code: crate::store::FailCode::Unsupported,
            message: format!("the server does not support {feature}"),
        };
        let item = self.outbox[i].clone();
        self.write(Write::OutboxPut(item.clone()));
        if let Some(t) = self.calls.waiters.remove(&item.client_id) {
            self.reply(t, Err(Error::Unsupported(feature)));
        }
        self.outbox_changed(&item.conv);
    }

    /// `wait_sent`: the waiter of a queued row gets its answer when it
    /// comes; a row refused already (often before the caller got to wait)
    /// answers at once, nothing more will come.
    pub(super) fn wait_sent(&mut self, client_id: String, token: ReplyToken) {
        match self.outbox.iter().find(|o| o.client_id == client_id) {
            Some(OutboxItem {
                state: OutboxState::Failed { code, message },
                kind,
                ..
            }) => {
                let e = failed_row_error(kind, *code, message);
                self.reply(token, Err(e));
            }
            Some(_) => {
                self.calls.waiters.insert(client_id, token);
            }
            None => self.reply(token, Err(Error::UnknownOutboxRow(client_id))),
        }
    }

    pub(super) fn retry(&mut self, _now: Instant, client_id: &str) -> Result<(), Error> {
        let Some(pos) = self.outbox.iter().position(|o| o.client_id == client_id) else {
            return Err(Error::UnknownOutboxRow(client_id.to_owned()));
        };
        if !matches!(self.outbox[pos].state, OutboxState::Failed { .. }) {
            return Ok(()); // already queued
        }
        // Re-queue at the end of its conversation (same client id: still safe).
        let mut item = self.outbox.remove(pos);
        item.state = OutboxState::Pending;
        self.outbox.push(item.clone());
        let conv = item.conv.clone();
        self.write(Write::OutboxRemove(item.client_id.clone()));
        self.write(Write::OutboxPut(item));
        self.outbox_changed(&conv);
        self.dispatch_outbox();
        Ok(())
    }

    pub(super) fn discard(&mut self, client_id: &str) -> Result<(), Error> {
        let Some(pos) = self.outbox.iter().position(|o| o.client_id == client_id) else {
            return Err(Error::UnknownOutboxRow(client_id.to_owned()));
        };
        let item = self.outbox.remove(pos);
        self.outbox_gone(client_id);
        self.write(Write::OutboxRemove(item.client_id.clone()));
        if let Some(t) = self.calls.waiters.remove(client_id) {
            self.reply(t, Err(Error::UnknownOutboxRow(client_id.to_owned())));
        }
        self.outbox_changed(&item.conv);
        self.dispatch_outbox();
        Ok(())
    }
}

/// An upper bound of the encoded size of `o`'s frame: every text byte
/// escaped (6 bytes at most), plus the fixed fields and numbers.
fn worst_case_len(o: &OutboxItem) -> usize {
    let text = o.body.as_deref().map_or(0, str::len)
        + o.conv.as_str().len()
        + o.client_id.len()
        + match &o.kind {
            OutboxKind::React { key, .. } => key.len(),
            _ => 0,
        };
    text * 6 + 256
}

/// The request that carries outbox row `o`.
fn outbox_frame(o: &OutboxItem, id: RequestId) -> ClientFrame {
    let (conv, client_id) = (o.conv.clone(), o.client_id.clone());
    let body = o.body.clone().unwrap_or_default();
    match &o.kind {
        OutboxKind::Send => ClientFrame::Send {
            id,
            conv,
            client_id,
            body,
            reply_to: None,
        },
        OutboxKind::Reply { reply_to } => ClientFrame::Send {
            id,
            conv,
            client_id,
            body,
            reply_to: Some(*reply_to),
        },
        OutboxKind::React { target, key } => ClientFrame::React {
            id,
            conv,
            client_id,
            target: *target,
            key: key.clone(),
        },
        OutboxKind::Edit { target } => ClientFrame::Edit {
            id,
            conv,
            client_id,
            target: *target,
            body,
        },
        OutboxKind::Redact { target } => ClientFrame::Redact {
            id,
            conv,
            client_id,
            target: *target,
        },
    }
}

/// What waiting for a row that already failed answers: what the waiter
/// would have been told when it failed.
pub(super) fn failed_row_error(
    kind: &OutboxKind,
    code: crate::store::FailCode,
    message: &str,
) -> Error {
    use crate::store::FailCode;
    match code {
        FailCode::Server(code) => Error::Server {
            request: kind.request(),
            code,
            message: message.to_owned(),
        },
        FailCode::Unsupported => match kind.feature() {
            Some(feature) => Error::Unsupported(feature),
            None => Error::Invalid {
                field: "message",
                message: message.to_owned(),
            },
        },
        FailCode::ServerReplaced => Error::Invalid {
            field: "message",
            message: message.to_owned(),
        },
    }
}
