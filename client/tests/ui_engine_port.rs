//! The TUI's port to the real `sync_core::Client` against a real server:
//! what a refused request tells the user.
#![cfg(feature = "wired")]

mod cli_support;

use std::time::Duration;

use cli_support::TestServer;
use client::ui::engine::{EnginePort, EngineRequest};
use sync_core::ClientBuilder;

/// `/dm zed` for a user the server does not know, and `/group` with an
/// invalid name: the server's own words, not `server refused create:
/// not_found: no user zed`.
#[test]
fn a_refused_request_reads_as_the_server_put_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let (c, _events) = ClientBuilder::new(&server.url, dir.path().join("a.db"), "dev-a")
            .open()
            .unwrap();
        c.register("alice", "correct horse battery").await.unwrap();
        c.wait_live(Duration::from_secs(10)).await.unwrap();
        let refused = |request| {
            let c = c.clone();
            async move { EnginePort::request(&c, request).await.map(|_| ()) }
        };
        assert_eq!(
            refused(EngineRequest::CreateDirect { user: "zed".into() }).await,
            Err("no user zed".to_owned())
        );
        assert_eq!(
            refused(EngineRequest::CreateGroup {
                title: "ops".into(),
                members: vec!["zed".into()],
            })
            .await,
            Err("no user zed".to_owned())
        );
        c.stop().await;
    });
}
