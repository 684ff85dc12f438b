//! A bare protocol connection (no sync engine): the "fresh clean connection" that fetches the
//! server's truth for the chaos and crash tests, and the fast pipelined seeder of the bench.
//!
//! Shared by `bin/sync_bench.rs` and `tests/{chaos,crash}.rs` through `#[path]`, so each user
//! may leave some helpers unused.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use sync_core::protocol::{
    ClientFrame, ConvId, ConvKind, Message, Seq, ServerFrame, Summary, decode_server_frame,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long one reply may take before the connection is declared stuck.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// One authenticated (or not yet) protocol connection driven request by request.
#[derive(Debug)]
pub struct RawConn {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// `server_id` from `hello`.
    pub server_id: String,
}

impl RawConn {
    /// Connects and reads `hello`.
    pub async fn connect(url: &str) -> anyhow::Result<RawConn> {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .with_context(|| format!("connect {url}"))?;
        let mut conn = RawConn {
            ws,
            next_id: 1,
            server_id: String::new(),
        };
        match conn.next_frame().await? {
            ServerFrame::Hello { server_id, .. } => conn.server_id = server_id,
            other => bail!("expected hello, got {other:?}"),
        }
        Ok(conn)
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    async fn send_frame(&mut self, f: &ClientFrame) -> anyhow::Result<()> {
        self.ws
            .send(WsMessage::Text(f.to_json().into()))
            .await
            .context("write frame")
    }

    /// The next server frame (events included); WebSocket control frames are skipped.
    pub async fn next_frame(&mut self) -> anyhow::Result<ServerFrame> {
        loop {
            let msg = tokio::time::timeout(REPLY_TIMEOUT, self.ws.next())
                .await
                .context("no frame within the reply timeout")?
                .context("connection closed")?
                .context("read frame")?;
            match msg {
                WsMessage::Text(t) => {
                    return decode_server_frame(t.as_str()).context("decode server frame");
                }
                WsMessage::Close(c) => bail!("server closed the connection: {c:?}"),
                _ => continue,
            }
        }
    }

    /// Sends one request and waits for its reply, skipping events. Error replies become `Err`.
    pub async fn request(
        &mut self,
        make: impl FnOnce(u64) -> ClientFrame,
    ) -> anyhow::Result<ServerFrame> {
        let id = self.id();
        let f = make(id);
        let ty = f.type_name();
        self.send_frame(&f).await?;
        loop {
            let reply = self.next_frame().await?;
            if reply.re() != Some(id) {
                continue;
            }
            if let ServerFrame::Error { code, message, .. } = &reply {
                bail!("{ty} failed: {} ({message})", code.as_str());
            }
            return Ok(reply);
        }
    }

    /// `register`; returns the token.
    pub async fn register(
        &mut self,
        user: &str,
        password: &str,
        device: &str,
    ) -> anyhow::Result<String> {
        let (user, password, device) = (user.to_owned(), password.to_owned(), device.to_owned());
        match self
            .request(|id| ClientFrame::Register {
                id,
                user,
                password,
                device,
                invite: None,
            })
            .await?
        {
            ServerFrame::Session { token, .. } => Ok(token),
            other => bail!("register: unexpected {other:?}"),
        }
    }

    /// `login`; returns the token.
    pub async fn login(
        &mut self,
        user: &str,
        password: &str,
        device: &str,
    ) -> anyhow::Result<String> {
        let (user, password, device) = (user.to_owned(), password.to_owned(), device.to_owned());
        match self
            .request(|id| ClientFrame::Login {
                id,
                user,
                password,
                device,
            })
            .await?
        {
            ServerFrame::Session { token, .. } => Ok(token),
            other => bail!("login: unexpected {other:?}"),
        }
    }

    /// `auth` with a token issued to `device` (cheap: no password hash on the server).
    pub async fn auth(&mut self, token: &str, device: &str) -> anyhow::Result<()> {
        let (token, device) = (token.to_owned(), device.to_owned());
        match self
            .request(|id| ClientFrame::Auth { id, token, device })
            .await?
        {
            ServerFrame::Session { .. } => Ok(()),
            other => bail!("auth: unexpected {other:?}"),
        }
    }

    /// `create` a group; returns its id.
    pub async fn create_group(&mut self, title: &str, members: &[&str]) -> anyhow::Result<ConvId> {
        let title = Some(title.to_owned());
        let members = members.iter().map(|m| m.to_string()).collect();
        match self
            .request(|id| ClientFrame::Create {
                id,
                kind: ConvKind::Group,
                title,
                members,
            })
            .await?
        {
            ServerFrame::Conversation { conversation, .. } => Ok(conversation.conv),
            other => bail!("create: unexpected {other:?}"),
        }
    }

    /// `create` a direct conversation; returns its id.
    pub async fn create_direct(&mut self, user: &str) -> anyhow::Result<ConvId> {
        let members = vec![user.to_owned()];
        match self
            .request(|id| ClientFrame::Create {
                id,
                kind: ConvKind::Direct,
                title: None,
                members,
            })
            .await?
        {
            ServerFrame::Conversation { conversation, .. } => Ok(conversation.conv),
            other => bail!("create: unexpected {other:?}"),
        }
    }

    /// The full conversation list (every page of a full `sync`).
    pub async fn sync_all(&mut self) -> anyhow::Result<Vec<Summary>> {
        Ok(self.sync_pages(None).await?.0)
    }

    /// Every page of a `sync` from `since` (None: full); returns the summaries and the token
    /// to use next time.
    pub async fn sync_pages(
        &mut self,
        mut since: Option<String>,
    ) -> anyhow::Result<(Vec<Summary>, String)> {
        let mut out = Vec::new();
        loop {
            let s = since.clone();
            match self
                .request(|id| ClientFrame::Sync { id, since: s })
                .await?
            {
                ServerFrame::Sync {
                    since: next,
                    more,
                    conversations,
                    ..
                } => {
                    out.extend(conversations);
                    if !more {
                        return Ok((out, next));
                    }
                    since = Some(next);
                }
                other => bail!("sync: unexpected {other:?}"),
            }
        }
    }

    /// One `history` page.
    pub async fn history(
        &mut self,
        conv: &ConvId,
        before: Option<Seq>,
        limit: i64,
    ) -> anyhow::Result<Vec<Message>> {
        let conv = conv.clone();
        match self
            .request(|id| ClientFrame::History {
                id,
                conv,
                before,
                limit: Some(limit),
            })
            .await?
        {
            ServerFrame::Messages { messages, .. } => Ok(messages),
            other => bail!("history: unexpected {other:?}"),
        }
    }

    /// One `pull` page.
    pub async fn pull(
        &mut self,
        conv: &ConvId,
        after: Seq,
        limit: i64,
    ) -> anyhow::Result<Vec<Message>> {
        let conv = conv.clone();
        match self
            .request(|id| ClientFrame::Pull {
                id,
                conv,
                after,
                limit: Some(limit),
            })
            .await?
        {
            ServerFrame::Messages { messages, .. } => Ok(messages),
            other => bail!("pull: unexpected {other:?}"),
        }
    }

    /// The whole timeline of `conv`, pulled page by page until `last_seq`.
    pub async fn pull_all(&mut self, conv: &ConvId) -> anyhow::Result<Vec<Message>> {
        let mut out: Vec<Message> = Vec::new();
        loop {
            let after: Seq = out.last().map_or(0, |m| m.seq);
            let c = conv.clone();
            match self
                .request(|id| ClientFrame::Pull {
                    id,
                    conv: c,
                    after,
                    limit: Some(500),
                })
                .await?
            {
                ServerFrame::Messages {
                    messages, last_seq, ..
                } => {
                    let got = messages.len();
                    out.extend(messages);
                    if out.last().map_or(0, |m| m.seq) >= last_seq {
                        return Ok(out);
                    }
                    if got == 0 {
                        bail!(
                            "pull of {} stopped at {after} below last_seq {last_seq}",
                            conv.0
                        );
                    }
                }
                other => bail!("pull: unexpected {other:?}"),
            }
        }
    }

    /// Sends every body to `conv` with up to `window` requests in flight; returns the count
    /// acknowledged. Client ids are `{prefix}{index}`. Events in between are skipped.
    pub async fn send_many(
        &mut self,
        conv: &ConvId,
        prefix: &str,
        bodies: impl IntoIterator<Item = String>,
        window: usize,
    ) -> anyhow::Result<u64> {
        let mut bodies = bodies.into_iter().enumerate();
        let mut in_flight: VecDeque<u64> = VecDeque::new();
        let mut acked = 0u64;
        let mut done = false;
        loop {
            while !done && in_flight.len() < window.max(1) {
                let Some((i, body)) = bodies.next() else {
                    done = true;
                    break;
                };
                let id = self.id();
                let f = ClientFrame::Send {
                    id,
                    conv: conv.clone(),
                    client_id: format!("{prefix}{i}"),
                    body,
                    reply_to: None,
                };
                self.send_frame(&f).await?;
                in_flight.push_back(id);
            }
            if in_flight.is_empty() {
                return Ok(acked);
            }
            let f = self.next_frame().await?;
            let Some(re) = f.re() else { continue };
            if let ServerFrame::Error { code, message, .. } = &f {
                bail!("send failed: {} ({message})", code.as_str());
            }
            if let Some(pos) = in_flight.iter().position(|&x| x == re) {
                in_flight.remove(pos);
                acked += 1;
            }
        }
    }

    /// Closes the connection politely.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
