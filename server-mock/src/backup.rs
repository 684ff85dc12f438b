//! `server-mock backup`: a consistent, self-contained copy of a live SQLite
//! database, taken while the server runs.
//!
//! The copy is made with `VACUUM INTO`, not the online backup API:
//! - it reads one WAL snapshot in one read transaction, so the server's
//!   writer goes on committing meanwhile (a reader never blocks a WAL writer;
//!   the WAL only grows until the copy ends). The backup API copied in steps
//!   restarts whenever another connection writes the source, so under a
//!   steady stream of sends it may never finish;
//! - it writes the live rows only, rebuilt into fresh pages: no freelist, no
//!   slack left in pages. A body erased by §9.5 redaction, or a revoked
//!   token, cannot come back from the copy, whatever the source's free pages
//!   still hold. The backup API copies pages verbatim, free ones included;
//! - the copy is in rollback-journal mode: one file, no `-wal` needed. The
//!   server switches it to WAL when it opens it;
//! - it needs nothing more than rusqlite's bundled SQLite (the backup API
//!   needs rusqlite's `backup` feature).
//!
//! The copy is written to a hidden `.NAME.partial-PID-…` file next to OUT,
//! created 0600, synced, then hard-linked to OUT, which fails if OUT exists:
//! OUT is never overwritten, and appears only complete. A backup killed
//! before it ends leaves its partial copy; the next backup to the same OUT
//! removes the ones whose process is gone (on Linux, where it can tell).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::error::StoreError;
use crate::store::schema::MIGRATIONS;

/// Why a backup was not made. Nothing is left at OUT in every case.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// `--db` names no file (the wording of `admin`'s refusal).
    #[error("no database at {}", .0.display())]
    NoDatabase(PathBuf),
    /// `--db` is not a SQLite file, or one without server-mock's schema.
    #[error("{} is not a server-mock database", .0.display())]
    NotServerDb(PathBuf),
    /// The schema is newer than this binary (`StoreError::SchemaTooNew`,
    /// as `admin` and the server say it).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// OUT is there already.
    #[error("{} already exists: a backup never overwrites a file", .0.display())]
    OutExists(PathBuf),
    /// The disk OUT is on has no room for the copy (the wording of
    /// sync-core's `StoreError::DiskFull`).
    #[error("the disk holding {dir} is full: free some space there")]
    DiskFull {
        /// OUT's directory.
        dir: String,
    },
    /// A SQLite call failed during the named step.
    #[error("{0}: {1}")]
    Sql(&'static str, #[source] rusqlite::Error),
    /// A file operation failed during the named step.
    #[error("{0}: {1}")]
    Io(&'static str, #[source] std::io::Error),
}

/// A finished backup, as the command reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backup {
    /// The database copied.
    pub db: PathBuf,
    /// The copy.
    pub out: PathBuf,
    /// Accounts in the copy.
    pub users: u64,
    /// Conversations in the copy.
    pub conversations: u64,
    /// Timeline entries in the copy (all conversations).
    pub entries: u64,
    /// Size of the copy.
    pub bytes: u64,
}

/// Copies the server database at `db` to the new file `out`.
pub fn backup(db: &Path, out: &Path) -> Result<Backup, BackupError> {
    let source = open_source(db)?;
    if out.symlink_metadata().is_ok() {
        return Err(BackupError::OutExists(out.to_owned()));
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let partial = Partial::create(&dir, out)?;
    // An SQL string, read as a URI when it starts with `file:`: a relative
    // path is spelt `./…` so it never does.
    let target = partial.path.to_str().ok_or_else(|| {
        BackupError::Io(
            "name the copy",
            std::io::Error::new(ErrorKind::InvalidInput, "OUT is not valid UTF-8"),
        )
    })?;
    source
        .execute("VACUUM INTO ?1", [target])
        .map_err(|e| full_or(e, &dir, "copy the database"))?;
    drop(source);
    // VACUUM INTO syncs only as the source connection is set to; sync here.
    std::fs::File::open(&partial.path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_full_or(e, &dir, "sync the copy"))?;
    let (users, conversations, entries) = count(&partial.path)?;
    partial.publish(out)?;
    let bytes = std::fs::metadata(out)
        .map_err(|e| BackupError::Io("read the copy's size", e))?
        .len();
    Ok(Backup {
        db: db.to_owned(),
        out: out.to_owned(),
        users,
        conversations,
        entries,
        bytes,
    })
}

/// Opens `db` without creating or migrating it, after checking it is a
/// server-mock database this binary can read. No pragma that writes is run:
/// the server owns the file.
fn open_source(db: &Path) -> Result<Connection, BackupError> {
    if !db.exists() {
        return Err(BackupError::NoDatabase(db.to_owned()));
    }
    // Read-write (without create): VACUUM INTO writes its output through
    // this connection, which a read-only one refuses.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn =
        Connection::open_with_flags(db, flags).map_err(|e| BackupError::Sql("open database", e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| BackupError::Sql("configure database", e))?;
    check_ours(&conn, db)?;
    Ok(conn)
}

/// Whether `conn` (the file `db`) is a server-mock database this binary can
/// read: a schema version it knows and a server id. Reads only. Returns the
/// schema version.
pub(crate) fn check_ours(conn: &Connection, db: &Path) -> Result<usize, BackupError> {
    let not_ours = || BackupError::NotServerDb(db.to_owned());
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => not_ours(),
            _ => BackupError::Sql("read schema version", e),
        })?;
    let version = usize::try_from(version).map_err(|_| not_ours())?;
    if version == 0 {
        return Err(not_ours());
    }
    if version > MIGRATIONS.len() {
        return Err(StoreError::SchemaTooNew(version).into());
    }
    let has_id: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| BackupError::Sql("read schema", e))?
        && conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'server_id')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| BackupError::Sql("read server id", e))?;
    if !has_id {
        return Err(not_ours());
    }
    Ok(version)
}

