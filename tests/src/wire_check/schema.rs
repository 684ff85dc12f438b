//! The field sets of PROTOCOL.md v1.1 (and the extensions docs/PROTOCOL-NOTES.md records), per
//! frame type and per entry kind: which fields a frame must carry, which it may carry, with
//! which JSON type, and which §9 feature a field needs. Anything else is reported.

use serde_json::{Map, Value};

/// A JSON value's expected shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// A string.
    Str,
    /// A non-negative integer (ids, seqs, counts).
    UInt,
    /// Any integer (`ts`, `limit`: a negative limit is the server's to refuse).
    Int,
    /// `true` or `false`.
    Bool,
    /// An array of strings.
    StrList,
    /// A non-negative integer or `null` (`error.re`).
    UIntOrNull,
    /// `direct` or `group`.
    ConvKind,
    /// `all`, `mentions` or `none`.
    Notify,
    /// One of the §2 error codes.
    ErrorCode,
    /// An object of non-negative integers (`reactions`).
    Counts,
    /// A summary (§4), checked with [`summary_fields`].
    Summary,
    /// An array of summaries.
    Summaries,
    /// An entry (§6), checked with [`entry_fields`].
    Entry,
    /// An entry or `null` (`last`).
    EntryOrNull,
    /// An array of entries.
    Entries,
}

/// When a field may or must appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Always present.
    Required,
    /// May be absent.
    Optional,
    /// Present exactly when the server lists the feature (summaries' §9 fields).
    WithFeature(&'static str),
    /// May appear only when the server lists the feature.
    IfFeature(&'static str),
}

/// One field of a frame or an entry.
pub type Field = (&'static str, Ty, Need);

use Need::{IfFeature, Optional, Required, WithFeature};
use Ty::*;

/// The §2 error codes.
pub const ERROR_CODES: [&str; 9] = [
    "bad_request",
    "unauthenticated",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "too_large",
    "rate_limited",
    "internal",
];

/// The §9 feature a client request type needs, if any.
pub fn request_feature(ty: &str) -> Option<&'static str> {
    match ty {
        "thread" => Some("reply"),
        "react" => Some("reactions"),
        "settings" => Some("settings"),
        "password" => Some("account"),
        _ => None,
    }
}

/// Whether a request type changes the server's state (as `ClientFrame::is_write`, plus the
/// account writes).
pub fn is_write(ty: &str) -> bool {
    matches!(
        ty,
        "create"
            | "invite"
            | "leave"
            | "rename"
            | "send"
            | "edit"
            | "redact"
            | "react"
            | "settings"
            | "read"
            | "password"
    )
}

/// Fields of a client request (§3–§9), `type` left out. None for an unknown type.
pub fn request_fields(ty: &str) -> Option<&'static [Field]> {
    Some(match ty {
        // `invite`: server extension `register.invite` (PROTOCOL-NOTES.md).
        "register" => &[
            ("id", UInt, Required),
            ("user", Str, Required),
            ("password", Str, Required),
            ("device", Str, Required),
            ("invite", Str, Optional),
        ],
        "login" => &[
            ("id", UInt, Required),
            ("user", Str, Required),
            ("password", Str, Required),
            ("device", Str, Required),
        ],
        "auth" => &[
            ("id", UInt, Required),
            ("token", Str, Required),
            ("device", Str, Required),
        ],
        "logout" => &[("id", UInt, Required), ("all", Bool, IfFeature("account"))],
        "password" => &[
            ("id", UInt, Required),
            ("old", Str, Required),
            ("new", Str, Required),
        ],
        "ping" => &[("id", UInt, Required)],
        "create" => &[
            ("id", UInt, Required),
            ("kind", ConvKind, Required),
            ("title", Str, Optional),
            ("members", StrList, Required),
        ],
        "invite" => &[
            ("id", UInt, Required),
            ("conv", Str, Required),
            ("users", StrList, Required),
        ],
        "leave" | "members" | "typing" => &[("id", UInt, Required), ("conv", Str, Required)],
        "rename" => &[
            ("id", UInt, Required),
            ("conv", Str, Required),
            ("title", Str, Required),
        ],
        "sync" => &[("id", UInt, Required), ("since", Str, Optional)],
        "pull" => &[
            ("id", UInt, Required),
            ("conv", Str, Required),
            ("after", UInt, Required),
            ("limit", Int, Optional),
        ],
        "history" => &[
            ("id", UInt, Required),
            ("conv", Str, Required),
            ("before", UInt, Optional),
            ("limit", Int, Optional),
        ],
        "send" => &[
            ("id", UInt, Required),
            ("conv", Str, Required),
            ("client_id", Str, Required),
            ("body", Str, Required),
            ("reply_to", UInt, IfFeature("reply")),
        ],
        "edit" => &[
            ("id", UInt, Required),
            ("conv", Str, Required),
            ("client_id", Str, Required),
            ("target", UInt, Required),
            ("body", Str, Required),
        ],
        "redact" => &[
            ("id", UInt, Required),
            ("conv", Str, Required),
            ("client_id", Str, Required),
            ("target", UInt, Required),
        ],
        "read" => &[
            ("id", UInt, Required),
            ("conv", Str, Required),
            ("seq", UInt, Required),
        ],
        "thread" => &[
            ("id", UInt, Required),
            ("conv", Str, Required),
            ("root", UInt, Required),
            ("after", UInt, Required),
            ("limit", Int, Optional),
        ],
        "react" => &[
            ("id", UInt, Required),
            ("conv", Str, Required),
            ("client_id", Str, Required),
            ("target", UInt, Required),
            ("key", Str, Required),
        ],
        "settings" => &[
            ("id", UInt, Required),
            ("conv", Str, Required),
            ("notify", Notify, Optional),
            ("pinned", Bool, Optional),
            ("archived", Bool, Optional),
        ],
        _ => return None,
    })
}

