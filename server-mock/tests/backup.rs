//! `server-mock backup` (the real binary) on the database of a running
//! server: the copy is consistent while sends go on, a server started on it
//! serves the same timeline, erased bodies stay erased, and every refusal is
//! one line with nothing written.

mod common;
#[path = "../../tests/tests/support/small_disk.rs"]
mod small_disk;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{Client, HANG, PASSWORD, test_config};
use serde_json::json;
use server_mock::DbLocation;
use small_disk::SmallDisk;

/// Runs `server-mock backup ARGS…`: (success, stdout, stderr), trimmed.
fn backup(args: &[&std::ffi::OsStr]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_server-mock"))
        .arg("backup")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

fn backup_db(db: &Path, out: &Path) -> (bool, String, String) {
    backup(&["--db".as_ref(), db.as_os_str(), out.as_os_str()])
}

/// Waits (bounded by [`HANG`]) until `n` reaches `at_least`.
async fn until(n: &AtomicU64, at_least: u64) {
    tokio::time::timeout(HANG, async {
        while n.load(Ordering::SeqCst) < at_least {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the sends stalled");
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_sends_is_a_whole_prefix_and_a_server_serves_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let out = dir.path().join("copy.db");
    let server = server_mock::start(test_config(DbLocation::Path(db.clone())))
        .await
        .unwrap();
    let url = server.url();
    let mut alice = Client::register(&url, "alice").await;
    let _bob = Client::register(&url, "bob").await;
    let conv = alice.create_group("team", &["bob"]).await;

    // Alice sends m0, m1, … (seq 2, 3, …) until told to stop.
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicU64::new(0));
    let sender = {
        let (acked, stop, conv) = (acked.clone(), stop.clone(), conv.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while stop.load(Ordering::SeqCst) == 0 {
                let r = alice
                    .send_msg(&conv, &format!("c{i}"), &format!("m{i}"))
                    .await;
                assert_eq!(r["seq"], i + 2, "{r}");
                i += 1;
                acked.store(i, Ordering::SeqCst);
            }
            i
        })
    };
    until(&acked, 20).await;
    let before = acked.load(Ordering::SeqCst);
    let (ok, stdout, stderr) = {
        let (db, out) = (db.clone(), out.clone());
        tokio::task::spawn_blocking(move || backup_db(&db, &out))
            .await
            .unwrap()
    };
    let after = acked.load(Ordering::SeqCst);
    // The server goes on storing sends after the backup.
    until(&acked, after + 5).await;
    stop.store(1, Ordering::SeqCst);
    let total = sender.await.unwrap();
    assert!(ok, "{stderr}");
    println!("{} sends acknowledged while the backup ran", after - before);

    // The copy: whole, one file, private, and a prefix of the timeline
    // (the create entry, then texts) holding at least every send
    // acknowledged before the backup began.
    let copy =
        rusqlite::Connection::open_with_flags(&out, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let seqs: Vec<u64> = copy
        .prepare("SELECT seq FROM entries ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let n = seqs.len() as u64;
    assert_eq!(seqs, (1..=n).collect::<Vec<u64>>(), "seqs have a gap");
    assert!(
        (before + 1..=total + 1).contains(&n),
        "{n} entries; {before} texts acknowledged before, {total} in all"
    );
    drop(copy);
    let header = std::fs::read(&out).unwrap();
    assert_eq!(
        (header[18], header[19]),
        (1, 1),
        "the copy is in rollback-journal mode (no -wal needed)"
    );
    let mode = std::fs::metadata(&out).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        names(dir.path()),
        [
            "copy.db",
            "server.db",
            "server.db-shm",
            "server.db-wal",
            "server.db.lock"
        ]
    );
    assert_eq!(
        stdout,
        format!(
            "backed up {} to {} (2 users, 1 conversation, {n} entries, {:.1} MiB)",
            db.display(),
            out.display(),
            header.len() as f64 / (1024.0 * 1024.0)
        )
    );
    server.shutdown().await;

    // A server on the copy serves exactly those entries.
    let restored = server_mock::start(test_config(DbLocation::Path(out.clone())))
        .await
        .unwrap();
    let mut bob = Client::connect(&restored.url()).await;
    let r = bob
        .request(json!({"type":"login","user":"bob","password":PASSWORD,"device":"d2"}))
        .await;
    assert_eq!(r["type"], "session", "{r}");
    let entries = bob.pull_all(&conv).await;
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=n).collect::<Vec<u64>>());
    let bodies: Vec<&str> = entries[1..]
        .iter()
        .map(|e| e["body"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..n - 1).map(|i| format!("m{i}")).collect();
    assert_eq!(bodies, expected);
    restored.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_body_is_not_in_the_backup_file() {
    const KEPT: &str = "kept-3f9c1e7a-still-here";
    const ERASED: &str = "erased-8d2b6f04-gone-for-good";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let out = dir.path().join("copy.db");
    let server = server_mock::start(test_config(DbLocation::Path(db.clone())))
        .await
        .unwrap();
    let mut alice = Client::register(&server.url(), "alice").await;
    let conv = alice.create_group("g", &[]).await;
    alice.send_msg(&conv, "k", KEPT).await; // seq 2
    alice.send_msg(&conv, "e", ERASED).await; // seq 3
    let r = alice
        .request(json!({"type":"redact","conv":conv,"client_id":"x","target":3}))
        .await;
    assert_eq!(r["type"], "sent", "{r}");
    // The live files still hold it (in the WAL, as the page was before the
    // redaction): a raw copy of them would bring the body back.
    let mut live = std::fs::read(&db).unwrap();
    live.extend(std::fs::read(dir.path().join("server.db-wal")).unwrap());
    assert!(contains(&live, ERASED), "the test lost its point");

    let (ok, _, stderr) = backup_db(&db, &out);
    assert!(ok, "{stderr}");
    let bytes = std::fs::read(&out).unwrap();
    assert!(contains(&bytes, KEPT), "the kept text is in the copy");
    assert!(!contains(&bytes, ERASED), "the erased text came back");
    server.shutdown().await;
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// A server database (created by a server that has stopped).
async fn server_db(dir: &Path) -> PathBuf {
    let db = dir.join("server.db");
    let server = server_mock::start(test_config(DbLocation::Path(db.clone())))
        .await
        .unwrap();
    server.shutdown().await;
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_one_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = server_db(dir.path()).await;
    let out = dir.path().join("copy.db");

    // OUT exists: untouched.
    std::fs::write(&out, "yesterday's backup").unwrap();
    let (ok, stdout, stderr) = backup_db(&db, &out);
    assert_eq!(
        (ok, stdout.as_str(), stderr),
        (
            false,
            "",
            format!(
                "server-mock: error: {} already exists: a backup never overwrites a file",
                out.display()
            )
        )
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "yesterday's backup");
    std::fs::remove_file(&out).unwrap();

    // No database there.
    let missing = dir.path().join("nope.db");
    let (ok, _, stderr) = backup_db(&missing, &out);
    assert!(!ok);
    assert_eq!(
        stderr,
        format!("server-mock: error: no database at {}", missing.display())
    );

    // PostgreSQL.
    let (ok, _, stderr) = backup(&[
        "--db".as_ref(),
        "postgres://convo@db.example.org/convo".as_ref(),
        out.as_os_str(),
    ]);
    assert!(!ok);
    assert_eq!(
        stderr,
        "server-mock: error: backup works on SQLite files only (this --db is a PostgreSQL URL): back PostgreSQL up with pg_dump"
    );

    // Not a database, another program's SQLite database, and one written
    // by a newer server (left as they were: no migration).
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database at all, just some text to read").unwrap();
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    for path in [&text, &other] {
        let (ok, _, stderr) = backup_db(path, &out);
        assert!(!ok);
        assert_eq!(
            stderr,
            format!(
                "server-mock: error: {} is not a server-mock database",
                path.display()
            )
        );
    }
    let version = server_mock::store::MIGRATIONS.len() + 1;
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {version}"))
        .unwrap();
    let (ok, _, stderr) = backup_db(&db, &out);
    assert!(!ok);
    assert_eq!(
        stderr,
        format!("server-mock: error: database schema version {version} is newer than this server")
    );
    let user_version: i64 = rusqlite::Connection::open(&other)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(user_version, 0, "the other database was migrated");
    assert_eq!(
        names(dir.path()),
        ["notes.txt", "other.db", "server.db", "server.db.lock"],
        "something was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_said_and_leaves_no_partial_copy() {
    let Some(disk) = SmallDisk::mount("64k", "the full-disk backup test") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let server = server_mock::start(test_config(DbLocation::Path(db.clone())))
        .await
        .unwrap();
    let mut alice = Client::register(&server.url(), "alice").await;
    let conv = alice.create_group("g", &[]).await;
    for i in 0..100 {
        alice
            .send_msg(
                &conv,
                &format!("c{i}"),
                &format!("{i} {}", "z".repeat(2000)),
            )
            .await;
    }
    let out = disk.path().join("copy.db");
    let (ok, _, stderr) = backup_db(&db, &out);
    assert!(!ok);
    assert_eq!(
        stderr,
        format!(
            "server-mock: error: the disk holding {} is full: free some space there",
            disk.path().display()
        )
    );
    assert_eq!(names(disk.path()), Vec::<String>::new());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_backup_s_partial_copy_is_removed_by_the_next_backup() {
    let dir = tempfile::tempdir().unwrap();
    let db = server_db(dir.path()).await;
    let out_dir = tempfile::tempdir().unwrap();
    // A process that has ended: its pid names no running process now.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let live = std::process::id();
    let left = [
        format!(".copy.db.partial-{dead}-0badc0de"),
        format!(".copy.db.partial-{dead}-0badc0de-journal"),
        // A backup still running (this process) keeps its copy, and other
        // files are not the backup's to remove.
        format!(".copy.db.partial-{live}-0000beef"),
        format!(".other.db.partial-{dead}-00000001"),
        "copy.db.partial-1-2".to_owned(),
    ];
    for name in &left {
        std::fs::write(out_dir.path().join(name), b"half a copy").unwrap();
    }
    let (ok, _, stderr) = backup_db(&db, &out_dir.path().join("copy.db"));
    assert!(ok, "{stderr}");
    assert_eq!(
        names(out_dir.path()),
        [
            format!(".copy.db.partial-{live}-0000beef"),
            format!(".other.db.partial-{dead}-00000001"),
            "copy.db".to_owned(),
            "copy.db.partial-1-2".to_owned(),
        ]
    );
}
