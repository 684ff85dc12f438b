//! Executes one parsed scenario against a server: connections, variables,
//! helpers (register/login/auth), loops, concurrent branches and restarts.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rand::Rng;
use serde_json::{Value, json};
use tokio::time::Duration;
use tokio_tungstenite::tungstenite::Message;

use crate::connection::Connection;
use crate::expect;
use crate::script::{Creds, IntExpr, NewName, Scenario, Step, StepKind, Term};
use crate::template::{Vars, fill, interpolate};

/// Password used by `open`/`register`/`login` unless the script gives one.
pub const DEFAULT_PASSWORD: &str = "correct-horse-battery";
/// Default wait of `expect`-like steps.
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;
/// Default observation window of `expect-none`.
pub const DEFAULT_NONE_WINDOW_MS: u64 = 300;
/// Request ids used by helpers start here, far above script ids.
const HELPER_ID_BASE: u64 = 900_000_000;

/// Boxed future, as returned by [`Restarter::restart`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Lets the runner restart the server it tests (graceful stop, then start on
/// the same database and port). Only available when the runner owns the server.
/// Against several nodes (`--servers`) it restarts every node: a scenario's
/// `restart` means "the service went down and came back", and its
/// connections are spread over all nodes.
pub trait Restarter: Send + Sync {
    /// Restarts the server (every node of it); the URLs stay the same.
    fn restart(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// Why a scenario failed: the script line and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1-based line in the scenario file; 0 for the end-of-scenario check.
    pub line: usize,
    /// Explanation.
    pub msg: String,
}

type SharedConn = Arc<tokio::sync::Mutex<Connection>>;

struct Ctx<'a> {
    servers: &'a [String],
    /// Connections opened so far: connection k goes to `servers[k % n]`.
    opened: AtomicUsize,
    tls: Option<Arc<rustls::ClientConfig>>,
    restarter: Option<&'a dyn Restarter>,
    conns: Mutex<HashMap<String, SharedConn>>,
    registered: Mutex<HashSet<String>>,
    timeout_ms: AtomicU64,
    next_id: AtomicU64,
}

/// Runs `scenario` against the server at `servers` (one URL, or the nodes
/// of one service): the scenario's k-th connection (counting every
/// `connect`/`open`, reopenings included, from 0) goes to
/// `servers[k % servers.len()]`, so with two users on two nodes every push,
/// receipt and event crosses nodes.
pub async fn run_scenario(
    scenario: &Scenario,
    servers: &[String],
    tls: Option<Arc<rustls::ClientConfig>>,
    restarter: Option<&dyn Restarter>,
) -> Result<(), Failure> {
    let vars = Mutex::new(Vars::default());
    if servers.is_empty() {
        return Err(Failure {
            line: 0,
            msg: "no server URL to run against".into(),
        });
    }
    let ctx = Ctx {
        servers,
        opened: AtomicUsize::new(0),
        tls,
        restarter,
        conns: Mutex::new(HashMap::new()),
        registered: Mutex::new(HashSet::new()),
        timeout_ms: AtomicU64::new(DEFAULT_TIMEOUT_MS),
        next_id: AtomicU64::new(HELPER_ID_BASE),
    };
    ctx.exec(&vars, &scenario.steps).await?;
    ctx.final_check(&vars).await
}

fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, String> {
    m.lock().map_err(|_| "internal lock poisoned".to_owned())
}

/// Frames PROTOCOL.md allows a server to send but does not require, dropped
/// on arrival on every connection so that a scenario neither depends on them
/// nor trips over them: a pushed `create` entry (§4 tells members of a new
/// conversation by a `conversation` event and does not say whether the
/// `create` entry is also pushed; §7's "every appended entry is pushed" can
/// be read to cover it).
fn spec_optional_frames() -> Vec<Value> {
    vec![json!({"type": "message", "re": {"$absent": true}, "message": {"kind": "create"}})]
}

/// A fresh valid user name for `alias`: `alias_xxxxx`, or exactly `len` chars.
fn fresh_name(alias: &str, len: Option<usize>) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let mut rand_chars = |n: usize| -> String {
        (0..n)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect()
    };
    match len {
        Some(len) => {
            let prefix: String = alias.chars().take(len.saturating_sub(6)).collect();
            let mut name = prefix;
            name.push_str(&rand_chars(len - name.len()));
            name
        }
        None => {
            let prefix: String = alias.chars().take(25).collect();
            format!("{prefix}_{}", rand_chars(6))
        }
    }
}

