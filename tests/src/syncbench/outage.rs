//! Bench 5: how long after a server comes back the client is Live again,
//! after outages of 5 s, 60 s (and 5 min with `--long-outage`), next to the
//! fastest possible: a bare connect, auth and full sync measured right after
//! the same restart.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use server_mock::{Config, DbLocation, RunningServer as Server};
use sync_core::{ClientBuilder, ConnState};

use super::wire::RawConn;

async fn start(addr: SocketAddr, db: &Path) -> anyhow::Result<Server> {
    // The port was just released by the previous run of the server: retry a
    // moment if the OS has not let go of it yet.
    let mut last = None;
    for _ in 0..50 {
        match server_mock::start(Config {
            listen: addr,
            db: DbLocation::Path(db.to_owned()),
            // Every benchmark client comes from 127.0.0.1.
            max_per_address: 1_000_000,
            ..Config::default()
        })
        .await
        {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(anyhow::anyhow!("restart server-mock on {addr}: {last:?}"))
}

/// Runs the outages and prints one line each.
pub async fn outages(root: &Path, long: bool) -> anyhow::Result<()> {
    let db = root.join("outage-server.db");
    let mut server = start("127.0.0.1:0".parse()?, &db).await?;
    let (addr, url) = (server.local_addr(), server.url());
    let dir = root.join("outage-client");
    std::fs::create_dir_all(&dir)?;
    let (client, _events) = ClientBuilder::new(&url, dir.join("u.db"), "bench")
        .open()
        .context("open client")?;
    let session = client.register("outage", "outage-password").await?;
    client.start();
    client.wait_live(Duration::from_secs(10)).await?;
    let mut lengths = vec![5, 60];
    if long {
        lengths.push(300);
    }
    for secs in lengths {
        server.shutdown().await;
        tokio::time::sleep(Duration::from_secs(secs)).await;
        server = start(addr, &db).await?;
        let back = Instant::now();
        while client.state() != ConnState::Live {
            anyhow::ensure!(
                back.elapsed() < Duration::from_secs(120),
                "not Live 120 s after the server came back"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let live_after = back.elapsed();
        let t = Instant::now();
        let mut bare = RawConn::connect(&url).await?;
        bare.auth(&session.token, "bench").await?;
        bare.sync_all().await?;
        let floor = t.elapsed();
        let goal = match secs {
            5 => "≤ 3 s",
            60 => "≤ 10 s",
            _ => "≤ 15 s",
        };
        println!(
            "5. Live again after a {secs} s outage: {:.2} s after the server returned \
             (bare connect+auth+sync: {:.1} ms; goal {goal})",
            live_after.as_secs_f64(),
            floor.as_secs_f64() * 1000.0
        );
    }
    client.stop().await;
    server.shutdown().await;
    Ok(())
}

/// Waits until `client` is Live; the time it took.
async fn until_live(client: &sync_core::Client, from: Instant) -> anyhow::Result<Duration> {
    while client.state() != ConnState::Live {
        anyhow::ensure!(
            from.elapsed() < Duration::from_secs(60),
            "not Live 60 s after the stop"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(from.elapsed())
}

/// A loopback address nothing listens on (for the node started later).
fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn median_max(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[v.len() - 1]))
}

/// Bench 5f: failover (`ClientBuilder::servers`). A node stops and another
/// node over the same database file starts at once on its own port: how long
/// until the client is Live on it, next to one URL whose server restarts at
/// once on the same port (the same outage without a second URL).
pub async fn failover(root: &Path, rounds: usize) -> anyhow::Result<()> {
    let dir = root.join("failover");
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("server.db");

    // Baseline: one URL, the server restarted on its port.
    let mut server = start("127.0.0.1:0".parse()?, &db).await?;
    let (addr, url) = (server.local_addr(), server.url());
    let (client, _e) = ClientBuilder::new(&url, dir.join("one.db"), "bench-one").open()?;
    client.register("failover", "failover-password").await?;
    client.wait_live(Duration::from_secs(10)).await?;
    let mut restart = Vec::new();
    for _ in 0..rounds {
        server.shutdown().await;
        let stopped = Instant::now();
        server = start(addr, &db).await?;
        restart.push(until_live(&client, stopped).await?);
    }
    client.stop().await;

    // Failover: two URLs, each stop followed by the other node's start.
    let mut addrs = [addr, free_addr()?];
    let urls: Vec<String> = addrs.iter().map(|a| format!("ws://{a}/v1")).collect();
    let (client, _e) = ClientBuilder::new(&urls[0], dir.join("two.db"), "bench-two")
        .servers(urls.clone())
        .open()?;
    client.login("failover", "failover-password").await?;
    client.wait_live(Duration::from_secs(10)).await?;
    let mut moved = Vec::new();
    for _ in 0..rounds {
        server.shutdown().await;
        let stopped = Instant::now();
        addrs.swap(0, 1);
        server = start(addrs[0], &db).await?;
        moved.push(until_live(&client, stopped).await?);
        anyhow::ensure!(
            client.current_url() == format!("ws://{}/v1", addrs[0]),
            "Live on {} instead of the node that runs",
            client.current_url()
        );
    }
    client.stop().await;
    server.shutdown().await;
    let (m, x) = median_max(moved);
    let (bm, bx) = median_max(restart);
    println!(
        "5f. Failover to another node (same database) after a stop: Live on it in {m:.0} ms \
         median, {x:.0} ms max over {rounds} stops (baseline, one URL restarted at once on \
         its port: {bm:.0} ms median, {bx:.0} ms max)"
    );
    Ok(())
}
