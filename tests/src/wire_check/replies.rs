//! Replies read against their requests: the reply type a request gets, `conv` and
//! `client_id` echoed, `sync` without a token answered in full, and `messages` pages against
//! their `pull`, `history` or `thread` (size, order, contiguity, `root`, totals).

use serde_json::{Map, Value};

use super::{Checker, Pending, totals};
use crate::proxy::{Direction, Logged};

/// The seqs a `pull` or `history` asks for (`history` without `before`: unknown).
pub(super) fn fetch_range(ty: &str, req: &Map<String, Value>) -> Option<(u64, u64)> {
    let get = |k: &str| req.get(k).and_then(Value::as_u64);
    let limit = req
        .get("limit")
        .and_then(Value::as_i64)
        .map_or(100, |n| n.clamp(1, 500)) as u64;
    match ty {
        "pull" => {
            let after = get("after")?;
            Some((after + 1, after + limit))
        }
        "history" => {
            let before = get("before")?;
            Some((before.saturating_sub(limit).max(1), before.checked_sub(1)?))
        }
        _ => None,
    }
}

impl Checker {
    /// A reply against its request.
    pub(super) fn reply(&mut self, l: &Logged, ty: &str, obj: &Map<String, Value>, p: &Pending) {
        let down = Direction::Down;
        let expected: &[&str] = match p.ty.as_str() {
            "register" | "login" | "auth" => &["session"],
            "logout" | "password" | "invite" | "leave" | "rename" | "read" | "typing"
            | "settings" => &["ok"],
            "ping" => &["pong"],
            "create" => &["conversation"],
            "members" => &["members"],
            "sync" => &["sync"],
            "pull" | "history" | "thread" => &["messages"],
            "send" | "edit" | "redact" | "react" => &["sent"],
            _ => &[],
        };
        if ty != "error" && !expected.contains(&ty) {
            self.report(l, down, "§3-§9", format!("`{ty}` answers a `{}`", p.ty));
            return;
        }
        for k in ["conv", "client_id"] {
            if ty != "error" && obj.contains_key(k) && p.req.contains_key(k) && obj[k] != p.req[k] {
                self.report(l, down, "§7", format!("`{k}` differs from the request's"));
            }
        }
        if ty == "sync"
            && !p.req.contains_key("since")
            && obj.get("full") != Some(&Value::Bool(true))
        {
            self.report(
                l,
                down,
                "§5",
                "sync without `since` answered with full: false".into(),
            );
        }
        if ty == "messages" {
            self.page(l, obj, p);
        }
    }

    /// A `messages` reply against its `pull`, `history` or `thread` (§6, §9.1).
    fn page(&mut self, l: &Logged, obj: &Map<String, Value>, p: &Pending) {
        let down = Direction::Down;
        let seqs: Vec<u64> = obj
            .get("messages")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|m| m.get("seq")?.as_u64()).collect())
            .unwrap_or_default();
        let last_seq = obj.get("last_seq").and_then(Value::as_u64).unwrap_or(0);
        let entries = obj
            .get("messages")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let features = self
            .conns
            .get(&l.conn)
            .map(|c| c.features.clone())
            .unwrap_or_default();
        for t in totals::check_page(entries, &features) {
            self.report(l, down, "§9.1/§9.2", t);
        }
        let get = |k: &str| p.req.get(k).and_then(Value::as_u64);
        let limit = p
            .req
            .get("limit")
            .and_then(Value::as_i64)
            .map_or(100, |n| n.min(500)) as usize;
        let mut bad = Vec::new();
        if seqs.len() > limit {
            bad.push(format!("{} entries for limit {limit}", seqs.len()));
        }
        if !seqs.windows(2).all(|w| w[0] < w[1]) {
            bad.push("not ascending".into());
        }
        if seqs.last().is_some_and(|&s| s > last_seq) {
            bad.push(format!("an entry above last_seq {last_seq}"));
        }
        let is_thread = p.ty == "thread";
        for k in ["root", "thread_last_seq"] {
            if obj.contains_key(k) != is_thread {
                bad.push(format!(
                    "`{k}` {} on a `{}` reply",
                    if is_thread { "missing" } else { "present" },
                    p.ty
                ));
            }
        }
        match p.ty.as_str() {
            "pull" => {
                let after = get("after").unwrap_or(0);
                let contiguous = seqs
                    .iter()
                    .enumerate()
                    .all(|(i, &s)| s == after + 1 + i as u64);
                if !contiguous {
                    bad.push(format!("not contiguous from {}", after + 1));
                }
                if seqs.is_empty() && after < last_seq {
                    bad.push(format!("empty while entries remain ({after} < {last_seq})"));
                }
            }
            "history" => {
                let top = get("before").map_or(last_seq, |b| b.saturating_sub(1).min(last_seq));
                let contiguous = seqs
                    .iter()
                    .rev()
                    .enumerate()
                    .all(|(i, &s)| s + i as u64 == top);
                if !contiguous {
                    bad.push(format!("not the newest entries up to {top}"));
                }
            }
            _ => {
                if obj.get("root").and_then(Value::as_u64) != get("root") {
                    bad.push("`root` differs from the request's".into());
                }
                let after = get("after").unwrap_or(0);
                if seqs.first().is_some_and(|&s| s <= after) {
                    bad.push(format!("an entry at or below after {after}"));
                }
            }
        }
        for b in bad {
            self.report(l, down, if is_thread { "§9.1" } else { "§6" }, b);
        }
    }
}
