//! One scripted WebSocket connection: a background task owns the socket, the
//! runner sends through a channel and gets parsed frames back in a buffer.
//!
//! The task owns both directions (no split) so that control frames tungstenite
//! queues by itself (pong, the close reply) get flushed while we keep reading,
//! and so that `pause` can stop reading while sends still go out — that is how
//! a slow consumer is simulated (together with a small `SO_RCVBUF`).

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use crate::matcher::matches;
use crate::template::Vars;

/// Failures of connection setup and sending.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The URL is not `ws://HOST:PORT/PATH`.
    #[error("bad server url {0:?} (want ws://HOST:PORT/v1)")]
    BadUrl(String),
    /// DNS or TCP connect failed.
    #[error("tcp connect to {url}: {source}")]
    Tcp {
        /// Server URL.
        url: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The WebSocket upgrade failed.
    #[error("websocket handshake with {url}: {source}")]
    Handshake {
        /// Server URL.
        url: String,
        /// The protocol error.
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    /// Writing a frame failed (usually: the server closed the connection).
    #[error("send failed: {0}")]
    Send(String),
    /// Connecting, or writing a frame, took longer than its limit.
    #[error("{what} within {} s", .limit.as_secs())]
    TimedOut {
        /// What did not happen.
        what: String,
        /// The limit.
        limit: std::time::Duration,
    },
}

/// How long [`Connection::open`] waits for the TCP connection and the
/// WebSocket upgrade together.
pub const OPEN_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long [`Connection::send`] waits for its frames to be written (a
/// server that stops reading fills the socket buffers).
pub const SEND_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// How the connection ended, as seen by the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    /// Close code from the server's close frame; `None` without a close frame.
    pub code: Option<u16>,
    /// Close reason or the transport error.
    pub reason: String,
}

impl std::fmt::Display for CloseInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(c) => write!(f, "closed with code {c} ({:?})", self.reason),
            None => write!(f, "closed without close frame ({})", self.reason),
        }
    }
}

enum Cmd {
    Send(Vec<Message>, oneshot::Sender<Result<(), String>>),
    Pause(bool),
}

enum Event {
    Frame(Value),
    Closed(CloseInfo),
}

/// A connection as the runner sees it.
#[derive(Debug)]
pub struct Connection {
    cmd: mpsc::UnboundedSender<Cmd>,
    events: mpsc::UnboundedReceiver<Event>,
    /// Frames received and not consumed yet, oldest first.
    pub buffer: VecDeque<Value>,
    /// Set once the connection has ended.
    pub closed: Option<CloseInfo>,
    /// Frame types dropped on arrival (shared with the reader task).
    ignore: Arc<Mutex<HashSet<String>>>,
    /// Patterns (with the variables bound when they were given) of frames
    /// dropped on arrival: `ignore A {pattern}`.
    ignore_matching: Vec<(Value, Vars)>,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cmd")
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Event")
    }
}

fn socket_addr_of(url: &str) -> Result<String, ConnError> {
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
        .ok_or_else(|| ConnError::BadUrl(url.to_owned()))?;
    let hostport = rest.split('/').next().unwrap_or_default();
    if hostport.is_empty() || !hostport.contains(':') {
        return Err(ConnError::BadUrl(url.to_owned()));
    }
    Ok(hostport.to_owned())
}

