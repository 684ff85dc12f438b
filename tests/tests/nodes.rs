//! `conformance::cluster::Node`, the process harness of the multi-node
//! tests (`cluster.rs`) and loadgen's set-ups, on one SQLite node: it
//! serves, dies by SIGKILL, comes back on the same port with its data, and
//! a node that cannot start fails with its own words.

#[path = "../src/syncbench/wire.rs"]
mod wire;

use conformance::cluster::{Node, NodeError, NodeSpec, debug_server_bin, free_port};
use wire::RawConn;

fn spec(db: String) -> NodeSpec {
    NodeSpec {
        bin: debug_server_bin().unwrap(),
        db,
        cluster: None,
        listen: format!("127.0.0.1:{}", free_port().unwrap()),
        unlimited_sends: true,
        failpoint: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_serves_dies_by_sigkill_and_restarts_on_its_port_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir
        .path()
        .join("node.sqlite")
        .to_string_lossy()
        .into_owned();
    let spec = tokio::task::spawn_blocking(move || spec(db)).await.unwrap();
    let listen = spec.listen.clone();
    let mut node = Node::start_async(spec).await.unwrap();
    assert_eq!(node.url(), format!("ws://{listen}/v1"));
    let pid = node.pid().unwrap();
    let mut conn = RawConn::connect(&node.url()).await.unwrap();
    conn.register("nodeuser", "node-password", "d1")
        .await
        .unwrap();
    conn.close().await;

    tokio::task::block_in_place(|| node.kill());
    assert_eq!(node.pid(), None);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(RawConn::connect(&node.url()).await.is_err(), "killed");

    tokio::task::block_in_place(|| node.restart()).unwrap();
    let mut conn = RawConn::connect(&node.url()).await.unwrap();
    conn.login("nodeuser", "node-password", "d2")
        .await
        .expect("the account survived the SIGKILL");
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_cannot_start_reports_its_own_error() {
    let spec = tokio::task::spawn_blocking(|| spec("mysql://127.0.0.1/nope".into()))
        .await
        .unwrap();
    let err = Node::start_async(spec).await.unwrap_err();
    let NodeError::Exited { stderr, .. } = &err else {
        panic!("{err}");
    };
    assert!(stderr.contains("mysql"), "{err}");
    assert!(err.to_string().contains("exited at start"), "{err}");
}
