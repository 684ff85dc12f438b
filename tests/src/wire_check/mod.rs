//! Reads a proxy's frame log ([`crate::proxy::FrameLog`]) against PROTOCOL.md v1.1, frame by
//! frame, as an outside reviewer would: exact field sets and types both ways ([`schema`]),
//! request ids unique per connection, nothing but `register`/`login`/`auth`/`ping` before a
//! `session`, no §9 request or field the server's `hello.features` did not list, limits (body,
//! frame, page sizes), replies matching their requests (`re`, `conv`, `client_id`, page shape),
//! pushes in seq order with none skipped, pings answered, close codes from §2, no repeated pull
//! of a range on one connection and no request or reconnect storms.
//!
//! Each [`Finding`] names the rule's section so a report can quote it.

mod replies;
pub mod schema;
mod totals;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::proxy::{Direction, Logged, WireEvent, WireFrame};
use schema::{EntryPlace, SUMMARY_FIELDS, check_fields, entry_fields};

/// One deviation from the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Connection number in the log.
    pub conn: u64,
    /// Time in the log.
    pub at: Duration,
    /// Which way the offending frame went.
    pub dir: Option<Direction>,
    /// The PROTOCOL.md section (or PROTOCOL-NOTES.md) the rule comes from, e.g. "§2".
    pub rule: &'static str,
    /// What is wrong.
    pub detail: String,
    /// The frame (shortened).
    pub frame: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = match self.dir {
            Some(Direction::Up) => "client",
            Some(Direction::Down) => "server",
            None => "conn",
        };
        write!(
            f,
            "conn {} @{}ms {dir} [{}] {}: {}",
            self.conn,
            self.at.as_millis(),
            self.rule,
            self.detail,
            self.frame
        )
    }
}

/// Thresholds for the rules PROTOCOL.md states without numbers.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most requests one connection may send within any second (a storm above).
    pub requests_per_sec: usize,
    /// Most connections one user and device may open within any second, and most attempts
    /// the upstream refused (the server was down) within any second.
    pub connects_per_sec: usize,
    /// Report a client that closes with a write unanswered. On for one-shot commands (a CLI
    /// that says "done" must know); off by default because sync-core's `Client::stop` closes
    /// at once by design: its writes are durable and sent again on the next connection
    /// (docs/PROTOCOL-NOTES.md).
    pub unanswered_writes: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            requests_per_sec: 200,
            // sync-core's documented floor between attempts is 100 ms (PROTOCOL-NOTES.md).
            connects_per_sec: 10,
            unanswered_writes: false,
        }
    }
}

/// A request waiting for its reply.
#[derive(Debug, Clone)]
struct Pending {
    ty: String,
    req: Map<String, Value>,
}

/// What the checker knows about one connection.
#[derive(Debug, Default)]
struct Conn {
    hello: Option<Map<String, Value>>,
    features: Vec<String>,
    authed: bool,
    ids: HashSet<u64>,
    pending: HashMap<u64, Pending>,
    /// `(conv, after)` of every pull sent, `(conv, before)` of every history.
    pulls: HashSet<(String, u64)>,
    histories: HashSet<(String, Option<u64>, Option<i64>)>,
    /// Newest pushed seq per conversation.
    pushed: HashMap<String, u64>,
    /// Times of this connection's requests (for the storm rule).
    sent_at: Vec<Duration>,
    /// Ping payloads not yet answered.
    pings: Vec<Vec<u8>>,
    /// When the connection was opened, and `user/device` once a `session` names them.
    opened: Option<Duration>,
    who: Option<String>,
    /// Close frames seen each way.
    closed_up: bool,
    closed_down: bool,
    ended: bool,
}

/// Reads a whole log and returns every finding, in log order.
pub fn check(lines: &[Logged]) -> Vec<Finding> {
    check_with(lines, &Limits::default())
}

