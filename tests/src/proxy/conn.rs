//! One proxied connection: two pumps (client→server, server→client) that forward whole
//! frames and apply the connection's fault plan.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;

use super::frame::{complete_frame_len, http_head_len, parse_header};
use super::record::Recorder;
use super::{ConnPlan, Counters, Direction, Faults, Tap};

/// Why a pump stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The reading side closed cleanly; the write side was shut down to pass that on.
    Eof,
    /// The fault plan cut the connection.
    Cut,
    /// A socket error.
    Failed,
}

/// Forwards `client` <-> `server` until both sides close, the plan cuts it, or `kill` fires.
pub(super) async fn run(
    client: TcpStream,
    server: TcpStream,
    plan: ConnPlan,
    counters: Arc<Counters>,
    mut kill: watch::Receiver<u64>,
) {
    if plan.cut_at == Some(0) {
        counters.cuts.fetch_add(1, Ordering::Relaxed);
        return;
    }
    kill.borrow_and_update();
    let (client_r, client_w) = client.into_split();
    let (server_r, server_w) = server.into_split();
    // Frames seen in both directions: the cut point counts them together.
    let seen = AtomicU64::new(0);
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let mut pump = |dir| Pump {
        dir,
        faults: &plan.faults,
        cut_at: plan.cut_at,
        tap: plan.tap.as_ref(),
        recorder: plan
            .log
            .as_ref()
            .map(|(log, n)| Recorder::new(log.clone(), *n, dir)),
        seen: &seen,
        counters: &counters,
        rng: StdRng::seed_from_u64(rng.random()),
    };
    let up = pump(Direction::Up).forward(client_r, server_w);
    let down = pump(Direction::Down).forward(server_r, client_w);
    tokio::pin!(up, down);
    let (mut up_done, mut down_done) = (false, false);
    while !(up_done && down_done) {
        tokio::select! {
            end = &mut up, if !up_done => {
                if end != End::Eof { break; }
                up_done = true;
            }
            end = &mut down, if !down_done => {
                if end != End::Eof { break; }
                down_done = true;
            }
            // `cut_all`, or the proxy is gone: either way this connection dies now.
            _ = kill.changed() => {
                counters.cuts.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
    }
    // Returning drops all four halves, which closes both TCP connections.
}

struct Pump<'a> {
    dir: Direction,
    faults: &'a Faults,
    cut_at: Option<u64>,
    tap: Option<&'a Tap>,
    recorder: Option<Recorder>,
    seen: &'a AtomicU64,
    counters: &'a Counters,
    rng: StdRng,
}

impl Pump<'_> {
    async fn forward(mut self, mut r: OwnedReadHalf, mut w: OwnedWriteHalf) -> End {
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        let mut chunk = vec![0u8; 64 * 1024];
        // Both directions start with the HTTP upgrade head, then frames.
        let mut in_head = true;
        loop {
            let mut start = 0;
            loop {
                let rest = &buf[start..];
                if in_head {
                    let Some(n) = http_head_len(rest) else { break };
                    // Counted before writing so a reader never sees bytes the counters miss.
                    self.count_bytes(n);
                    if w.write_all(&rest[..n]).await.is_err() {
                        return End::Failed;
                    }
                    in_head = false;
                    start += n;
                } else {
                    let Some(n) = complete_frame_len(rest) else {
                        break;
                    };
                    if let Err(end) = self.frame(&rest[..n], &mut w).await {
                        return end;
                    }
                    start += n;
                }
            }
            buf.drain(..start);
            match r.read(&mut chunk).await {
                Ok(0) => {
                    let _ = w.shutdown().await;
                    return End::Eof;
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(_) => return End::Failed,
            }
        }
    }

    /// Forwards one whole frame, or applies the cut if this is the fatal frame.
    async fn frame(&mut self, f: &[u8], w: &mut OwnedWriteHalf) -> Result<(), End> {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if self.cut_at == Some(n) {
            if f.len() > 1
                && self
                    .rng
                    .random_bool(self.faults.mid_frame_probability.clamp(0.0, 1.0))
            {
                let k = self.rng.random_range(1..f.len());
                self.count_bytes(k);
                if w.write_all(&f[..k]).await.is_ok() {
                    let _ = w.flush().await;
                }
            }
            self.counters.cuts.fetch_add(1, Ordering::Relaxed);
            return Err(End::Cut);
        }
        if self.roll(self.faults.stall_probability) {
            tokio::time::sleep(self.draw(self.faults.max_stall)).await;
        }
        if self.roll(self.faults.delay_probability) {
            tokio::time::sleep(self.draw(self.faults.max_delay)).await;
        }
        // Counted (and tapped) before writing, so whoever reacts to the frame sees it counted.
        self.count_bytes(f.len());
        let frames = match self.dir {
            Direction::Up => &self.counters.frames_up,
            Direction::Down => &self.counters.frames_down,
        };
        frames.fetch_add(1, Ordering::Relaxed);
        if self.tap.is_some() || self.recorder.is_some() {
            self.show(f);
        }
        w.write_all(f).await.map_err(|_| End::Failed)
    }

    /// Hands a whole frame's payload, unmasked, to the tap and the recorder.
    fn show(&mut self, f: &[u8]) {
        let Some(h) = parse_header(f) else { return };
        let payload = &f[h.header_len.min(f.len())..];
        let clear: Vec<u8>;
        let payload = if h.masked {
            let key = &f[h.header_len - 4..h.header_len];
            clear = payload
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect();
            &clear[..]
        } else {
            payload
        };
        if let Some(tap) = self.tap {
            tap(self.dir, h.opcode, payload);
        }
        if let Some(r) = &mut self.recorder {
            r.frame(h.fin, h.opcode, payload);
        }
    }

    fn roll(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.random_bool(p.min(1.0))
    }

    fn draw(&mut self, max: Duration) -> Duration {
        let max_us = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(self.rng.random_range(0..=max_us))
    }

    fn count_bytes(&self, n: usize) {
        let bytes = match self.dir {
            Direction::Up => &self.counters.bytes_up,
            Direction::Down => &self.counters.bytes_down,
        };
        bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
}
