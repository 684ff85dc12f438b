//! Parser for scenario files (format: `tests/scenarios/README.md`); every
//! error names `file:line`.

use std::path::Path;

use serde_json::Value;

use crate::script::{Creds, IntExpr, NewName, Scenario, Step, StepKind, Term};
use crate::template::{desugar, is_name_char};

/// A scenario file that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The text is not a valid scenario.
    #[error("{file}:{line}: {msg}")]
    Syntax {
        /// Scenario file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// The file or directory could not be read.
    #[error("reading {file}: {source}")]
    Read {
        /// Path that failed.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Reads and parses one scenario file.
pub fn parse_file(path: &Path) -> Result<Scenario, ScriptError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Read {
        file: file.clone(),
        source,
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.clone());
    parse_str(&name, &file, &text)
}

/// Parses scenario text; `file` is only used in error messages.
pub fn parse_str(name: &str, file: &str, text: &str) -> Result<Scenario, ScriptError> {
    let mut p = Parser {
        file,
        lines: text.lines().collect(),
        pos: 0,
        exclusive: false,
        requires: Vec::new(),
        notes: None,
    };
    let (steps, end) = p.block()?;
    if let Some((line, word)) = end {
        return Err(p.err(line, format!("`{word}` without a matching block")));
    }
    Ok(Scenario {
        name: name.to_owned(),
        path: file.to_owned(),
        exclusive: p.exclusive,
        requires: p.requires,
        notes: p.notes,
        steps,
    })
}

/// Steps of a block and the word that ended it (`end`/`branch`), with its line.
type Block = (Vec<Step>, Option<(usize, String)>);

struct Parser<'a> {
    file: &'a str,
    lines: Vec<&'a str>,
    pos: usize,
    exclusive: bool,
    requires: Vec<String>,
    notes: Option<String>,
}

/// Options after the positional words: `key=value` pairs and bare flags.
#[derive(Default)]
struct Opts(Vec<(String, Option<String>)>);

impl Opts {
    fn take(&mut self, key: &str) -> Option<Option<String>> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }
}

impl<'a> Parser<'a> {
    fn err(&self, line: usize, msg: impl Into<String>) -> ScriptError {
        ScriptError::Syntax {
            file: self.file.to_owned(),
            line,
            msg: msg.into(),
        }
    }

    /// Parses steps until EOF or a block word (`end`, `branch`), which is returned.
    fn block(&mut self) -> Result<Block, ScriptError> {
        let mut steps = Vec::new();
        while self.pos < self.lines.len() {
            let line = self.pos + 1;
            let text = self.lines[self.pos].trim();
            self.pos += 1;
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let (word, rest) = split_word(text);
            match word {
                "end" | "branch" => return Ok((steps, Some((line, word.to_owned())))),
                "exclusive" => self.exclusive = true,
                "requires" => self
                    .requires
                    .extend(rest.split_whitespace().map(str::to_owned)),
                "notes" if rest.trim().is_empty() => {
                    return Err(self.err(line, "`notes` needs a reason"));
                }
                "notes" => self.notes = Some(rest.trim().to_owned()),
                _ => {
                    let kind = self.step(line, word, rest)?;
                    steps.push(Step { line, kind });
                }
            }
        }
        Ok((steps, None))
    }

    /// Reads a JSON value starting in `rest`, continuing on later lines until
    /// brackets balance; returns the value and the text after it.
    fn json(&mut self, line: usize, rest: &str) -> Result<(Value, String), ScriptError> {
        let mut buf = rest.to_owned();
        loop {
            if let Some(end) = balanced_end(&buf) {
                let tail = buf[end..].trim().to_owned();
                let src = desugar(&buf[..end]);
                let value = serde_json::from_str(&src)
                    .map_err(|e| self.err(line, format!("bad JSON: {e}")))?;
                return Ok((value, tail));
            }
            if self.pos >= self.lines.len() {
                return Err(self.err(line, "unterminated JSON"));
            }
            buf.push('\n');
            buf.push_str(self.lines[self.pos]);
            self.pos += 1;
        }
    }

