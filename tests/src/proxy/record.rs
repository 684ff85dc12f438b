//! The frame log: every frame a recording proxy forwards, with its connection, direction and
//! time, decoded far enough to read (text, binary, ping/pong payloads, close code), plus the
//! connection events around them (opened, refused by the upstream, ended).
//!
//! Fragmented messages (RFC 6455 §5.4) are joined: the log holds one entry per message, stamped
//! with the time of its last fragment. Control frames are logged as they pass.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Direction, lock};

/// One frame (or whole fragmented message) as it crossed the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireFrame {
    /// A text message (UTF-8 checked lossily: invalid bytes show as U+FFFD).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping and its payload.
    Ping(Vec<u8>),
    /// A pong and its payload.
    Pong(Vec<u8>),
    /// A close frame: its code (None when the payload is empty) and reason.
    Close(Option<u16>, String),
}

/// What happened on a proxied connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireEvent {
    /// A client connected and the upstream accepted.
    Opened,
    /// A client connected but the upstream refused (the server was down): the proxy closed it.
    Refused,
    /// A frame passed.
    Frame(Direction, WireFrame),
    /// The proxied connection ended (either side, or a cut).
    Ended,
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// Connection number, from 1 in accept order (refused connections count too).
    pub conn: u64,
    /// Time since the log was created.
    pub at: Duration,
    /// What happened.
    pub event: WireEvent,
}

impl Logged {
    /// The frame's JSON object when this is a text frame going `dir` that parses as one.
    pub fn json(&self, dir: Direction) -> Option<Value> {
        match &self.event {
            WireEvent::Frame(d, WireFrame::Text(t)) if *d == dir => serde_json::from_str(t).ok(),
            _ => None,
        }
    }

    /// Which way the frame went (None for connection events).
    pub fn event_dir(&self) -> Option<Direction> {
        match &self.event {
            WireEvent::Frame(d, _) => Some(*d),
            _ => None,
        }
    }

    /// One JSON line for a log file: `{"conn":1,"ms":12.5,"dir":"up","text":"…"}` etc.
    pub fn to_json_line(&self) -> String {
        let ms = self.at.as_secs_f64() * 1000.0;
        let mut v = json!({"conn": self.conn, "ms": (ms * 10.0).round() / 10.0});
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        match &self.event {
            WireEvent::Opened => v["event"] = json!("opened"),
            WireEvent::Refused => v["event"] = json!("refused"),
            WireEvent::Ended => v["event"] = json!("ended"),
            WireEvent::Frame(dir, f) => {
                v["dir"] = json!(match dir {
                    Direction::Up => "up",
                    Direction::Down => "down",
                });
                match f {
                    WireFrame::Text(t) => v["text"] = json!(t),
                    WireFrame::Binary(b) => v["binary"] = json!(hex(b)),
                    WireFrame::Ping(b) => v["ping"] = json!(hex(b)),
                    WireFrame::Pong(b) => v["pong"] = json!(hex(b)),
                    WireFrame::Close(code, reason) => {
                        v["close"] = json!(code);
                        v["reason"] = json!(reason);
                    }
                }
            }
        }
        v.to_string()
    }
}

