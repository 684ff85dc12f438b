//! Wire types for timeline protocol version 1.1 (`shared/PROTOCOL.md`).
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
/// A server's limits as its `hello` states them (§2: the values are the
/// server's; [`MAX_BODY_BYTES`] and [`MAX_FRAME_BYTES`], the protocol's
/// example, stand in before any `hello`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// `hello.max_body_bytes`: the longest `text` body, in bytes.
    pub max_body_bytes: usize,
    /// `hello.max_frame_bytes`: the largest client frame, in bytes.
    pub max_frame_bytes: usize,
}

impl ServerLimits {
    /// The limits a `hello` states (a value past `usize` counts as
    /// `usize::MAX`).
    pub fn from_hello(max_body_bytes: u64, max_frame_bytes: u64) -> ServerLimits {
        ServerLimits {
            max_body_bytes: usize::try_from(max_body_bytes).unwrap_or(usize::MAX),
            max_frame_bytes: usize::try_from(max_frame_bytes).unwrap_or(usize::MAX),
        }
    }
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            max_body_bytes: MAX_BODY_BYTES,
            max_frame_bytes: MAX_FRAME_BYTES,
        }
    }
}

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
    /// §9.2 `reactions`: a reaction (`target`, `key`) to a text; withdrawn
    /// by a `redact` targeting it.
    Reaction,
    /// A kind this client does not know (a later extension): it holds its
    /// seq in the timeline and is otherwise ignored (§5: "a client ignores
    /// kinds and fields it does not know"). Never sent.
    #[serde(other)]
    Unknown,
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
            EntryKind::Reaction => "reaction",
            EntryKind::Unknown => "unknown",
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
            "reaction" => EntryKind::Reaction,
            "unknown" => EntryKind::Unknown,
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
    /// Target seq of `edit`, `redact` and `reaction`.
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
    /// §9.1 `reply`: on a reply, the seq of the text replied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Seq>,
    /// §9.1 `reply`: on a reply, the seq of its thread's root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<Seq>,
    /// §9.2 `reactions`: the key of a `reaction` (an emoji or `:shortcode:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// §9.3 `mentions`: the members a `text` or `edit` mentions (sorted, no
    /// duplicates; absent when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// §9.1 `reply`: in `messages` replies only, on a thread root with
    /// replies: how many (redacted ones included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<u64>,
    /// §9.1 `reply`: in `messages` replies only, with `replies`: the seq of
    /// the thread's newest reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reply_seq: Option<Seq>,
    /// §9.2 `reactions`: in `messages` replies only, the standing reactions
    /// per key (absent when none).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub reactions: std::collections::BTreeMap<String, u64>,
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
            reply_to: None,
            thread: None,
            key: None,
            mentions: Vec::new(),
            replies: None,
            last_reply_seq: None,
            reactions: std::collections::BTreeMap::new(),
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
    /// §9.3 `mentions`: unread texts that mention the user (absent from a
    /// server without the feature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mentions: Option<u64>,
    /// §9.4 `settings`: the user's notification level here (absent from a
    /// server without the feature; the default is `all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Notify>,
    /// §9.4 `settings`: pinned by the user (absent: not pinned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
    /// §9.4 `settings`: archived by the user (absent: not archived).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
}

impl Summary {
    /// A conversation with no entries, nothing read and no members counted,
    /// without the 1.1 fields: fill in the rest with struct update syntax.
    pub fn new(conv: impl Into<ConvId>, kind: ConvKind, title: impl Into<String>) -> Summary {
        Summary {
            conv: conv.into(),
            kind,
            title: title.into(),
            member_count: 0,
            last_seq: 0,
            read_seq: 0,
            unread: 0,
            last: None,
            left: false,
            mentions: None,
            notify: None,
            pinned: None,
            archived: None,
        }
    }
}

/// §9.4 `settings`: when a conversation notifies its member.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notify {
    /// Every text by someone else.
    #[default]
    All,
    /// Only texts that mention the user.
    Mentions,
    /// Never.
    None,
}

impl Notify {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Notify::All => "all",
            Notify::Mentions => "mentions",
            Notify::None => "none",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Notify> {
        Some(match s {
            "all" => Notify::All,
            "mentions" => Notify::Mentions,
            "none" => Notify::None,
            _ => return None,
        })
    }
}

