//! Decoding frames: client frames strictly (with the id of a refused
//! frame when its text names one), server frames with a fast path for the
//! two that carry entries.

use super::{ClientFrame, RequestId, ServerFrame};

/// Why a client frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    /// The request id, when one could be read.
    pub id: Option<RequestId>,
    /// Human text for the `bad_request` reply.
    pub message: String,
}

/// Decodes one client text frame strictly. Not an object, no usable id, an
/// unknown type, a wrong field type or a missing field all become a
/// [`DecodeError`] (to be answered with `bad_request`); unknown fields are
/// ignored.
pub fn decode_client_frame(text: &str) -> Result<ClientFrame, DecodeError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| DecodeError {
        // JSON our parser refuses (a lone surrogate escape, a number past
        // f64, nesting past 128) may still name its request: answer that.
        id: scan_id(text),
        message: format!("frame is not valid JSON: {e}"),
    })?;
    let Some(obj) = value.as_object() else {
        return Err(DecodeError {
            id: None,
            message: "frame is not a JSON object".into(),
        });
    };
    let id = obj.get("id").and_then(serde_json::Value::as_u64);
    if id.is_none() {
        return Err(DecodeError {
            id: None,
            message: "frame has no usable \"id\" (a non-negative integer)".into(),
        });
    }
    match obj.get("type").and_then(serde_json::Value::as_str) {
        None => {
            return Err(DecodeError {
                id,
                message: "frame has no \"type\" string".into(),
            });
        }
        Some(t) if !CLIENT_TYPES.contains(&t) => {
            return Err(DecodeError {
                id,
                message: format!("unknown type {t:?}"),
            });
        }
        Some(_) => {}
    }
    serde_json::from_value(value).map_err(|e| DecodeError {
        id,
        message: format!("invalid request: {e}"),
    })
}

/// The `id` of a frame whose text starts as a JSON object with a top-level
/// `"id"` key holding a non-negative integer, read without parsing the
/// rest (strings and nesting are skipped); None otherwise.
fn scan_id(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let mut i = b.iter().position(|c| !c.is_ascii_whitespace())?;
    if b[i] != b'{' {
        return None;
    }
    i += 1;
    let mut depth = 1usize;
    // Whether the next string at depth 1 is a key (after `{` or `,`).
    let mut key_next = true;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i + 1;
                i = start;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let end = i.min(b.len());
                i += 1;
                if depth == 1 && key_next && &b[start..end] == b"id" {
                    let rest = &text[i.min(text.len())..];
                    let value = rest.trim_start().strip_prefix(':')?.trim_start();
                    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
                    let after = value[digits..].trim_start().bytes().next();
                    return (digits > 0 && matches!(after, Some(b',' | b'}')))
                        .then(|| value[..digits].parse().ok())
                        .flatten();
                }
                key_next = false;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => key_next = true,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Every `type` a client may send.
pub const CLIENT_TYPES: &[&str] = &[
    "register", "login", "auth", "logout", "password", "ping", "create", "invite", "leave",
    "members", "rename", "sync", "pull", "history", "send", "edit", "redact", "read", "typing",
    "thread", "react", "settings",
];

/// Decodes one server text frame. Clients should ignore frames that fail with
/// an unknown `type` (a newer server) rather than treat them as fatal.
///
/// The two frames that carry entries, `message` pushes and `messages`
/// pages, are decoded straight into their fields when `type` comes first
/// (as every serde- or JSON.stringify-built frame has it): serde's tagged
/// enums otherwise buffer the whole frame in an intermediate tree first,
/// which costs about as much as the decoding itself. Anything else, or a
/// fast decode that fails, takes the general path, so results and error
/// messages are the same either way.
pub fn decode_server_frame(text: &str) -> Result<ServerFrame, serde_json::Error> {
    if let Some(frame) = entry_frames::decode(text) {
        return Ok(frame);
    }
    serde_json::from_str(text)
}

/// Whether `text` is a well-formed event (no `re`) whose `type` this client
/// does not know, which is what `e` says: a later server's event, ignored
/// (unknown fields and kinds are, §2 and §6). A reply of an unknown type,
/// or a known type that does not decode, is still a protocol error.
pub fn is_unknown_event(text: &str, e: &serde_json::Error) -> bool {
    let Ok(serde_json::Value::Object(frame)) = serde_json::from_str(text) else {
        return false;
    };
    let no_re = frame.get("re").is_none_or(serde_json::Value::is_null);
    match frame.get("type") {
        Some(serde_json::Value::String(ty)) => {
            no_re
                && e.to_string()
                    .starts_with(&format!("unknown variant `{ty}`"))
        }
        _ => false,
    }
}

/// The direct decoding of `message` and `messages` (see [`decode_server_frame`]).
mod entry_frames {
    use serde::Deserialize;

    use super::super::{ConvId, Message, RequestId, Seq, ServerFrame};

    /// `{"type":"message",…}`: a push.
    #[derive(Deserialize)]
    struct Push<'a> {
        #[serde(rename = "type", borrow)]
        kind: &'a str,
        conv: ConvId,
        message: Message,
    }

    /// `{"type":"messages",…}`: a page.
    #[derive(Deserialize)]
    struct Page<'a> {
        #[serde(rename = "type", borrow)]
        kind: &'a str,
        re: RequestId,
        conv: ConvId,
        messages: Vec<Message>,
        last_seq: Seq,
        #[serde(default)]
        root: Option<Seq>,
        #[serde(default)]
        thread_last_seq: Option<Seq>,
    }

    pub(super) fn decode(text: &str) -> Option<ServerFrame> {
        let rest = text.strip_prefix(r#"{"type":"message"#)?;
        if rest.starts_with(r#"","#) {
            let p: Push = serde_json::from_str(text).ok()?;
            (p.kind == "message").then_some(ServerFrame::Message {
                conv: p.conv,
                message: p.message,
            })
        } else if rest.starts_with(r#"s","#) {
            let p: Page = serde_json::from_str(text).ok()?;
            (p.kind == "messages").then_some(ServerFrame::Messages {
                re: p.re,
                conv: p.conv,
                messages: p.messages,
                last_seq: p.last_seq,
                root: p.root,
                thread_last_seq: p.thread_last_seq,
            })
        } else {
            None
        }
    }
}
