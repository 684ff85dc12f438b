//! One connection's life: `hello`, then a loop over incoming frames, pings
//! and shutdown, dispatching each request to its `cmd` module. Holds the
//! per-connection state: authentication, unauthorized strikes, the send rate
//! bucket.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sync_core::protocol::{ClientFrame, ErrorCode, RequestId, ServerFrame};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::cmd::{self, Ctx};
use crate::connection::{self, Connection, Incoming, Outbox, close};
use crate::error::Reject;
use crate::rate::TokenBucket;
use crate::registry::Peer;
use crate::state::Shared;

/// Longest time a client may take to complete the WebSocket upgrade.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The fifth `unauthorized` reply on a connection closes it with 1008.
const MAX_STRIKES: u32 = 5;

/// The authenticated identity of a connection.
#[derive(Debug, Clone)]
pub struct Authed {
    pub user: String,
    pub device: String,
    pub token_hash: [u8; 32],
}

/// What the loop does after a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Close(u16),
}

struct Handler {
    shared: Arc<Shared>,
    conn_id: u64,
    outbox: Outbox,
    auth: Option<Authed>,
    strikes: u32,
    /// The user's send bucket, shared by all of their connections (set
    /// once authenticated).
    bucket: Option<Arc<std::sync::Mutex<TokenBucket>>>,
    /// The client's address (log-in throttling).
    peer: std::net::IpAddr,
}

/// Serves one accepted TCP connection until it closes or the server shuts down.
pub async fn serve(mut tcp: TcpStream, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let opened = Instant::now();
    let tcp_peer = tcp
        .peer_addr()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    let via_proxy = crate::proxy::trusted(&shared.trusted_proxies, tcp_peer);
    // A peer that never completes the upgrade must not hold a connection
    // slot (or shutdown) forever.
    let accept = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let io_err = tokio_tungstenite::tungstenite::Error::Io;
        // Only a trusted proxy may say who the client is.
        let mut client = tcp_peer;
        if via_proxy
            && let Some(ip) = crate::proxy::read_proxy_header(&mut tcp)
                .await
                .map_err(io_err)?
        {
            client = ip;
        }
        let io = Connection::upgrade(tcp, shared.tls.as_ref().map(|t| t.acceptor()))
            .await
            .map_err(io_err)?;
        let mut forwarded = None;
        let conn = Connection::accept_noting(
            io,
            shared.outbound_queue,
            &shared.allowed_origins,
            &mut forwarded,
        )
        .await?;
        if via_proxy
            && let Some(ip) = forwarded
                .as_deref()
                .and_then(|h| crate::proxy::forwarded_for(h, &shared.trusted_proxies))
        {
            client = ip;
        }
        Ok::<_, tokio_tungstenite::tungstenite::Error>((conn, client))
    });
    let (mut conn, peer) = tokio::select! {
        r = accept => match r {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!("handshake timed out");
                return;
            }
        },
        _ = connection::signalled(&mut shutdown, |s| *s) => return,
    };
    // The per-address cap counts the client (behind a trusted proxy, the
    // address it names); over it, the upgrade is done and then 1013.
    let Some(_slot) = shared.admit(peer) else {
        tracing::warn!(%peer, "per-address connection cap reached");
        conn.finish(close::TRY_LATER).await;
        return;
    };
    let mut h = Handler {
        conn_id: shared.next_conn_id(),
        outbox: conn.outbox().clone(),
        auth: None,
        strikes: 0,
        bucket: None,
        peer,
        shared,
    };
    h.outbox.push(h.shared.hello.clone());
    let mut close_rx = conn.close_watch();
    let mut last_heard = Instant::now();
    let (ping_every, idle_limit) = (h.shared.ping_every, h.shared.idle_limit);
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let code = loop {
        tokio::select! {
            incoming = conn.next() => {
                last_heard = Instant::now();
                match h.on_incoming(incoming).await {
                    Flow::Continue => {}
                    Flow::Close(code) => break code,
                }
            }
            _ = connection::signalled(&mut close_rx, Option::is_some) => break close::NORMAL,
            _ = connection::signalled(&mut shutdown, |s| *s) => break close::GOING_AWAY,
            _ = ticker.tick() => {
                if last_heard.elapsed() >= idle_limit {
                    break close::NORMAL;
                }
                connection::ping(&h.outbox);
            }
            // Answering pings does not keep an unauthenticated socket open.
            _ = tokio::time::sleep_until((opened + h.shared.auth_timeout).into()), if h.auth.is_none() => {
                break close::POLICY;
            }
        }
    };
    if let Some(a) = &h.auth {
        h.shared.registry.remove(&a.user, h.conn_id);
        if let Some(cluster) = &h.shared.cluster {
            cluster.detach(&a.user).await;
        }
    }
    conn.finish(code).await;
}

impl Handler {
    async fn on_incoming(&mut self, incoming: Incoming) -> Flow {
        match incoming {
            Incoming::Frame(f) => self.on_frame(f).await,
            Incoming::Invalid(e) => {
                self.reply(&Reject::bad(e.message).to_frame(e.id));
                Flow::Continue
            }
            Incoming::Binary => {
                self.reply(&Reject::bad("binary frames are not supported").to_frame(None));
                Flow::Continue
            }
            Incoming::Alive => Flow::Continue,
            Incoming::TooBig => Flow::Close(close::TOO_BIG),
            Incoming::Closed => Flow::Close(close::NORMAL),
        }
    }

    fn reply(&self, f: &ServerFrame) {
        self.outbox.push_frame(f);
    }

