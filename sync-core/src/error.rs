//! The error type of the public API.

use crate::protocol::ErrorCode;
use crate::store::StoreError;

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
