//! One protocol connection for the load generator: connect, read `hello`,
//! send typed requests and wait for their replies, register and authenticate.
//!
//! Every frame goes through `sync_core::protocol`, so the load generator speaks
//! exactly the wire contract and can drive any server, not just server-mock.

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use sync_core::protocol::{
    ClientFrame, ConvId, ConvKind, ErrorCode, RequestId, ServerFrame, decode_server_frame,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The WebSocket type every load connection uses.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Password of every user the load generator registers (8+ bytes as required).
pub const PASSWORD: &str = "loadgen-password";

/// An open connection that has received `hello`.
#[derive(Debug)]
pub struct Conn {
    ws: Ws,
    next_id: RequestId,
}

/// How `wss://` targets are verified (set once, by [`trust`]).
static TLS: std::sync::OnceLock<std::sync::Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();

/// Verifies `wss://` targets with `config` from now on.
pub fn trust(config: std::sync::Arc<rustls::ClientConfig>) {
    let _ = TLS.set(config);
}

impl Conn {
    /// Connects to `url` (`ws://HOST:PORT/v1`) and waits for `hello`.
    /// Nagle is disabled: latency is measured per frame.
    pub async fn connect(url: &str) -> Result<Conn> {
        let connector = url
            .starts_with("wss://")
            .then(|| TLS.get().cloned())
            .flatten()
            .map(tokio_tungstenite::Connector::Rustls);
        // A 16 KiB read buffer, as server-mock's: tungstenite zero-fills the
        // buffer's free space on every read, and with its 128 KiB default
        // each of 100 receivers' reads costs a large memset and, as frames
        // keep parts of it alive, fresh pages.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(16 * 1024);
        let (ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(url, Some(config), true, connector)
                .await
                .with_context(|| format!("connecting to {url}"))?;
        let mut conn = Conn { ws, next_id: 1 };
        match conn.recv().await.context("waiting for hello")? {
            ServerFrame::Hello { .. } => Ok(conn),
            other => bail!("expected hello first, got {other:?}"),
        }
    }

    /// A fresh request id for this connection.
    pub fn next_id(&mut self) -> RequestId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<()> {
        self.ws
            .send(WsMessage::Text(frame.to_json().into()))
            .await
            .with_context(|| format!("sending {}", frame.type_name()))
    }

    /// The next known protocol frame (unknown types are skipped).
    pub async fn recv(&mut self) -> Result<ServerFrame> {
        loop {
            if let Some(f) = read_frame(&mut self.ws).await? {
                return Ok(f);
            }
        }
    }

    /// Sends `frame` and returns its reply, skipping events that arrive first.
    /// An `error` reply becomes an `Err` naming the code.
    pub async fn call(&mut self, frame: &ClientFrame) -> Result<ServerFrame> {
        self.send(frame).await?;
        let id = frame.id();
        loop {
            let reply = self.recv().await?;
            if reply.re() != Some(id) {
                continue;
            }
            if let ServerFrame::Error {
                code,
                message,
                retry_after_ms,
                ..
            } = &reply
            {
                return Err(anyhow!(ReplyError {
                    code: *code,
                    message: message.clone(),
                    retry_after_ms: *retry_after_ms,
                }))
                .with_context(|| format!("{} was refused", frame.type_name()));
            }
            return Ok(reply);
        }
    }

    /// Registers `user` on `device`; the connection is then authenticated.
    /// Returns the session token.
    pub async fn register(&mut self, user: &str, device: &str) -> Result<String> {
        let id = self.next_id();
        let frame = ClientFrame::Register {
            id,
            user: user.into(),
            password: PASSWORD.into(),
            device: device.into(),
            invite: None,
        };
        session_token(self.call(&frame).await?)
    }

    /// Authenticates this connection with an existing token.
    pub async fn auth(&mut self, token: &str, device: &str) -> Result<()> {
        let id = self.next_id();
        let frame = ClientFrame::Auth {
            id,
            token: token.into(),
            device: device.into(),
        };
        session_token(self.call(&frame).await?).map(|_| ())
    }

    /// Creates a group with `members` (besides the caller); returns its id.
    pub async fn create_group(&mut self, title: &str, members: &[String]) -> Result<ConvId> {
        let id = self.next_id();
        let frame = ClientFrame::Create {
            id,
            kind: ConvKind::Group,
            title: Some(title.into()),
            members: members.to_vec(),
        };
        match self.call(&frame).await? {
            ServerFrame::Conversation { conversation, .. } => Ok(conversation.conv),
            other => bail!("create: expected a conversation reply, got {other:?}"),
        }
    }

    /// The underlying socket, for drivers that split it into halves.
    pub fn into_ws(self) -> Ws {
        self.ws
    }
}

/// An `error` reply, kept typed so callers can react to `rate_limited`.
#[derive(Debug)]
pub struct ReplyError {
    /// The error code.
    pub code: ErrorCode,
    /// The server's human text.
    pub message: String,
    /// For `rate_limited`: how long to wait before retrying.
    pub retry_after_ms: Option<u64>,
}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "server replied {}: {}", self.code, self.message)
    }
}

impl std::error::Error for ReplyError {}

fn session_token(reply: ServerFrame) -> Result<String> {
    match reply {
        ServerFrame::Session { token, .. } => Ok(token),
        other => bail!("expected a session reply, got {other:?}"),
    }
}

/// Reads the next text frame from any stream half and decodes it; `None` is a
/// text frame of a type this crate does not know (a newer server).
pub async fn read_frame<S>(ws: &mut S) -> Result<Option<ServerFrame>>
where
    S: futures_util::Stream<Item = Result<WsMessage, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    let text = read_text(ws).await?;
    Ok(decode_server_frame(text.as_str()).ok())
}

/// The next text frame, undecoded. Pings are answered by tungstenite on the
/// next write; a close or the end of the stream is an error because every
/// load scenario expects more frames.
pub async fn read_text<S>(ws: &mut S) -> Result<Utf8Bytes>
where
    S: futures_util::Stream<Item = Result<WsMessage, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    loop {
        let msg = ws
            .next()
            .await
            .ok_or_else(|| anyhow!("server closed the stream"))?
            .context("reading a frame")?;
        match msg {
            WsMessage::Text(text) => return Ok(text),
            WsMessage::Close(frame) => bail!("server closed the connection: {frame:?}"),
            WsMessage::Binary(_) => bail!("server sent a binary frame"),
            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => {}
        }
    }
}
