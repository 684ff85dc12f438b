//! Error types: [`ServerError`] for start-up, [`StoreError`] for the database,
//! and [`Reject`], a request refused with a protocol error code.

use sync_core::protocol::{ErrorCode, RequestId, ServerFrame, validate::Invalid};

/// Why the server could not start (or, for [`ServerError::Tls`], could not
/// reload its certificate).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding the listen address failed.
    #[error("bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Opening or migrating the database failed.
    #[error("open database: {0}")]
    Store(#[from] StoreError),
    /// The TLS certificate or key could not be used, at start or on a
    /// reload.
    #[error("TLS: {0}")]
    Tls(String),
    /// `--db` named a database URL this build cannot store in (SQLite
    /// paths, `:memory:` and `postgres://` URLs are supported).
    #[error(
        "--db {0}://…: only SQLite and PostgreSQL are supported (a file path, :memory: or postgres://…)"
    )]
    UnsupportedDb(String),
    /// The cluster bus (`--cluster`) could not be reached.
    #[error("cluster: {0}")]
    Cluster(String),
    /// No data directory could be found for the default database path.
    #[error("no data directory for the default database path")]
    NoDataDir,
}

/// A database failure, naming the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A database call failed during the named step.
    #[error("{0}: {1}")]
    Sql(&'static str, #[source] crate::store::sql::DbError),
    /// The database was written by a newer server.
    #[error("database schema version {0} is newer than this server")]
    SchemaTooNew(usize),
    /// Creating the database directory failed.
    #[error("create database directory: {0}")]
    Dir(#[source] std::io::Error),
    /// Creating the database file failed.
    #[error("create database file {0}: {1}")]
    File(String, #[source] std::io::Error),
    /// The writer thread is gone (the server is shutting down).
    #[error("the database writer has stopped")]
    WriterGone,
    /// A stored value this server could not have written.
    #[error("corrupt database: {0}")]
    Corrupt(String),
    /// Another server serves this SQLite database (`store::lock`).
    #[error(
        "another server-mock{} is serving {}: one SQLite database serves one server at a time (several nodes share a PostgreSQL database)",
        .pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        .db.display()
    )]
    InUse {
        /// The database path.
        db: std::path::PathBuf,
        /// The serving process, when it noted its pid.
        pid: Option<u32>,
    },
    /// A blocking reader task failed to run.
    #[error("reader task failed: {0}")]
    Reader(String),
}

/// A request refused with a protocol error code; becomes an `error` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The wire error code.
    pub code: ErrorCode,
    /// Human text.
    pub message: String,
    /// For `rate_limited`.
    pub retry_after_ms: Option<u64>,
}

impl Reject {
    /// A rejection with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Reject {
        Reject {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// `bad_request`.
    pub fn bad(message: impl Into<String>) -> Reject {
        Reject::new(ErrorCode::BadRequest, message)
    }

    /// `not_found` for a conversation (also used for "not a member", so
    /// nobody learns which conversations exist).
    pub fn no_conv() -> Reject {
        Reject::new(ErrorCode::NotFound, "no such conversation")
    }

    /// The `error` frame answering request `re`.
    pub fn to_frame(&self, re: Option<RequestId>) -> ServerFrame {
        ServerFrame::Error {
            re,
            code: self.code,
            message: self.message.clone(),
            retry_after_ms: self.retry_after_ms,
        }
    }
}

impl From<Invalid> for Reject {
    fn from(e: Invalid) -> Reject {
        Reject::new(e.code, e.message)
    }
}

impl From<StoreError> for Reject {
    fn from(e: StoreError) -> Reject {
        Reject::store_failed(&e)
    }
}

impl Reject {
    /// What a client is told when the store failed: `internal` (transient:
    /// clients keep the request and retry), saying so when the disk is full,
    /// the one failure an operator must act on.
    pub fn store_failed(e: &StoreError) -> Reject {
        if let StoreError::Sql(_, db) = e
            && db.is_storage_full()
        {
            tracing::error!(error = %e, "the database's disk is full: writes are refused until space is freed");
            return Reject::new(ErrorCode::Internal, STORAGE_FULL);
        }
        tracing::error!(error = %e, "store failure");
        Reject::new(ErrorCode::Internal, "internal server error")
    }
}

/// The message of a write refused on a full disk.
pub const STORAGE_FULL: &str = "the server's storage is full; try again later";
