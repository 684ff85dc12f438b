//! Wire types for timeline protocol version 1 (`shared/PROTOCOL.md`).
//!
//! Every frame in the protocol is a serde type here, defined once and shared by
//! the server, the sync engine, the client and the conformance suite. Incoming
//! client frames are decoded strictly with [`decode_client_frame`]: anything
//! malformed becomes a [`DecodeError`] carrying the request id when one could
//! be read, never a panic. Unknown fields are ignored on both sides.
//!
//! ```
//! use sync_core::protocol::{decode_client_frame, ClientFrame};
//! let frame = decode_client_frame(r#"{"type":"ping","id":7,"extra":true}"#).unwrap();
//! assert_eq!(frame, ClientFrame::Ping { id: 7 });
//! let err = decode_client_frame(r#"{"type":"pull","id":8,"conv":"c1"}"#).unwrap_err();
//! assert_eq!(err.id, Some(8));
//! ```

use serde::{Deserialize, Serialize};

/// Protocol version spoken by this crate.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest client frame a server accepts (bytes); bigger frames close with 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Largest message body (bytes of UTF-8).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Largest frame a server sends; clients accept frames up to this size.
pub const MAX_SERVER_FRAME_BYTES: usize = 1024 * 1024;
/// `limit` used by `pull`/`history` when the request has none.
pub const DEFAULT_PAGE_LIMIT: u32 = 100;
/// `limit` values above this are treated as this.
pub const MAX_PAGE_LIMIT: u32 = 500;

/// A position in one conversation's timeline: 1 for the first entry, then +1.
pub type Seq = u64;
/// Request id chosen by the client and echoed by the server as `re`.
pub type RequestId = u64;

/// Opaque conversation id as chosen by the server (e.g. `"c7"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConvId(pub String);

impl ConvId {
    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ConvId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ConvId {
    fn from(s: &str) -> Self {
        ConvId(s.to_owned())
    }
}

impl From<String> for ConvId {
    fn from(s: String) -> Self {
        ConvId(s)
    }
}

/// `direct` (exactly two members) or `group` (one or more, with a title).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvKind {
    /// Two members, at most one per pair of users.
    Direct,
    /// One or more members, with a title.
    Group,
}

impl ConvKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConvKind::Direct => "direct",
            ConvKind::Group => "group",
        }
    }
}

/// The kind of a timeline entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A chat message (`body`).
    Text,
    /// A replacement body for an earlier text (`target`, `body`).
    Edit,
    /// Removal of an earlier text (`target`).
    Redact,
    /// First entry of every conversation (`title`, `members`).
    Create,
    /// A member was added (`user`).
    Join,
    /// A member left (`user`).
    Leave,
    /// The group was renamed (`body` holds the new title).
    Title,
}

impl EntryKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Text => "text",
            EntryKind::Edit => "edit",
            EntryKind::Redact => "redact",
            EntryKind::Create => "create",
            EntryKind::Join => "join",
            EntryKind::Leave => "leave",
            EntryKind::Title => "title",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<EntryKind> {
        Some(match s {
            "text" => EntryKind::Text,
            "edit" => EntryKind::Edit,
            "redact" => EntryKind::Redact,
            "create" => EntryKind::Create,
            "join" => EntryKind::Join,
            "leave" => EntryKind::Leave,
            "title" => EntryKind::Title,
            _ => return None,
        })
    }
}

/// One timeline entry. Kind-specific fields are optional and absent on the
/// wire when not used by the kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Position in the conversation's timeline.
    pub seq: Seq,
    /// User name of the author.
    pub sender: String,
    /// Server clock, Unix milliseconds.
    pub ts: i64,
    /// What the entry is.
    pub kind: EntryKind,
    /// Text of `text` and `edit`; new title of `title`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Target seq of `edit` and `redact`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Seq>,
    /// Title of a `create` (groups only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Initial members of a `create`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    /// Subject of `join` and `leave`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The sender's idempotency key, on entries a client sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// §9.5 `redaction`: this text was redacted and its content erased
    /// (no `body`); on an `edit`, its target was.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
}

impl Message {
    /// A bare entry of `kind` with every optional field empty.
    pub fn new(seq: Seq, sender: impl Into<String>, ts: i64, kind: EntryKind) -> Message {
        Message {
            seq,
            sender: sender.into(),
            ts,
            kind,
            body: None,
            target: None,
            title: None,
            members: None,
            user: None,
            client_id: None,
            redacted: false,
        }
    }

    /// A `text` entry.
    pub fn text(seq: Seq, sender: impl Into<String>, ts: i64, body: impl Into<String>) -> Message {
        Message {
            body: Some(body.into()),
            ..Message::new(seq, sender, ts, EntryKind::Text)
        }
    }
}

/// One conversation as seen by one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Conversation id.
    pub conv: ConvId,
    /// Direct or group.
    pub kind: ConvKind,
    /// Group title, or the other member's user name for a direct conversation.
    pub title: String,
    /// Current number of members.
    pub member_count: u32,
    /// Seq of the newest entry.
    pub last_seq: Seq,
    /// The user's read cursor.
    pub read_seq: Seq,
    /// `text` entries after `read_seq` not sent by the user.
    pub unread: u64,
    /// Newest `text` entry, or null.
    pub last: Option<Message>,
    /// True once, in the sync after the user left.
    #[serde(default)]
    pub left: bool,
}