/// Fields of a server frame (§2–§9), `type` left out. None for an unknown type.
pub fn server_fields(ty: &str) -> Option<&'static [Field]> {
    Some(match ty {
        // `register`: server extension `hello.register` (PROTOCOL-NOTES.md).
        "hello" => &[
            ("protocol", UInt, Required),
            ("server", Str, Required),
            ("server_id", Str, Required),
            ("max_frame_bytes", UInt, Required),
            ("max_body_bytes", UInt, Required),
            ("features", StrList, Optional),
            ("register", Str, Optional),
        ],
        "error" => &[
            ("re", UIntOrNull, Required),
            ("code", ErrorCode, Required),
            ("message", Str, Required),
            ("retry_after_ms", UInt, Optional),
        ],
        "session" => &[
            ("re", UInt, Required),
            ("user", Str, Required),
            ("device", Str, Required),
            ("token", Str, Required),
        ],
        "ok" | "pong" => &[("re", UInt, Required)],
        "conversation" => &[("re", UInt, Optional), ("conversation", Summary, Required)],
        "members" => &[
            ("re", UInt, Required),
            ("conv", Str, Required),
            ("members", StrList, Required),
        ],
        "sync" => &[
            ("re", UInt, Required),
            ("since", Str, Required),
            ("full", Bool, Required),
            ("more", Bool, Required),
            ("conversations", Summaries, Required),
        ],
        "messages" => &[
            ("re", UInt, Required),
            ("conv", Str, Required),
            ("messages", Entries, Required),
            ("last_seq", UInt, Required),
            ("root", UInt, IfFeature("reply")),
            ("thread_last_seq", UInt, IfFeature("reply")),
        ],
        "sent" => &[
            ("re", UInt, Required),
            ("conv", Str, Required),
            ("client_id", Str, Required),
            ("seq", UInt, Required),
            ("ts", Int, Required),
        ],
        "message" => &[("conv", Str, Required), ("message", Entry, Required)],
        "read" => &[("conv", Str, Required), ("seq", UInt, Required)],
        "receipt" => &[
            ("conv", Str, Required),
            ("user", Str, Required),
            ("seq", UInt, Required),
        ],
        "typing" => &[("conv", Str, Required), ("user", Str, Required)],
        "settings" => &[
            ("conv", Str, Required),
            ("notify", Notify, Required),
            ("pinned", Bool, Required),
            ("archived", Bool, Required),
        ],
        _ => return None,
    })
}

/// The server event types that need a feature.
pub fn event_feature(ty: &str) -> Option<&'static str> {
    (ty == "settings").then_some("settings")
}

/// Fields of a summary (§4, §9.3, §9.4).
pub const SUMMARY_FIELDS: &[Field] = &[
    ("conv", Str, Required),
    ("kind", ConvKind, Required),
    ("title", Str, Required),
    ("member_count", UInt, Required),
    ("last_seq", UInt, Required),
    ("read_seq", UInt, Required),
    ("unread", UInt, Required),
    ("last", EntryOrNull, Required),
    ("left", Bool, Required),
    ("mentions", UInt, WithFeature("mentions")),
    ("notify", Notify, WithFeature("settings")),
    ("pinned", Bool, WithFeature("settings")),
    ("archived", Bool, WithFeature("settings")),
];