impl Ctx<'_> {
    fn timeout(&self, within: Option<u64>) -> Duration {
        Duration::from_millis(within.unwrap_or_else(|| self.timeout_ms.load(Ordering::Relaxed)))
    }

    fn conn(&self, name: &str) -> Result<SharedConn, String> {
        lock(&self.conns)?
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no connection named {name}"))
    }

    fn var_str(&self, vars: &Mutex<Vars>, name: &str) -> Result<String, String> {
        match lock(vars)?.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Ok(other.to_string()),
            None => Err(format!("unbound variable ${name}")),
        }
    }

    fn eval(&self, vars: &Mutex<Vars>, e: &IntExpr) -> Result<i64, String> {
        let vars = lock(vars)?;
        let mut total = 0i64;
        for (sign, term) in &e.0 {
            let v = match term {
                Term::Lit(n) => *n,
                Term::Var(name) => match vars.get(name) {
                    Some(v) => v
                        .as_i64()
                        .ok_or_else(|| format!("${name} is not an integer: {v}"))?,
                    None => return Err(format!("unbound variable ${name}")),
                },
            };
            total += sign * v;
        }
        Ok(total)
    }

    fn user(&self, vars: &Mutex<Vars>, alias: &str) -> Result<String, String> {
        lock(vars)?
            .user(alias)
            .map(str::to_owned)
            .ok_or_else(|| format!("user {alias} is not declared with `users`"))
    }

    async fn send_json(&self, conn: &str, frame: Value) -> Result<(), String> {
        let c = self.conn(conn)?;
        let mut c = c.lock().await;
        c.send_text(frame.to_string())
            .await
            .map_err(|e| e.to_string())
    }

    async fn expect_on(
        &self,
        vars: &Mutex<Vars>,
        conn: &str,
        pattern: &Value,
        within: Option<u64>,
    ) -> Result<Value, String> {
        let c = self.conn(conn)?;
        let mut c = c.lock().await;
        expect::expect(&mut c, pattern, vars, self.timeout(within)).await
    }

    async fn connect(
        &self,
        vars: &Mutex<Vars>,
        conn: &str,
        rcvbuf: Option<u32>,
        keep_hello: bool,
    ) -> Result<(), String> {
        let k = self.opened.fetch_add(1, Ordering::Relaxed);
        let url = &self.servers[k % self.servers.len()];
        let c = Connection::open(url, rcvbuf, self.tls.clone())
            .await
            .map_err(|e| format!("connecting {conn} to {url}: {e}"))?;
        let mut c = c;
        for pattern in spec_optional_frames() {
            c.ignore_matching(pattern, Vars::default());
        }
        lock(&self.conns)?.insert(conn.to_owned(), Arc::new(tokio::sync::Mutex::new(c)));
        if !keep_hello {
            self.expect_on(vars, conn, &json!({"type": "hello", "protocol": 1}), None)
                .await
                .map_err(|e| format!("hello: {e}"))?;
        }
        Ok(())
    }

    /// Sends `register`/`login`/`auth` and expects a `session`; records
    /// `CONN.token`, `CONN.device` and `CONN.user`.
    async fn session(
        &self,
        vars: &Mutex<Vars>,
        conn: &str,
        mut req: Value,
        user: &str,
        device: &str,
    ) -> Result<(), String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        req["id"] = json!(id);
        let what = req["type"].as_str().unwrap_or("session").to_owned();
        self.send_json(conn, req).await?;
        let pattern = json!({"type":"session","re":id,"user":user,"device":device,"token":{"$capture":format!("{conn}.token")}});
        self.expect_on(vars, conn, &pattern, None)
            .await
            .map_err(|e| format!("{what} as {user}: {e}"))?;
        let mut v = lock(vars)?;
        v.set(&format!("{conn}.device"), json!(device));
        v.set(&format!("{conn}.user"), json!(user));
        Ok(())
    }

    async fn credentials(
        &self,
        vars: &Mutex<Vars>,
        conn: &str,
        kind: &str,
        alias: &str,
        creds: &Creds,
    ) -> Result<(), String> {
        let user = self.user(vars, alias)?;
        let device = creds
            .device
            .clone()
            .unwrap_or_else(|| format!("dev-{}", conn.to_lowercase()));
        let password = creds.password.as_deref().unwrap_or(DEFAULT_PASSWORD);
        let req = json!({"type": kind, "user": user, "password": password, "device": device});
        self.session(vars, conn, req, &user, &device).await?;
        if kind == "register" {
            lock(&self.registered)?.insert(alias.to_owned());
        }
        Ok(())
    }

    fn exec<'s>(
        &'s self,
        vars: &'s Mutex<Vars>,
        steps: &'s [Step],
    ) -> BoxFuture<'s, Result<(), Failure>> {
        Box::pin(async move {
            for step in steps {
                self.step(vars, step).await.map_err(|msg| Failure {
                    line: step.line,
                    msg,
                })?;
            }
            Ok(())
        })
    }

    async fn step(&self, vars: &Mutex<Vars>, step: &Step) -> Result<(), String> {
        match &step.kind {
            StepKind::Users(list) => {
                let mut v = lock(vars)?;
                for (alias, rule) in list {
                    let real = match rule {
                        NewName::Fresh(len) => fresh_name(alias, *len),
                        NewName::Extends { base, suffix } => {
                            let base = v
                                .user(base)
                                .ok_or_else(|| format!("user {base} is not declared"))?;
                            format!("{base}{suffix}")
                        }
                    };
                    v.alias(alias, &real);
                }
            }
            StepKind::Connect {
                conn,
                rcvbuf,
                keep_hello,
            } => self.connect(vars, conn, *rcvbuf, *keep_hello).await?,
            StepKind::Open {
                conn,
                user,
                creds,
                rcvbuf,
            } => {
                self.connect(vars, conn, *rcvbuf, false).await?;
                let known = lock(&self.registered)?.contains(user);
                let kind = if known { "login" } else { "register" };
                self.credentials(vars, conn, kind, user, creds).await?;
            }
            StepKind::Register { conn, user, creds } => {
                self.credentials(vars, conn, "register", user, creds)
                    .await?
            }
            StepKind::Login { conn, user, creds } => {
                self.credentials(vars, conn, "login", user, creds).await?
            }
            StepKind::AuthAs { conn, from } => {
                if !lock(&self.conns)?.contains_key(conn) {
                    self.connect(vars, conn, None, false).await?;
                }
                let token = self.var_str(vars, &format!("{from}.token"))?;
                let device = self.var_str(vars, &format!("{from}.device"))?;
                let user = self.var_str(vars, &format!("{from}.user"))?;
                let req = json!({"type": "auth", "token": token, "device": device});
                self.session(vars, conn, req, &user, &device).await?;
            }
            StepKind::Send { conn, frame } => {
                let frame = fill(frame, &*lock(vars)?)?;
                self.send_json(conn, frame).await?;
            }
            StepKind::Raw { conn, text } => {
                let text = interpolate(text, &*lock(vars)?)?;
                let c = self.conn(conn)?;
                let mut c = c.lock().await;
                c.send_text(text).await.map_err(|e| e.to_string())?;
            }
            StepKind::Binary { conn, len } => {
                let c = self.conn(conn)?;
                let mut c = c.lock().await;
                c.send(vec![Message::binary(vec![0xA5u8; *len])])
                    .await
                    .map_err(|e| e.to_string())?;
            }
            StepKind::Big {
                conn,
                len,
                fragments,
            } => {
                let len = usize::try_from(self.eval(vars, len)?)
                    .map_err(|_| "big frame length must not be negative".to_owned())?;
                let head = r#"{"type":"ping","id":77,"pad":""#;
                let tail = r#""}"#;
                let pad = len.checked_sub(head.len() + tail.len()).ok_or_else(|| {
                    format!(
                        "big frame must be at least {} bytes",
                        head.len() + tail.len()
                    )
                })?;
                let text = format!("{head}{}{tail}", "x".repeat(pad));
                let c = self.conn(conn)?;
                let mut c = c.lock().await;
                // The server may close mid-frame (that is the point); the
                // close code is checked by a following `expect-close`.
                let _ = match fragments {
                    Some(n) => c.send_fragmented(text.as_bytes(), *n).await,
                    None => c.send_text(text).await,
                };
            }
            StepKind::Expect {
                conn,
                pattern,
                within,
            } => {
                self.expect_on(vars, conn, pattern, *within).await?;
            }
            StepKind::ExpectNone {
                conn,
                pattern,
                within,
            } => {
                let c = self.conn(conn)?;
                let mut c = c.lock().await;
                let window = Duration::from_millis(within.unwrap_or(DEFAULT_NONE_WINDOW_MS));
                expect::expect_none(&mut c, pattern, vars, window).await?;
            }
            StepKind::ExpectClose { conn, code, within } => {
                let c = self.conn(conn)?;
                let mut c = c.lock().await;
                expect::expect_close(&mut c, *code, self.timeout(*within)).await?;
            }
            StepKind::ExpectSeqs {
                conn,
                conv,
                from,
                to,
                within,
            } => {
                let (from, to) = (self.eval(vars, from)?, self.eval(vars, to)?);
                for seq in from..=to {
                    let pattern = json!({"type":"message","conv":conv,"message":{"seq":seq}});
                    self.expect_on(vars, conn, &pattern, *within)
                        .await
                        .map_err(|e| format!("seq {seq} of {from}..{to}: {e}"))?;
                }
            }
            StepKind::Count { conn, pattern, var } => {
                let c = self.conn(conn)?;
                let n = {
                    let mut c = c.lock().await;
                    expect::count(&mut c, pattern, vars)?
                };
                lock(vars)?.set(var, json!(n));
            }
            StepKind::Flush { conn } => self.flush(vars, conn).await?,
            StepKind::Let { var, expr } => {
                let v = self.eval(vars, expr)?;
                lock(vars)?.set(var, json!(v));
            }
            StepKind::Assert { left, op, right } => {
                let (l, r) = (self.eval(vars, left)?, self.eval(vars, right)?);
                let ok = match op.as_str() {
                    "==" => l == r,
                    "!=" => l != r,
                    "<" => l < r,
                    "<=" => l <= r,
                    ">" => l > r,
                    _ => l >= r,
                };
                if !ok {
                    return Err(format!("assertion failed: {l} {op} {r}"));
                }
            }
            StepKind::Drain { conn } => {
                let c = self.conn(conn)?;
                let mut c = c.lock().await;
                c.pump_ready();
                c.buffer.clear();
            }
            StepKind::Ignore { conn, types } => {
                let c = self.conn(conn)?;
                let mut c = c.lock().await;
                c.ignore(types);
                c.pump_ready();
                c.buffer.retain(|f| {
                    !types
                        .iter()
                        .any(|t| f.get("type").and_then(Value::as_str) == Some(t))
                });
            }
            StepKind::IgnoreMatching { conn, pattern } => {
                let snapshot = lock(vars)?.clone();
                let c = self.conn(conn)?;
                let mut c = c.lock().await;
                c.pump_ready();
                c.ignore_matching(pattern.clone(), snapshot);
            }
            StepKind::Pause { conn } => self.conn(conn)?.lock().await.pause(true),
            StepKind::Resume { conn } => self.conn(conn)?.lock().await.pause(false),
            StepKind::Close { conn } => {
                // Dropping the connection makes its task send a close frame.
                lock(&self.conns)?.remove(conn);
            }
            StepKind::Sleep(ms) => tokio::time::sleep(Duration::from_millis(*ms)).await,
            StepKind::Timeout(ms) => self.timeout_ms.store(*ms, Ordering::Relaxed),
            StepKind::Restart => {
                let Some(r) = self.restarter else {
                    return Err("this run cannot restart the server".into());
                };
                // The server closes every connection; scripts reopen theirs.
                lock(&self.conns)?.clear();
                r.restart()
                    .await
                    .map_err(|e| format!("restart failed: {e}"))?;
            }
            StepKind::Repeat { count, var, body } => {
                let n = self.eval(vars, count)?;
                for i in 1..=n {
                    if let Some(var) = var {
                        lock(vars)?.set(var, json!(i));
                    }
                    self.exec(vars, body)
                        .await
                        .map_err(|f| format!("iteration {i}: line {}: {}", f.line, f.msg))?;
                }
            }
            StepKind::Parallel { branches } => {
                // Each branch gets its own copy of the variables (so loop
                // counters do not collide); afterwards their bindings are
                // merged back, later branches winning.
                let start = lock(vars)?.clone();
                let scopes: Vec<Mutex<Vars>> =
                    branches.iter().map(|_| Mutex::new(start.clone())).collect();
                let runs = branches
                    .iter()
                    .zip(&scopes)
                    .map(|(b, scope)| self.exec(scope, b));
                let results = futures_util::future::join_all(runs).await;
                for (i, r) in results.into_iter().enumerate() {
                    r.map_err(|f| format!("branch {}: line {}: {}", i + 1, f.line, f.msg))?;
                }
                let mut merged = lock(vars)?;
                for scope in scopes {
                    merged.merge(lock(&scope)?.clone());
                }
            }
        }
        Ok(())
    }

    /// A ping round trip: afterwards every frame the server sent this
    /// connection before the pong is buffered.
    async fn flush(&self, vars: &Mutex<Vars>, conn: &str) -> Result<(), String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.send_json(conn, json!({"type":"ping","id":id})).await?;
        self.expect_on(vars, conn, &json!({"type":"pong","re":id}), None)
            .await
            .map_err(|e| format!("flush: {e}"))?;
        Ok(())
    }

    /// Every still-open connection must have consumed everything it received.
    async fn final_check(&self, vars: &Mutex<Vars>) -> Result<(), Failure> {
        let fail = |msg: String| Failure { line: 0, msg };
        let mut names: Vec<String> = lock(&self.conns).map_err(fail)?.keys().cloned().collect();
        names.sort();
        for name in names {
            let c = self.conn(&name).map_err(fail)?;
            if c.lock().await.closed.is_some() {
                continue;
            }
            c.lock().await.pause(false);
            self.flush(vars, &name)
                .await
                .map_err(|e| fail(format!("end of scenario on {name}: {e}")))?;
            if let Some(left) = expect::leftovers(&mut *c.lock().await) {
                return Err(fail(format!(
                    "unconsumed frames on {name} at end of scenario: {left}"
                )));
            }
        }
        Ok(())
    }
}
