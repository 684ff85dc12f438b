//! server-mock on PostgreSQL, beyond the conformance suite (which
//! `conformance.rs` also runs there): `hello.server_id` belongs to the
//! database, not to the process. Needs PostgreSQL (see `conformance::pg`).

use std::net::SocketAddr;

use server_mock::{Config, DbLocation};

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

/// Until nodes coordinate (seqs, sync tokens, fan-out), a second node on a
/// database that one already writes to is refused at start, not allowed to
/// corrupt it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_on_the_same_database_is_refused() {
    let Some(pg) = conformance::pg::PgCluster::start_async().await else {
        return;
    };
    let db = pg.database("shared");
    let first = server_mock::start(config(&db)).await.unwrap();
    let Err(e) = server_mock::start(config(&db)).await else {
        panic!("a second node started on the same database");
    };
    assert_eq!(
        e.to_string(),
        "open database: another server-mock node already writes to this database (one node per database)"
    );
    let id = first.server_id().to_owned();
    first.shutdown().await;
    let again = server_mock::start(config(&db)).await.unwrap();
    assert_eq!(
        again.server_id(),
        id,
        "the next node after the first stopped"
    );
    again.shutdown().await;
    pg.stop().await;
}
