//! A full disk under server-mock's SQLite database: a send that cannot be
//! stored is refused with a reply that says so (a transient `internal`, so
//! clients keep it and retry), nothing acknowledged before is lost, reads
//! go on, and once space is freed the same `client_id` is stored exactly
//! once.
//!
//! The disk is a 4 MiB tmpfs mounted for the test, which needs root (or
//! CAP_SYS_ADMIN); without it the test prints one loud SKIPPED line.

#[path = "../src/syncbench/wire.rs"]
mod wire;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use server_mock::{Config, DbLocation};
use sync_core::protocol::{ClientFrame, ServerFrame};
use wire::RawConn;

/// A small tmpfs, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            println!(
                "!!!!!!!! cannot mount a tmpfs here (needs root): the full-disk test is SKIPPED !!!!!!!!"
            );
            return None;
        }
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes `path` until the disk refuses more; returns the bytes written.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![b'x'; 4096];
    let mut written = 0;
    while f.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    written
}

async fn send(
    conn: &mut RawConn,
    conv: &sync_core::protocol::ConvId,
    client_id: &str,
    body: &str,
) -> anyhow::Result<u64> {
    let (conv, client_id, body) = (conv.clone(), client_id.to_owned(), body.to_owned());
    match conn
        .request(|id| ClientFrame::Send {
            id,
            conv,
            client_id,
            body,
            reply_to: None,
        })
        .await?
    {
        ServerFrame::Sent { seq, .. } => Ok(seq),
        other => anyhow::bail!("send: unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_sends_clearly_and_loses_nothing() {
    let Some(disk) = SmallDisk::mount("4m") else {
        return;
    };
    let db: PathBuf = disk.path().join("server.db");
    let server = server_mock::start(Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        db: DbLocation::Path(db),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut alice = RawConn::connect(&server.url()).await.unwrap();
    alice.register("alice", "password-1", "d").await.unwrap();
    let conv = alice.create_group("g", &[]).await.unwrap();
    let body = |i: usize| format!("{i:05} {}", "y".repeat(2000));
    // Some texts stored while there is room.
    let mut acked = Vec::new();
    for i in 0..20 {
        acked.push((
            send(&mut alice, &conv, &format!("c{i}"), &body(i))
                .await
                .unwrap(),
            i,
        ));
    }

    // The disk fills up: sends go on until one cannot be stored.
    let filler = disk.path().join("filler");
    assert!(fill(&filler) > 0, "the filler took the free space");
    let mut refused = None;
    for i in 20..400 {
        match send(&mut alice, &conv, &format!("c{i}"), &body(i)).await {
            Ok(seq) => acked.push((seq, i)),
            Err(e) => {
                refused = Some((i, e.to_string()));
                break;
            }
        }
    }
    let (i, why) = refused.expect("a send on a full disk was refused");
    assert_eq!(
        why, "send failed: internal (the server's storage is full; try again later)",
        "the reply says why"
    );

    // Nothing acknowledged is lost, and reads go on.
    let stored = alice.pull_all(&conv).await.unwrap();
    let texts: Vec<(u64, String)> = stored
        .iter()
        .filter_map(|m| Some((m.seq, m.body.clone()?)))
        .collect();
    let want: Vec<(u64, String)> = acked.iter().map(|(seq, i)| (*seq, body(*i))).collect();
    assert_eq!(
        texts, want,
        "every acknowledged text, in order, nothing else"
    );

    // Space comes back: the refused text, sent again with its client id,
    // is stored once, right after the others.
    std::fs::remove_file(&filler).unwrap();
    let seq = send(&mut alice, &conv, &format!("c{i}"), &body(i))
        .await
        .unwrap();
    assert_eq!(
        seq,
        stored.last().unwrap().seq + 1,
        "dense after the refusal"
    );
    let again = send(&mut alice, &conv, &format!("c{i}"), &body(i))
        .await
        .unwrap();
    assert_eq!(again, seq, "a repeat of the client id is the same entry");
    let after = alice.pull_all(&conv).await.unwrap();
    assert_eq!(after.len(), stored.len() + 1);
    assert_eq!(
        after.last().unwrap().body.as_deref(),
        Some(body(i).as_str())
    );
    alice.close().await;
    server.shutdown().await;
    drop(disk);
}
