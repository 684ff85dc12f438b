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

/// A frame sent by a client. The `type` field selects the variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Create an account and a session.
    Register {
        /// Request id, echoed as `re` in the reply.
        id: RequestId,
        /// New user name: 1–32 chars of `a-z 0-9 _ . -`, starting with a letter or digit.
        user: String,
        /// Password, 8–256 bytes.
        password: String,
        /// Device id the session's token is bound to: 1–64 printable ASCII chars.
        device: String,
    },
    /// Open a session with a password.
    Login {
        /// Request id, echoed as `re` in the reply.
        id: RequestId,
        /// Existing user name.
        user: String,
        /// The user's password (8–256 bytes).
        password: String,
        /// Device id the new token is bound to: 1–64 printable ASCII chars.
        device: String,
    },
    /// Resume a session with a token.
    Auth {
        /// Request id, echoed as `re` in the reply.
        id: RequestId,
        /// Token from an earlier `session` reply.
        token: String,
        /// Device id the token was issued for.
        device: String,
    },
    /// Revoke this connection's token and close with 4001.
    Logout {
        /// Request id, echoed as `re` in the `ok` reply.
        id: RequestId,
    },
    /// Liveness check; allowed before authentication.
    Ping {
        /// Request id, echoed as `re` in the `pong` reply.
        id: RequestId,
    },
    /// Create a group, or find or create a direct conversation.
    Create {
        /// Request id, echoed as `re` in the reply.
        id: RequestId,
        /// Direct or group.
        kind: ConvKind,
        /// Group title (required for groups, 1–256 bytes, not all whitespace);
        /// absent and ignored for `direct`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// User names of the other members (the caller is always a member);
        /// exactly one for `direct`.
        members: Vec<String>,
    },
    /// Add users to a group.
    Invite {
        /// Request id, echoed as `re` in the `ok` reply.
        id: RequestId,
        /// The group; `direct` conversations are `bad_request`.
        conv: ConvId,
        /// User names to add; each new member gets a `join` entry.
        users: Vec<String>,
    },
    /// Leave a group.
    Leave {
        /// Request id, echoed as `re` in the `ok` reply.
        id: RequestId,
        /// The group to leave; `direct` conversations are `bad_request`.
        conv: ConvId,
    },
    /// List a conversation's current members.
    Members {
        /// Request id, echoed as `re` in the `members` reply.
        id: RequestId,
        /// The conversation; `not_found` unless the caller is a member.
        conv: ConvId,
    },
    /// Rename a group.
    Rename {
        /// Request id, echoed as `re` in the `ok` reply.
        id: RequestId,
        /// The group; `direct` conversations are `bad_request`.
        conv: ConvId,
        /// New title: 1–256 bytes with at least one non-whitespace character.
        title: String,
    },
    /// What changed since a token (or everything).
    Sync {
        /// Request id, echoed as `re` in the `sync` reply.
        id: RequestId,
        /// Opaque token from the previous `sync` reply; absent (or unknown to
        /// the server) asks for the full list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<String>,
    },
    /// Entries after a seq, ascending.
    Pull {
        /// Request id, echoed as `re` in the `messages` reply.
        id: RequestId,
        /// The conversation to read.
        conv: ConvId,
        /// Return entries with `seq > after`, contiguous from `after + 1`
        /// (0 for the start of the timeline).
        after: Seq,
        /// Most entries to return; absent means [`DEFAULT_PAGE_LIMIT`], values
        /// above [`MAX_PAGE_LIMIT`] are capped, 0 or negative is `bad_request`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<i64>,
    },
    /// The newest entries before a seq, ascending.
    History {
        /// Request id, echoed as `re` in the `messages` reply.
        id: RequestId,
        /// The conversation to read.
        conv: ConvId,
        /// Return only entries with `seq < before`; absent means the newest
        /// entries of the timeline.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<Seq>,
        /// Most entries to return; absent means [`DEFAULT_PAGE_LIMIT`], values
        /// above [`MAX_PAGE_LIMIT`] are capped, 0 or negative is `bad_request`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<i64>,
    },
    /// Append a text.
    Send {
        /// Request id, echoed as `re` in the `sent` reply.
        id: RequestId,
        /// The conversation to append to.
        conv: ConvId,
        /// Idempotency key: 1–64 printable ASCII chars, unique per sender and
        /// conversation; a repeat returns the first `sent` reply again.
        client_id: String,
        /// Message text: 1 to `max_body_bytes` bytes of UTF-8, not all whitespace.
        body: String,
    },
    /// Append an edit of an earlier text.
    Edit {
        /// Request id, echoed as `re` in the `sent` reply.
        id: RequestId,
        /// The conversation to append to.
        conv: ConvId,
        /// Idempotency key: 1–64 printable ASCII chars, unique per sender and
        /// conversation; a repeat returns the first `sent` reply again.
        client_id: String,
        /// Seq of the `text` entry to edit; only its sender may edit it.
        target: Seq,
        /// Replacement text: 1 to `max_body_bytes` bytes of UTF-8, not all whitespace.
        body: String,
    },
    /// Append a redaction of an earlier text.
    Redact {
        /// Request id, echoed as `re` in the `sent` reply.
        id: RequestId,
        /// The conversation to append to.
        conv: ConvId,
        /// Idempotency key: 1–64 printable ASCII chars, unique per sender and
        /// conversation; a repeat returns the first `sent` reply again.
        client_id: String,
        /// Seq of the `text` entry to redact; only its sender may redact it.
        target: Seq,
    },
    /// Move the read cursor forward.
    Read {
        /// Request id, echoed as `re` in the `ok` reply.
        id: RequestId,
        /// The conversation whose read cursor moves.
        conv: ConvId,
        /// Seq read up to; the cursor becomes `max(read_seq, min(seq, last_seq))`.
        seq: Seq,
    },
    /// Tell the other members the user is typing.
    Typing {
        /// Request id, echoed as `re` in the `ok` reply.
        id: RequestId,
        /// The conversation being typed in.
        conv: ConvId,
    },
}

