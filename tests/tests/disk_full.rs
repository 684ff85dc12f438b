//! A full disk under server-mock's SQLite database: a send that cannot be
//! stored is refused with a reply that says so (a transient `internal`, so
//! clients keep it and retry), nothing acknowledged before is lost, reads
//! go on, and once space is freed the same `client_id` is stored exactly
//! once.
//!
//! The disk is a 4 MiB tmpfs mounted for the test, which needs root (or
//! CAP_SYS_ADMIN); without it the test prints one loud SKIPPED line.

#[path = "support/small_disk.rs"]
mod small_disk;
#[path = "../src/syncbench/wire.rs"]
mod wire;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use server_mock::{Config, DbLocation};
use small_disk::SmallDisk;
use sync_core::protocol::{ClientFrame, ServerFrame};
use wire::RawConn;

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
    let Some(disk) = SmallDisk::mount("4m", "the full-disk test") else {
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

/// A full disk under sync-core's store: a send says the disk is full and
/// names it (the text is kept in memory and still sent while the process
/// runs), creating a store on a full disk says the same instead of a bare
/// `disk I/O error`, and once space is freed the store opens with what it
/// held.
#[test]
fn a_full_disk_under_the_client_store_is_named() {
    use sync_core::protocol::{ConvId, ConvKind, Summary};
    use sync_core::store::{Batch, ConvRecord, MetaKey, SqliteStore, Store, Write};

    let Some(disk) = SmallDisk::mount("2m", "the full-disk test") else {
        return;
    };
    let path = disk.path().join("c.db");
    let mut seed = SqliteStore::open(&path).unwrap();
    seed.apply(&Batch {
        writes: vec![
            Write::Meta(MetaKey::User, Some("me".into())),
            Write::Conv(ConvRecord::from_summary(&Summary::new(
                "c1",
                ConvKind::Direct,
                "bob",
            ))),
        ],
        durable: false,
    })
    .unwrap();
    drop(seed);
    // Port 9 on localhost: nothing listens; the client is never started.
    let open = || sync_core::ClientBuilder::new("ws://127.0.0.1:9/v1", &path, "dev-1").open();
    let conv = ConvId::from("c1");
    let client = open().unwrap().0;
    client.send(&conv, "stored").wait().unwrap();

    let filler = disk.path().join("filler");
    fill(&filler);
    let full = format!(
        "the disk holding {} is full: free some space there",
        disk.path().display()
    );
    let err = client.send(&conv, &"z".repeat(16_000)).wait().unwrap_err();
    assert!(matches!(err, sync_core::Error::NotStored(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("the local store could not commit the write: {full}")
    );
    drop(client);

    // A store created on the full disk (another account, say).
    let other = disk.path().join("other.db");
    let err = sync_core::ClientBuilder::new("ws://127.0.0.1:9/v1", &other, "dev-1")
        .open()
        .map(drop)
        .unwrap_err()
        .to_string();
    assert!(err.ends_with(&full), "{err}");

    std::fs::remove_file(&filler).unwrap();
    let client = open().unwrap().0;
    let bodies: Vec<String> = client
        .outbox()
        .unwrap()
        .into_iter()
        .filter_map(|o| o.body)
        .collect();
    assert_eq!(bodies, ["stored"]);
}

/// `send_and_wait` with the client's disk full: the row cannot be stored,
/// but the message goes out from memory, so the call returns its seq, the
/// server holds it once, and the store failure comes as an event naming
/// the full disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_from_a_full_disk_arrives_once_and_says_it_was_not_saved() {
    use std::time::Duration;
    use sync_core::{ErrorEvent, Event};

    let Some(disk) = SmallDisk::mount("2m", "the full-disk test") else {
        return;
    };
    let server = server_mock::start(Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        db: DbLocation::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    let wait = Duration::from_secs(20);
    let store = disk.path().join("alice.db");
    let (alice, mut events) = sync_core::ClientBuilder::new(server.url(), &store, "dev")
        .open()
        .unwrap();
    alice.register("alice", "password-123").await.unwrap();
    alice.wait_live(wait).await.unwrap();
    let conv = alice.create_group("g", &[]).await.unwrap();
    alice.send_and_wait(&conv, "with room", wait).await.unwrap();
    while events.try_recv().is_some() {}

    let filler = disk.path().join("filler");
    fill(&filler);
    let seq = alice
        .send_and_wait(&conv, "from a full disk", wait)
        .await
        .expect("delivered from memory");
    let mut raw = RawConn::connect(&server.url()).await.unwrap();
    raw.login("alice", "password-123", "other").await.unwrap();
    let bodies: Vec<(u64, String)> = raw
        .pull_all(&conv)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| Some((m.seq, m.body?)))
        .collect();
    assert_eq!(
        bodies.iter().map(|(_, b)| b.as_str()).collect::<Vec<_>>(),
        ["with room", "from a full disk"]
    );
    assert_eq!(bodies[1].0, seq);
    let full = format!(
        "the disk holding {} is full: free some space there",
        disk.path().display()
    );
    let said = tokio::time::timeout(wait, async {
        loop {
            match events.recv().await {
                Some(Event::Error(ErrorEvent::Store(why))) => break why,
                Some(_) => continue,
                None => panic!("the client stopped"),
            }
        }
    })
    .await
    .expect("a store failure event");
    assert_eq!(said, full);
    raw.close().await;
    alice.stop().await;
    std::fs::remove_file(&filler).unwrap();
    server.shutdown().await;
}
