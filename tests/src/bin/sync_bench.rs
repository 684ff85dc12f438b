//! sync_bench: sync-core benchmarks against an in-process server-mock, each figure printed
//! next to a baseline measured in the same run. Run with
//! `cargo run --release -p conformance --bin sync_bench [-- --quick] [--no-outage | --outage-only] [--long-outage]`
//! `[--api-only | --no-api | --catchup-only]` (bench 5 waits through 5 s and 60 s server outages;
//! `--long-outage` adds 5 min; 5f times failover to a second URL; benches 6–9
//! measure the app API).

#[path = "../syncbench/api.rs"]
mod api;
#[path = "../syncbench/cases.rs"]
mod cases;
#[path = "../syncbench/outage.rs"]
mod outage;
#[path = "../syncbench/rawstore.rs"]
mod rawstore;
#[path = "../syncbench/seed.rs"]
mod seed;
#[path = "../syncbench/wire.rs"]
mod wire;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use conformance::proxy::{Faults, Proxy};
use server_mock::{Config, DbLocation};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rss-child") {
        return api::rss_child(&args[i + 1..]);
    }
    tokio::runtime::Runtime::new()?.block_on(run())
}

/// Stops per configuration in bench 5f.
fn failover_rounds(quick: bool) -> usize {
    if quick { 5 } else { 20 }
}

async fn run() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let catchup_only = std::env::args().any(|a| a == "--catchup-only");
    let scale = match (quick, catchup_only) {
        (true, _) => seed::Scale::QUICK,
        // Bench 3 seeds its own conversation: the rest as small as it goes.
        (false, true) => seed::Scale {
            catch_up: seed::Scale::FULL.catch_up,
            ..seed::Scale::QUICK
        },
        (false, false) => seed::Scale::FULL,
    };
    let tmp = tempfile::tempdir().context("scratch dir")?;
    if std::env::args().any(|a| a == "--api-only") {
        return api::api(tmp.path(), quick).await.context("benches 6-9");
    }
    if std::env::args().any(|a| a == "--outage-only") {
        let long = std::env::args().any(|a| a == "--long-outage");
        outage::failover(tmp.path(), failover_rounds(quick))
            .await
            .context("bench 5f")?;
        return outage::outages(tmp.path(), long).await.context("bench 5");
    }
    let server = server_mock::start(Config {
        listen: "127.0.0.1:0".parse()?,
        db: DbLocation::Path(tmp.path().join("server.db")),
        // Seeding pipelines tens of thousands of sends per connection.
        send_rate_per_sec: 1e9,
        send_burst: u32::MAX,
        // Every benchmark client comes from 127.0.0.1.
        max_per_address: 1_000_000,
        ..Config::default()
    })
    .await
    .context("start server-mock")?;
    let server_url = server.url();
    println!(
        "sync_bench ({}), server {server_url}",
        if quick { "quick" } else { "full" }
    );

    let t0 = Instant::now();
    let layout = seed::seed(&server_url, scale).await.context("seeding")?;
    println!("seeded in {:.1} s: {scale:?}", t0.elapsed().as_secs_f64());

    let proxy = Proxy::start(server.local_addr(), Faults::none(), 0).await?;
    let tap = Arc::new(cases::HistoryTap::default());
    tap.install(&proxy);
    let dir = cases::store_dir(tmp.path());
    std::fs::create_dir_all(&dir)?;
    let bench = cases::Bench {
        proxy,
        server_url,
        dir,
        scale,
        layout,
        tap,
    };

    if catchup_only {
        cases::catch_up(&bench).await.context("bench 3")?;
        server.shutdown().await;
        return Ok(());
    }
    let (big, _big_events, _) = cases::cold(&bench).await.context("bench 1")?;
    cases::cold_mentions(&bench).await.context("bench 1m")?;
    cases::reconnect(&bench, &big).await.context("bench 2")?;
    big.stop().await;
    cases::catch_up(&bench).await.context("bench 3")?;
    cases::open_big_group(&bench).await.context("bench 4")?;
    server.shutdown().await;
    if !std::env::args().any(|a| a == "--no-outage") {
        let long = std::env::args().any(|a| a == "--long-outage");
        outage::failover(tmp.path(), failover_rounds(quick))
            .await
            .context("bench 5f")?;
        outage::outages(tmp.path(), long).await.context("bench 5")?;
    }
    if !std::env::args().any(|a| a == "--no-api") {
        api::api(tmp.path(), quick).await.context("benches 6-9")?;
    }
    Ok(())
}
