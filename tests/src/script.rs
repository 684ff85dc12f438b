//! The parsed form of a scenario file: a list of steps, each with its line.
//!
//! The text format is documented in `tests/scenarios/README.md`; the parser
//! lives in [`crate::parse`].

use serde_json::Value;

/// One scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// File stem, e.g. `send_contiguous_seqs`.
    pub name: String,
    /// Path of the file, for error messages.
    pub path: String,
    /// Runs alone (no other scenario at the same time), e.g. load-heavy ones.
    pub exclusive: bool,
    /// `hello.features` the server must list (`requires account`); skipped
    /// otherwise.
    pub requires: Vec<String>,
    /// `notes REASON`: the scenario pins a choice of docs/PROTOCOL-NOTES.md
    /// (or of server-mock's configuration) that PROTOCOL.md leaves open;
    /// `conformance --spec-only` skips it with this reason.
    pub notes: Option<String>,
    /// The steps in order.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// True when some step restarts the server.
    pub fn needs_restart(&self) -> bool {
        fn any(steps: &[Step]) -> bool {
            steps.iter().any(|s| match &s.kind {
                StepKind::Restart => true,
                StepKind::Repeat { body, .. } => any(body),
                StepKind::Parallel { branches } => branches.iter().any(|b| any(b)),
                _ => false,
            })
        }
        any(&self.steps)
    }
}

/// A step and the line it starts on.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based line number in the scenario file.
    pub line: usize,
    /// What to do.
    pub kind: StepKind,
}

/// An integer expression: terms added or subtracted (`$n+1`, `3`, `$a-$b`).
#[derive(Debug, Clone, PartialEq)]
pub struct IntExpr(pub Vec<(i64, Term)>);

/// One term of an [`IntExpr`].
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// A literal.
    Lit(i64),
    /// A variable holding an integer.
    Var(String),
}

/// Credentials options shared by `open`, `register` and `login`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Creds {
    /// Device id; defaults to `dev-` + the connection name.
    pub device: Option<String>,
    /// Password; defaults to the suite's password.
    pub password: Option<String>,
}

/// How a `users` alias gets its real name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewName {
    /// A fresh name, optionally of an exact length (`long=32`).
    Fresh(Option<usize>),
    /// An alias declared before it plus a suffix (`bobs=bob+.smith`), so one
    /// real name can be a prefix of another (mention tests).
    Extends { base: String, suffix: String },
}

/// Everything a scenario can do.
#[derive(Debug, Clone)]
pub enum StepKind {
    /// `users alice bob long=32 bobs=bob+.smith`: declare user aliases.
    Users(Vec<(String, NewName)>),
    /// `connect A [rcvbuf=N] [keep-hello]`.
    Connect {
        conn: String,
        rcvbuf: Option<u32>,
        keep_hello: bool,
    },
    /// `open A alice [device=D] [password=P] [rcvbuf=N]`: connect + register or login.
    Open {
        conn: String,
        user: String,
        creds: Creds,
        rcvbuf: Option<u32>,
    },
    /// `register A alice ...` on an open connection, expecting `session`.
    Register {
        conn: String,
        user: String,
        creds: Creds,
    },
    /// `login A alice ...` on an open connection, expecting `session`.
    Login {
        conn: String,
        user: String,
        creds: Creds,
    },
    /// `auth B as A`: authenticate B with A's token and device.
    AuthAs { conn: String, from: String },
    /// `send A {json}`.
    Send { conn: String, frame: Value },
    /// `raw A text`: a text frame with exactly this (interpolated) content.
    Raw { conn: String, text: String },
    /// `binary A N`: a binary frame of N bytes.
    Binary { conn: String, len: usize },
    /// `big A N [fragments=K]`: a valid `ping` text message of exactly N bytes
    /// (an integer expression, e.g. `$max+1`), optionally sent as K
    /// fragments (raw WebSocket frames).
    Big {
        conn: String,
        len: IntExpr,
        fragments: Option<usize>,
    },
    /// `expect A {pattern} [within=MS]`.
    Expect {
        conn: String,
        pattern: Value,
        within: Option<u64>,
    },
    /// `expect-none A {pattern} [within=MS]`: nothing matching arrives in the window.
    ExpectNone {
        conn: String,
        pattern: Value,
        within: Option<u64>,
    },
    /// `expect-close A CODE [within=MS]`.
    ExpectClose {
        conn: String,
        code: u16,
        within: Option<u64>,
    },
    /// `expect-seqs A $conv FROM..TO [within=MS]`: `message` pushes of the
    /// conversation arrive with exactly these seqs, in order.
    ExpectSeqs {
        conn: String,
        conv: Value,
        from: IntExpr,
        to: IntExpr,
        within: Option<u64>,
    },
    /// `count A {pattern} -> var`: consume every buffered matching frame, count them.
    Count {
        conn: String,
        pattern: Value,
        var: String,
    },
    /// `flush A`: ping round trip, so everything sent before is buffered.
    Flush { conn: String },
    /// `let x = EXPR`.
    Let { var: String, expr: IntExpr },
    /// `assert EXPR OP EXPR` with OP one of `== != < <= > >=`.
    Assert {
        left: IntExpr,
        op: String,
        right: IntExpr,
    },
    /// `drain A`: discard everything buffered on A.
    Drain { conn: String },
    /// `ignore A type…`: frames of these types are dropped on arrival from now on.
    Ignore { conn: String, types: Vec<String> },
    /// `ignore A {pattern}`: frames matching the pattern (variables bound
    /// now) are dropped on arrival from now on: frames the spec allows but
    /// does not require.
    IgnoreMatching { conn: String, pattern: Value },
    /// `pause A`: stop reading from the socket (slow consumer).
    Pause { conn: String },
    /// `resume A`: read again.
    Resume { conn: String },
    /// `close A`: the client closes with 1000.
    Close { conn: String },
    /// `sleep MS`.
    Sleep(u64),
    /// `timeout MS`: default wait of later expectations.
    Timeout(u64),
    /// `restart`: stop the server gracefully and start it again on the same database.
    Restart,
    /// `repeat N [var]` … `end`; `var` counts from 1.
    Repeat {
        count: IntExpr,
        var: Option<String>,
        body: Vec<Step>,
    },
    /// `parallel` / `branch` … / `end`: branches run concurrently.
    Parallel { branches: Vec<Vec<Step>> },
}
