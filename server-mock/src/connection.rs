//! One WebSocket connection as decoded frames: the handshake (path `/v1`,
//! frame caps), a reader that turns messages into [`Incoming`] so nothing else
//! sees bytes, and a writer task that drains the bounded [`Outbox`].
//!
//! Closing is out of band: anyone holding the [`Outbox`] (the delivery task
//! when a push does not fit, `logout` on another connection, shutdown) sets a
//! close code; the writer task stops, sends the close frame bounded by a
//! timeout, and the connection is dropped. Nobody else ever waits on a peer
//! that does not read.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use sync_core::protocol::{
    ClientFrame, DecodeError, MAX_FRAME_BYTES, ServerFrame, decode_client_frame,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{
    Bytes, Error as WsError, Message, Utf8Bytes, error::CapacityError, error::ProtocolError,
};

/// How long a close frame may take to reach a peer before we drop it.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long we read (and discard) after closing, so unread input does not
/// turn our FIN into a reset that would destroy the close frame.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// Close codes the server uses.
pub mod close {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const TRY_LATER: u16 = 1013;
    pub const REVOKED: u16 = 4001;
}

fn reason(code: u16) -> &'static str {
    match code {
        close::GOING_AWAY => "server shutting down",
        close::POLICY => "too many failed authentications",
        close::TOO_BIG => "frame too large",
        close::TRY_LATER => "too slow or overloaded, try again later",
        close::REVOKED => "session revoked",
        _ => "bye",
    }
}

/// Sending half of a connection: a bounded queue of frames plus the
/// out-of-band close signal. Cheap to clone; safe to use from any thread.
///
/// The queue is over its bound once it holds more than [`QueueLimit`]'s
/// frames *and* more than its bytes: one commit may fan out thousands of
/// small frames to a connection at once (an invite of 2,000 users is 2,000
/// `join` pushes to every online member), which says nothing about the
/// reader being slow, while a reader that stops reading passes both.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Message>,
    /// Frames and bytes queued and not yet taken by the writer task.
    queued: Arc<Queued>,
    limit: QueueLimit,
    close: Arc<watch::Sender<Option<u16>>>,
    /// Writes submitted on this connection whose reply is not queued yet.
    unreplied: Arc<AtomicUsize>,
}

impl Outbox {
    /// A write job for this connection was queued for the writer.
    pub fn begin_write(&self) {
        self.unreplied.fetch_add(1, Ordering::SeqCst);
    }

    /// The reply of a write job was queued (or will never be).
    pub fn end_write(&self) {
        let _ = self
            .unreplied
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }

    /// True while some write of this connection has not been answered.
    pub fn has_unreplied(&self) -> bool {
        self.unreplied.load(Ordering::SeqCst) > 0
    }

    /// Queues a text frame without waiting. When the queue is full the peer
    /// is not keeping up: the connection is closed with 1013 rather than
    /// skipping a frame. Returns false when the frame was not queued.
    pub fn push(&self, text: Utf8Bytes) -> bool {
        self.push_message(Message::Text(text))
    }

    /// Queues a server frame (serialized here).
    pub fn push_frame(&self, f: &ServerFrame) -> bool {
        self.push(f.to_json().into())
    }

    fn push_message(&self, m: Message) -> bool {
        let len = m.len();
        let frames = self.queued.frames.fetch_add(1, Ordering::SeqCst) + 1;
        let bytes = self.queued.bytes.fetch_add(len, Ordering::SeqCst) + len;
        if frames > self.limit.frames && bytes > self.limit.bytes {
            self.queued.taken(len);
            self.close(close::TRY_LATER);
            return false;
        }
        if self.tx.send(m).is_err() {
            self.queued.taken(len);
            return false;
        }
        true
    }

    /// Asks the connection to close with `code` (the first code set wins).
    pub fn close(&self, code: u16) {
        self.close.send_if_modified(|c| {
            if c.is_none() {
                *c = Some(code);
                true
            } else {
                false
            }
        });
    }

    /// The close code once one was set.
    pub fn close_code(&self) -> Option<u16> {
        *self.close.borrow()
    }
}

/// What the reader produced.
#[derive(Debug)]
pub enum Incoming {
    /// A well-formed request.
    Frame(ClientFrame),
    /// A text frame that is not a valid request (answer `bad_request`).
    Invalid(DecodeError),
    /// A binary frame (answer `bad_request` with `re: null`).
    Binary,
    /// A control frame; only proves the peer is alive.
    Alive,
    /// A frame over the cap: close with 1009.
    TooBig,
    /// The peer closed or the socket failed.
    Closed,
}

/// A byte stream a connection runs on: plain TCP, or TLS over TCP.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Io for T {}

/// The stream under the WebSocket.
pub type Stream = Box<dyn Io>;

