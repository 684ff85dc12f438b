//! The frames: [`ClientFrame`] (requests) and [`ServerFrame`] (replies and
//! events), one serde enum each, tagged by `type`.

use serde::{Deserialize, Deserializer, Serialize};

use super::{ConvId, ConvKind, ErrorCode, Message, Notify, RequestId, Seq, Summary};

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
        /// Server extension (docs/PROTOCOL-NOTES.md): an invite code, for a
        /// server whose `hello.register` is `invite`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invite: Option<String>,
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
        /// §9.6 `account`: revoke every token of the user, not only this one.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        all: bool,
    },
    /// §9.6 `account`: change the password; every other token of the user
    /// is revoked.
    Password {
        /// Request id, echoed as `re` in the `ok` reply.
        id: RequestId,
        /// The current password.
        old: String,
        /// The new password (the `register` rules apply).
        new: String,
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
        /// Most entries to return; absent means [`DEFAULT_PAGE_LIMIT`](super::DEFAULT_PAGE_LIMIT), values
        /// above [`MAX_PAGE_LIMIT`](super::MAX_PAGE_LIMIT) are capped, 0 or negative is `bad_request`.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "any_integer"
        )]
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
        /// Most entries to return; absent means [`DEFAULT_PAGE_LIMIT`](super::DEFAULT_PAGE_LIMIT), values
        /// above [`MAX_PAGE_LIMIT`](super::MAX_PAGE_LIMIT) are capped, 0 or negative is `bad_request`.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "any_integer"
        )]
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
        /// §9.1 `reply`: the seq of the text this one replies to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<Seq>,
    },
    /// §9.1 `reply`: a thread's root and replies after a seq, ascending.
    Thread {
        /// Request id, echoed as `re` in the `messages` reply.
        id: RequestId,
        /// The conversation to read.
        conv: ConvId,
        /// Seq of the thread's root (a `text` of the conversation).
        root: Seq,
        /// Return the thread's entries with `seq > after` (0: from the root).
        after: Seq,
        /// Most entries to return; as for `pull`.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "any_integer"
        )]
        limit: Option<i64>,
    },
    /// §9.2 `reactions`: append a reaction to a text.
    React {
        /// Request id, echoed as `re` in the `sent` reply.
        id: RequestId,
        /// The conversation to append to.
        conv: ConvId,
        /// Idempotency key, as for `send`.
        client_id: String,
        /// Seq of the `text` reacted to.
        target: Seq,
        /// 1–64 bytes of UTF-8 without whitespace or control characters.
        key: String,
    },
    /// §9.4 `settings`: set the caller's settings for a conversation (any
    /// non-empty subset; `null` is `bad_request`, so it fails to decode).
    Settings {
        /// Request id, echoed as `re` in the `ok` reply.
        id: RequestId,
        /// The conversation.
        conv: ConvId,
        /// When to notify.
        #[serde(
            default,
            deserialize_with = "present",
            skip_serializing_if = "Option::is_none"
        )]
        notify: Option<Notify>,
        /// Pinned to the top of the list.
        #[serde(
            default,
            deserialize_with = "present",
            skip_serializing_if = "Option::is_none"
        )]
        pinned: Option<bool>,
        /// Moved out of the main list.
        #[serde(
            default,
            deserialize_with = "present",
            skip_serializing_if = "Option::is_none"
        )]
        archived: Option<bool>,
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
    /// Whether the request changes the server's state (answered after its
    /// commit). Reads that follow a write on one connection are answered
    /// after it. Every new request type decides here.
    pub fn is_write(&self) -> bool {
        match self {
            ClientFrame::Create { .. }
            | ClientFrame::Invite { .. }
            | ClientFrame::Leave { .. }
            | ClientFrame::Rename { .. }
            | ClientFrame::Send { .. }
            | ClientFrame::Edit { .. }
            | ClientFrame::Redact { .. }
            | ClientFrame::React { .. }
            | ClientFrame::Settings { .. }
            | ClientFrame::Read { .. } => true,
            ClientFrame::Register { .. }
            | ClientFrame::Login { .. }
            | ClientFrame::Auth { .. }
            | ClientFrame::Logout { .. }
            | ClientFrame::Password { .. }
            | ClientFrame::Ping { .. }
            | ClientFrame::Members { .. }
            | ClientFrame::Sync { .. }
            | ClientFrame::Pull { .. }
            | ClientFrame::History { .. }
            | ClientFrame::Thread { .. }
            | ClientFrame::Typing { .. } => false,
        }
    }

    /// Whether the request appends a client-sent entry to a timeline
    /// (`send`, `edit`, `redact`, `react`): the requests a server
    /// rate-limits per user.
    pub fn is_append(&self) -> bool {
        matches!(
            self,
            ClientFrame::Send { .. }
                | ClientFrame::Edit { .. }
                | ClientFrame::Redact { .. }
                | ClientFrame::React { .. }
        )
    }

    /// The request id.
    pub fn id(&self) -> RequestId {
        match self {
            ClientFrame::Register { id, .. }
            | ClientFrame::Login { id, .. }
            | ClientFrame::Auth { id, .. }
            | ClientFrame::Logout { id, .. }
            | ClientFrame::Password { id, .. }
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
            | ClientFrame::Thread { id, .. }
            | ClientFrame::React { id, .. }
            | ClientFrame::Settings { id, .. }
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
            ClientFrame::Password { .. } => "password",
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
            ClientFrame::Thread { .. } => "thread",
            ClientFrame::React { .. } => "react",
            ClientFrame::Settings { .. } => "settings",
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
        /// Protocol version the server speaks ([`PROTOCOL_VERSION`](super::PROTOCOL_VERSION)).
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
        /// The section 9 extensions the server implements (§2); absent: none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        features: Vec<String>,
        /// Server extension (docs/PROTOCOL-NOTES.md): whether `register` is
        /// `open`, needs an `invite` code, or is `closed`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        register: Option<String>,
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
    /// Reply to pull, history and thread.
    Messages {
        /// Id of the `pull`, `history` or `thread` request this answers.
        re: RequestId,
        /// The conversation the entries belong to.
        conv: ConvId,
        /// Contiguous entries in ascending seq order, at most `limit` of them
        /// (fewer if the frame would pass 1 MiB).
        messages: Vec<Message>,
        /// Seq of the conversation's newest entry when the reply was built.
        last_seq: Seq,
        /// §9.1: in the reply to `thread`, the thread's root.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        root: Option<Seq>,
        /// §9.1: in the reply to `thread`, the seq of the thread's newest
        /// entry (the root's while it has no replies).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread_last_seq: Option<Seq>,
    },
    /// Reply to send, edit, redact and react.
    Sent {
        /// Id of the `send`, `edit`, `redact` or `react` this answers.
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
    /// §9.4 event: the user's settings for a conversation changed on another
    /// connection (all three, current values).
    Settings {
        /// The conversation.
        conv: ConvId,
        /// When to notify.
        notify: Notify,
        /// Pinned.
        pinned: bool,
        /// Archived.
        archived: bool,
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
            | ServerFrame::Settings { .. }
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

/// `deserialize_with` for optional fields where `null` is not allowed: an
/// absent field is `None` (through `#[serde(default)]`), a present one must
/// hold a `T`.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// A `limit` as sent: any JSON integer. One above `i64::MAX` counts as
/// `i64::MAX` (§6: values above the page maximum are treated as it), so a
/// client may send `u64::MAX` for "as many as you give".
fn any_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Limit {
        Signed(i64),
        Huge(u64),
    }
    Ok(Option::<Limit>::deserialize(d)?.map(|l| match l {
        Limit::Signed(n) => n,
        Limit::Huge(n) => i64::try_from(n).unwrap_or(i64::MAX),
    }))
}
