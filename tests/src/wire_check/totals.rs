//! §9.1 and §9.2 totals inside one `messages` page: a text that the page shows replies to
//! must carry `replies` and `last_reply_seq` at least that high, and a text with a standing
//! reaction in the page must count it under its key. Only what the page itself proves is
//! checked (entries outside it are not known here).

use std::collections::HashMap;

use serde_json::Value;

/// One line per total the page contradicts.
pub fn check_page(entries: &[Value], features: &[String]) -> Vec<String> {
    let on = |f: &str| features.iter().any(|x| x == f);
    let num = |e: &Value, k: &str| e.get(k).and_then(Value::as_u64);
    let flag = |e: &Value, k: &str| e.get(k) == Some(&Value::Bool(true));
    let kind = |e: &Value| {
        e.get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    // Per root: replies seen in the page and the newest; per (text, key): standing reactions.
    let mut replies: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut reactions: HashMap<(u64, String), u64> = HashMap::new();
    for e in entries {
        let seq = num(e, "seq").unwrap_or(0);
        match kind(e).as_str() {
            "text" => {
                if let Some(root) = num(e, "thread").filter(|&r| r != seq) {
                    let r = replies.entry(root).or_default();
                    r.0 += 1;
                    r.1 = r.1.max(seq);
                }
            }
            "reaction" if !flag(e, "redacted") => {
                let key = e
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                if let Some(target) = num(e, "target") {
                    *reactions.entry((target, key)).or_default() += 1;
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for e in entries.iter().filter(|e| kind(e) == "text") {
        let seq = num(e, "seq").unwrap_or(0);
        if on("reply")
            && let Some(&(n, newest)) = replies.get(&seq)
        {
            let (got_n, got_last) = (num(e, "replies"), num(e, "last_reply_seq"));
            if got_n.is_none_or(|g| g < n) || got_last.is_none_or(|g| g < newest) {
                out.push(format!(
                    "text {seq}: replies {got_n:?} / last_reply_seq {got_last:?}, \
                     but the page holds {n} replies up to {newest}"
                ));
            }
        }
        if on("reactions") && !flag(e, "redacted") {
            for ((target, key), n) in &reactions {
                let got = e
                    .get("reactions")
                    .and_then(|r| r.get(key))
                    .and_then(Value::as_u64);
                if *target == seq && got.is_none_or(|g| g < *n) {
                    out.push(format!(
                        "text {seq}: reactions[{key}] {got:?}, the page holds {n}"
                    ));
                }
            }
        }
    }
    out.sort();
    out
}