/// [`check`] with explicit thresholds.
pub fn check_with(lines: &[Logged], limits: &Limits) -> Vec<Finding> {
    let mut c = Checker {
        conns: HashMap::new(),
        out: Vec::new(),
        unanswered_writes: limits.unanswered_writes,
    };
    let mut refused = Vec::new();
    for l in lines {
        match &l.event {
            WireEvent::Opened => c.conns.entry(l.conn).or_default().opened = Some(l.at),
            WireEvent::Refused => refused.push(l.at),
            WireEvent::Ended => c.ended(l),
            WireEvent::Frame(dir, f) => c.frame(l, *dir, f),
        }
    }
    for (n, conn) in &c.conns {
        if let Some(at) = storm(&conn.sent_at, limits.requests_per_sec) {
            c.out.push(Finding {
                conn: *n,
                at,
                dir: Some(Direction::Up),
                rule: "§5",
                detail: format!(
                    "more than {} requests within a second",
                    limits.requests_per_sec
                ),
                frame: String::new(),
            });
        }
    }
    let mut by_who: HashMap<&str, Vec<Duration>> = HashMap::new();
    for conn in c.conns.values() {
        if let (Some(who), Some(at)) = (&conn.who, conn.opened) {
            by_who.entry(who).or_default().push(at);
        }
    }
    let mut storms: Vec<(String, Duration)> = by_who
        .into_iter()
        .filter_map(|(who, times)| {
            Some((
                format!("{who} opened"),
                storm(&times, limits.connects_per_sec)?,
            ))
        })
        .collect();
    storms.extend(storm(&refused, limits.connects_per_sec).map(|at| ("refused".to_owned(), at)));
    for (what, at) in storms {
        c.out.push(Finding {
            conn: 0,
            at,
            dir: None,
            rule: "§2",
            detail: format!(
                "reconnect storm: more than {} connections {what} within a second",
                limits.connects_per_sec
            ),
            frame: String::new(),
        });
    }
    c.out.sort_by_key(|f| f.at);
    c.out
}

/// The first time more than `max` of the (sorted) `times` fall within one second.
fn storm(times: &[Duration], max: usize) -> Option<Duration> {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted
        .windows(max + 1)
        .find(|w| w[max] - w[0] < Duration::from_secs(1))
        .map(|w| w[max])
}

struct Checker {
    conns: HashMap<u64, Conn>,
    out: Vec<Finding>,
    unanswered_writes: bool,
}

impl Checker {
    fn report(&mut self, l: &Logged, dir: Direction, rule: &'static str, detail: String) {
        let frame = match &l.event {
            WireEvent::Frame(_, WireFrame::Text(t)) => t.chars().take(300).collect(),
            WireEvent::Frame(_, f) => format!("{f:?}"),
            _ => String::new(),
        };
        self.out.push(Finding {
            conn: l.conn,
            at: l.at,
            dir: Some(dir),
            rule,
            detail,
            frame,
        });
    }

    fn ended(&mut self, l: &Logged) {
        let conn = self.conns.entry(l.conn).or_default();
        conn.ended = true;
        if conn.closed_down && !conn.closed_up {
            self.report(
                l,
                Direction::Up,
                "§2",
                "the server's close frame was not answered with one (RFC 6455 §5.5.1)".into(),
            );
        }
        let conn = self.conns.entry(l.conn).or_default();
        if !conn.pings.is_empty() {
            // The connection died with a ping unanswered: only a finding if the client had
            // time to answer (it was not the close that cut it short) — left to the reader.
            conn.pings.clear();
        }
    }

