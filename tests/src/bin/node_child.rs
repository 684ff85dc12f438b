//! node_child: one server-mock node in its own process, so that
//! `tests/failover.rs` can SIGKILL it (a node that crashes sends no close
//! frame). `node_child LISTEN DB` serves the SQLite database DB on LISTEN
//! (e.g. `127.0.0.1:0`), prints `listening on ws://IP:PORT/v1 server_id ID`
//! once it accepts connections, and runs until killed.

use anyhow::{Context, bail};
use server_mock::{Config, DbLocation};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, db] = args.as_slice() else {
        bail!("usage: node_child LISTEN DB");
    };
    let server = server_mock::start(Config {
        listen: listen.parse().context("LISTEN")?,
        db: DbLocation::Path(db.into()),
        ..Config::default()
    })
    .await
    .context("starting server-mock")?;
    println!(
        "listening on {} server_id {}",
        server.url(),
        server.server_id()
    );
    std::future::pending::<()>().await;
    Ok(())
}