/// Users, conversations and entries in the copy at `path`.
fn count(path: &Path) -> Result<(u64, u64, u64), BackupError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| BackupError::Sql("open the copy", e))?;
    let n = |table: &str| -> Result<u64, BackupError> {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .map_err(|e| BackupError::Sql("count the copy's rows", e))
    };
    Ok((n("users")?, n("convs")?, n("entries")?))
}

/// `e`, or [`BackupError::DiskFull`] when SQLite ran out of room in `dir`.
fn full_or(e: rusqlite::Error, dir: &Path, step: &'static str) -> BackupError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => BackupError::DiskFull {
            dir: dir.display().to_string(),
        },
        _ => BackupError::Sql(step, e),
    }
}

/// `e`, or [`BackupError::DiskFull`] when the OS ran out of room in `dir`.
fn io_full_or(e: std::io::Error, dir: &Path, step: &'static str) -> BackupError {
    match e.kind() {
        ErrorKind::StorageFull => BackupError::DiskFull {
            dir: dir.display().to_string(),
        },
        _ => BackupError::Io(step, e),
    }
}

/// The copy being written: removed (with any journal SQLite left beside it)
/// unless published.
#[derive(Debug)]
struct Partial {
    path: PathBuf,
    /// OUT's directory, as given.
    dir: PathBuf,
}

impl Partial {
    /// An empty, private (0600) file next to `out`; VACUUM INTO writes into
    /// an empty file and keeps its mode.
    fn create(dir: &Path, out: &Path) -> Result<Partial, BackupError> {
        let name = out.file_name().ok_or_else(|| {
            BackupError::Io(
                "name the copy",
                std::io::Error::new(ErrorKind::InvalidInput, "OUT names no file"),
            )
        })?;
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".partial-");
        let dir_path = if dir.is_relative() {
            Path::new(".").join(dir)
        } else {
            dir.to_owned()
        };
        remove_abandoned(&dir_path, &prefix);
        let mut file_name = prefix;
        file_name.push(format!(
            "{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let path = dir_path.join(file_name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(&path)
            .map_err(|e| io_full_or(e, dir, "create the copy"))?;
        Ok(Partial {
            path,
            dir: dir.to_owned(),
        })
    }

    /// Gives the copy its name `out`, unless `out` exists by now.
    fn publish(self, out: &Path) -> Result<(), BackupError> {
        std::fs::hard_link(&self.path, out).map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => BackupError::OutExists(out.to_owned()),
            _ => io_full_or(e, &self.dir, "name the copy"),
        })?;
        std::fs::remove_file(&self.path)
            .map_err(|e| BackupError::Io("remove the partial copy's name", e))?;
        // The new name is durable once the directory is synced.
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| BackupError::Io("sync the copy's directory", e))?;
        Ok(())
    }
}

/// Removes the partial copies in `dir` named `{prefix}PID-…` (and their
/// journals) whose backup process PID is gone: left by a backup killed
/// before it ended. Best effort: a file it cannot read or remove stays.
fn remove_abandoned(dir: &Path, prefix: &std::ffi::OsStr) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = prefix.as_encoded_bytes();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.as_encoded_bytes().strip_prefix(prefix) else {
            continue;
        };
        let pid = std::str::from_utf8(rest)
            .ok()
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !process_alive(pid)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` runs; true where that cannot be told, so nothing
/// in use is removed.
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        for suffix in ["", "-journal"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}
