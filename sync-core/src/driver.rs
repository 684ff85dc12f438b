//! The I/O around the engine: one tokio task (on its own thread and
//! runtime, so the app's executor never runs it) owns the WebSocket, the
//! timers and the [`Engine`]; a dedicated store thread commits every batch
//! and only then delivers the events, replies and acks that follow it.

use std::collections::HashMap;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::engine::{Command, Engine, ReplyToken, ReplyValue};
use crate::error::{ConnectError, Error};
use crate::events::queue::EventSender;
use crate::events::{ConnState, ErrorEvent, Event, SyncReport};
use crate::protocol::MAX_SERVER_FRAME_BYTES;
use crate::store::{Batch, Store, Write};

/// Commands handled in one go before the driver flushes.
const MAX_DRAIN: usize = 1_024;

/// How long opening a socket may take before counting as a failed attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connection state plus the latest catch-up report, for `wait_live`.
#[derive(Debug, Clone)]
pub(crate) struct Status {
    pub state: ConnState,
    pub report: Option<SyncReport>,
    /// The server URL in use (or tried next), as of `state`.
    pub url: String,
}

/// Answer channel of a command that waits for a server reply.
pub(crate) type ReplyTx = oneshot::Sender<Result<ReplyValue, Error>>;

/// Answer channel of a command that waits for its writes' commit.
pub(crate) type AckTx = oneshot::Sender<Result<(), Error>>;

/// A message from a `Client` handle to the driver task.
#[derive(Debug)]
pub(crate) struct DriverMsg {
    pub cmd: Command,
    /// Answered once the command's writes are committed (or it was refused).
    pub ack: Option<AckTx>,
    /// Answered with the server's reply.
    pub reply: Option<(ReplyToken, ReplyTx)>,
}

/// Work for the store thread, executed in order.
enum Job {
    Batch(Batch),
    After(After),
}

/// What runs once the batches queued before it have committed.
enum After {
    /// Events and replies for the app.
    Deliver(Box<dyn FnOnce() + Send>),
    /// Answers a command's caller: `Ok`, or the error if those batches could
    /// not be committed.
    Ack(AckTx),
}