impl ClientFrame {
    /// The request id.
    pub fn id(&self) -> RequestId {
        match self {
            ClientFrame::Register { id, .. }
            | ClientFrame::Login { id, .. }
            | ClientFrame::Auth { id, .. }
            | ClientFrame::Logout { id }
            | ClientFrame::Ping { id }
            | ClientFrame::Create { id, .. }
            | ClientFrame::Invite { id, .. }
            | ClientFrame::Leave { id, .. }
            | ClientFrame::Members { id, .. }
            | ClientFrame::Rename { id, .. }
            | ClientFrame::Sync { id, .. }
            | ClientFrame::Pull { id, .. }
            | ClientFrame::History { id, .. }
            | ClientFrame::Send { id, .. }
            | ClientFrame::Edit { id, .. }
            | ClientFrame::Redact { id, .. }
            | ClientFrame::Read { id, .. }
            | ClientFrame::Typing { id, .. } => *id,
        }
    }

    /// The wire `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            ClientFrame::Register { .. } => "register",
            ClientFrame::Login { .. } => "login",
            ClientFrame::Auth { .. } => "auth",
            ClientFrame::Logout { .. } => "logout",
            ClientFrame::Ping { .. } => "ping",
            ClientFrame::Create { .. } => "create",
            ClientFrame::Invite { .. } => "invite",
            ClientFrame::Leave { .. } => "leave",
            ClientFrame::Members { .. } => "members",
            ClientFrame::Rename { .. } => "rename",
            ClientFrame::Sync { .. } => "sync",
            ClientFrame::Pull { .. } => "pull",
            ClientFrame::History { .. } => "history",
            ClientFrame::Send { .. } => "send",
            ClientFrame::Edit { .. } => "edit",
            ClientFrame::Redact { .. } => "redact",
            ClientFrame::Read { .. } => "read",
            ClientFrame::Typing { .. } => "typing",
        }
    }

    /// Serializes to one JSON text frame.
    pub fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail (no maps with non-string keys).
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A frame sent by a server: a reply (with `re`) or an event (without).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame on every connection.
    Hello {
        /// Protocol version the server speaks ([`PROTOCOL_VERSION`]).
        protocol: u32,
        /// Server software as `NAME/VERSION`.
        server: String,
        /// Stable for the life of the server's database; a change means the
        /// client must discard its local cache.
        server_id: String,
        /// Largest client frame accepted, in bytes; bigger frames close the
        /// connection with 1009.
        max_frame_bytes: u64,
        /// Largest message body accepted, in bytes of UTF-8; longer is `too_large`.
        max_body_bytes: u64,
    },
    /// A failed request; `re` is null when no id could be read.
    Error {
        /// Id of the failed request; `None` (`null`) when none could be read.
        re: Option<RequestId>,
        /// Machine-readable error code.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
        /// Milliseconds to wait before retrying; present only with `rate_limited`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// Reply to register, login and auth.
    Session {
        /// Id of the request this answers.
        re: RequestId,
        /// The authenticated user name.
        user: String,
        /// The device id the token belongs to.
        device: String,
        /// Opaque session token for later `auth` (the same token on `auth`).
        token: String,
    },
    /// Plain success.
    Ok {
        /// Id of the request this answers.
        re: RequestId,
    },
    /// Reply to ping.
    Pong {
        /// Id of the `ping` this answers.
        re: RequestId,
    },
    /// Reply to create (with `re`), or event for a new member (without).
    Conversation {
        /// Id of the `create` this answers; absent on the new-member event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<RequestId>,
        /// The conversation as seen by the receiving user.
        conversation: Summary,
    },
    /// Reply to members.
    Members {
        /// Id of the `members` request this answers.
        re: RequestId,
        /// The conversation asked about.
        conv: ConvId,
        /// User names of the current members.
        members: Vec<String>,
    },
    /// Reply to sync.
    Sync {
        /// Id of the `sync` request this answers.
        re: RequestId,
        /// New opaque token for the next `sync`; store it only after applying this reply.
        since: String,
        /// True when this is (a page of) the full listing rather than a delta;
        /// stays true on every page of a full listing.
        full: bool,
        /// True when more pages follow; call `sync` again with the new `since`.
        more: bool,
        /// Summaries that changed (or all of them when `full`), at most one page.
        conversations: Vec<Summary>,
    },
    /// Reply to pull and history.
    Messages {
        /// Id of the `pull` or `history` request this answers.
        re: RequestId,
        /// The conversation the entries belong to.
        conv: ConvId,
        /// Contiguous entries in ascending seq order, at most `limit` of them
        /// (fewer if the frame would pass 1 MiB).
        messages: Vec<Message>,
        /// Seq of the conversation's newest entry when the reply was built.
        last_seq: Seq,
    },
    /// Reply to send, edit and redact.
    Sent {
        /// Id of the `send`, `edit` or `redact` this answers.
        re: RequestId,
        /// The conversation appended to.
        conv: ConvId,
        /// The request's idempotency key.
        client_id: String,
        /// Seq given to the appended entry (the original one on a retry).
        seq: Seq,
        /// Server time of the append, Unix milliseconds (the original one on a retry).
        ts: i64,
    },
    /// Event: an entry was appended.
    Message {
        /// The conversation appended to.
        conv: ConvId,
        /// The new entry; pushes arrive in seq order, none skipped.
        message: Message,
    },
    /// Event: the user's read cursor moved on another connection.
    Read {
        /// The conversation whose read cursor moved.
        conv: ConvId,
        /// The user's new `read_seq`.
        seq: Seq,
    },
    /// Event: the other member of a direct conversation read up to `seq`.
    Receipt {
        /// The direct conversation.
        conv: ConvId,
        /// User name of the member who read.
        user: String,
        /// That member's new `read_seq`.
        seq: Seq,
    },
    /// Event: another member is typing.
    Typing {
        /// The conversation being typed in.
        conv: ConvId,
        /// User name of the member typing.
        user: String,
    },
}