    fn frame(&mut self, l: &Logged, dir: Direction, f: &WireFrame) {
        match f {
            WireFrame::Text(t) => self.text(l, dir, t),
            WireFrame::Binary(_) => {
                self.report(l, dir, "§2", "a binary frame (text frames only)".into())
            }
            WireFrame::Ping(p) => {
                if dir == Direction::Down {
                    self.conns.entry(l.conn).or_default().pings.push(p.clone());
                }
            }
            WireFrame::Pong(p) => {
                if dir == Direction::Up {
                    let conn = self.conns.entry(l.conn).or_default();
                    if let Some(i) = conn.pings.iter().position(|x| x == p) {
                        conn.pings.remove(i);
                    } else {
                        self.report(l, dir, "§2", "a pong that answers no ping".into());
                    }
                }
            }
            WireFrame::Close(code, _) => {
                let ok: &[u16] = match dir {
                    // 1001 on shutdown: PROTOCOL-NOTES.md (§2 does not list it).
                    Direction::Down => &[1000, 1001, 1008, 1009, 1013, 4001],
                    // §2 is silent on the client's codes: 1000 (done) and 1001 (going away)
                    // are what RFC 6455 §7.4.1 gives a client that leaves.
                    Direction::Up => &[1000, 1001],
                };
                // A client answering the server's close may echo its code (RFC 6455 §5.5.1).
                let echo =
                    dir == Direction::Up && self.conns.get(&l.conn).is_some_and(|c| c.closed_down);
                if !echo && !code.is_some_and(|c| ok.contains(&c)) {
                    self.report(l, dir, "§2", format!("close code {code:?} not in {ok:?}"));
                }
                let conn = self.conns.entry(l.conn).or_default();
                match dir {
                    Direction::Up => conn.closed_up = true,
                    Direction::Down => conn.closed_down = true,
                }
                // A write given up on leaves the client unsure whether it took effect (a
                // read abandoned costs nothing, so only writes count).
                let mut open: Vec<String> = conn
                    .pending
                    .iter()
                    .filter(|(_, p)| schema::is_write(&p.ty))
                    .map(|(id, p)| format!("{} {id}", p.ty))
                    .collect();
                if self.unanswered_writes
                    && dir == Direction::Up
                    && !conn.closed_down
                    && !open.is_empty()
                {
                    open.sort();
                    let detail = format!("closed with writes unanswered: {}", open.join(", "));
                    self.report(l, dir, "§2", detail);
                }
                let conn = self.conns.entry(l.conn).or_default();
                if dir == Direction::Up && !conn.pings.is_empty() {
                    let n = conn.pings.len();
                    conn.pings.clear();
                    self.report(l, dir, "§2", format!("closed with {n} ping(s) unanswered"));
                }
            }
        }
    }

    fn text(&mut self, l: &Logged, dir: Direction, t: &str) {
        let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(t) else {
            self.report(l, dir, "§2", "not one JSON object".into());
            return;
        };
        let Some(ty) = obj.get("type").and_then(Value::as_str).map(str::to_owned) else {
            self.report(l, dir, "§2", "no string `type`".into());
            self.expect_reply(l, "?", &obj);
            return;
        };
        match dir {
            Direction::Up => self.request(l, &ty, &obj, t.len()),
            Direction::Down => self.server(l, &ty, &obj, t.len()),
        }
    }

    /// A client frame with an id the server will answer (an error, at least): its reply is
    /// then not a stray.
    fn expect_reply(&mut self, l: &Logged, ty: &str, obj: &Map<String, Value>) {
        if let Some(id) = obj.get("id").and_then(Value::as_u64)
            && l.event_dir() == Some(Direction::Up)
        {
            let pending = Pending {
                ty: ty.to_owned(),
                req: obj.clone(),
            };
            self.conns
                .entry(l.conn)
                .or_default()
                .pending
                .insert(id, pending);
        }
    }

