//! The lock a server holds on its SQLite database while it serves it.
//!
//! Each server keeps state of its database in memory: member lists, the
//! change counter a `sync` token is read against. A second server on the
//! same file would write beside it, each unaware of the other's changes:
//! repeated change positions (an incremental `sync` then misses
//! conversations), pushes going to stale member lists, and writes refused
//! as "database is locked". So a server locks `PATH.lock`, next to the
//! database, for as long as its writer runs, and writes its pid into it;
//! another one on the same path is refused at start with that pid. The
//! lock is the operating system's (`flock`): a killed server holds none,
//! and a stale `.lock` file is harmless. Several nodes share a PostgreSQL
//! database instead (`--cluster`).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::StoreError;

/// Held for as long as a server serves the database (released on drop and
/// when the process ends, however it ends).
#[derive(Debug)]
pub struct DbLock {
    _file: File,
}

/// `PATH.lock` for the database at `PATH`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

impl DbLock {
    /// Locks `db` for this process, or says which process serves it.
    pub fn acquire(db: &Path) -> Result<DbLock, StoreError> {
        let path = lock_path(db);
        let file_err = |e| StoreError::File(path.display().to_string(), e);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(file_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::InUse {
                    db: db.to_owned(),
                    pid: read_pid(&mut file),
                });
            }
            Err(TryLockError::Error(e)) => return Err(file_err(e)),
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .map_err(file_err)?;
        Ok(DbLock { _file: file })
    }
}

/// Whether a server serves `db` now: `Some` with its pid when it wrote one.
pub fn holder(db: &Path) -> Option<Option<u32>> {
    let mut file = File::open(lock_path(db)).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => Some(read_pid(&mut file)),
        // A lock that cannot be taken at all (a file system without locks)
        // tells nothing.
        Err(TryLockError::Error(_)) => None,
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holder_s_pid_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("server.db");
        assert_eq!(holder(&db), None, "no lock file yet");
        let first = DbLock::acquire(&db).unwrap();
        let me = Some(std::process::id());
        assert_eq!(holder(&db), Some(me));
        match DbLock::acquire(&db) {
            Err(StoreError::InUse { db: path, pid }) => assert_eq!((path, pid), (db.clone(), me)),
            other => panic!("expected InUse, got {other:?}"),
        }
        drop(first);
        assert_eq!(holder(&db), None, "released on drop");
        let again = DbLock::acquire(&db).unwrap();
        assert_eq!(holder(&db), Some(me));
        drop(again);
        assert_eq!(
            std::fs::read_to_string(lock_path(&db)).unwrap(),
            format!("{}\n", std::process::id())
        );
    }
}