impl ServerFrame {
    /// The `re` of a reply, or None for an event (and for errors with `re: null`).
    pub fn re(&self) -> Option<RequestId> {
        match self {
            ServerFrame::Error { re, .. } | ServerFrame::Conversation { re, .. } => *re,
            ServerFrame::Session { re, .. }
            | ServerFrame::Ok { re }
            | ServerFrame::Pong { re }
            | ServerFrame::Members { re, .. }
            | ServerFrame::Sync { re, .. }
            | ServerFrame::Messages { re, .. }
            | ServerFrame::Sent { re, .. } => Some(*re),
            ServerFrame::Hello { .. }
            | ServerFrame::Message { .. }
            | ServerFrame::Read { .. }
            | ServerFrame::Receipt { .. }
            | ServerFrame::Typing { .. } => None,
        }
    }

    /// An error reply.
    pub fn error(re: Option<RequestId>, code: ErrorCode, message: impl Into<String>) -> Self {
        ServerFrame::Error {
            re,
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// Serializes to one JSON text frame.
    pub fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail (no maps with non-string keys).
        serde_json::to_string(self).unwrap_or_default()
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
    "register", "login", "auth", "logout", "ping", "create", "invite", "leave", "members",
    "rename", "sync", "pull", "history", "send", "edit", "redact", "read", "typing",
];

/// Decodes one server text frame. Clients should ignore frames that fail with
/// an unknown `type` (a newer server) rather than treat them as fatal.
pub fn decode_server_frame(text: &str) -> Result<ServerFrame, serde_json::Error> {
    serde_json::from_str(text)
}

pub mod validate;

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