/// Error codes of `{"type":"error"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed or invalid request.
    BadRequest,
    /// Request needs an authenticated connection.
    Unauthenticated,
    /// Bad credentials or token.
    Unauthorized,
    /// Not allowed (e.g. editing someone else's message).
    Forbidden,
    /// Unknown user, conversation, or target; also "not a member".
    NotFound,
    /// Already exists, or the target is in a state that forbids the change.
    Conflict,
    /// Body or field over its limit.
    TooLarge,
    /// Send rate exceeded; see `retry_after_ms`.
    RateLimited,
    /// Server failure; the request may be retried.
    Internal,
}

impl ErrorCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
        }
    }

    /// The code for a wire name (None for a name this build does not know).
    pub fn parse(s: &str) -> Option<ErrorCode> {
        [
            ErrorCode::BadRequest,
            ErrorCode::Unauthenticated,
            ErrorCode::Unauthorized,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::Conflict,
            ErrorCode::TooLarge,
            ErrorCode::RateLimited,
            ErrorCode::Internal,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// True for errors that retrying the same request cannot fix.
    pub fn is_permanent(self) -> bool {
        matches!(
            self,
            ErrorCode::BadRequest
                | ErrorCode::Forbidden
                | ErrorCode::NotFound
                | ErrorCode::TooLarge
                | ErrorCode::Conflict
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
        id: None,
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

/// Every `type` a client may send.
pub const CLIENT_TYPES: &[&str] = &[
    "register", "login", "auth", "logout", "password", "ping", "create", "invite", "leave",
    "members", "rename", "sync", "pull", "history", "send", "edit", "redact", "read", "typing",
];

/// Decodes one server text frame. Clients should ignore frames that fail with
/// an unknown `type` (a newer server) rather than treat them as fatal.
pub fn decode_server_frame(text: &str) -> Result<ServerFrame, serde_json::Error> {
    serde_json::from_str(text)
}

mod frames;
pub mod validate;

pub use frames::{ClientFrame, ServerFrame};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(f: &ServerFrame) -> serde_json::Value {
        serde_json::from_str(&f.to_json()).unwrap()
    }

    #[test]
    fn error_without_id_serializes_re_null() {
        let f = ServerFrame::error(None, ErrorCode::BadRequest, "no");
        assert_eq!(
            v(&f),
            json!({"type":"error","re":null,"code":"bad_request","message":"no"})
        );
    }

    #[test]
    fn conversation_event_has_no_re() {
        let s = Summary {
            conv: "c1".into(),
            kind: ConvKind::Group,
            title: "rust".into(),
            member_count: 3,
            last_seq: 42,
            read_seq: 40,
            unread: 2,
            last: None,
            left: false,
        };
        let f = ServerFrame::Conversation {
            re: None,
            conversation: s,
        };
        let j = v(&f);
        assert!(j.get("re").is_none());
        assert_eq!(j["conversation"]["last"], serde_json::Value::Null);
        assert_eq!(j["conversation"]["kind"], "group");
    }

    #[test]
    fn message_omits_unused_fields() {
        let m = Message::text(43, "alice", 1_763_800_000_000, "hi");
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"seq":43,"sender":"alice","ts":1_763_800_000_000_i64,"kind":"text","body":"hi"})
        );
    }

    #[test]
    fn decode_rejects_without_panicking() {
        let cases = [
            ("[1,2]", None),
            ("not json", None),
            (r#"{"type":"ping"}"#, None),
            (r#"{"type":"ping","id":-1}"#, None),
            (r#"{"type":"nope","id":3}"#, Some(3)),
            (r#"{"id":4}"#, Some(4)),
            (
                r#"{"type":"send","id":5,"conv":"c1","client_id":"x","body":7}"#,
                Some(5),
            ),
            (r#"{"type":"pull","id":6,"conv":"c1","after":"0"}"#, Some(6)),
        ];
        for (text, id) in cases {
            let err = decode_client_frame(text).unwrap_err();
            assert_eq!(err.id, id, "{text}");
        }
    }

    #[test]
    fn decode_accepts_every_documented_example() {
        let ok = [
            r#"{"type":"register","id":1,"user":"alice","password":"pw123456","device":"laptop-1"}"#,
            r#"{"type":"create","id":2,"kind":"group","title":"rust","members":["bob","carol"]}"#,
            r#"{"type":"create","id":2,"kind":"direct","members":["bob"]}"#,
            r#"{"type":"sync","id":6,"since":"TOKEN"}"#,
            r#"{"type":"history","id":8,"conv":"c7","limit":50}"#,
            r#"{"type":"read","id":12,"conv":"c7","seq":43}"#,
        ];
        for text in ok {
            let f = decode_client_frame(text).unwrap();
            let again = decode_client_frame(&f.to_json()).unwrap();
            assert_eq!(f, again);
        }
    }
}