    fn request(&mut self, l: &Logged, ty: &str, obj: &Map<String, Value>, len: usize) {
        let up = Direction::Up;
        let conn = self.conns.entry(l.conn).or_default();
        conn.sent_at.push(l.at);
        let features = conn.features.clone();
        let hello = conn.hello.clone();
        let authed = conn.authed;
        let Some(fields) = schema::request_fields(ty) else {
            self.report(l, up, "§2", format!("unknown request type `{ty}`"));
            self.expect_reply(l, ty, obj);
            return;
        };
        for p in check_fields(obj, fields, &features, &["type"]) {
            self.report(l, up, "§3-§9", p);
        }
        if let Some(f) = schema::request_feature(ty).filter(|f| !features.iter().any(|x| x == f)) {
            self.report(
                l,
                up,
                "§9",
                format!("`{ty}` but hello.features lacks `{f}`"),
            );
        }
        if !authed && !matches!(ty, "register" | "login" | "auth" | "ping") {
            self.report(l, up, "§3", format!("`{ty}` before a `session` reply"));
        }
        if let Some(h) = &hello {
            let max = |k: &str| h.get(k).and_then(Value::as_u64).unwrap_or(u64::MAX);
            if len as u64 > max("max_frame_bytes") {
                self.report(l, up, "§2", format!("{len} bytes > max_frame_bytes"));
            }
            let body = obj.get("body").and_then(Value::as_str).unwrap_or("x");
            if body.len() as u64 > max("max_body_bytes") || body.trim().is_empty() {
                self.report(l, up, "§7", format!("body of {} bytes", body.len()));
            }
        }
        if let Some(limit) = obj.get("limit").and_then(Value::as_i64)
            && !(1..=500).contains(&limit)
        {
            self.report(l, up, "§6", format!("limit {limit} outside 1..=500"));
        }
        if ty == "settings"
            && !["notify", "pinned", "archived"]
                .iter()
                .any(|k| obj.contains_key(*k))
        {
            self.report(l, up, "§9.4", "settings with an empty subset".into());
        }
        if ty == "create"
            && obj.get("kind").and_then(Value::as_str) == Some("group")
            && !obj.contains_key("title")
        {
            self.report(l, up, "§4", "group create without a title".into());
        }
        if let Some(cid) = obj.get("client_id").and_then(Value::as_str)
            && (!(1..=64).contains(&cid.len()) || !cid.bytes().all(|b| (0x20..0x7f).contains(&b)))
        {
            self.report(l, up, "§7", format!("client_id {cid:?}"));
        }
        let conv = obj
            .get("conv")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let conn = self.conns.entry(l.conn).or_default();
        let dup = match ty {
            "pull" => {
                let after = obj.get("after").and_then(Value::as_u64).unwrap_or(0);
                (!conn.pulls.insert((conv.clone(), after)))
                    .then(|| format!("a second pull of {conv} after {after} on one connection"))
            }
            "history" => {
                let key = (
                    conv.clone(),
                    obj.get("before").and_then(Value::as_u64),
                    obj.get("limit").and_then(Value::as_i64),
                );
                (!conn.histories.insert(key.clone()))
                    .then(|| format!("a second identical history {key:?} on one connection"))
            }
            _ => None,
        };
        let overlap = replies::fetch_range(ty, obj).and_then(|new| {
            conn.pending.values().find_map(|p| {
                let old = replies::fetch_range(&p.ty, &p.req)?;
                let same = p.req.get("conv") == obj.get("conv");
                (same && old.0 <= new.1 && new.0 <= old.1).then(|| {
                    format!(
                        "{ty} of {}..={} overlaps a {} of {}..={} still in flight",
                        new.0, new.1, p.ty, old.0, old.1
                    )
                })
            })
        });
        if let Some(id) = obj.get("id").and_then(Value::as_u64) {
            if !conn.ids.insert(id) {
                self.report(
                    l,
                    up,
                    "PROTOCOL-NOTES",
                    format!("request id {id} reused on one connection"),
                );
            }
            let conn = self.conns.entry(l.conn).or_default();
            conn.pending.insert(
                id,
                Pending {
                    ty: ty.to_owned(),
                    req: obj.clone(),
                },
            );
        }
        if let Some(d) = dup.or(overlap) {
            self.report(l, up, "§6", d);
        }
    }

