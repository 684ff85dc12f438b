//! crash_child: runs the sync engine in its own process so `tests/crash.rs` can SIGKILL it
//! mid-ingest and mid-send. It reports progress on stdout, one line per fact, flushed at once:
//!
//! - `ingest URL DB USER PASSWORD DEVICE`: catch up; prints `progress N` (entries held) every
//!   few ms, then `live N`.
//! - `send URL DB USER PASSWORD DEVICE CONV COUNT PREFIX`: enqueues COUNT texts `PREFIX-i`,
//!   printing `enqueued CLIENT_ID BODY` after each outbox row is committed, then waits for
//!   the outbox to drain and prints `done`.
//! - `finish URL DB USER PASSWORD DEVICE`: reconnects, waits until caught up and the outbox
//!   is empty, prints `flushed N` (entries held).

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sync_core::Config as EngineConfig;
use sync_core::protocol::ConvId;
use sync_core::{Client, ClientBuilder, ConnState, Events};

fn say(line: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush().context("flush stdout")
}

fn held(client: &Client) -> anyhow::Result<u64> {
    let mut n = 0;
    for row in client.conversations()? {
        n += client.timeline_len(&row.conv)?;
    }
    Ok(n)
}

/// Opens the store, logs in if it holds no session, starts the driver. The `Events` receiver
/// is returned so it stays alive as long as the client.
async fn connect(args: &[String]) -> anyhow::Result<(Client, Events)> {
    let [url, db, user, password, device, ..] = args else {
        bail!("usage: crash_child MODE URL DB USER PASSWORD DEVICE ...");
    };
    let config = EngineConfig {
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..EngineConfig::default()
    };
    let (client, events) = ClientBuilder::new(url.as_str(), db.as_str(), device.as_str())
        .config(config)
        .open()?;
    // A kill before the session was stored leaves a store without one: log in again.
    if client.session().is_none() {
        client.login(user, password).await?;
    }
    client.start();
    Ok((client, events))
}

async fn wait_outbox_empty(client: &Client, timeout: Duration) -> anyhow::Result<()> {
    let end = Instant::now() + timeout;
    while !client.outbox()?.is_empty() {
        if Instant::now() > end {
            bail!("outbox still holds {} rows", client.outbox()?.len());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn ingest(args: &[String]) -> anyhow::Result<()> {
    let (client, _events) = connect(args).await?;
    let end = Instant::now() + Duration::from_secs(300);
    while client.state() != ConnState::Live {
        if Instant::now() > end {
            bail!("not live after 300 s: {:?}", client.state());
        }
        say(&format!("progress {}", held(&client)?))?;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    say(&format!("live {}", held(&client)?))
}

async fn send(args: &[String]) -> anyhow::Result<()> {
    let (client, _events) = connect(args).await?;
    let [_, _, _, _, _, conv, count, prefix] = args else {
        bail!("usage: crash_child send URL DB USER PASSWORD DEVICE CONV COUNT PREFIX");
    };
    let conv = ConvId(conv.clone());
    let count: usize = count.parse().context("COUNT")?;
    for i in 0..count {
        let body = format!("{prefix}-{i}");
        let client_id = client.send(&conv, &body).await?;
        say(&format!("enqueued {client_id} {body}"))?;
        // Let the driver flush while we enqueue, so kills land mid-send too.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    wait_outbox_empty(&client, Duration::from_secs(120)).await?;
    say("done")
}

async fn finish(args: &[String]) -> anyhow::Result<()> {
    let (client, _events) = connect(args).await?;
    client.wait_live(Duration::from_secs(120)).await?;
    wait_outbox_empty(&client, Duration::from_secs(120)).await?;
    say(&format!("flushed {}", held(&client)?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, rest) = args
        .split_first()
        .context("missing MODE (ingest|send|finish)")?;
    match mode.as_str() {
        "ingest" => ingest(rest).await,
        "send" => send(rest).await,
        "finish" => finish(rest).await,
        other => bail!("unknown mode {other}"),
    }
}
