//! Partial matching of a received frame against an expectation pattern.
//!
//! Objects match when every key of the pattern matches (extra keys in the frame
//! are ignored); arrays match element by element with the same length; strings,
//! numbers, booleans and null must be equal. Operator objects (see
//! [`crate::template`]) add wildcards, captures and comparisons:
//! `$var`, `$capture`, `$any`, `$absent`, `$len`, `$unordered`, `$contains`,
//! `$first`, `$last`, `$gt`, `$gte`, `$lt`, `$lte`, `$ne`, `$and`, `$or`, `$not`.

use serde_json::Value;

use crate::template::{Vars, interpolate, operator};

/// Why a frame did not match: where (a JSON path like `.message.seq`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Path inside the frame, `.` for the root.
    pub path: String,
    /// Human explanation.
    pub reason: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at {}: {}", self.path, self.reason)
    }
}

/// Captured `(variable, value)` pairs, applied only when the whole frame matched.
pub type Captures = Vec<(String, Value)>;

/// Matches `actual` against `pattern`, appending captures to `caps`.
pub fn matches(
    pattern: &Value,
    actual: &Value,
    vars: &Vars,
    caps: &mut Captures,
) -> Result<(), Mismatch> {
    match_at(pattern, actual, vars, caps, "")
}

/// Resolves a pattern value that must be concrete (`$var` or plain JSON with
/// interpolated strings); `None` when it contains wildcards or captures.
pub fn concrete(pattern: &Value, vars: &Vars) -> Option<Value> {
    if let Some((op, arg)) = operator(pattern) {
        return match (op, arg) {
            ("$var", Value::String(name)) => vars.get(name).cloned(),
            _ => None,
        };
    }
    match pattern {
        Value::String(s) => interpolate(s, vars).ok().map(Value::String),
        Value::Array(items) => items
            .iter()
            .map(|v| concrete(v, vars))
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                out.insert(k.clone(), concrete(v, vars)?);
            }
            Some(Value::Object(out))
        }
        other => Some(other.clone()),
    }
}

/// True when a missing field satisfies `p`: `absent`, or an `$or` with
/// `absent` among its alternatives (`{"$or":[absent,["bob"]]}`).
fn may_be_absent(p: &Value) -> bool {
    match operator(p) {
        Some(("$absent", _)) => true,
        Some(("$or", Value::Array(alts))) => alts.iter().any(may_be_absent),
        _ => false,
    }
}

fn fail(path: &str, reason: String) -> Result<(), Mismatch> {
    Err(Mismatch {
        path: if path.is_empty() {
            ".".into()
        } else {
            path.into()
        },
        reason,
    })
}

/// JSON equality where `1` and `1.0` are the same number.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(0);
        format!("{}…({} bytes)", &s[..cut], s.len())
    } else {
        s
    }
}

fn number_arg(arg: &Value, vars: &Vars, path: &str) -> Result<f64, Mismatch> {
    let resolved = concrete(arg, vars);
    match resolved.as_ref().and_then(Value::as_f64) {
        Some(n) => Ok(n),
        None => Err(Mismatch {
            path: path.into(),
            reason: format!("comparison needs a number, pattern has {}", short(arg)),
        }),
    }
}