impl Logged {
    /// Reads back a line written by [`Logged::to_json_line`].
    pub fn from_json_line(line: &str) -> Option<Logged> {
        let v: Value = serde_json::from_str(line).ok()?;
        let conn = v.get("conn")?.as_u64()?;
        let at = Duration::from_secs_f64(v.get("ms")?.as_f64()? / 1000.0);
        let unhex = |s: &Value| -> Option<Vec<u8>> {
            let s = s.as_str()?;
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
                .collect()
        };
        let event = match v.get("event").and_then(Value::as_str) {
            Some("opened") => WireEvent::Opened,
            Some("refused") => WireEvent::Refused,
            Some("ended") => WireEvent::Ended,
            _ => {
                let dir = match v.get("dir")?.as_str()? {
                    "up" => Direction::Up,
                    _ => Direction::Down,
                };
                let f = if let Some(t) = v.get("text") {
                    WireFrame::Text(t.as_str()?.to_owned())
                } else if let Some(b) = v.get("binary") {
                    WireFrame::Binary(unhex(b)?)
                } else if let Some(b) = v.get("ping") {
                    WireFrame::Ping(unhex(b)?)
                } else if let Some(b) = v.get("pong") {
                    WireFrame::Pong(unhex(b)?)
                } else {
                    let code = v.get("close")?.as_u64().and_then(|c| u16::try_from(c).ok());
                    let reason = v.get("reason").and_then(Value::as_str).unwrap_or("");
                    WireFrame::Close(code, reason.to_owned())
                };
                WireEvent::Frame(dir, f)
            }
        };
        Some(Logged { conn, at, event })
    }
}

/// A shared, append-only log. Cloning gives another handle to the same log.
#[derive(Debug, Clone)]
pub struct FrameLog {
    start: Instant,
    lines: Arc<Mutex<Vec<Logged>>>,
}

impl Default for FrameLog {
    fn default() -> FrameLog {
        FrameLog::new()
    }
}

impl FrameLog {
    /// An empty log whose clock starts now.
    pub fn new() -> FrameLog {
        FrameLog {
            start: Instant::now(),
            lines: Arc::default(),
        }
    }

    /// Everything logged so far.
    pub fn lines(&self) -> Vec<Logged> {
        lock(&self.lines).clone()
    }

    /// Lines from index `from` on (for a follower that writes them out as they come).
    pub fn lines_from(&self, from: usize) -> Vec<Logged> {
        lock(&self.lines).get(from..).unwrap_or_default().to_vec()
    }

    /// Forgets everything logged so far (connection numbers keep counting).
    pub fn clear(&self) {
        lock(&self.lines).clear();
    }

    pub(crate) fn push(&self, conn: u64, event: WireEvent) {
        let at = self.start.elapsed();
        lock(&self.lines).push(Logged { conn, at, event });
    }
}

/// Joins fragments of one direction of one connection and logs whole messages.
#[derive(Debug)]
pub(crate) struct Recorder {
    log: FrameLog,
    conn: u64,
    dir: Direction,
    /// Opcode and payload of a message whose final fragment has not arrived.
    partial: Option<(u8, Vec<u8>)>,
}

impl Recorder {
    pub(crate) fn new(log: FrameLog, conn: u64, dir: Direction) -> Recorder {
        Recorder {
            log,
            conn,
            dir,
            partial: None,
        }
    }

    /// One frame: `fin` and `opcode` from its header, `payload` unmasked.
    pub(crate) fn frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        let (opcode, payload) = match opcode {
            0x0 => {
                let Some((op, mut buf)) = self.partial.take() else {
                    return; // A continuation with nothing to continue: not ours to judge.
                };
                buf.extend_from_slice(payload);
                if !fin {
                    self.partial = Some((op, buf));
                    return;
                }
                (op, buf)
            }
            0x1 | 0x2 if !fin => {
                self.partial = Some((opcode, payload.to_vec()));
                return;
            }
            _ => (opcode, payload.to_vec()),
        };
        let frame = match opcode {
            0x1 => WireFrame::Text(String::from_utf8_lossy(&payload).into_owned()),
            0x2 => WireFrame::Binary(payload),
            0x9 => WireFrame::Ping(payload),
            0xA => WireFrame::Pong(payload),
            0x8 => {
                let code = payload.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
                let reason = String::from_utf8_lossy(payload.get(2..).unwrap_or_default());
                WireFrame::Close(code, reason.into_owned())
            }
            _ => return, // Reserved opcodes: the endpoints will fail the connection.
        };
        self.log.push(self.conn, WireEvent::Frame(self.dir, frame));
    }
}
