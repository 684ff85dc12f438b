//! Scenario 5: fan-out while 200 connections hammer wrong log-ins for one
//! account, from 200 loopback addresses (127.0.1.x). Counts the guesses the
//! server actually checked (`unauthorized`) and the ones it refused without
//! hashing (`rate_limited`), per second.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use sync_core::protocol::{ClientFrame, ServerFrame};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Guesses answered, by kind.
#[derive(Debug, Default)]
pub struct AttackCounts {
    /// Checked and refused: real guesses.
    pub unauthorized: AtomicU64,
    /// Refused without hashing.
    pub rate_limited: AtomicU64,
}

/// A running attack; stops when dropped or `stop`ped.
#[derive(Debug)]
pub struct Attack {
    stop: Arc<AtomicBool>,
    /// What the attackers got back.
    pub counts: Arc<AttackCounts>,
    started: Instant,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Attack {
    /// Starts `connections` attackers guessing `user`'s password on `url`
    /// (`ws://127.0.0.1:PORT/v1`), each from its own 127.0.1.x address.
    pub fn start(url: &str, user: &str, connections: usize) -> Result<Attack> {
        let addr: SocketAddr = url
            .trim_start_matches("ws://")
            .trim_end_matches("/v1")
            .parse()
            .context("attack target address")?;
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(AttackCounts::default());
        let mut tasks = Vec::new();
        for k in 0..connections {
            let from = std::net::Ipv4Addr::new(127, 0, 1 + (k / 250) as u8, 1 + (k % 250) as u8);
            let (stop, counts, url, user) = (
                stop.clone(),
                counts.clone(),
                url.to_owned(),
                user.to_owned(),
            );
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if guess_loop(&url, addr, from, &user, &stop, &counts)
                        .await
                        .is_err()
                    {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }));
        }
        Ok(Attack {
            stop,
            counts,
            started: Instant::now(),
            tasks,
        })
    }

    /// Stops the attackers; returns (checked guesses/s, refused guesses/s).
    pub async fn stop(self) -> (f64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        for t in self.tasks {
            t.abort();
        }
        (
            self.counts.unauthorized.load(Ordering::Relaxed) as f64 / secs,
            self.counts.rate_limited.load(Ordering::Relaxed) as f64 / secs,
        )
    }
}

/// One connection guessing until it is closed or stopped.
async fn guess_loop(
    url: &str,
    addr: SocketAddr,
    from: std::net::Ipv4Addr,
    user: &str,
    stop: &AtomicBool,
    counts: &AttackCounts,
) -> Result<()> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    let tcp = socket.connect(addr).await?;
    let (mut ws, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(tcp)).await?;
    let mut id = 0;
    while !stop.load(Ordering::Relaxed) {
        id += 1;
        let frame = ClientFrame::Login {
            id,
            user: user.to_owned(),
            password: format!("guess-{id:08}"),
            device: "attacker".into(),
        };
        ws.send(WsMessage::Text(frame.to_json().into())).await?;
        loop {
            let Some(msg) = ws.next().await else {
                return Ok(());
            };
            let WsMessage::Text(t) = msg? else { continue };
            match sync_core::protocol::decode_server_frame(&t) {
                Ok(ServerFrame::Error {
                    re: Some(r), code, ..
                }) if r == id => {
                    match code.as_str() {
                        "unauthorized" => counts.unauthorized.fetch_add(1, Ordering::Relaxed),
                        _ => counts.rate_limited.fetch_add(1, Ordering::Relaxed),
                    };
                    break;
                }
                _ => {}
            }
        }
    }
    Ok(())
}