impl Connection {
    /// Connects to `url`; `rcvbuf` sets `SO_RCVBUF` before connecting so a
    /// paused reader backs up into the server quickly.
    /// For `wss://`, `tls` is the client configuration (sync-core's
    /// `tls::client_config`: platform roots plus an optional CA file).
    /// Fails with [`ConnError::TimedOut`] after [`OPEN_LIMIT`].
    pub async fn open(
        url: &str,
        rcvbuf: Option<u32>,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Connection, ConnError> {
        tokio::time::timeout(OPEN_LIMIT, Connection::open_unbounded(url, rcvbuf, tls))
            .await
            .unwrap_or_else(|_| {
                Err(ConnError::TimedOut {
                    what: format!("no connection and WebSocket upgrade to {url}"),
                    limit: OPEN_LIMIT,
                })
            })
    }

    async fn open_unbounded(
        url: &str,
        rcvbuf: Option<u32>,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Connection, ConnError> {
        let tcp_err = |source| ConnError::Tcp {
            url: url.to_owned(),
            source,
        };
        let hostport = socket_addr_of(url)?;
        let addr = tokio::net::lookup_host(&hostport)
            .await
            .map_err(tcp_err)?
            .next()
            .ok_or_else(|| ConnError::BadUrl(url.to_owned()))?;
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(tcp_err)?;
        if let Some(n) = rcvbuf {
            socket.set_recv_buffer_size(n).map_err(tcp_err)?;
        }
        let stream = socket.connect(addr).await.map_err(tcp_err)?;
        stream.set_nodelay(true).map_err(tcp_err)?;
        let connector = tls.map(tokio_tungstenite::Connector::Rustls);
        let (ws, _response) =
            tokio_tungstenite::client_async_tls_with_config(url, stream, None, connector)
                .await
                .map_err(|e| ConnError::Handshake {
                    url: url.to_owned(),
                    source: Box::new(e),
                })?;
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let ignore = Arc::new(Mutex::new(HashSet::new()));
        tokio::spawn(drive(ws, cmd_rx, ev_tx, Arc::clone(&ignore)));
        Ok(Connection {
            cmd: cmd_tx,
            events: ev_rx,
            buffer: VecDeque::new(),
            closed: None,
            ignore,
            ignore_matching: Vec::new(),
        })
    }

    /// Sends messages in order and waits until they are written.
    pub async fn send(&mut self, msgs: Vec<Message>) -> Result<(), ConnError> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::Send(msgs, tx))
            .map_err(|_| ConnError::Send("connection task ended".into()))?;
        match tokio::time::timeout(SEND_LIMIT, rx).await {
            Ok(Ok(r)) => r.map_err(ConnError::Send),
            Ok(Err(_)) => Err(ConnError::Send("connection task ended".into())),
            Err(_) => Err(ConnError::TimedOut {
                what: "frames not written (the server reads nothing)".into(),
                limit: SEND_LIMIT,
            }),
        }
    }

    /// Sends one text frame.
    pub async fn send_text(&mut self, text: String) -> Result<(), ConnError> {
        self.send(vec![Message::text(text)]).await
    }

    /// Sends `text` as `n` fragments (first a text frame, then continuations).
    pub async fn send_fragmented(&mut self, text: &[u8], n: usize) -> Result<(), ConnError> {
        let size = text.len().div_ceil(n.max(1)).max(1);
        let chunks: Vec<&[u8]> = text.chunks(size).collect();
        let last = chunks.len().saturating_sub(1);
        let msgs = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let op = if i == 0 { Data::Text } else { Data::Continue };
                Message::Frame(Frame::message(c.to_vec(), OpCode::Data(op), i == last))
            })
            .collect();
        self.send(msgs).await
    }

    /// Stops (`true`) or restarts (`false`) reading from the socket.
    pub fn pause(&self, paused: bool) {
        // A send error means the task is gone: the connection is closed anyway.
        let _ = self.cmd.send(Cmd::Pause(paused));
    }

    /// Frames of these types are dropped on arrival from now on.
    pub fn ignore(&self, types: &[String]) {
        if let Ok(mut set) = self.ignore.lock() {
            set.extend(types.iter().cloned());
        }
    }

    /// Frames matching `pattern` (with `vars`) are dropped from the buffer
    /// now and on arrival from now on.
    pub fn ignore_matching(&mut self, pattern: Value, vars: Vars) {
        self.buffer
            .retain(|f| matches(&pattern, f, &vars, &mut Vec::new()).is_err());
        self.ignore_matching.push((pattern, vars));
    }

    fn dropped(&self, frame: &Value) -> bool {
        let ty = frame
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.ignores(ty)
            || self
                .ignore_matching
                .iter()
                .any(|(p, vars)| matches(p, frame, vars, &mut Vec::new()).is_ok())
    }

    /// True if frames of `ty` are being dropped.
    pub fn ignores(&self, ty: &str) -> bool {
        self.ignore.lock().map(|s| s.contains(ty)).unwrap_or(false)
    }

    /// Waits for one more event until `deadline`; false on timeout or when
    /// the connection is already closed.
    pub async fn pump(&mut self, deadline: Instant) -> bool {
        if self.closed.is_some() {
            return false;
        }
        match tokio::time::timeout_at(deadline, self.events.recv()).await {
            Ok(Some(ev)) => {
                self.apply(ev);
                true
            }
            Ok(None) => {
                self.closed = Some(CloseInfo {
                    code: None,
                    reason: "connection task ended".into(),
                });
                true
            }
            Err(_) => false,
        }
    }

    /// Moves every already-received event into the buffer without waiting.
    pub fn pump_ready(&mut self) {
        while self.closed.is_none() {
            match self.events.try_recv() {
                Ok(ev) => self.apply(ev),
                Err(_) => break,
            }
        }
    }

    fn apply(&mut self, ev: Event) {
        match ev {
            Event::Frame(v) => {
                // The ignore set may have grown after the reader queued this.
                if !self.dropped(&v) {
                    self.buffer.push_back(v);
                }
            }
            Event::Closed(info) => {
                if self.closed.is_none() {
                    self.closed = Some(info);
                }
            }
        }
    }
}

