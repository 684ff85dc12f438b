//! Waiting for frames: which buffered frame an `expect` looks at, and the
//! `expect`, `expect-none`, `expect-close` and `count` primitives.
//!
//! Selection rule (keeps scripts strict yet free of interleaving noise):
//! - a pattern with a concrete `"re"` looks at the first frame with that `re`
//!   (so the reply to a request, whatever its type: an error reply to a
//!   `send` fails the expectation with the error shown);
//! - otherwise a pattern with a concrete `"type"` looks at the first frame of
//!   that type without a `re` field (an event), and if the pattern has a
//!   concrete top-level `"conv"`, of that conversation;
//! - otherwise the oldest buffered frame.
//!
//! The frame looked at must match; frames of other kinds stay buffered for
//! later expectations. Because only the first frame of a kind is looked at,
//! events of one kind are checked in arrival order.

use std::sync::Mutex;

use serde_json::Value;
use tokio::time::{Duration, Instant};

use crate::connection::Connection;
use crate::matcher::{Captures, concrete, matches};
use crate::template::Vars;

/// Short rendering of a frame for failure messages.
pub fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 300 {
        let cut = (0..=300)
            .rev()
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(0);
        format!("{}…({} bytes)", &s[..cut], s.len())
    } else {
        s
    }
}

fn show_buffer(conn: &Connection) -> String {
    if conn.buffer.is_empty() {
        return "nothing buffered".into();
    }
    let shown: Vec<String> = conn.buffer.iter().take(5).map(show).collect();
    let more = conn.buffer.len().saturating_sub(5);
    let tail = if more > 0 {
        format!(" (+{more} more)")
    } else {
        String::new()
    };
    format!("buffered: {}{tail}", shown.join(", "))
}

fn field_eq(frame: &Value, key: &str, want: &Value) -> bool {
    match (frame.get(key), want) {
        (Some(Value::Number(a)), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Some(a), b) => a == b,
        (None, _) => false,
    }
}

/// Index of the buffered frame `pattern` is checked against (module docs).
fn select(conn: &Connection, pattern: &Value, vars: &Vars) -> Option<usize> {
    let buf = &conn.buffer;
    if let Some(re) = pattern.get("re") {
        return match concrete(re, vars) {
            Some(re) => buf.iter().position(|f| field_eq(f, "re", &re)),
            None => buf.iter().position(|f| f.get("re").is_some()),
        };
    }
    let ty = pattern.get("type").and_then(|t| concrete(t, vars));
    let conv = pattern.get("conv").and_then(|c| concrete(c, vars));
    match ty {
        Some(ty) => buf.iter().position(|f| {
            field_eq(f, "type", &ty)
                && f.get("re").is_none()
                && conv.as_ref().is_none_or(|c| field_eq(f, "conv", c))
        }),
        None => (!buf.is_empty()).then_some(0),
    }
}

/// Waits until the selected frame arrives and matches; consumes it and binds
/// its captures. `within` is the whole wait.
pub async fn expect(
    conn: &mut Connection,
    pattern: &Value,
    vars: &Mutex<Vars>,
    within: Duration,
) -> Result<Value, String> {
    let deadline = Instant::now() + within;
    loop {
        conn.pump_ready();
        {
            let mut vars = vars.lock().map_err(|_| "variables lock poisoned")?;
            if let Some(i) = select(conn, pattern, &vars) {
                let mut caps: Captures = Vec::new();
                let frame = &conn.buffer[i];
                return match matches(pattern, frame, &vars, &mut caps) {
                    Ok(()) => {
                        for (k, v) in caps {
                            vars.set(&k, v);
                        }
                        Ok(conn.buffer.remove(i).unwrap_or_default())
                    }
                    Err(m) => Err(format!(
                        "got {} which does not match {}: {m}",
                        show(frame),
                        show(pattern)
                    )),
                };
            }
        }
        if let Some(c) = &conn.closed {
            return Err(format!(
                "connection {c} while waiting for {}; {}",
                show(pattern),
                show_buffer(conn)
            ));
        }
        if !conn.pump(deadline).await && conn.closed.is_none() {
            return Err(format!(
                "timeout after {} ms waiting for {}; {}",
                within.as_millis(),
                show(pattern),
                show_buffer(conn)
            ));
        }
    }
}

/// Keeps reading for `window`; fails if any frame matching `pattern` is buffered.
pub async fn expect_none(
    conn: &mut Connection,
    pattern: &Value,
    vars: &Mutex<Vars>,
    window: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + window;
    while conn.pump(deadline).await {}
    conn.pump_ready();
    let vars = vars.lock().map_err(|_| "variables lock poisoned")?;
    match conn
        .buffer
        .iter()
        .find(|f| matches(pattern, f, &vars, &mut Vec::new()).is_ok())
    {
        Some(f) => Err(format!(
            "unexpected frame {} (matches {})",
            show(f),
            show(pattern)
        )),
        None => Ok(()),
    }
}

/// Waits for the connection to close with `code`, discarding frames before it.
pub async fn expect_close(
    conn: &mut Connection,
    code: u16,
    within: Duration,
) -> Result<(), String> {
    conn.pause(false);
    let deadline = Instant::now() + within;
    while conn.closed.is_none() {
        if !conn.pump(deadline).await && conn.closed.is_none() {
            return Err(format!(
                "timeout after {} ms waiting for close {code}; still open, {}",
                within.as_millis(),
                show_buffer(conn)
            ));
        }
        // Frames before the close are not checked; keep memory flat.
        conn.buffer.clear();
    }
    match &conn.closed {
        Some(c) if c.code == Some(code) => Ok(()),
        Some(c) => Err(format!("expected close {code}, connection {c}")),
        None => Err("unreachable: not closed".into()),
    }
}

/// Consumes every buffered frame matching `pattern`; returns how many.
pub fn count(conn: &mut Connection, pattern: &Value, vars: &Mutex<Vars>) -> Result<usize, String> {
    conn.pump_ready();
    let vars = vars.lock().map_err(|_| "variables lock poisoned")?;
    let before = conn.buffer.len();
    conn.buffer
        .retain(|f| matches(pattern, f, &vars, &mut Vec::new()).is_err());
    Ok(before - conn.buffer.len())
}

/// Describes frames nobody expected (for the end-of-scenario check).
pub fn leftovers(conn: &mut Connection) -> Option<String> {
    conn.pump_ready();
    (!conn.buffer.is_empty()).then(|| show_buffer(conn))
}