    fn opts(&self, line: usize, words: &[&str]) -> Result<Opts, ScriptError> {
        let mut out = Opts::default();
        for w in words {
            match w.split_once('=') {
                Some((k, v)) => out.0.push((k.to_owned(), Some(v.to_owned()))),
                None if w.chars().all(|c| c.is_ascii_lowercase() || c == '-') => {
                    out.0.push(((*w).to_owned(), None))
                }
                None => return Err(self.err(line, format!("unexpected `{w}`"))),
            }
        }
        Ok(out)
    }

    fn no_more(&self, line: usize, opts: Opts) -> Result<(), ScriptError> {
        match opts.0.first() {
            Some((k, _)) => Err(self.err(line, format!("unknown option `{k}`"))),
            None => Ok(()),
        }
    }

    fn num<T: std::str::FromStr>(
        &self,
        line: usize,
        what: &str,
        s: &str,
    ) -> Result<T, ScriptError> {
        s.parse()
            .map_err(|_| self.err(line, format!("{what} must be a number, got `{s}`")))
    }

    fn within(&self, line: usize, opts: &mut Opts) -> Result<Option<u64>, ScriptError> {
        match opts.take("within") {
            Some(Some(v)) => Ok(Some(self.num(line, "within", &v)?)),
            Some(None) => Err(self.err(line, "within needs =MS")),
            None => Ok(None),
        }
    }

    fn creds(&self, opts: &mut Opts) -> Creds {
        Creds {
            device: opts.take("device").flatten(),
            password: opts.take("password").flatten(),
        }
    }

    fn rcvbuf(&self, line: usize, opts: &mut Opts) -> Result<Option<u32>, ScriptError> {
        match opts.take("rcvbuf").flatten() {
            Some(v) => Ok(Some(self.num(line, "rcvbuf", &v)?)),
            None => Ok(None),
        }
    }

    fn int_expr(&self, line: usize, src: &str) -> Result<IntExpr, ScriptError> {
        parse_int_expr(src).ok_or_else(|| self.err(line, format!("bad integer expression `{src}`")))
    }