fn match_operator(
    op: &str,
    arg: &Value,
    actual: &Value,
    vars: &Vars,
    caps: &mut Captures,
    path: &str,
) -> Result<(), Mismatch> {
    match op {
        "$any" => Ok(()),
        "$absent" => fail(path, format!("expected no field, got {}", short(actual))),
        "$capture" => {
            let name = arg.as_str().unwrap_or_default();
            caps.push((name.to_owned(), actual.clone()));
            Ok(())
        }
        "$var" => {
            let name = arg.as_str().unwrap_or_default();
            match vars.get(name) {
                Some(v) if json_eq(v, actual) => Ok(()),
                Some(v) => fail(
                    path,
                    format!("expected ${name} = {}, got {}", short(v), short(actual)),
                ),
                None => fail(path, format!("unbound variable ${name}")),
            }
        }
        "$len" => {
            let got = match actual {
                Value::Array(a) => a.len(),
                Value::String(s) => s.len(),
                Value::Object(o) => o.len(),
                _ => return fail(path, format!("$len of non-container {}", short(actual))),
            };
            // `{"$len":?n}` captures the length instead of checking it.
            if let Some(("$capture", _)) = operator(arg) {
                return match_at(arg, &Value::from(got), vars, caps, path);
            }
            let want = number_arg(arg, vars, path)? as usize;
            if got == want {
                Ok(())
            } else {
                fail(path, format!("expected length {want}, got {got}"))
            }
        }
        "$gt" | "$gte" | "$lt" | "$lte" => {
            let bound = number_arg(arg, vars, path)?;
            let Some(n) = actual.as_f64() else {
                return fail(path, format!("expected a number, got {}", short(actual)));
            };
            let ok = match op {
                "$gt" => n > bound,
                "$gte" => n >= bound,
                "$lt" => n < bound,
                _ => n <= bound,
            };
            if ok {
                Ok(())
            } else {
                fail(path, format!("expected {op} {bound}, got {n}"))
            }
        }
        "$first" | "$last" => {
            let Value::Array(items) = actual else {
                return fail(path, format!("expected an array, got {}", short(actual)));
            };
            let (item, sub) = if op == "$first" {
                (items.first(), format!("{path}[0]"))
            } else {
                (
                    items.last(),
                    format!("{path}[{}]", items.len().saturating_sub(1)),
                )
            };
            match item {
                Some(item) => match_at(arg, item, vars, caps, &sub),
                None => fail(path, format!("{op} of an empty array")),
            }
        }
        "$ne" => match match_at(arg, actual, vars, &mut Vec::new(), path) {
            Ok(()) => fail(path, format!("expected anything but {}", short(arg))),
            Err(_) => Ok(()),
        },
        "$not" => match match_at(arg, actual, vars, &mut Vec::new(), path) {
            Ok(()) => fail(path, format!("expected not to match {}", short(arg))),
            Err(_) => Ok(()),
        },
        "$and" => {
            for p in arg.as_array().into_iter().flatten() {
                match_at(p, actual, vars, caps, path)?;
            }
            Ok(())
        }
        "$or" => {
            let mut last = None;
            for p in arg.as_array().into_iter().flatten() {
                let mark = caps.len();
                match match_at(p, actual, vars, caps, path) {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        caps.truncate(mark);
                        last = Some(e);
                    }
                }
            }
            Err(last.unwrap_or(Mismatch {
                path: path.into(),
                reason: "empty $or".into(),
            }))
        }
        "$unordered" | "$contains" => {
            let pats: &[Value] = arg.as_array().map(Vec::as_slice).unwrap_or(&[]);
            let Value::Array(items) = actual else {
                return fail(path, format!("expected an array, got {}", short(actual)));
            };
            if op == "$unordered" && pats.len() != items.len() {
                return fail(
                    path,
                    format!("expected {} elements, got {}", pats.len(), items.len()),
                );
            }
            let mut used = vec![false; items.len()];
            if assign(pats, items, &mut used, vars, caps, path) {
                Ok(())
            } else {
                fail(
                    path,
                    format!(
                        "no element assignment matches {} in {}",
                        short(arg),
                        short(actual)
                    ),
                )
            }
        }
        other => fail(path, format!("unknown operator {other}")),
    }
}

/// Backtracking search giving each pattern a distinct matching element.
fn assign(
    pats: &[Value],
    items: &[Value],
    used: &mut [bool],
    vars: &Vars,
    caps: &mut Captures,
    path: &str,
) -> bool {
    let Some((first, rest)) = pats.split_first() else {
        return true;
    };
    for i in 0..items.len() {
        if used[i] {
            continue;
        }
        let mark = caps.len();
        let sub = format!("{path}[{i}]");
        if match_at(first, &items[i], vars, caps, &sub).is_ok() {
            used[i] = true;
            if assign(rest, items, used, vars, caps, path) {
                return true;
            }
            used[i] = false;
        }
        caps.truncate(mark);
    }
    false
}

