//! server-mock on PostgreSQL, beyond the conformance suite (which
//! `conformance.rs` also runs there): `hello.server_id` belongs to the
//! database, not to the process, and sync tokens stay safe with several
//! nodes writing. Needs PostgreSQL (see `conformance::pg`).

#[path = "../src/syncbench/wire.rs"]
mod wire;

use std::net::SocketAddr;

use server_mock::{Config, DbLocation};
use wire::RawConn;

fn config(db: &str) -> Config {
    Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        db: DbLocation::Postgres(db.to_owned()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_id_is_the_databases_across_restarts() {
    let Some(pg) = conformance::pg::PgCluster::start_async().await else {
        return;
    };
    let (one, two) = (pg.database("one"), pg.database("two"));
    let s1 = server_mock::start(config(&one)).await.unwrap();
    let id = s1.server_id().to_owned();
    s1.shutdown().await;
    assert_eq!(id.len(), 32, "{id:?}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id:?}");
    let s2 = server_mock::start(config(&one)).await.unwrap();
    assert_eq!(s2.server_id(), id, "a restart on the same database");
    s2.shutdown().await;
    let other = server_mock::start(config(&two)).await.unwrap();
    assert_ne!(other.server_id(), id, "another database is another server");
    other.shutdown().await;
    pg.stop().await;
}

/// Two nodes write to one database (no bus: this is about storage). A
/// writer's batch holds the change counter row until it commits; while a
/// transaction holds it, another node's send waits, and a `sync` on the
/// other node in between returns a token below the held change, so the next
/// `sync` from that token lists the change: none is skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_between_two_writers_never_skips_a_change() {
    let Some(pg) = conformance::pg::PgCluster::start_async().await else {
        return;
    };
    let db = pg.database("shared");
    let a = server_mock::start(config(&db)).await.unwrap();
    let b = server_mock::start(config(&db)).await.unwrap();
    assert_eq!(a.server_id(), b.server_id(), "one database, one server id");
    let mut alice = RawConn::connect(&a.url()).await.unwrap();
    alice.register("alice", "password-1", "d").await.unwrap();
    let mut bob = RawConn::connect(&b.url()).await.unwrap();
    bob.register("bob", "password-1", "d").await.unwrap();
    let conv = alice.create_group("g", &["bob"]).await.unwrap();
    let (all, token) = bob.sync_pages(None).await.unwrap();
    assert_eq!(all.len(), 1);
    let head = all[0].last_seq;

    // Another writer's batch, held open: it has taken the counter row.
    let url = db.clone();
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    let (locked_tx, locked_rx) = tokio::sync::oneshot::channel();
    let holder = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let mut t = c.transaction().unwrap();
        t.query_one(
            "SELECT value FROM meta WHERE key = 'change_seq' FOR UPDATE",
            &[],
        )
        .unwrap();
        locked_tx.send(()).unwrap();
        held_rx.recv().unwrap();
        t.commit().unwrap();
    });
    locked_rx.await.unwrap();
    let conv2 = conv.clone();
    let send = tokio::spawn(async move {
        alice
            .send_many(&conv2, "c", ["held back".to_owned()], 1)
            .await
            .unwrap()
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!send.is_finished(), "the send waits for the held batch");
    let (changed, between) = bob.sync_pages(Some(token)).await.unwrap();
    assert!(changed.is_empty(), "nothing committed yet: {changed:?}");
    held_tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(send.await.unwrap(), 1);
    let (changed, _) = bob.sync_pages(Some(between)).await.unwrap();
    assert_eq!(changed.len(), 1, "the change after the token is listed");
    assert_eq!(changed[0].conv, conv);
    assert_eq!(changed[0].last_seq, head + 1);
    assert_eq!(changed[0].unread, 1);
    a.shutdown().await;
    b.shutdown().await;
    pg.stop().await;
}
