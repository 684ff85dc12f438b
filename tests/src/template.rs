//! JSON templates: the `$var` / `?capture` / `*` / `absent` sugar of scenario
//! files, and filling a template with variables and user names before sending.
//!
//! Sugar is rewritten into plain JSON "operator objects" (a one-key object
//! whose key starts with `$`) so that the rest of the suite only handles
//! `serde_json::Value`s:
//! `$x` → `{"$var":"x"}`, `?x` → `{"$capture":"x"}`, `*` → `{"$any":true}`,
//! `absent` → `{"$absent":true}`.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// Variables of one running scenario (captures, `let`, loop counters, helper
/// outputs such as `A.token`, and every user alias mapped to its fresh name).
#[derive(Debug, Default, Clone)]
pub struct Vars {
    values: HashMap<String, Value>,
    /// Script user alias → generated user name (`alice` → `alice_k3j9x`).
    aliases: HashMap<String, String>,
}

impl Vars {
    /// Binds `name` to `value`, replacing an earlier binding.
    pub fn set(&mut self, name: &str, value: Value) {
        self.values.insert(name.to_owned(), value);
    }

    /// The value bound to `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Declares a user alias; `${alias}` and exact `"alias"` strings map to `real`.
    pub fn alias(&mut self, alias: &str, real: &str) {
        self.aliases.insert(alias.to_owned(), real.to_owned());
        self.set(alias, Value::String(real.to_owned()));
    }

    /// Takes over every binding and alias of `other` (used after `parallel`).
    pub fn merge(&mut self, other: Vars) {
        self.values.extend(other.values);
        self.aliases.extend(other.aliases);
    }

    /// The generated name for a user alias, if declared.
    pub fn user(&self, alias: &str) -> Option<&str> {
        self.aliases.get(alias).map(String::as_str)
    }

    /// Maps a whole string that is a declared alias to its real name.
    fn map_alias<'a>(&'a self, s: &'a str) -> &'a str {
        self.aliases.get(s).map(String::as_str).unwrap_or(s)
    }
}

/// Rewrites the scenario sugar into plain JSON text (strings are left untouched).
pub fn desugar(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len() + 16);
    let mut i = 0;
    let mut in_string = false;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            if c == '"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
                i += 1;
            }
            '$' | '?' => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && is_name_char(chars[end]) {
                    end += 1;
                }
                let name: String = chars[start..end].iter().collect();
                let key = if c == '$' { "$var" } else { "$capture" };
                out.push_str(&format!("{{\"{key}\":{}}}", Value::String(name)));
                i = end;
            }
            '*' => {
                out.push_str("{\"$any\":true}");
                i += 1;
            }
            'a' if chars[i..].iter().take(6).collect::<String>() == "absent"
                && !chars.get(i + 6).is_some_and(|c| is_name_char(*c)) =>
            {
                out.push_str("{\"$absent\":true}");
                i += 6;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Characters allowed in variable names (`A.token`, `seq_1`).
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// If `v` is an operator object (`{"$op": arg}`), returns `(op, arg)`.
pub fn operator(v: &Value) -> Option<(&str, &Value)> {
    let Value::Object(map) = v else { return None };
    if map.len() != 1 {
        return None;
    }
    let (k, arg) = map.iter().next()?;
    k.starts_with('$').then_some((k.as_str(), arg))
}

/// Expands `${name}` (a variable), and `${fill:N}` (N `x` characters) inside a
/// string; a whole string equal to a user alias becomes the generated name.
pub fn interpolate(s: &str, vars: &Vars) -> Result<String, String> {
    if !s.contains("${") {
        return Ok(vars.map_alias(s).to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `${{` in {s:?}"))?;
        let name = &after[..end];
        if let Some(n) = name.strip_prefix("fill:") {
            let n = fill_len(n, vars).ok_or_else(|| format!("bad length in ${{{name}}}"))?;
            out.push_str(&"x".repeat(n));
        } else {
            match vars.get(name) {
                Some(Value::String(v)) => out.push_str(v),
                Some(other) => out.push_str(&other.to_string()),
                None => return Err(format!("unbound variable ${{{name}}}")),
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The length of `${fill:N}`: a literal or an integer expression on
/// variables (`${fill:$max_body+1}`, a limit read from `hello`).
fn fill_len(src: &str, vars: &Vars) -> Option<usize> {
    let expr = crate::parse::parse_int_expr(src)?;
    let mut total = 0i64;
    for (sign, term) in &expr.0 {
        total += sign
            * match term {
                crate::script::Term::Lit(n) => *n,
                crate::script::Term::Var(name) => vars.get(name)?.as_i64()?,
            };
    }
    usize::try_from(total).ok()
}

/// Fills a frame template for sending: `$var` objects become their values,
/// strings are interpolated. Any other operator is an error.
pub fn fill(template: &Value, vars: &Vars) -> Result<Value, String> {
    if let Some((op, arg)) = operator(template) {
        return match (op, arg) {
            ("$var", Value::String(name)) => vars
                .get(name)
                .cloned()
                .ok_or_else(|| format!("unbound variable ${name}")),
            _ => Err(format!("operator {op} is only allowed in expectations")),
        };
    }
    Ok(match template {
        Value::String(s) => Value::String(interpolate(s, vars)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| fill(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), fill(v, vars)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn desugar_rewrites_outside_strings_only() {
        let src = r#"{"a":$conv,"b":?seq,"c":*,"d":absent,"e":"$x ?y * absent"}"#;
        let v: Value = serde_json::from_str(&desugar(src)).unwrap();
        assert_eq!(
            v,
            json!({"a":{"$var":"conv"},"b":{"$capture":"seq"},"c":{"$any":true},
                   "d":{"$absent":true},"e":"$x ?y * absent"})
        );
    }

    #[test]
    fn fill_length_may_be_an_expression_on_variables() {
        let mut vars = Vars::default();
        vars.set("max", json!(4));
        assert_eq!(interpolate("${fill:$max+1}", &vars).unwrap(), "xxxxx");
        assert_eq!(interpolate("${fill:$max-4}", &vars).unwrap(), "");
        assert!(interpolate("${fill:$max-5}", &vars).is_err());
        assert!(interpolate("${fill:$nope}", &vars).is_err());
    }

    #[test]
    fn fill_substitutes_vars_aliases_and_fill() {
        let mut vars = Vars::default();
        vars.alias("alice", "alice_abc12");
        vars.set("c", json!("c7"));
        vars.set("n", json!(3));
        let t = json!({"conv":{"$var":"c"},"user":"alice","body":"hi ${alice} #${n} ${fill:3}",
                       "members":["alice","zed"]});
        assert_eq!(
            fill(&t, &vars).unwrap(),
            json!({"conv":"c7","user":"alice_abc12","body":"hi alice_abc12 #3 xxx",
                   "members":["alice_abc12","zed"]})
        );
        assert_eq!(
            fill(&json!({"$var":"nope"}), &vars).unwrap_err(),
            "unbound variable $nope"
        );
    }
}