/// The section 9 extension names of `hello.features`.
pub mod features {
    /// §9.1 replies and threads.
    pub const REPLY: &str = "reply";
    /// §9.2 reactions.
    pub const REACTIONS: &str = "reactions";
    /// §9.3 mentions.
    pub const MENTIONS: &str = "mentions";
    /// §9.4 per-member conversation settings.
    pub const SETTINGS: &str = "settings";
    /// §9.5 real deletion.
    pub const REDACTION: &str = "redaction";
    /// §9.6 password change and signing out everywhere.
    pub const ACCOUNT: &str = "account";
    /// Every extension of protocol 1.1, in the order of section 9.
    pub const ALL: [&str; 6] = [REPLY, REACTIONS, MENTIONS, SETTINGS, REDACTION, ACCOUNT];
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
    /// A code this client does not know (a later server's): handled like
    /// `internal`, a failure that may pass. Never sent.
    #[serde(other)]
    Unknown,
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
            ErrorCode::Unknown => "unknown",
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
            ErrorCode::Unknown,
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

mod decode;
mod frames;
pub mod validate;

pub use decode::{
    CLIENT_TYPES, DecodeError, decode_client_frame, decode_server_frame, is_unknown_event,
};
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
            member_count: 3,
            last_seq: 42,
            read_seq: 40,
            unread: 2,
            ..Summary::new("c1", ConvKind::Group, "rust")
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
    fn settings_null_or_unknown_values_fail_to_decode_with_the_id() {
        for text in [
            r#"{"type":"settings","id":9,"conv":"c7","notify":null}"#,
            r#"{"type":"settings","id":9,"conv":"c7","pinned":null}"#,
            r#"{"type":"settings","id":9,"conv":"c7","notify":"loud"}"#,
            r#"{"type":"settings","id":9,"conv":"c7","archived":"yes"}"#,
        ] {
            assert_eq!(decode_client_frame(text).unwrap_err().id, Some(9), "{text}");
        }
        let f = decode_client_frame(r#"{"type":"settings","id":9,"conv":"c7"}"#).unwrap();
        assert_eq!(
            f,
            ClientFrame::Settings {
                id: 9,
                conv: "c7".into(),
                notify: None,
                pinned: None,
                archived: None
            }
        );
    }

    #[test]
    fn v11_entry_fields_round_trip_and_v1_summaries_stay_v1() {
        let text = r#"{"seq":44,"sender":"bob","ts":1,"kind":"text","body":"@alice hi","reply_to":43,"thread":40,"mentions":["alice"],"replies":2,"last_reply_seq":46,"reactions":{"👍":3}}"#;
        let m: Message = serde_json::from_str(text).unwrap();
        assert_eq!(
            (m.reply_to, m.thread, m.replies, m.last_reply_seq),
            (Some(43), Some(40), Some(2), Some(46))
        );
        assert_eq!(m.mentions, vec!["alice".to_string()]);
        assert_eq!(m.reactions["👍"], 3);
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::from_str::<serde_json::Value>(text).unwrap()
        );
        let r: Message = serde_json::from_str(
            r#"{"seq":45,"sender":"bob","ts":1,"kind":"reaction","target":43,"key":":tada:"}"#,
        )
        .unwrap();
        assert_eq!(
            (r.kind, r.key.as_deref()),
            (EntryKind::Reaction, Some(":tada:"))
        );
        let v1: Summary = serde_json::from_value(json!({"conv":"c1","kind":"direct","title":"bob","member_count":2,"last_seq":0,"read_seq":0,"unread":0,"last":null})).unwrap();
        assert_eq!(
            (v1.mentions, v1.notify, v1.pinned, v1.archived),
            (None, None, None, None)
        );
        let back = serde_json::to_value(&v1).unwrap();
        assert!(back.get("mentions").is_none() && back.get("notify").is_none());
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
            r#"{"type":"send","id":5,"conv":"c7","client_id":"k","body":"hi","reply_to":43}"#,
            r#"{"type":"thread","id":14,"conv":"c7","root":43,"after":0,"limit":100}"#,
            r#"{"type":"react","id":15,"conv":"c7","client_id":"k2","target":43,"key":"👍"}"#,
            r#"{"type":"settings","id":16,"conv":"c7","notify":"mentions","pinned":true,"archived":false}"#,
            r#"{"type":"settings","id":16,"conv":"c7","pinned":true}"#,
        ];
        for text in ok {
            let f = decode_client_frame(text).unwrap();
            let again = decode_client_frame(&f.to_json()).unwrap();
            assert_eq!(f, again);
        }
    }

    /// The direct decoding of `message` and `messages` gives exactly what
    /// the general path gives, value or error, including for frames it
    /// hands over (type not first, duplicate or missing fields).
    #[test]
    fn entry_frames_decode_as_the_general_path_does() {
        let frames = [
            r#"{"type":"message","conv":"c1","message":{"seq":2,"sender":"a","ts":1,"kind":"text","body":"hi @b","mentions":["b"]}}"#,
            r#"{"type":"message","conv":"c1","message":{"seq":2,"sender":"a","ts":1,"kind":"text"},"extra":[1,{"x":2}]}"#,
            r#"{"conv":"c1","type":"message","message":{"seq":2,"sender":"a","ts":1,"kind":"text"}}"#,
            r#"{"type":"message","conv":"c1","conv":"c2","message":{"seq":2,"sender":"a","ts":1,"kind":"text"}}"#,
            r#"{"type":"message","conv":"c1","message":{"seq":2,"sender":"a","ts":1,"kind":"text"},"type":"read"}"#,
            r#"{"type":"message","conv":"c1"}"#,
            r#"{"type":"message","conv":"c1","message":null}"#,
            r#"{"type":"message","conv":"c1","message":{"seq":-1,"sender":"a","ts":1,"kind":"text"}}"#,
            r#"{"type":"messages","re":3,"conv":"c1","messages":[{"seq":1,"sender":"a","ts":1,"kind":"create","title":"t","members":["a"]}],"last_seq":1}"#,
            r#"{"type":"messages","re":3,"conv":"c1","messages":[],"last_seq":4,"root":2,"thread_last_seq":null}"#,
            r#"{"type":"messages","re":3,"conv":"c1","messages":[]}"#,
            r#"{"type":"messagesx","re":3}"#,
            r#"{"type":"message""#,
        ];
        for text in frames {
            let general = serde_json::from_str::<ServerFrame>(text).map_err(|e| e.to_string());
            let direct = decode_server_frame(text).map_err(|e| e.to_string());
            assert_eq!(direct, general, "{text}");
        }
        assert!(decode_server_frame(frames[0]).is_ok());
        assert!(decode_server_frame(frames[5]).is_err());
    }
}