    fn server(&mut self, l: &Logged, ty: &str, obj: &Map<String, Value>, len: usize) {
        let down = Direction::Down;
        if len > 1 << 20 {
            self.report(l, down, "§2", format!("{len} bytes > 1 MiB"));
        }
        let conn = self.conns.entry(l.conn).or_default();
        let first = conn.hello.is_none();
        if first {
            conn.hello = Some(obj.clone());
            conn.features = obj
                .get("features")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if ty != "hello" {
                self.report(l, down, "§2", format!("first frame is `{ty}`, not `hello`"));
            }
        } else if ty == "hello" {
            self.report(l, down, "§2", "a second hello".into());
        }
        let features = self.conns[&l.conn].features.clone();
        let Some(fields) = schema::server_fields(ty) else {
            self.report(l, down, "§2", format!("unknown server frame type `{ty}`"));
            return;
        };
        for p in check_fields(obj, fields, &features, &["type"]) {
            self.report(l, down, "§2-§9", p);
        }
        if let Some(f) = schema::event_feature(ty).filter(|f| !features.iter().any(|x| x == f)) {
            self.report(l, down, "§9", format!("`{ty}` event without `{f}`"));
        }
        if ty == "hello"
            && obj
                .get("features")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
        {
            self.report(l, down, "§2", "an empty `features` list".into());
        }
        if ty == "error"
            && obj.contains_key("retry_after_ms")
                != (obj.get("code").and_then(Value::as_str) == Some("rate_limited"))
        {
            self.report(
                l,
                down,
                "§2",
                "retry_after_ms goes with rate_limited only".into(),
            );
        }
        self.nested(l, obj, &features);
        let re = obj.get("re").and_then(Value::as_u64);
        let is_reply = obj.contains_key("re") && !(ty == "conversation" && re.is_none());
        if !is_reply {
            if ty == "message" {
                self.push(l, obj);
            }
            return;
        }
        let Some(re) = re else { return }; // error with re: null
        let conn = self.conns.entry(l.conn).or_default();
        let pending = conn.pending.remove(&re);
        if ty == "session" {
            conn.authed = true;
            let field = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
            conn.who = Some(format!("{}/{}", field("user"), field("device")));
        }
        let Some(p) = pending else {
            self.report(
                l,
                down,
                "§2",
                format!("reply `re` {re} answers no open request"),
            );
            return;
        };
        self.reply(l, ty, obj, &p);
    }

    /// Summaries and entries inside a server frame.
    fn nested(&mut self, l: &Logged, obj: &Map<String, Value>, features: &[String]) {
        let mut summaries: Vec<&Value> = Vec::new();
        summaries.extend(obj.get("conversation"));
        if let Some(Value::Array(a)) = obj.get("conversations") {
            summaries.extend(a);
        }
        let mut entries: Vec<(&Value, EntryPlace)> = Vec::new();
        for s in summaries.into_iter().filter_map(Value::as_object) {
            for p in check_fields(s, SUMMARY_FIELDS, features, &[]) {
                self.report(l, Direction::Down, "§4", format!("summary: {p}"));
            }
            if let Some(last) = s.get("last").filter(|v| v.is_object()) {
                entries.push((last, EntryPlace::AsAppended));
            }
        }
        if let Some(m) = obj.get("message") {
            entries.push((m, EntryPlace::AsAppended));
        }
        if let Some(Value::Array(a)) = obj.get("messages") {
            entries.extend(a.iter().map(|m| (m, EntryPlace::Page)));
        }
        for (e, place) in entries {
            let Some(e) = e.as_object() else { continue };
            let kind = e.get("kind").and_then(Value::as_str).unwrap_or("");
            let redacted = e.get("redacted") == Some(&Value::Bool(true));
            let Some(fields) = entry_fields(kind, redacted, place) else {
                self.report(l, Direction::Down, "§6", format!("entry kind `{kind}`"));
                continue;
            };
            for p in check_fields(e, &fields, features, &[]) {
                let seq = e.get("seq").cloned().unwrap_or_default();
                self.report(
                    l,
                    Direction::Down,
                    "§6/§9",
                    format!("{kind} entry {seq}: {p}"),
                );
            }
            if redacted && kind == "text" {
                for k in ["body", "mentions", "reactions"]
                    .iter()
                    .filter(|k| e.contains_key(**k))
                {
                    self.report(
                        l,
                        Direction::Down,
                        "§9.5",
                        format!("redacted text with `{k}`"),
                    );
                }
            }
        }
    }

    /// Pushes: per connection and conversation in seq order, none skipped (§7).
    fn push(&mut self, l: &Logged, obj: &Map<String, Value>) {
        let conv = obj
            .get("conv")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let Some(seq) = obj.get("message").and_then(|m| m.get("seq")?.as_u64()) else {
            return;
        };
        let conn = self.conns.entry(l.conn).or_default();
        if let Some(prev) = conn.pushed.insert(conv.clone(), seq)
            && seq != prev + 1
        {
            self.report(
                l,
                Direction::Down,
                "§7",
                format!("push {conv}#{seq} after #{prev}"),
            );
        }
    }
}

#[cfg(test)]
mod tests;
