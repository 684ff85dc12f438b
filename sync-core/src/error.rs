//! The error type of the public API.

use crate::protocol::ErrorCode;
use crate::store::StoreError;

/// Why connecting to the server failed, or why an open connection ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// Nothing listens at the address (with the OS text, e.g. "Connection
    /// refused (os error 111)").
    #[error("no server answers there ({0})")]
    Refused(String),
    /// The host name could not be resolved.
    #[error("cannot resolve the host: {0}")]
    Dns(String),
    /// The TLS handshake failed (e.g. the certificate was rejected): one
    /// line naming the host and the reason.
    #[error("TLS: {0}")]
    Tls(String),
    /// No answer within the connect timeout.
    #[error("timed out")]
    Timeout,
    /// An established connection was cut.
    #[error("connection lost: {0}")]
    Lost(String),
    /// The server closed the connection with this WebSocket close code.
    #[error("the server closed the connection ({0})")]
    Closed(u16),
    /// Something answered, but not a convo server (an HTTP status instead
    /// of a WebSocket upgrade: a wrong path or port).
    #[error("not a convo server (HTTP {0})")]
    Http(u16),
    /// The URL cannot be used (not `ws://` or `wss://`, malformed).
    #[error("invalid server URL: {0}")]
    InvalidUrl(String),
    /// A `wss://` URL, but this build has no TLS support.
    #[error("wss:// needs TLS support, which this build does not include")]
    TlsUnavailable,
    /// With several server URLs: this one answered with a `hello.server_id`
    /// other than the one the store is bound to, so it serves another
    /// database. It is skipped (the cache is kept, nothing is sent there).
    #[error("another server's database (server_id {found}, this store belongs to {expected})")]
    WrongServer {
        /// The `server_id` the store is bound to.
        expected: String,
        /// The `server_id` this URL's server said.
        found: String,
    },
}

impl ConnectError {
    /// Retrying cannot help (a malformed URL, no TLS support, a rejected
    /// certificate, a server that answers 4xx to the upgrade, another
    /// database's server): the engine skips that URL, and stops reconnecting
    /// (and says so) once every URL of its list failed so.
    pub fn is_permanent(&self) -> bool {
        match self {
            ConnectError::InvalidUrl(_)
            | ConnectError::TlsUnavailable
            | ConnectError::Tls(_)
            | ConnectError::WrongServer { .. } => true,
            // A wrong path or a refused upgrade; but a proxy or load
            // balancer saying "too many requests" or "request timeout" in
            // front of the nodes is transient.
            ConnectError::Http(status) => {
                (400..500).contains(status) && !matches!(status, 408 | 429)
            }
            _ => false,
        }
    }

    /// The server could not be reached at all (as opposed to a connection
    /// that was established and then cut): `login`, `register` and `resume`
    /// fail at once with it instead of waiting for a retry.
    pub fn is_unreachable(&self) -> bool {
        self.is_permanent()
            || matches!(
                self,
                ConnectError::Refused(_) | ConnectError::Dns(_) | ConnectError::Timeout
            )
    }
}

/// Why a [`crate::Client`] call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server answered with an error.
    #[error("server refused {request}: {code}: {message}")]
    Server {
        /// The request type.
        request: &'static str,
        /// Protocol error code.
        code: ErrorCode,
        /// Human text.
        message: String,
    },
    /// Input rejected locally before reaching the server.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// The server could not be reached (refused, no such host, TLS failure,
    /// timeout) or the URL cannot be used.
    #[error("cannot reach {url}: {cause}")]
    Connect {
        /// The server URL.
        url: String,
        /// What failed.
        cause: ConnectError,
    },
    /// The server does not implement this section 9 extension (it is not in
    /// `hello.features`).
    #[error("the server does not support {0} (not in its hello.features)")]
    Unsupported(&'static str),
    /// The request needs a live, authenticated connection.
    #[error("not connected")]
    Offline,
    /// The connection dropped before the reply arrived.
    #[error("disconnected before the reply arrived")]
    Disconnected,
    /// `send_and_wait` saw no acknowledgement in time. The message is still
    /// queued and still goes out: wait again with `Client::wait_sent`, or
    /// drop it with `Client::discard`. Sending it again would make a copy.
    #[error("no acknowledgement in time; the message is still queued as {client_id}")]
    SendTimeout {
        /// The queued row.
        client_id: String,
    },
    /// No reply within the allowed time.
    #[error("timed out")]
    Timeout,
    /// No session: register or log in first.
    #[error("not logged in")]
    LoggedOut,
    /// The conversation is unknown locally.
    #[error("unknown conversation {0}")]
    UnknownConversation(String),
    /// The user left this conversation; it is read-only.
    #[error("conversation {0} is read-only (left)")]
    ReadOnly(String),
    /// An outbox row with this client id is queued already (the first
    /// call's message is still going out; nothing was added).
    #[error("a message with client id {0} is already queued")]
    AlreadyQueued(String),
    /// No outbox row with this client id.
    #[error("no outbox row {0}")]
    UnknownOutboxRow(String),
    /// The local store could not commit a write the call waited for (a full
    /// disk, a locked or broken database file). For `send`, the message is
    /// kept in memory and still delivered while the process runs, but it
    /// would not survive a restart.
    #[error("the local store could not commit the write: {0}")]
    NotStored(String),
    /// The background driver stopped (its thread ended).
    #[error("sync driver is not running")]
    DriverGone,
    /// Starting the driver thread or runtime failed.
    #[error("starting the sync driver: {0}")]
    Spawn(std::io::Error),
}