    fn step(&mut self, line: usize, word: &str, rest: &str) -> Result<StepKind, ScriptError> {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let conn = || -> Result<String, ScriptError> {
            match words.first() {
                Some(w) if w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                    Ok((*w).to_owned())
                }
                _ => Err(self.err(line, format!("`{word}` needs a connection name"))),
            }
        };
        let need = |n: usize| -> Result<(), ScriptError> {
            if words.len() < n {
                Err(self.err(line, format!("`{word}` needs {n} argument(s)")))
            } else {
                Ok(())
            }
        };
        Ok(match word {
            "users" => {
                need(1)?;
                let mut out = Vec::new();
                for w in &words {
                    let (name, rule) = match w.split_once('=') {
                        Some((n, l)) => match l.split_once('+') {
                            Some((base, suffix)) => {
                                let known = out.iter().any(|(a, _)| a == base);
                                if !known || suffix.is_empty() {
                                    return Err(self.err(
                                        line,
                                        format!("`{w}`: ALIAS=BASE+SUFFIX needs BASE declared before it and a suffix"),
                                    ));
                                }
                                let rule = NewName::Extends {
                                    base: base.to_owned(),
                                    suffix: suffix.to_owned(),
                                };
                                (n, rule)
                            }
                            None => (n, NewName::Fresh(Some(self.num(line, "user length", l)?))),
                        },
                        None => (*w, NewName::Fresh(None)),
                    };
                    if name.is_empty() || !name.chars().all(is_name_char) {
                        return Err(self.err(line, format!("bad user alias `{w}`")));
                    }
                    out.push((name.to_owned(), rule));
                }
                StepKind::Users(out)
            }
            "connect" => {
                let conn = conn()?;
                let mut o = self.opts(line, &words[1..])?;
                let rcvbuf = self.rcvbuf(line, &mut o)?;
                let keep_hello = o.take("keep-hello").is_some();
                self.no_more(line, o)?;
                StepKind::Connect {
                    conn,
                    rcvbuf,
                    keep_hello,
                }
            }
            "open" | "register" | "login" => {
                need(2)?;
                let conn = conn()?;
                let user = words[1].to_owned();
                let mut o = self.opts(line, &words[2..])?;
                let creds = self.creds(&mut o);
                let rcvbuf = if word == "open" {
                    self.rcvbuf(line, &mut o)?
                } else {
                    None
                };
                self.no_more(line, o)?;
                match word {
                    "open" => StepKind::Open {
                        conn,
                        user,
                        creds,
                        rcvbuf,
                    },
                    "register" => StepKind::Register { conn, user, creds },
                    _ => StepKind::Login { conn, user, creds },
                }
            }
            "auth" => {
                if words.len() != 3 || words[1] != "as" {
                    return Err(self.err(line, "usage: auth B as A"));
                }
                StepKind::AuthAs {
                    conn: conn()?,
                    from: words[2].to_owned(),
                }
            }
            "send" | "expect" | "expect-none" | "count" => {
                let conn = conn()?;
                let after_conn = rest.trim_start()[conn.len()..].trim_start();
                if !after_conn.starts_with('{') {
                    return Err(self.err(line, format!("`{word}` needs a JSON object")));
                }
                let (value, tail) = self.json(line, after_conn)?;
                let tail_words: Vec<&str> = tail.split_whitespace().collect();
                match word {
                    "send" => {
                        self.no_more(line, self.opts(line, &tail_words)?)?;
                        StepKind::Send { conn, frame: value }
                    }
                    "count" => match tail_words.as_slice() {
                        ["->", var] => StepKind::Count {
                            conn,
                            pattern: value,
                            var: (*var).to_owned(),
                        },
                        _ => return Err(self.err(line, "usage: count A {pattern} -> var")),
                    },
                    _ => {
                        let mut o = self.opts(line, &tail_words)?;
                        let within = self.within(line, &mut o)?;
                        self.no_more(line, o)?;
                        if word == "expect" {
                            StepKind::Expect {
                                conn,
                                pattern: value,
                                within,
                            }
                        } else {
                            StepKind::ExpectNone {
                                conn,
                                pattern: value,
                                within,
                            }
                        }
                    }
                }
            }
            "raw" => {
                let conn = conn()?;
                let text = rest.trim_start()[conn.len()..].trim_start().to_owned();
                StepKind::Raw { conn, text }
            }
            "binary" => {
                need(2)?;
                StepKind::Binary {
                    conn: conn()?,
                    len: self.num(line, "length", words[1])?,
                }
            }
            "big" => {
                need(2)?;
                let mut o = self.opts(line, &words[2..])?;
                let fragments = match o.take("fragments").flatten() {
                    Some(v) => Some(self.num(line, "fragments", &v)?),
                    None => None,
                };
                self.no_more(line, o)?;
                StepKind::Big {
                    conn: conn()?,
                    len: self.int_expr(line, words[1])?,
                    fragments,
                }
            }
            "expect-close" => {
                need(2)?;
                let mut o = self.opts(line, &words[2..])?;
                let within = self.within(line, &mut o)?;
                self.no_more(line, o)?;
                StepKind::ExpectClose {
                    conn: conn()?,
                    code: self.num(line, "close code", words[1])?,
                    within,
                }
            }
            "expect-seqs" => {
                need(3)?;
                let conv = match words[1].strip_prefix('$') {
                    Some(var) => serde_json::json!({ "$var": var }),
                    None => Value::String(words[1].to_owned()),
                };
                let (from, to) = words[2]
                    .split_once("..")
                    .ok_or_else(|| self.err(line, "expected FROM..TO"))?;
                let mut o = self.opts(line, &words[3..])?;
                let within = self.within(line, &mut o)?;
                self.no_more(line, o)?;
                StepKind::ExpectSeqs {
                    conn: conn()?,
                    conv,
                    from: self.int_expr(line, from)?,
                    to: self.int_expr(line, to)?,
                    within,
                }
            }
            "flush" | "drain" | "pause" | "resume" | "close" => {
                let conn = conn()?;
                if words.len() != 1 {
                    return Err(self.err(line, format!("`{word}` takes only a connection")));
                }
                match word {
                    "flush" => StepKind::Flush { conn },
                    "drain" => StepKind::Drain { conn },
                    "pause" => StepKind::Pause { conn },
                    "resume" => StepKind::Resume { conn },
                    _ => StepKind::Close { conn },
                }
            }
            "ignore" => {
                need(2)?;
                let conn = conn()?;
                let after_conn = rest.trim_start()[conn.len()..].trim_start();
                if after_conn.starts_with('{') {
                    let (pattern, tail) = self.json(line, after_conn)?;
                    if !tail.is_empty() {
                        return Err(self.err(line, format!("unexpected `{tail}`")));
                    }
                    return Ok(StepKind::IgnoreMatching { conn, pattern });
                }
                StepKind::Ignore {
                    conn,
                    types: words[1..].iter().map(|s| (*s).to_owned()).collect(),
                }
            }
            "let" => {
                let (var, expr) = rest
                    .split_once('=')
                    .ok_or_else(|| self.err(line, "usage: let x = EXPR"))?;
                StepKind::Let {
                    var: var.trim().to_owned(),
                    expr: self.int_expr(line, expr)?,
                }
            }
            "assert" => {
                let (left, op, right) = match words.as_slice() {
                    [l, op, r] if ["==", "!=", "<", "<=", ">", ">="].contains(op) => (*l, *op, *r),
                    _ => {
                        return Err(
                            self.err(line, "usage: assert EXPR OP EXPR (OP: == != < <= > >=)")
                        );
                    }
                };
                StepKind::Assert {
                    left: self.int_expr(line, left)?,
                    op: op.to_owned(),
                    right: self.int_expr(line, right)?,
                }
            }
            "sleep" | "timeout" => {
                need(1)?;
                let ms = self.num(line, "milliseconds", words[0])?;
                if word == "sleep" {
                    StepKind::Sleep(ms)
                } else {
                    StepKind::Timeout(ms)
                }
            }
            "restart" => StepKind::Restart,
            "repeat" => {
                need(1)?;
                let count = self.int_expr(line, words[0])?;
                let var = words.get(1).map(|s| (*s).to_owned());
                let (body, end) = self.block()?;
                match end {
                    Some((_, w)) if w == "end" => StepKind::Repeat { count, var, body },
                    _ => return Err(self.err(line, "`repeat` without `end`")),
                }
            }
            "parallel" => {
                let (first, mut end) = self.block()?;
                if !first.is_empty() {
                    return Err(self.err(line, "`parallel` must start with `branch`"));
                }
                let mut branches = Vec::new();
                loop {
                    match end {
                        Some((_, w)) if w == "branch" => {
                            let (body, e) = self.block()?;
                            branches.push(body);
                            end = e;
                        }
                        Some((_, w)) if w == "end" => break,
                        _ => return Err(self.err(line, "`parallel` without `end`")),
                    }
                }
                StepKind::Parallel { branches }
            }
            other => return Err(self.err(line, format!("unknown command `{other}`"))),
        })
    }
}