impl After {
    /// Runs it; `failure` is why the last commit failed, if it did.
    fn run(self, failure: &Option<String>) {
        match self {
            After::Deliver(f) => f(),
            After::Ack(tx) => {
                let _ = tx.send(match failure {
                    None => Ok(()),
                    Some(why) => Err(Error::NotStored(why.clone())),
                });
            }
        }
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How the driver connects: the TLS configuration for `wss://` URLs (the
/// URLs themselves are the engine's: [`Engine::current_url`]).
#[derive(Clone)]
pub(crate) struct Endpoint {
    #[cfg(feature = "tls")]
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// The host of `url`, for messages.
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => authority,
    }
}

/// Starts the store thread and the driver thread. Returns, once both run,
/// the sender that `Client` handles command the driver through (the
/// driver stops when the last clone of it is dropped).
pub(crate) fn spawn(
    endpoint: Endpoint,
    engine: Engine,
    store: Box<dyn Store>,
    events: EventSender,
    status: watch::Sender<Status>,
    commits: watch::Sender<u64>,
) -> Result<mpsc::UnboundedSender<DriverMsg>, Error> {
    let (cmd_tx, cmds) = mpsc::unbounded_channel();
    // The store thread's way to the engine must not keep the driver alive.
    let adopt = cmd_tx.downgrade();
    let (job_tx, job_rx) = std_mpsc::channel::<Job>();
    let store_events = events.clone();
    std::thread::Builder::new()
        .name("sync-core-store".into())
        .spawn(move || store_thread(store, job_rx, store_events, commits, adopt))
        .map_err(Error::Spawn)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Spawn)?;
    std::thread::Builder::new()
        .name("sync-core-driver".into())
        .spawn(move || {
            rt.block_on(
                Driver {
                    endpoint,
                    engine,
                    jobs: job_tx,
                    events,
                    status,
                    replies: HashMap::new(),
                    ws: None,
                }
                .run(cmds),
            )
        })
        .map_err(Error::Spawn)?;
    Ok(cmd_tx)
}

/// Writes coalesced into one transaction at most: 16 catch-up pages of 500
/// entries, or a few thousand small batches (concurrent sends and acks are
/// group-committed: one `fsync` for all of them).
const MAX_COALESCED_WRITES: usize = 8_000;

/// Rows a batch writes, roughly (a page of entries counts each entry).
fn weight(b: &Batch) -> usize {
    b.writes
        .iter()
        .map(|w| match w {
            Write::Messages(_, m) => m.len().max(1),
            _ => 1,
        })
        .sum()
}

/// Commits batches in order; a failed batch is reported, never retried
/// blindly (the engine's next writes carry full state again).
///
/// Batches queued behind each other commit together: one commit, one FTS
/// segment and one WAL flush for several pages of a catch-up is much
/// cheaper than one per page. Only what is queued already is taken: the
/// thread never waits for more, so it writes while the next pages are on
/// the wire, and when it is the slower side they queue up behind a commit
/// and the next one takes them all. Deliveries (events, replies) queued
/// among them run after that commit, in order, so nothing is reported
/// before it is stored. Once a second it also asks the store whether
/// another process committed, and hands the engine the outbox if so.
fn store_thread(
    mut store: Box<dyn Store>,
    jobs: std_mpsc::Receiver<Job>,
    events: EventSender,
    commits: watch::Sender<u64>,
    adopt: mpsc::WeakUnboundedSender<DriverMsg>,
) {
    // Why the last commit failed, for the acks that follow it.
    let mut last_failure: Option<String> = None;
    let mut next_check = Instant::now() + ELSEWHERE_EVERY;
    loop {
        let job = match jobs.recv_timeout(next_check.saturating_duration_since(Instant::now())) {
            Ok(job) => Some(job),
            Err(std_mpsc::RecvTimeoutError::Timeout) => None,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
        };
        if Instant::now() >= next_check {
            if store.changed_elsewhere().unwrap_or(false) {
                hand_over_outbox(&*store, &adopt);
            }
            next_check = Instant::now() + ELSEWHERE_EVERY;
        }
        let Some(job) = job else {
            continue;
        };
        let first = match job {
            Job::After(a) => {
                a.run(&last_failure);
                continue;
            }
            Job::Batch(b) => b,
        };
        let mut writes = weight(&first);
        let mut group = vec![first];
        let mut after = Vec::new();
        while writes < MAX_COALESCED_WRITES {
            let Ok(job) = jobs.try_recv() else {
                break;
            };
            match job {
                Job::Batch(b) => {
                    writes += weight(&b);
                    group.push(b);
                }
                Job::After(a) => after.push(a),
            }
        }
        last_failure = commit(&mut *store, &group, &events).err();
        // Streams read by position: wake them (a counter, so never blocks).
        commits.send_modify(|n| *n += 1);
        for a in after {
            a.run(&last_failure);
        }
    }
}

/// How often the store thread asks whether another process committed to
/// the store (one `PRAGMA data_version` for SQLite).
const ELSEWHERE_EVERY: Duration = Duration::from_secs(1);

/// Hands the stored outbox to the engine, which queues the rows another
/// process added (the driver is gone when every `Client` is: then nothing).
fn hand_over_outbox(store: &dyn Store, adopt: &mpsc::WeakUnboundedSender<DriverMsg>) {
    if let (Ok(rows), Some(tx)) = (store.outbox(), adopt.upgrade()) {
        let _ = tx.send(DriverMsg {
            cmd: Command::AdoptOutbox(rows),
            ack: None,
            reply: None,
        });
    }
}

/// Applies `group` in one transaction; if that fails, batch by batch, so one
/// bad batch does not take the others down with it. Returns the first failure.
fn commit(store: &mut dyn Store, group: &[Batch], events: &EventSender) -> Result<(), String> {
    if group.len() > 1 && store.apply_all(group).is_ok() {
        return Ok(());
    }
    let mut first = Ok(());
    for b in group {
        if let Err(e) = store.apply(b) {
            let why = e.to_string();
            tracing::error!(target: "sync_core", error = %why, "store write failed");
            events.send(Event::Error(ErrorEvent::Store(why.clone())));
            if first.is_ok() {
                first = Err(why);
            }
        }
    }
    first
}

/// Logs what an app may want in its logs (target `sync_core`): state
/// changes at debug, failures at warn. Never a token or a message body.
fn log_event(e: &Event) {
    match e {
        Event::Connection(ConnState::Live) => tracing::info!(target: "sync_core", "live"),
        Event::Connection(state) => tracing::debug!(target: "sync_core", ?state, "connection"),
        Event::Error(error) => tracing::warn!(target: "sync_core", %error),
        Event::CacheReset { reason } => tracing::warn!(target: "sync_core", %reason, "cache reset"),
        _ => {}
    }
}

/// What a failed connection attempt means, from the WebSocket library's error.
fn classify(e: &tokio_tungstenite::tungstenite::Error, host: &str) -> ConnectError {
    use tokio_tungstenite::tungstenite::Error as WsError;
    use tokio_tungstenite::tungstenite::error::UrlError;
    #[cfg(feature = "tls")]
    if let WsError::Io(io) = e
        && let Some(tls) = crate::tls::from_io(io, host)
    {
        return tls;
    }
    #[cfg(feature = "tls")]
    if let WsError::Tls(tokio_tungstenite::tungstenite::error::TlsError::Rustls(r)) = e {
        return crate::tls::describe(r, host);
    }
    #[cfg(not(feature = "tls"))]
    let _ = host;
    match e {
        WsError::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => ConnectError::Refused(io.to_string()),
            _ if is_dns_failure(io) => ConnectError::Dns(io.to_string()),
            std::io::ErrorKind::TimedOut => ConnectError::Timeout,
            _ => ConnectError::Lost(io.to_string()),
        },
        WsError::Tls(t) => ConnectError::Tls(t.to_string()),
        WsError::Url(UrlError::TlsFeatureNotEnabled) => ConnectError::TlsUnavailable,
        WsError::Url(u) => ConnectError::InvalidUrl(u.to_string()),
        WsError::Http(response) => ConnectError::Http(response.status().as_u16()),
        WsError::HttpFormat(h) => ConnectError::InvalidUrl(h.to_string()),
        other => ConnectError::Lost(other.to_string()),
    }
}