    async fn on_frame(&mut self, frame: ClientFrame) -> Flow {
        let re = frame.id();
        // A request of an extension this server runs without is answered
        // exactly as an unknown `type` (PROTOCOL.md §9: a version 1 server).
        if !self.shared.features.knows(&frame) {
            let r = Reject::bad(format!("unknown type {:?}", frame.type_name()));
            self.reply(&r.to_frame(Some(re)));
            return Flow::Continue;
        }
        // Requests are answered in order per connection: a ping, sync or pull
        // sent after a send is answered after the send's `sent` (so it also
        // sees that send). Writes are answered by the writer after commit, so
        // other requests first wait for this connection's earlier writes.
        if !frame.is_write() && self.outbox.has_unreplied() {
            self.shared.store.barrier().await;
        }
        match frame {
            ClientFrame::Ping { id } => {
                self.reply(&ServerFrame::Pong { re: id });
                Flow::Continue
            }
            ClientFrame::Register { .. } | ClientFrame::Login { .. } | ClientFrame::Auth { .. } => {
                if self.auth.is_some() {
                    self.reply(
                        &Reject::bad("this connection is already authenticated").to_frame(Some(re)),
                    );
                    return Flow::Continue;
                }
                let mut res = cmd::session::authenticate(&self.shared, frame, self.peer).await;
                // On a cluster, subscribe to what this user needs before the
                // `session` reply (the client syncs after it).
                if let (Some(cluster), Ok((auth, _))) = (&self.shared.cluster, &res)
                    && let Err(e) = cluster.attach(&auth.user).await
                {
                    res = Err(e);
                }
                self.after_auth(re, res)
            }
            _ => {
                let Some(auth) = self.auth.clone() else {
                    let r = Reject::new(ErrorCode::Unauthenticated, "authenticate first");
                    self.reply(&r.to_frame(Some(re)));
                    return Flow::Continue;
                };
                match frame {
                    ClientFrame::Logout { id, all } => {
                        // Without §9.6, `all` is an unknown field: ignored.
                        let all = all && self.shared.features.account;
                        return self.logout(id, all, &auth).await;
                    }
                    ClientFrame::Password { id, old, new } => {
                        return self.password(id, old, new, &auth).await;
                    }
                    _ => {}
                }
                if frame.is_append() {
                    let bucket = self
                        .bucket
                        .get_or_insert_with(|| self.shared.send_bucket(&auth.user))
                        .clone();
                    let took = bucket
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .take(Instant::now());
                    if let Err(ms) = took {
                        let mut r = Reject::new(ErrorCode::RateLimited, "sending too fast");
                        r.retry_after_ms = Some(ms);
                        self.reply(&r.to_frame(Some(re)));
                        return Flow::Continue;
                    }
                    if let Some(cluster) = &self.shared.cluster {
                        cluster.spent(&auth.user);
                    }
                }
                let ctx = Ctx {
                    shared: &self.shared,
                    user: &auth.user,
                    conn_id: self.conn_id,
                    outbox: &self.outbox,
                    re,
                };
                match cmd::dispatch(&ctx, frame).await {
                    Ok(Some(f)) => self.reply(&f),
                    Ok(None) => {}
                    Err(r) => self.reply(&r.to_frame(Some(re))),
                }
                Flow::Continue
            }
        }
    }

    fn after_auth(&mut self, re: RequestId, res: Result<(Authed, String), Reject>) -> Flow {
        match res {
            Ok((auth, token)) => {
                // Push delivery starts now, before any sync on this connection.
                let peer = Arc::new(Peer {
                    conn_id: self.conn_id,
                    token_hash: auth.token_hash,
                    outbox: self.outbox.clone(),
                });
                self.shared.registry.add(&auth.user, peer);
                self.reply(&ServerFrame::Session {
                    re,
                    user: auth.user.clone(),
                    device: auth.device.clone(),
                    token,
                });
                self.auth = Some(auth);
                Flow::Continue
            }
            Err(r) => {
                self.reply(&r.to_frame(Some(re)));
                if r.code == ErrorCode::Unauthorized {
                    self.strikes += 1;
                    if self.strikes >= MAX_STRIKES {
                        return Flow::Close(close::POLICY);
                    }
                }
                Flow::Continue
            }
        }
    }

    async fn logout(&mut self, re: RequestId, all: bool, auth: &Authed) -> Flow {
        let done = if all {
            cmd::session::logout_all(&self.shared, auth, self.conn_id).await
        } else {
            cmd::session::logout(&self.shared, auth, self.conn_id).await
        };
        match done {
            Ok(()) => {
                self.reply(&ServerFrame::Ok { re });
                // Every connection on a revoked token closes with 4001; this
                // one after its `ok`.
                let keep = if all { None } else { Some(&auth.token_hash) };
                self.shared.registry.close_tokens(
                    &auth.user,
                    |hash| keep.is_none_or(|k| k == hash),
                    self.conn_id,
                    close::REVOKED,
                );
                if let Some(cluster) = &self.shared.cluster {
                    cluster.revoked(&auth.user);
                }
                Flow::Close(close::REVOKED)
            }
            Err(r) => {
                self.reply(&r.to_frame(Some(re)));
                Flow::Continue
            }
        }
    }

    /// §9.6 `password`: the other tokens' connections close with 4001; this
    /// token's stay.
    async fn password(&mut self, re: RequestId, old: String, new: String, auth: &Authed) -> Flow {
        match cmd::session::change_password(&self.shared, auth, old, new, self.conn_id).await {
            Ok(()) => {
                self.reply(&ServerFrame::Ok { re });
                self.shared.registry.close_tokens(
                    &auth.user,
                    |hash| hash != &auth.token_hash,
                    self.conn_id,
                    close::REVOKED,
                );
                if let Some(cluster) = &self.shared.cluster {
                    cluster.revoked(&auth.user);
                }
            }
            Err(r) => self.reply(&r.to_frame(Some(re))),
        }
        Flow::Continue
    }
}
