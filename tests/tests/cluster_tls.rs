//! The cluster bus over TLS: two server-mock nodes on one PostgreSQL
//! database, joined by a nats-server that requires TLS, with
//! `--cluster-ca` naming the CA of its certificate. A text sent on one node
//! reaches a member connected to the other; a node given another CA does
//! not start, and says why. Needs PostgreSQL and nats-server.

#[path = "../src/syncbench/wire.rs"]
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use server_mock::{Config, DbLocation};
use sync_core::protocol::ServerFrame;
use wire::RawConn;

fn node(db: &str, nats: &str, ca: PathBuf) -> Config {
    Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        db: DbLocation::Postgres(db.to_owned()),
        cluster: Some(nats.to_owned()),
        cluster_ca: Some(ca),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_cross_nodes_over_a_tls_bus() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = (dir.path().join("ours"), dir.path().join("theirs"));
    std::fs::create_dir_all(&ours).unwrap();
    std::fs::create_dir_all(&theirs).unwrap();
    let pki = conformance::pki::make(&ours, &["127.0.0.1"]).unwrap();
    let other = conformance::pki::make(&theirs, &["127.0.0.1"]).unwrap();
    let Some(pg) = conformance::pg::PgCluster::start_async().await else {
        return;
    };
    let (cert, key) = (pki.cert.clone(), pki.key.clone());
    let Some(nats) =
        tokio::task::spawn_blocking(move || conformance::nats::NatsServer::start_tls(cert, key))
            .await
            .unwrap()
    else {
        return;
    };
    let db = pg.database("bus");
    let url = nats.url();

    let a = server_mock::start(node(&db, &url, pki.ca.clone()))
        .await
        .unwrap();
    let b = server_mock::start(node(&db, &url, pki.ca.clone()))
        .await
        .unwrap();
    let mut alice = RawConn::connect(&a.url()).await.unwrap();
    alice.register("alice", "password-1", "d").await.unwrap();
    let mut bob = RawConn::connect(&b.url()).await.unwrap();
    bob.register("bob", "password-1", "d").await.unwrap();
    let conv = alice.create_group("g", &["bob"]).await.unwrap();
    alice
        .send_many(&conv, "c", ["across the TLS bus".to_owned()], 1)
        .await
        .unwrap();
    let body = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let ServerFrame::Message { message, .. } = bob.next_frame().await.unwrap()
                && let Some(body) = message.body
            {
                break body;
            }
        }
    })
    .await
    .expect("bob, on the other node, got the push");
    assert_eq!(body, "across the TLS bus");
    alice.close().await;
    bob.close().await;
    a.shutdown().await;
    b.shutdown().await;

    let err = server_mock::start(node(&db, &url, other.ca.clone()))
        .await
        .map(drop)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("cannot reach NATS at {url}: ")),
        "{err}"
    );
    assert!(err.contains("invalid peer certificate"), "{err}");
    let hint = "(--cluster-ca names the CA that signed the NATS server's certificate)";
    assert!(err.ends_with(hint), "{err}");
    drop(nats);
    pg.stop().await;
}
