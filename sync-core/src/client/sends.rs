//! Writes through the durable outbox (send, edit, redact), their
//! acknowledgements, and read cursors and typing.

use std::time::Duration;

use tokio::sync::oneshot;

use super::{Client, invalid, new_client_id, now_ms};
use crate::committed::Committed;
use crate::driver::DriverMsg;
use crate::engine::{Command, ConsumerAck, ReplyValue};
use crate::error::Error;
use crate::protocol::{ConvId, Seq, validate};
use crate::store::{OutboxItem, OutboxKind, OutboxState};

impl Client {
    pub(crate) fn outbox_item(
        &self,
        conv: &ConvId,
        client_id: String,
        kind: OutboxKind,
        body: Option<&str>,
    ) -> Result<OutboxItem, Error> {
        if let Some(b) = body {
            let max = self.server_limits().max_body_bytes;
            validate::body(b, max).map_err(invalid("body"))?;
        }
        validate::client_id(&client_id).map_err(invalid("client_id"))?;
        Ok(OutboxItem {
            client_id,
            conv: conv.clone(),
            kind,
            body: body.map(str::to_owned),
            state: OutboxState::Pending,
            created_ts: now_ms(),
        })
    }

    /// Queues an outbox row (with a stream consumer's ack in the same
    /// transaction, for [`crate::MessageStream::reply`]).
    pub(crate) fn enqueue(
        &self,
        conv: &ConvId,
        client_id: String,
        kind: OutboxKind,
        body: Option<&str>,
        ack: Option<ConsumerAck>,
    ) -> Committed<String> {
        match self.outbox_item(conv, client_id, kind, body) {
            Ok(item) => {
                let id = item.client_id.clone();
                self.submit(
                    Command::Enqueue {
                        item,
                        wait: None,
                        ack,
                    },
                    id,
                )
            }
            Err(e) => Committed::done(Err(e)),
        }
    }

    /// Queues a text. The command is handed to the engine at once (calls
    /// keep their order); the future resolves with the message's client id
    /// once the outbox row is durably committed. The message shows at once
    /// as a pending echo and is sent (and resent) until the server
    /// acknowledges it.
    pub fn send(&self, conv: &ConvId, body: &str) -> Committed<String> {
        self.send_with_id(conv, &new_client_id(), body)
    }

    /// [`Client::send`] with a client id the caller chose (1–64 printable
    /// ASCII characters). The server stores one message per client id, so
    /// sending again with the same id, even from another run, never makes a
    /// second copy. Fails with [`Error::AlreadyQueued`] while a row with
    /// this id is still in the outbox.
    pub fn send_with_id(&self, conv: &ConvId, client_id: &str, body: &str) -> Committed<String> {
        self.enqueue(
            conv,
            client_id.to_owned(),
            OutboxKind::Send,
            Some(body),
            None,
        )
    }

    /// Queues a text and waits for the server's `sent` reply; returns its
    /// seq. On timeout the message is still queued and still goes out:
    /// the error ([`Error::SendTimeout`]) carries its client id, to wait
    /// again with [`Client::wait_sent`] or drop it with [`Client::discard`].
    /// When the store cannot commit the row (a full disk), the message is
    /// still sent from memory: delivered, this returns its seq (the store
    /// failure comes as an `Event::Error(ErrorEvent::Store)`); not delivered
    /// within `timeout`, it fails with [`Error::NotStored`].
    pub async fn send_and_wait(
        &self,
        conv: &ConvId,
        body: &str,
        timeout: Duration,
    ) -> Result<Seq, Error> {
        self.queue_and_wait(conv, OutboxKind::Send, Some(body), timeout)
            .await
    }

    /// Queues an outbox row of any kind and waits for the server's `sent`
    /// (as [`Client::send_and_wait`]).
    async fn queue_and_wait(
        &self,
        conv: &ConvId,
        kind: OutboxKind,
        body: Option<&str>,
        timeout: Duration,
    ) -> Result<Seq, Error> {
        let item = self.outbox_item(conv, new_client_id(), kind, body)?;
        let client_id = item.client_id.clone();
        let token = self.token();
        let (tx, rx) = oneshot::channel();
        let (ack_tx, ack_rx) = oneshot::channel();
        self.inner
            .cmds
            .send(DriverMsg {
                cmd: Command::Enqueue {
                    item,
                    wait: Some(token),
                    ack: None,
                },
                ack: Some(ack_tx),
                reply: Some((token, tx)),
            })
            .map_err(|_| Error::DriverGone)?;
        // A row the store could not commit (a full disk) is still queued in
        // memory and goes out while the process runs: wait for its `sent`
        // all the same. Delivered, it is a success (the store failure is
        // an `Event::Error(ErrorEvent::Store)`); not delivered in time, the
        // error is that it was not stored, since it dies with the process.
        let not_stored = match Committed::waiting(ack_rx, ()).await {
            Ok(()) => None,
            Err(Error::NotStored(why)) => Some(why),
            Err(e) => return Err(e),
        };
        match (self.await_sent(client_id, rx, timeout).await, not_stored) {
            (Err(Error::SendTimeout { .. }), Some(why)) => Err(Error::NotStored(why)),
            (sent, _) => sent,
        }
    }