type Ws = WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// The value of the first `"type":"…"` in a frame, without parsing it: quotes
/// inside JSON strings are escaped, so this pattern is always structural. Lets
/// the reader drop ignored floods (16 KiB bodies) without parsing each one.
fn quick_type(text: &str) -> Option<&str> {
    let start = text.find("\"type\":\"")? + 8;
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

async fn drive(
    mut ws: Ws,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    events: mpsc::UnboundedSender<Event>,
    ignore: Arc<Mutex<HashSet<String>>>,
) {
    let mut paused = false;
    let mut reading = true;
    loop {
        tokio::select! {
            cmd = cmds.recv() => match cmd {
                // The runner dropped the connection: close politely, best effort.
                None => {
                    let normal = CloseFrame { code: CloseCode::Normal, reason: "".into() };
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), ws.close(Some(normal))).await;
                    return;
                }
                Some(Cmd::Pause(p)) => paused = p,
                Some(Cmd::Send(msgs, ack)) => {
                    let mut result = Ok(());
                    for m in msgs {
                        if let Err(e) = ws.feed(m).await {
                            result = Err(e.to_string());
                            break;
                        }
                    }
                    if result.is_ok() {
                        result = ws.flush().await.map_err(|e| e.to_string());
                    }
                    let _ = ack.send(result);
                }
            },
            msg = ws.next(), if reading && !paused => {
                let ev = match msg {
                    None => Some(Event::Closed(CloseInfo { code: None, reason: "stream ended".into() })),
                    Some(Err(e)) => Some(Event::Closed(CloseInfo { code: None, reason: e.to_string() })),
                    Some(Ok(Message::Text(t))) if quick_type(t.as_str())
                        .is_some_and(|ty| ignore.lock().map(|s| s.contains(ty)).unwrap_or(false)) => None,
                    Some(Ok(Message::Text(t))) => {
                        let v = serde_json::from_str::<Value>(t.as_str())
                            .unwrap_or_else(|_| json!({"$non_json_text": t.as_str()}));
                        let ty = v.get("type").and_then(Value::as_str).unwrap_or_default();
                        let dropped = ignore.lock().map(|s| s.contains(ty)).unwrap_or(false);
                        (!dropped).then_some(Event::Frame(v))
                    }
                    Some(Ok(Message::Binary(b))) => Some(Event::Frame(json!({"$binary_len": b.len()}))),
                    Some(Ok(Message::Close(cf))) => Some(Event::Closed(match cf {
                        Some(cf) => CloseInfo { code: Some(cf.code.into()), reason: cf.reason.to_string() },
                        None => CloseInfo { code: None, reason: "close frame without code".into() },
                    })),
                    Some(Ok(_)) => None,
                };
                if let Some(ev) = ev {
                    // After a close frame keep polling so tungstenite finishes
                    // the close handshake; after an error or EOF stop reading.
                    let ended = matches!(&ev, Event::Closed(c) if c.code.is_none());
                    if ended {
                        reading = false;
                    }
                    if events.send(ev).is_err() {
                        return;
                    }
                }
            }
        }
    }
}
