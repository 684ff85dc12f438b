//! Baseline for scenario 1: a minimal tokio-tungstenite broadcast server with
//! no storage, speaking just enough of the protocol for the fanout driver.
//!
//! Every authenticated connection is a member of one implicit group `c1`.
//! A `send` gets the next seq, its push is serialized once and the same bytes
//! are queued to every member (the rule server-mock follows too), then the
//! sender gets `sent`. Nothing is checked or stored: it is the upper bound a
//! server on this machine and runtime could reach with this wire format.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use sync_core::protocol::{
    ClientFrame, ConvId, ConvKind, ErrorCode, Message, PROTOCOL_VERSION, ServerFrame, Summary,
    decode_client_frame,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};

/// A running baseline server; dropping it stops it.
#[derive(Debug)]
pub struct BroadcastServer {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl BroadcastServer {
    /// Binds 127.0.0.1:0 and starts accepting.
    pub async fn start() -> Result<BroadcastServer> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("baseline: binding 127.0.0.1:0")?;
        let addr = listener.local_addr().context("baseline: local addr")?;
        let group = Arc::new(Mutex::new(Group::default()));
        let accept = tokio::spawn(async move {
            // Connection tasks live in this set, so aborting the accept task
            // drops the set and stops every connection with it.
            let mut conns = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        if let Ok((stream, _)) = accepted {
                            conns.spawn(serve(stream, Arc::clone(&group)));
                        }
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Ok(BroadcastServer { addr, accept })
    }

    /// `ws://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        format!("ws://{}/v1", self.addr)
    }
}

impl Drop for BroadcastServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The one implicit group: its members' queues and its last seq.
#[derive(Debug, Default)]
struct Group {
    members: Vec<mpsc::UnboundedSender<Utf8Bytes>>,
    last_seq: u64,
}

async fn serve(stream: TcpStream, group: Arc<Mutex<Group>>) {
    let _ = stream.set_nodelay(true);
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    // Unbounded: the baseline never drops or waits; the run ends when the
    // last push is delivered, so queueing cannot inflate its figure.
    let (tx, mut rx) = mpsc::unbounded_channel::<Utf8Bytes>();
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if sink.send(WsMessage::Text(bytes)).await.is_err() {
                break;
            }
        }
    });
    let hello = ServerFrame::Hello {
        protocol: PROTOCOL_VERSION,
        server: "loadgen-baseline/0".into(),
        server_id: "baseline".into(),
        max_frame_bytes: 65_536,
        max_body_bytes: 16_384,
        features: Vec::new(),
        register: None,
    };
    let mut user: Option<String> = None;
    if tx.send(hello.to_json().into()).is_ok() {
        while let Some(Ok(msg)) = source.next().await {
            let WsMessage::Text(text) = msg else {
                continue;
            };
            let reply = handle(text.as_str(), &mut user, &tx, &group);
            if tx.send(reply.to_json().into()).is_err() {
                break;
            }
        }
    }
    writer.abort();
}

/// Answers one request; `send` also broadcasts.
fn handle(
    text: &str,
    user: &mut Option<String>,
    tx: &mpsc::UnboundedSender<Utf8Bytes>,
    group: &Mutex<Group>,
) -> ServerFrame {
    let frame = match decode_client_frame(text) {
        Ok(f) => f,
        Err(e) => return ServerFrame::error(e.id, ErrorCode::BadRequest, e.message),
    };
    let conv = ConvId::from("c1");
    // A std Mutex: it is never held across an await, and a panic elsewhere
    // must not stop the baseline (hence the poison recovery).
    let lock = || group.lock().unwrap_or_else(PoisonError::into_inner);
    match frame {
        ClientFrame::Register {
            id,
            user: name,
            device,
            ..
        }
        | ClientFrame::Login {
            id,
            user: name,
            device,
            ..
        } => {
            *user = Some(name.clone());
            lock().members.push(tx.clone());
            ServerFrame::Session {
                re: id,
                user: name.clone(),
                device,
                token: name,
            }
        }
        ClientFrame::Auth { id, token, device } => {
            *user = Some(token.clone());
            lock().members.push(tx.clone());
            ServerFrame::Session {
                re: id,
                user: token.clone(),
                device,
                token,
            }
        }
        ClientFrame::Ping { id } => ServerFrame::Pong { re: id },
        ClientFrame::Create { id, title, .. } => {
            let g = lock();
            ServerFrame::Conversation {
                re: Some(id),
                conversation: Summary {
                    member_count: u32::try_from(g.members.len()).unwrap_or(u32::MAX),
                    last_seq: g.last_seq,
                    read_seq: g.last_seq,
                    ..Summary::new(conv, ConvKind::Group, title.unwrap_or_default())
                },
            }
        }
        ClientFrame::Send {
            id,
            client_id,
            body,
            ..
        } => {
            let ts = now_ms();
            // The lock is held while queueing so every member sees seqs in order.
            let mut g = lock();
            g.last_seq += 1;
            let seq = g.last_seq;
            let mut message = Message::text(seq, user.clone().unwrap_or_default(), ts, body);
            message.client_id = Some(client_id.clone());
            let push: Utf8Bytes = ServerFrame::Message {
                conv: conv.clone(),
                message,
            }
            .to_json()
            .into();
            for member in &g.members {
                // A member that went away just misses the push.
                let _ = member.send(push.clone());
            }
            drop(g);
            ServerFrame::Sent {
                re: id,
                conv,
                client_id,
                seq,
                ts,
            }
        }
        other => ServerFrame::error(
            Some(other.id()),
            ErrorCode::BadRequest,
            "not supported by the baseline",
        ),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