/// Where an entry was found: `messages` replies carry §9 totals, pushes and `last` do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryPlace {
    /// In a `messages` reply (`pull`, `history`, `thread`).
    Page,
    /// In a `message` push or a summary's `last`: as appended.
    AsAppended,
}

/// Fields of an entry of `kind` (§6, §9). `redacted` is the entry's own flag. None for a kind
/// the protocol does not define.
pub fn entry_fields(kind: &str, redacted: bool, place: EntryPlace) -> Option<Vec<Field>> {
    let mut f: Vec<Field> = vec![
        ("seq", UInt, Required),
        ("sender", Str, Required),
        ("ts", Int, Required),
        ("kind", Str, Required),
        ("client_id", Str, Optional),
    ];
    // A redacted text or edit has no body (§9.5; PROTOCOL-NOTES: edits are flagged too).
    let body = if redacted { Optional } else { Required };
    let page = place == EntryPlace::Page;
    match kind {
        "text" => {
            f.push(("body", Str, body));
            f.push(("reply_to", UInt, IfFeature("reply")));
            f.push(("thread", UInt, IfFeature("reply")));
            f.push(("mentions", StrList, IfFeature("mentions")));
            f.push(("redacted", Bool, IfFeature("redaction")));
            if page {
                f.push(("replies", UInt, IfFeature("reply")));
                f.push(("last_reply_seq", UInt, IfFeature("reply")));
                f.push(("reactions", Counts, IfFeature("reactions")));
            }
        }
        "edit" => {
            f.push(("target", UInt, Required));
            f.push(("body", Str, body));
            f.push(("mentions", StrList, IfFeature("mentions")));
            f.push(("redacted", Bool, IfFeature("redaction")));
        }
        "redact" => f.push(("target", UInt, Required)),
        // Direct conversations' create entries have no title (PROTOCOL-NOTES.md).
        "create" => {
            f.push(("title", Str, Optional));
            f.push(("members", StrList, Required));
        }
        "join" | "leave" => f.push(("user", Str, Required)),
        "title" => f.push(("body", Str, Required)),
        // A withdrawn reaction comes back flagged (PROTOCOL-NOTES.md, §9 server).
        "reaction" => {
            f.push(("target", UInt, Required));
            f.push(("key", Str, Required));
            f.push(("redacted", Bool, IfFeature("reactions")));
        }
        _ => return None,
    }
    Some(f)
}

/// Whether `v` has shape `ty` (nested objects are checked by the caller).
pub fn has_type(v: &Value, ty: Ty) -> bool {
    let str_in = |set: &[&str]| v.as_str().is_some_and(|s| set.contains(&s));
    match ty {
        Str => v.is_string(),
        UInt => v.is_u64(),
        Int => v.is_i64() || v.is_u64(),
        Bool => v.is_boolean(),
        StrList => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        UIntOrNull => v.is_null() || v.is_u64(),
        ConvKind => str_in(&["direct", "group"]),
        Notify => str_in(&["all", "mentions", "none"]),
        ErrorCode => str_in(&ERROR_CODES),
        Counts => v.as_object().is_some_and(|o| o.values().all(Value::is_u64)),
        Summary | Entry => v.is_object(),
        EntryOrNull => v.is_null() || v.is_object(),
        Summaries | Entries => v.as_array().is_some_and(|a| a.iter().all(Value::is_object)),
    }
}

/// Checks `obj` against `fields` (ignoring `skip`, e.g. `type`): returns one line per missing
/// field, unknown field, wrong type, or field used without its feature.
pub fn check_fields(
    obj: &Map<String, Value>,
    fields: &[Field],
    features: &[String],
    skip: &[&str],
) -> Vec<String> {
    let on = |f: &str| features.iter().any(|x| x == f);
    let mut out = Vec::new();
    for (name, ty, need) in fields {
        match (obj.get(*name), need) {
            (None, Required) => out.push(format!("missing `{name}`")),
            (None, WithFeature(f)) if on(f) => {
                out.push(format!("missing `{name}` (the server lists `{f}`)"))
            }
            (Some(_), IfFeature(f) | WithFeature(f)) if !on(f) => {
                out.push(format!("`{name}` without the `{f}` feature"))
            }
            (Some(v), _) if !has_type(v, *ty) => {
                out.push(format!("`{name}` is {v} (expected {ty:?})"))
            }
            _ => {}
        }
    }
    for k in obj.keys() {
        if !skip.contains(&k.as_str()) && !fields.iter().any(|(n, ..)| n == k) {
            out.push(format!("field `{k}` is not in the spec"));
        }
    }
    out
}