    /// Waits (again) for the acknowledgement of a queued message, e.g.
    /// after [`Error::SendTimeout`]. Fails with [`Error::UnknownOutboxRow`]
    /// when no such row is queued (it was acknowledged or discarded).
    pub async fn wait_sent(&self, client_id: &str, timeout: Duration) -> Result<Seq, Error> {
        let client_id = client_id.to_owned();
        let token = self.token();
        let (tx, rx) = oneshot::channel();
        self.inner
            .cmds
            .send(DriverMsg {
                cmd: Command::WaitSent {
                    client_id: client_id.clone(),
                    token,
                },
                ack: None,
                reply: Some((token, tx)),
            })
            .map_err(|_| Error::DriverGone)?;
        self.await_sent(client_id, rx, timeout).await
    }

    async fn await_sent(
        &self,
        client_id: String,
        rx: oneshot::Receiver<Result<ReplyValue, Error>>,
        timeout: Duration,
    ) -> Result<Seq, Error> {
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(ReplyValue::Seq(seq)))) => Ok(seq),
            Ok(Ok(Ok(_))) => Err(Error::DriverGone),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err(Error::DriverGone),
            Err(_) => Err(Error::SendTimeout { client_id }),
        }
    }

    /// Queues an edit of one of the user's texts; resolves with its client
    /// id once committed.
    pub fn edit(&self, conv: &ConvId, target: Seq, body: &str) -> Committed<String> {
        self.enqueue(
            conv,
            new_client_id(),
            OutboxKind::Edit { target },
            Some(body),
            None,
        )
    }

    /// Queues the deletion of one of the user's texts.
    pub fn redact(&self, conv: &ConvId, target: Seq) -> Committed<String> {
        self.enqueue(
            conv,
            new_client_id(),
            OutboxKind::Redact { target },
            None,
            None,
        )
    }

    /// Puts a failed outbox row back in the queue.
    pub fn retry(&self, client_id: &str) -> Committed<()> {
        self.submit(Command::Retry(client_id.to_owned()), ())
    }

    /// Drops an outbox row.
    pub fn discard(&self, client_id: &str) -> Committed<()> {
        self.submit(Command::Discard(client_id.to_owned()), ())
    }

    /// Moves the read cursor to `seq` (never backwards). Local at once,
    /// sent to the server when online.
    pub fn mark_read(&self, conv: &ConvId, seq: Seq) -> Committed<()> {
        self.submit(
            Command::MarkRead {
                conv: conv.clone(),
                seq: Some(seq),
            },
            (),
        )
    }

    /// Marks everything in the conversation read.
    pub fn mark_all_read(&self, conv: &ConvId) -> Committed<()> {
        self.submit(
            Command::MarkRead {
                conv: conv.clone(),
                seq: None,
            },
            (),
        )
    }

    /// Tells the other members the user is typing (throttled).
    pub fn typing(&self, conv: &ConvId) {
        let _ = self.send_cmd(Command::Typing(conv.clone()));
    }

    /// §9.1: queues a reply to the text at `reply_to` (the server files it
    /// in that text's thread). Like [`Client::send`]: a durable outbox row,
    /// a pending echo (in [`Client::thread`] too), resent with the same
    /// client id until acknowledged; resolves with the client id.
    ///
    /// Resolves with [`Error::Unsupported`] (nothing queued) when the
    /// server does not list `reply`. Before any server was ever reached
    /// the row is queued, and fails with [`crate::FailCode::Unsupported`]
    /// if the server turns out not to support it.
    ///
    /// ```no_run
    /// # async fn demo(client: sync_core::Client, conv: sync_core::protocol::ConvId) -> Result<(), sync_core::Error> {
    /// let client_id = client.send_reply(&conv, 42, "agreed").await?;
    /// # let _ = client_id; Ok(()) }
    /// ```
    pub fn send_reply(&self, conv: &ConvId, reply_to: Seq, body: &str) -> Committed<String> {
        self.enqueue(
            conv,
            new_client_id(),
            OutboxKind::Reply { reply_to },
            Some(body),
            None,
        )
    }

    /// §9.2: queues a reaction (`key`: an emoji or `:shortcode:`, 1–64
    /// bytes without whitespace or control characters) to the text at
    /// `target`, through the outbox like a send. The same gating as
    /// [`Client::send_reply`] applies, with the `reactions` feature.
    pub fn react(&self, conv: &ConvId, target: Seq, key: &str) -> Committed<String> {
        if let Err(e) = validate_key(key) {
            return Committed::done(Err(e));
        }
        self.enqueue(
            conv,
            new_client_id(),
            OutboxKind::React {
                target,
                key: key.to_owned(),
            },
            None,
            None,
        )
    }

    /// §9.2: withdraws the user's standing reaction `key` on `target`: queues
    /// a redaction of that `reaction` entry. [`Error::Invalid`] when no such
    /// reaction of the user is held (see [`crate::ReactionCount::mine`]).
    pub fn unreact(&self, conv: &ConvId, target: Seq, key: &str) -> Committed<String> {
        match self.unreact_kind(conv, target, key) {
            Ok(kind) => self.enqueue(conv, new_client_id(), kind, None, None),
            Err(e) => Committed::done(Err(e)),
        }
    }

    /// The outbox row that withdraws the user's reaction `key` on `target`.
    fn unreact_kind(&self, conv: &ConvId, target: Seq, key: &str) -> Result<OutboxKind, Error> {
        if !self.feature_allowed(crate::protocol::features::REACTIONS) {
            return Err(Error::Unsupported(crate::protocol::features::REACTIONS));
        }
        let Some(me) = self.user() else {
            return Err(Error::LoggedOut);
        };
        match self.read(|r| r.standing_reaction(conv, target, key, &me))? {
            Some(seq) => Ok(OutboxKind::Redact { target: seq }),
            None => Err(Error::Invalid {
                field: "key",
                message: format!("you have no standing {key} reaction on {target}"),
            }),
        }
    }

    /// [`Client::send_reply`], then waits for the server's `sent` like
    /// [`Client::send_and_wait`]; returns the reply's seq.
    pub async fn send_reply_and_wait(
        &self,
        conv: &ConvId,
        reply_to: Seq,
        body: &str,
        timeout: Duration,
    ) -> Result<Seq, Error> {
        self.queue_and_wait(conv, OutboxKind::Reply { reply_to }, Some(body), timeout)
            .await
    }

    /// [`Client::react`], then waits for the server's `sent`; returns the
    /// seq of the `reaction` entry.
    pub async fn react_and_wait(
        &self,
        conv: &ConvId,
        target: Seq,
        key: &str,
        timeout: Duration,
    ) -> Result<Seq, Error> {
        validate_key(key)?;
        let kind = OutboxKind::React {
            target,
            key: key.to_owned(),
        };
        self.queue_and_wait(conv, kind, None, timeout).await
    }

    /// [`Client::edit`], then waits for the server's `sent` (registered with
    /// the row, so an answer that comes first is not missed); returns the
    /// seq of the `edit` entry.
    pub async fn edit_and_wait(
        &self,
        conv: &ConvId,
        target: Seq,
        body: &str,
        timeout: Duration,
    ) -> Result<Seq, Error> {
        self.queue_and_wait(conv, OutboxKind::Edit { target }, Some(body), timeout)
            .await
    }

    /// [`Client::redact`], then waits for the server's `sent`; returns the
    /// seq of the `redact` entry.
    pub async fn redact_and_wait(
        &self,
        conv: &ConvId,
        target: Seq,
        timeout: Duration,
    ) -> Result<Seq, Error> {
        self.queue_and_wait(conv, OutboxKind::Redact { target }, None, timeout)
            .await
    }

    /// [`Client::unreact`], then waits for the server's `sent`; returns the
    /// seq of the `redact` entry.
    pub async fn unreact_and_wait(
        &self,
        conv: &ConvId,
        target: Seq,
        key: &str,
        timeout: Duration,
    ) -> Result<Seq, Error> {
        let kind = self.unreact_kind(conv, target, key)?;
        self.queue_and_wait(conv, kind, None, timeout).await
    }
}

/// A reaction key as §9.2 allows it: 1–64 bytes, no whitespace or control
/// characters.
pub(crate) fn validate_key(key: &str) -> Result<(), Error> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && !key.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            field: "key",
            message: "a reaction is 1–64 bytes without spaces or control characters".into(),
        })
    }
}