fn split_word(text: &str) -> (&str, &str) {
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    }
}

/// Byte index just after the JSON value that starts `s`, once brackets balance.
fn balanced_end(s: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// `3`, `$n`, `$n+1`, `$a-$b+2` (no spaces needed; spaces are ignored).
pub fn parse_int_expr(src: &str) -> Option<IntExpr> {
    let s: String = src.chars().filter(|c| !c.is_whitespace()).collect();
    let mut terms = Vec::new();
    let mut sign = 1;
    let mut cur = String::new();
    let flush = |cur: &mut String, sign: i64, terms: &mut Vec<(i64, Term)>| -> Option<()> {
        let t = if let Some(var) = cur.strip_prefix('$') {
            if var.is_empty() || !var.chars().all(is_name_char) {
                return None;
            }
            Term::Var(var.to_owned())
        } else {
            Term::Lit(cur.parse().ok()?)
        };
        terms.push((sign, t));
        cur.clear();
        Some(())
    };
    for c in s.chars() {
        if (c == '+' || c == '-') && !cur.is_empty() {
            flush(&mut cur, sign, &mut terms)?;
            sign = if c == '+' { 1 } else { -1 };
        } else {
            cur.push(c);
        }
    }
    flush(&mut cur, sign, &mut terms)?;
    Some(IntExpr(terms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_user_alias_can_extend_an_earlier_one() {
        let s = parse_str("t", "t.scn", "users bob bobs=bob+.smith long=32\n").unwrap();
        match &s.steps[0].kind {
            StepKind::Users(list) => assert_eq!(
                list,
                &vec![
                    ("bob".to_owned(), NewName::Fresh(None)),
                    (
                        "bobs".to_owned(),
                        NewName::Extends {
                            base: "bob".into(),
                            suffix: ".smith".into()
                        }
                    ),
                    ("long".to_owned(), NewName::Fresh(Some(32))),
                ]
            ),
            other => panic!("{other:?}"),
        }
        assert!(parse_str("t", "t.scn", "users bobs=bob+.smith bob\n").is_err());
    }

    #[test]
    fn parses_blocks_multiline_json_and_options() {
        let text = "users alice bob long=32\nopen A alice device=d1\n# comment\n\
                    send A {\"type\":\"ping\",\n  \"id\":1}\nexpect A {\"re\":1,\"x\":?v} within=200\n\
                    repeat $n+1 i\n  parallel\n  branch\n    sleep 1\n  branch\n    sleep 2\n  end\nend\n";
        let s = parse_str("t", "t.scn", text).unwrap();
        assert_eq!(s.steps.len(), 5);
        assert_eq!(s.steps[3].line, 6);
        match &s.steps[2].kind {
            StepKind::Send { frame, .. } => assert_eq!(frame, &json!({"type":"ping","id":1})),
            other => panic!("{other:?}"),
        }
        match &s.steps[4].kind {
            StepKind::Repeat { count, var, body } => {
                assert_eq!(count.0, vec![(1, Term::Var("n".into())), (1, Term::Lit(1))]);
                assert_eq!(var.as_deref(), Some("i"));
                match &body[0].kind {
                    StepKind::Parallel { branches } => assert_eq!(branches.len(), 2),
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn notes_ignore_patterns_and_big_expressions() {
        let text = "notes server-mock's page size\nconnect A\n\
                    ignore A {\"type\":\"read\",\n \"seq\":{\"$lte\":$s}}\nignore A typing\nbig A $max+1\n";
        let s = parse_str("t", "t.scn", text).unwrap();
        assert_eq!(s.notes.as_deref(), Some("server-mock's page size"));
        match &s.steps[1].kind {
            StepKind::IgnoreMatching { conn, pattern } => {
                assert_eq!(conn, "A");
                assert_eq!(pattern, &json!({"type":"read","seq":{"$lte":{"$var":"s"}}}));
            }
            other => panic!("{other:?}"),
        }
        match &s.steps[2].kind {
            StepKind::Ignore { types, .. } => assert_eq!(types, &vec!["typing".to_owned()]),
            other => panic!("{other:?}"),
        }
        match &s.steps[3].kind {
            StepKind::Big { len, .. } => {
                assert_eq!(len.0, vec![(1, Term::Var("max".into())), (1, Term::Lit(1))])
            }
            other => panic!("{other:?}"),
        }
        assert!(
            parse_str("t", "t.scn", "connect A\n")
                .unwrap()
                .notes
                .is_none()
        );
        let err = parse_str("t", "x.scn", "notes\n").unwrap_err();
        assert_eq!(err.to_string(), "x.scn:1: `notes` needs a reason");
    }

    #[test]
    fn errors_point_to_file_and_line() {
        let err = parse_str("t", "x.scn", "users a\n\nfrobnicate A\n").unwrap_err();
        assert_eq!(err.to_string(), "x.scn:3: unknown command `frobnicate`");
        let err = parse_str("t", "x.scn", "send A {\"a\":\n").unwrap_err();
        assert_eq!(err.to_string(), "x.scn:1: unterminated JSON");
        let err = parse_str("t", "x.scn", "repeat 2\nsleep 1\n").unwrap_err();
        assert_eq!(err.to_string(), "x.scn:1: `repeat` without `end`");
        let err = parse_str("t", "x.scn", "expect A {\"a\":1} within=soon\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.scn:1: within must be a number, got `soon`"
        );
    }
}