/// Name resolution failures come as plain I/O errors; tell them by their text.
fn is_dns_failure(io: &std::io::Error) -> bool {
    let text = io.to_string();
    [
        "failed to lookup address",
        "Name or service not known",
        "No such host",
        "nodename nor servname",
    ]
    .iter()
    .any(|m| text.contains(m))
}

/// The close frame a client ends a connection with: 1000, like every endpoint that is done
/// (PROTOCOL.md §2 lists only the server's codes; an empty close frame reads as 1005 "no
/// status" on the other side, see docs/PROTOCOL-NOTES.md).
fn normal_close() -> tokio_tungstenite::tungstenite::protocol::CloseFrame {
    tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Normal,
        reason: "".into(),
    }
}

struct Driver {
    // Without TLS support there is nothing in it to read.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    endpoint: Endpoint,
    engine: Engine,
    jobs: std_mpsc::Sender<Job>,
    events: EventSender,
    status: watch::Sender<Status>,
    replies: HashMap<ReplyToken, ReplyTx>,
    ws: Option<Ws>,
}

impl Driver {
    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<DriverMsg>) {
        loop {
            self.flush().await;
            if self.engine.poll_close() {
                if let Some(mut ws) = self.ws.take() {
                    let _ = ws.close(Some(normal_close())).await;
                }
                self.engine.handle_disconnected(Instant::now(), None);
                continue;
            }
            if self.engine.poll_connect() {
                self.connect().await;
                continue;
            }
            let deadline = self.engine.poll_timeout();
            let ws = &mut self.ws;
            tokio::select! {
                msg = cmds.recv() => match msg {
                    Some(m) => {
                        self.command(m);
                        // Take what else is queued before flushing: a burst
                        // of sends becomes one hand-over to the store thread
                        // (one wake-up, one group commit), not one per send.
                        for _ in 0..MAX_DRAIN {
                            match cmds.try_recv() {
                                Ok(m) => self.command(m),
                                Err(_) => break,
                            }
                        }
                    }
                    None => break, // every Client handle is gone
                },
                frame = async {
                    match ws.as_mut() {
                        Some(ws) => ws.next().await,
                        None => std::future::pending().await,
                    }
                } => {
                    // tungstenite queues the answer to a server's close frame
                    // when it reads it; send it before the socket is dropped
                    // (RFC 6455 §5.5.1: a close frame is answered with one).
                    if let (Some(Ok(WsMessage::Close(_))), Some(ws)) = (&frame, self.ws.as_mut()) {
                        let _ = ws.flush().await;
                    }
                    self.incoming(frame)
                }
                _ = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d.into()).await,
                        None => std::future::pending().await,
                    }
                } => self.engine.handle_timeout(Instant::now()),
            }
        }
        if let Some(mut ws) = self.ws.take() {
            let _ = ws.close(Some(normal_close())).await;
        }
    }

    /// The URL the engine wants used now.
    fn url(&self) -> String {
        self.engine.current_url().unwrap_or_default().to_owned()
    }

    async fn connect(&mut self) {
        let url = self.url();
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_SERVER_FRAME_BYTES))
            .max_frame_size(Some(MAX_SERVER_FRAME_BYTES));
        #[cfg(feature = "tls")]
        let attempt = tokio_tungstenite::connect_async_tls_with_config(
            url.as_str(),
            Some(config),
            true,
            self.endpoint
                .tls
                .clone()
                .filter(|_| url.starts_with("wss://"))
                .map(tokio_tungstenite::Connector::Rustls),
        );
        #[cfg(not(feature = "tls"))]
        let attempt =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true);
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(Ok((ws, _))) => {
                self.ws = Some(ws);
                self.engine.handle_connected(Instant::now());
            }
            Ok(Err(e)) => {
                let cause = classify(&e, host(&url));
                self.engine
                    .handle_connect_failed(Instant::now(), &url, cause);
            }
            Err(_) => {
                self.engine
                    .handle_connect_failed(Instant::now(), &url, ConnectError::Timeout);
            }
        }
    }

    fn command(&mut self, m: DriverMsg) {
        if let Some((token, tx)) = m.reply {
            self.replies.insert(token, tx);
        }
        let result = self.engine.handle_command(Instant::now(), m.cmd);
        if let Some(ack) = m.ack {
            match result {
                // Ack after this command's writes commit (they are queued first).
                Ok(()) => {
                    self.queue_batches();
                    let _ = self.jobs.send(Job::After(After::Ack(ack)));
                }
                Err(e) => {
                    let _ = ack.send(Err(e));
                }
            }
        }
    }

    fn incoming(
        &mut self,
        frame: Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>>,
    ) {
        let now = Instant::now();
        match frame {
            Some(Ok(WsMessage::Text(t))) => self.engine.handle_frame(now, t.as_str()),
            Some(Ok(WsMessage::Close(close))) => {
                self.ws = None;
                self.engine
                    .handle_disconnected(now, close.map(|c| u16::from(c.code)));
            }
            Some(Ok(_)) => self.engine.handle_activity(now),
            Some(Err(e)) => {
                self.ws = None;
                let url = self.url();
                self.engine.handle_lost(now, &url, e.to_string());
            }
            None => {
                self.ws = None;
                self.engine.handle_disconnected(now, None);
            }
        }
    }

    fn queue_batches(&mut self) {
        while let Some(b) = self.engine.poll_batch() {
            let _ = self.jobs.send(Job::Batch(b));
        }
    }

    fn deliver(&self, f: impl FnOnce() + Send + 'static) {
        let _ = self.jobs.send(Job::After(After::Deliver(Box::new(f))));
    }

    /// Sends frames, then hands batches and (after them) events and replies
    /// to the store thread.
    async fn flush(&mut self) {
        let mut failed = false;
        while let Some(frame) = self.engine.poll_transmit() {
            if let Some(ws) = self.ws.as_mut()
                && !failed
                && ws
                    .send(WsMessage::Text(frame.to_json().into()))
                    .await
                    .is_err()
            {
                failed = true;
            }
        }
        if failed {
            self.ws = None;
            let url = self.url();
            self.engine
                .handle_lost(Instant::now(), &url, "sending a frame failed".into());
        }
        self.queue_batches();
        while let Some(e) = self.engine.poll_event() {
            log_event(&e);
            let events = self.events.clone();
            let status = match &e {
                Event::Connection(s) => Some((
                    self.status.clone(),
                    s.clone(),
                    self.engine.last_report().cloned(),
                    self.url(),
                )),
                _ => None,
            };
            self.deliver(move || {
                if let Some((tx, state, report, url)) = status {
                    tx.send_modify(|st| {
                        st.state = state;
                        st.url = url;
                        if report.is_some() {
                            st.report = report;
                        }
                    });
                }
                events.send(e);
            });
        }
        while let Some((token, result)) = self.engine.poll_reply() {
            if let Some(tx) = self.replies.remove(&token) {
                self.deliver(move || {
                    let _ = tx.send(result);
                });
            }
        }
    }
}