fn match_at(
    pattern: &Value,
    actual: &Value,
    vars: &Vars,
    caps: &mut Captures,
    path: &str,
) -> Result<(), Mismatch> {
    if let Some((op, arg)) = operator(pattern) {
        return match_operator(op, arg, actual, vars, caps, path);
    }
    match (pattern, actual) {
        (Value::Object(pmap), Value::Object(amap)) => {
            for (k, p) in pmap {
                let sub = format!("{path}.{k}");
                let absent = may_be_absent(p);
                match amap.get(k) {
                    None if absent => {}
                    None => return fail(&sub, format!("missing, expected {}", short(p))),
                    Some(a) => match_at(p, a, vars, caps, &sub)?,
                }
            }
            Ok(())
        }
        (Value::Array(pitems), Value::Array(aitems)) => {
            if pitems.len() != aitems.len() {
                return fail(
                    path,
                    format!(
                        "expected {} elements, got {}: {}",
                        pitems.len(),
                        aitems.len(),
                        short(actual)
                    ),
                );
            }
            for (i, (p, a)) in pitems.iter().zip(aitems).enumerate() {
                match_at(p, a, vars, caps, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::String(p), _) => {
            let want = interpolate(p, vars).map_err(|e| Mismatch {
                path: path.into(),
                reason: e,
            })?;
            match actual {
                Value::String(a) if *a == want => Ok(()),
                _ => fail(
                    path,
                    format!(
                        "expected {}, got {}",
                        short(&Value::String(want)),
                        short(actual)
                    ),
                ),
            }
        }
        (p, a) if json_eq(p, a) => Ok(()),
        (p, a) => fail(path, format!("expected {}, got {}", short(p), short(a))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::desugar;
    use serde_json::json;

    fn pat(src: &str) -> Value {
        serde_json::from_str(&desugar(src)).unwrap()
    }

    #[test]
    fn partial_objects_wildcards_and_captures() {
        let mut vars = Vars::default();
        vars.alias("alice", "alice_x1");
        let p = pat(r#"{"type":"sent","re":3,"seq":?s,"ts":*,"extra":absent,"user":"alice"}"#);
        let frame = json!({"type":"sent","re":3,"seq":7,"ts":99,"conv":"c1","user":"alice_x1"});
        let mut caps = Vec::new();
        matches(&p, &frame, &vars, &mut caps).unwrap();
        assert_eq!(caps, vec![("s".to_owned(), json!(7))]);

        let bad = json!({"type":"sent","re":3,"seq":7,"user":"alice_x1"});
        let err = matches(&p, &bad, &vars, &mut Vec::new()).unwrap_err();
        assert_eq!(err.path, ".ts");
        let bad = json!({"type":"sent","re":3,"seq":7,"ts":1,"extra":1,"user":"alice_x1"});
        let err = matches(&p, &bad, &vars, &mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "at .extra: expected no field, got 1");
    }

    #[test]
    fn arrays_are_exact_unless_unordered_or_contains() {
        let vars = Vars::default();
        let frame = json!({"m":["b","a","c"]});
        assert!(
            matches(
                &pat(r#"{"m":["a","b","c"]}"#),
                &frame,
                &vars,
                &mut Vec::new()
            )
            .is_err()
        );
        matches(
            &pat(r#"{"m":{"$unordered":["a","b","c"]}}"#),
            &frame,
            &vars,
            &mut Vec::new(),
        )
        .unwrap();
        matches(
            &pat(r#"{"m":{"$contains":["c"]}}"#),
            &frame,
            &vars,
            &mut Vec::new(),
        )
        .unwrap();
        assert!(
            matches(
                &pat(r#"{"m":{"$contains":["d"]}}"#),
                &frame,
                &vars,
                &mut Vec::new()
            )
            .is_err()
        );
        matches(&pat(r#"{"m":{"$len":3}}"#), &frame, &vars, &mut Vec::new()).unwrap();
        let mut caps = Vec::new();
        matches(&pat(r#"{"m":{"$len":?n}}"#), &frame, &vars, &mut caps).unwrap();
        assert_eq!(caps, vec![("n".to_owned(), json!(3))]);
        matches(
            &pat(r#"{"m":{"$and":[{"$first":"b"},{"$last":"c"}]}}"#),
            &frame,
            &vars,
            &mut Vec::new(),
        )
        .unwrap();
        assert!(
            matches(
                &pat(r#"{"m":{"$last":"a"}}"#),
                &frame,
                &vars,
                &mut Vec::new()
            )
            .is_err()
        );
    }

    #[test]
    fn an_or_with_absent_accepts_a_missing_field() {
        let vars = Vars::default();
        let p = json!({"m": {"$or": [{"$absent": true}, ["bob"]]}});
        assert!(matches(&p, &json!({}), &vars, &mut Vec::new()).is_ok());
        assert!(matches(&p, &json!({"m": ["bob"]}), &vars, &mut Vec::new()).is_ok());
        assert!(matches(&p, &json!({"m": ["eve"]}), &vars, &mut Vec::new()).is_err());
        let strict = json!({"m": {"$or": [["bob"], ["eve"]]}});
        assert!(matches(&strict, &json!({}), &vars, &mut Vec::new()).is_err());
    }

    #[test]
    fn comparisons_and_vars() {
        let mut vars = Vars::default();
        vars.set("n", json!(5));
        matches(
            &pat(r#"{"x":{"$gte":$n},"y":$n}"#),
            &json!({"x":6,"y":5}),
            &vars,
            &mut Vec::new(),
        )
        .unwrap();
        let err = matches(
            &pat(r#"{"x":{"$gt":$n}}"#),
            &json!({"x":5}),
            &vars,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "at .x: expected $gt 5, got 5");
    }
}