type Ws = WebSocketStream<Stream>;

/// An accepted WebSocket connection.
pub struct Connection {
    stream: SplitStream<Ws>,
    writer: JoinHandle<SplitSink<Ws, Message>>,
    outbox: Outbox,
    close_rx: watch::Receiver<Option<u16>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("outbox", &self.outbox)
            .finish_non_exhaustive()
    }
}

/// Frames the writer task takes off the queue per flush: a burst of pushes
/// becomes one socket write, and the cap keeps one busy connection from
/// holding a runtime worker for long.
const WRITE_BATCH: usize = 64;
/// Buffered bytes past which tungstenite writes out before the batch's flush,
/// so a batch never buffers more than this plus one frame.
const WRITE_BUFFER: usize = 64 * 1024;
/// Hard cap on tungstenite's write buffer, so a stuck peer cannot make us
/// buffer without end.
const MAX_WRITE_BUFFER: usize = 4 * 1024 * 1024;

/// Frame caps: 64 KiB per message, also when assembled from fragments, and a
/// bounded write buffer. Frames are buffered (not written one syscall each)
/// and the writer task flushes once per batch.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .read_buffer_size(16 * 1024)
}

impl Connection {
    /// The stream for an accepted socket: TLS first when `tls` is set (the
    /// handshake's errors are I/O errors, like a peer that goes away).
    pub async fn upgrade(
        tcp: TcpStream,
        tls: Option<&tokio_rustls::TlsAcceptor>,
    ) -> std::io::Result<Stream> {
        let _ = tcp.set_nodelay(true);
        Ok(match tls {
            Some(acceptor) => Box::new(acceptor.accept(tcp).await?),
            None => Box::new(tcp),
        })
    }

    /// Runs the WebSocket handshake (only path `/v1` is accepted) and starts
    /// the writer task with a queue bounded by `queue`.
    pub async fn accept(
        io: Stream,
        queue: QueueLimit,
        allowed_origins: &[String],
    ) -> Result<Connection, WsError> {
        Self::accept_noting(io, queue, allowed_origins, &mut None).await
    }

    /// [`Connection::accept`], also noting the `X-Forwarded-For` header.
    pub async fn accept_noting(
        io: Stream,
        queue: QueueLimit,
        allowed_origins: &[String],
        forwarded: &mut Option<String>,
    ) -> Result<Connection, WsError> {
        use tokio_tungstenite::tungstenite::http::StatusCode;
        // The error type is fixed by tungstenite's `Callback` trait.
        #[allow(clippy::result_large_err)]
        let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
            let refuse = |status: StatusCode, why: String| {
                let mut e = ErrorResponse::new(Some(why));
                *e.status_mut() = status;
                e
            };
            *forwarded = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if req.uri().path() != "/v1" {
                return Err(refuse(StatusCode::NOT_FOUND, "not found: use /v1".into()));
            }
            // Cross-site WebSocket hijacking: a browser lets any web page open
            // a WebSocket to any host (also 127.0.0.1, a `--local` server) and
            // says which page in `Origin`. Non-browser clients send no Origin.
            if let Some(origin) = req.headers().get("origin") {
                let origin = origin.to_str().unwrap_or("?");
                if !allowed_origins.iter().any(|a| a == origin) {
                    return Err(refuse(
                        StatusCode::FORBIDDEN,
                        format!("origin {origin} is not allowed (--allow-origin)"),
                    ));
                }
            }
            Ok(resp)
        };
        let check_path = check;
        let ws = tokio_tungstenite::accept_hdr_async_with_config(io, check_path, Some(ws_config()))
            .await?;
        let (sink, stream) = ws.split();
        let (tx, rx) = mpsc::unbounded_channel();
        let (close_tx, close_rx) = watch::channel(None);
        let queued = Arc::new(Queued::default());
        let outbox = Outbox {
            tx,
            queued: queued.clone(),
            limit: queue,
            close: Arc::new(close_tx),
            unreplied: Arc::new(AtomicUsize::new(0)),
        };
        let rx = Queue { rx, queued };
        let writer = tokio::spawn(write_loop(sink, rx, close_rx.clone()));
        Ok(Connection {
            stream,
            writer,
            outbox,
            close_rx,
        })
    }

    /// The sending half.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Next incoming item. Cancel safe.
    pub async fn next(&mut self) -> Incoming {
        match self.stream.next().await {
            Some(Ok(Message::Text(t))) => match decode_client_frame(t.as_str()) {
                Ok(f) => Incoming::Frame(f),
                Err(e) => Incoming::Invalid(e),
            },
            Some(Ok(Message::Binary(_))) => Incoming::Binary,
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => Incoming::Alive,
            Some(Ok(Message::Close(_))) | None => Incoming::Closed,
            Some(Err(WsError::Capacity(
                CapacityError::MessageTooLong { .. } | CapacityError::TooManyHeaders,
            ))) => Incoming::TooBig,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "read failed");
                Incoming::Closed
            }
        }
    }

    /// A receiver of the close signal (`Some(code)` once anyone asked).
    pub fn close_watch(&self) -> watch::Receiver<Option<u16>> {
        self.close_rx.clone()
    }

    /// Closes with `code` unless another code was already set, waits for the
    /// writer to send the close frame (bounded), then drains and drops.
    pub async fn finish(self, code: u16) {
        self.outbox.close(code);
        let sink =
            match tokio::time::timeout(CLOSE_TIMEOUT + Duration::from_secs(1), self.writer).await {
                Ok(Ok(sink)) => sink,
                _ => return,
            };
        let Ok(ws) = self.stream.reunite(sink) else {
            return;
        };
        let mut tcp = ws.into_inner();
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
            let _ = tcp.shutdown().await;
            let mut buf = [0u8; 4096];
            while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
        })
        .await;
    }
}

/// An outbound queue's bound: over it once past both numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimit {
    /// Frames.
    pub frames: usize,
    /// Bytes of frames.
    pub bytes: usize,
}

/// What an outbound queue holds.
#[derive(Debug, Default)]
struct Queued {
    frames: AtomicUsize,
    bytes: AtomicUsize,
}

impl Queued {
    /// A frame of `len` bytes left the queue (or never entered it).
    fn taken(&self, len: usize) {
        self.frames.fetch_sub(1, Ordering::SeqCst);
        self.bytes.fetch_sub(len, Ordering::SeqCst);
    }
}

/// The writer task's end of an [`Outbox`]: what it takes off no longer
/// counts toward the bound.
struct Queue {
    rx: mpsc::UnboundedReceiver<Message>,
    queued: Arc<Queued>,
}

impl Queue {
    fn taken(&self, m: Message) -> Message {
        self.queued.taken(m.len());
        m
    }

    async fn recv(&mut self) -> Option<Message> {
        let m = self.rx.recv().await?;
        Some(self.taken(m))
    }

    fn try_recv(&mut self) -> Option<Message> {
        let m = self.rx.try_recv().ok()?;
        Some(self.taken(m))
    }
}

async fn write_loop(
    mut sink: SplitSink<Ws, Message>,
    mut rx: Queue,
    mut close_rx: watch::Receiver<Option<u16>>,
) -> SplitSink<Ws, Message> {
    loop {
        tokio::select! {
            biased;
            _ = signalled(&mut close_rx, Option::is_some) => break,
            m = rx.recv() => {
                let Some(m) = m else { break };
                tokio::select! {
                    r = write_batch(&mut sink, &mut rx, m) => if r.is_err() { return sink },
                    // A peer that stopped reading must not hold the close up.
                    _ = signalled(&mut close_rx, Option::is_some) => break,
                }
            }
        }
    }
    let code = (*close_rx.borrow()).unwrap_or(close::NORMAL);
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        // Graceful closes deliver what is already queued (e.g. the `ok` of a
        // logout); a slow consumer's backlog is dropped.
        if code != close::TRY_LATER {
            while let Some(m) = rx.try_recv() {
                if sink.feed(m).await.is_err() {
                    return;
                }
            }
        }
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason(code).into(),
        };
        if let Err(WsError::Protocol(ProtocolError::SendAfterClosing)) =
            sink.send(Message::Close(Some(frame))).await
        {
            // The client closed first: tungstenite queued the answer RFC
            // 6455 §5.5.1 requires (the client's code echoed); a flush
            // writes it (sending our own Close is refused).
            let _ = sink.flush().await;
        }
    })
    .await;
    sink
}

/// Writes `first` and whatever else is already queued (up to
/// [`WRITE_BATCH`] frames) with one flush: a fan-out burst costs one socket
/// write per connection instead of one per frame.
async fn write_batch(
    sink: &mut SplitSink<Ws, Message>,
    rx: &mut Queue,
    first: Message,
) -> Result<(), WsError> {
    sink.feed(first).await?;
    for _ in 1..WRITE_BATCH {
        let Some(m) = rx.try_recv() else { break };
        sink.feed(m).await?;
    }
    sink.flush().await
}

/// Resolves once `rx` holds a value matching `f` (or its sender is gone).
/// Drops the watch guard before returning, so callers can hold the future
/// across `.await`s inside `select!`.
pub async fn signalled<T>(rx: &mut watch::Receiver<T>, f: impl FnMut(&T) -> bool) {
    let _ = rx.wait_for(f).await.map(|_| ());
}

/// Queues a WebSocket ping (keep-alive).
pub fn ping(outbox: &Outbox) -> bool {
    outbox.push_message(Message::Ping(Bytes::new()))
}
