//! Benches 6–9: the app API (sync-core issue "exactly-once stream, async
//! API"). Each figure is printed next to a baseline measured in the same run.
//!
//! 6. 1,000 concurrent `send`s: until all are committed locally (group
//!    commit) and until all are acknowledged; baselines: bare rusqlite with
//!    one `synchronous=FULL` transaction per row, and sends awaited one by
//!    one (what the old blocking `send` did).
//! 7. A stream during a 10,000-message catch-up, next to the same catch-up
//!    with no stream.
//! 8. Executor stall during the 1,000-send burst: lateness of a 1 ms ticker
//!    on the same one-thread runtime, next to the blocking path.
//! 9. RSS of an app whose stream consumer is stalled during a 100,000-message
//!    catch-up, next to the same app with no stream (child processes).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use server_mock::{Config, DbLocation, RunningServer};
use sync_core::protocol::ConvId;
use sync_core::{Client, ClientBuilder, StreamOptions};

use super::wire::RawConn;

const PASSWORD: &str = "bench-password";
const BURST: usize = 1_000;

async fn server(root: &Path) -> anyhow::Result<RunningServer> {
    Ok(server_mock::start(Config {
        listen: "127.0.0.1:0".parse()?,
        db: DbLocation::Path(root.join("api-server.db")),
        // The rate limiter is not what is measured here.
        send_rate_per_sec: 1e9,
        send_burst: u32::MAX,
        // Every benchmark client comes from 127.0.0.1.
        max_per_address: 1_000_000,
        ..Config::default()
    })
    .await?)
}

async fn client(url: &str, db: &Path, user: &str) -> anyhow::Result<Client> {
    let (c, _events) = ClientBuilder::new(url, db, format!("{user}-bench")).open()?;
    if c.session().is_some() {
        c.resume(None).await?;
    } else {
        c.register(user, PASSWORD).await?;
    }
    c.wait_live(Duration::from_secs(60)).await?;
    Ok(c)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Runs benches 6–9 and prints their lines.
pub async fn api(root: &Path, quick: bool) -> anyhow::Result<()> {
    let server = server(root).await.context("server")?;
    let url = server.url();
    send_burst(root, &url).await.context("bench 6")?;
    stream_catch_up(root, &url, if quick { 2_000 } else { 10_000 })
        .await
        .context("bench 7")?;
    stall(root, &url).await.context("bench 8")?;
    rss(root, &url, if quick { 20_000 } else { 100_000 })
        .await
        .context("bench 9")?;
    server.shutdown().await;
    Ok(())
}

/// Bare rusqlite: one `synchronous=FULL` transaction per row.
fn per_row_baseline(db: &Path, rows: usize) -> anyhow::Result<Duration> {
    let conn = rusqlite::Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE outbox (client_id TEXT PRIMARY KEY, conv TEXT, body TEXT, ts INTEGER)",
    )?;
    let t0 = Instant::now();
    for i in 0..rows {
        let tx = conn.unchecked_transaction()?;
        tx.execute(
            "INSERT INTO outbox VALUES (?1, 'c1', ?2, ?3)",
            rusqlite::params![format!("id{i}"), format!("burst {i}"), i as i64],
        )?;
        tx.commit()?;
    }
    Ok(t0.elapsed())
}

/// Waits until the outbox is empty (every row acknowledged).
async fn drained(c: &Client) -> anyhow::Result<()> {
    let t0 = Instant::now();
    while !c.outbox()?.is_empty() {
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(300),
            "outbox never drained"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn send_burst(root: &Path, url: &str) -> anyhow::Result<()> {
    let dir = root.join("api-burst");
    std::fs::create_dir_all(&dir)?;
    let base = per_row_baseline(&dir.join("bare.db"), BURST)?;
    let a = client(url, &dir.join("a.db"), "burst-a").await?;
    let mut peer = RawConn::connect(url).await?;
    peer.register("burst-peer", PASSWORD, "bench").await?;
    let conv = a.create_direct("burst-peer").await?;

    // One by one: each send waits for its own commit (the old blocking send).
    let t0 = Instant::now();
    for i in 0..BURST {
        a.send(&conv, &format!("serial {i}")).await?;
    }
    let serial_local = t0.elapsed();
    drained(&a).await?;
    let serial_acked = t0.elapsed();

    // Concurrent: all handed over at once, group-committed.
    let t0 = Instant::now();
    let sends: Vec<_> = (0..BURST)
        .map(|i| a.send(&conv, &format!("burst {i}")))
        .collect();
    let ids = futures_util::future::join_all(sends).await;
    let local = t0.elapsed();
    anyhow::ensure!(ids.iter().all(Result::is_ok), "a send failed");
    drained(&a).await?;
    let acked = t0.elapsed();
    println!(
        "bench 6  {BURST} concurrent sends: all committed locally {} ({:.1}× the per-row baseline {}; one by one {}), all acknowledged {} (one by one {})",
        ms(local),
        base.as_secs_f64() / local.as_secs_f64(),
        ms(base),
        ms(serial_local),
        ms(acked),
        ms(serial_acked),
    );
    a.stop().await;
    Ok(())
}

/// Time until `c`'s store holds `n` entries of `conv`.
async fn until_held(c: &Client, conv: &ConvId, n: u64) -> anyhow::Result<()> {
    let t0 = Instant::now();
    while c.timeline_len(conv)? < n {
        anyhow::ensure!(t0.elapsed() < Duration::from_secs(600), "catch-up stalled");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

/// Rounds of bench 7 (the median is printed: one catch-up of 10,000 takes
/// about 50 ms, so single runs are noisy).
const ROUNDS: usize = 5;

async fn stream_catch_up(root: &Path, url: &str, n: usize) -> anyhow::Result<()> {
    let mut runs = Vec::new();
    for round in 0..ROUNDS {
        runs.push(stream_round(root, url, n, round).await?);
    }
    runs.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
    let (t_stream, t_plain) = runs[ROUNDS / 2];
    let rate = |t: f64| n as f64 / t;
    println!(
        "bench 7  {n}-message catch-up read through a stream: {:.0} items/s ({:.1} ms), {:.2}× the ingest rate of the same catch-up without a stream ({:.0} entries/s, {:.1} ms); median of {ROUNDS}",
        rate(t_stream),
        t_stream * 1e3,
        rate(t_stream) / rate(t_plain),
        rate(t_plain),
        t_plain * 1e3,
    );
    Ok(())
}

/// One round: seconds to read `n` through a stream, and to ingest them
/// without one.
async fn stream_round(
    root: &Path,
    url: &str,
    n: usize,
    round: usize,
) -> anyhow::Result<(f64, f64)> {
    let dir = root.join(format!("api-stream-{round}"));
    std::fs::create_dir_all(&dir)?;
    // Two readers, each with a direct conversation that fills while it is
    // offline; one reads it through a stream registered at the head.
    let mut writer = RawConn::connect(url).await?;
    writer
        .register(&format!("stream-writer-{round}"), PASSWORD, "bench")
        .await?;
    let mut readers = Vec::new();
    for name in [format!("plain-{round}"), format!("streamed-{round}")] {
        let name = name.as_str();
        let c = client(url, &dir.join(format!("{name}.db")), name).await?;
        let conv = writer.create_direct(name).await?;
        c.wait_live(Duration::from_secs(10)).await?;
        if name.starts_with("streamed") {
            drop(c.stream("bench", StreamOptions::texts()).await?);
        }
        c.stop().await;
        writer
            .send_many(&conv, name, (0..n).map(|i| format!("catch-up {i}")), 256)
            .await?;
        readers.push((c, conv));
    }
    let [(plain, plain_conv), (streamed, _)] =
        <[(Client, ConvId); 2]>::try_from(readers).map_err(|_| anyhow::anyhow!("two readers"))?;

    // Without a stream: until the store holds every entry.
    let t0 = Instant::now();
    plain.start();
    until_held(&plain, &plain_conv, n as u64 + 1).await?;
    let t_plain = t0.elapsed();

    // With a stream: until every item is delivered, in order, after its commit.
    let t0 = Instant::now();
    streamed.start();
    let mut s = streamed.stream("bench", StreamOptions::texts()).await?;
    for _ in 0..n {
        tokio::time::timeout(Duration::from_secs(120), s.next())
            .await
            .context("stream stalled")??;
    }
    let t_stream = t0.elapsed();
    plain.stop().await;
    streamed.stop().await;
    Ok((t_stream.as_secs_f64(), t_plain.as_secs_f64()))
}

/// One tick of the 1 ms ticker: how late it fired, and how much of that
/// the thread spent runnable but waiting for a CPU (Linux schedstat; `None`
/// elsewhere). The difference is what the executor itself held the tick up
/// (other tasks running on the thread).
#[derive(Debug, Clone, Copy)]
struct Tick {
    late: Duration,
    cpu_wait: Option<Duration>,
}

impl Tick {
    fn held(&self) -> Duration {
        self.late.saturating_sub(self.cpu_wait.unwrap_or_default())
    }
}

/// Nanoseconds this thread has waited on a run queue (runnable, not
/// running), from `/proc/thread-self/schedstat`.
fn run_queue_wait() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().nth(1)?.parse().ok()
}

/// Each tick of a 1 ms ticker while `work` runs on the same one-thread
/// runtime.
fn ticker_lateness<F: std::future::Future<Output = anyhow::Result<()>>>(
    work: F,
) -> anyhow::Result<Vec<Tick>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let ticker = tokio::spawn(async move {
            let mut ticks = Vec::new();
            let mut due = Instant::now() + Duration::from_millis(1);
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let waited = run_queue_wait();
                tokio::time::sleep_until(due.into()).await;
                let late = Instant::now().saturating_duration_since(due);
                let cpu_wait = waited
                    .zip(run_queue_wait())
                    .map(|(a, b)| Duration::from_nanos(b.saturating_sub(a)));
                ticks.push(Tick { late, cpu_wait });
                due = Instant::now() + Duration::from_millis(1);
            }
            ticks
        });
        // The ticker arms its first tick before the work starts.
        tokio::time::sleep(Duration::from_millis(2)).await;
        work.await?;
        // Let the ticker record the tick the work held up, if it did.
        tokio::time::sleep(Duration::from_millis(3)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(ticker.await?)
    })
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v.get(((v.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or_default()
}

async fn stall(root: &Path, url: &str) -> anyhow::Result<()> {
    let dir = root.join("api-stall");
    std::fs::create_dir_all(&dir)?;
    let url = url.to_owned();
    let db = dir.join("a.db");
    let setup = {
        let (url, db) = (url.clone(), db.clone());
        std::thread::spawn(move || -> anyhow::Result<ConvId> {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let a = client(&url, &db, "stall-a").await?;
                let mut peer = RawConn::connect(&url).await?;
                peer.register("stall-peer", PASSWORD, "bench").await?;
                let conv = a.create_direct("stall-peer").await?;
                a.stop().await;
                Ok(conv)
            })
        })
        .join()
        .map_err(|_| anyhow::anyhow!("setup panicked"))??
    };
    let run = |blocking: bool| {
        let (url, db, conv) = (url.clone(), db.clone(), setup.clone());
        std::thread::spawn(move || {
            // Opened before the ticker starts: opening reads the store.
            let (a, _events) = ClientBuilder::new(&url, &db, "stall-a-bench").open()?;
            ticker_lateness(async move {
                if blocking {
                    // The old API: each send blocked the thread until its commit.
                    for i in 0..BURST {
                        a.send(&conv, &format!("blocking {i}")).wait()?;
                    }
                } else {
                    let sends: Vec<_> = (0..BURST)
                        .map(|i| a.send(&conv, &format!("async {i}")))
                        .collect();
                    for r in futures_util::future::join_all(sends).await {
                        r?;
                    }
                }
                Ok(())
            })
        })
        .join()
        .map_err(|_| anyhow::anyhow!("stall run panicked"))?
    };
    let idle = std::thread::spawn(|| {
        ticker_lateness(async {
            tokio::time::sleep(Duration::from_millis(40)).await;
            Ok(())
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("idle run panicked"))??;
    let blocking = run(true)?;
    let asynchronous = run(false)?;
    let describe = |ticks: &[Tick]| {
        let late: Vec<Duration> = ticks.iter().map(|t| t.late).collect();
        let held: Vec<Duration> = ticks.iter().map(Tick::held).collect();
        let mut line = format!(
            "late p99 {} max {} over {} ticks",
            ms(percentile(late.clone(), 0.99)),
            ms(late.iter().max().copied().unwrap_or_default()),
            ticks.len()
        );
        if ticks.iter().all(|t| t.cpu_wait.is_some()) {
            line.push_str(&format!(
                ", held up by the executor p99 {} max {}",
                ms(percentile(held.clone(), 0.99)),
                ms(held.iter().max().copied().unwrap_or_default())
            ));
        }
        line
    };
    println!(
        "bench 8  1 ms ticker beside a {BURST}-send burst on one thread: {} (idle ticker: {}; blocking sends: {})",
        describe(&asynchronous),
        describe(&idle),
        describe(&blocking)
    );
    println!(
        "         (late = held up by the executor + waiting for a CPU while runnable, from /proc schedstat; tokio's timer adds up to 1 ms)"
    );
    Ok(())
}

/// Bench 9 runs each app in a child process (`sync_bench --rss-child MODE
/// URL DB USER`), which prints its RSS every 250 ms; the parent seeds the
/// messages while the child is offline and compares the two runs.
async fn rss(root: &Path, url: &str, n: usize) -> anyhow::Result<()> {
    let dir = root.join("api-rss");
    std::fs::create_dir_all(&dir)?;
    let mut writer = RawConn::connect(url).await?;
    writer.register("rss-writer", PASSWORD, "bench").await?;
    let mut results = Vec::new();
    for mode in ["none", "stalled"] {
        let user = format!("rss-{mode}");
        let db = dir.join(format!("{mode}.db"));
        // First run: log in, register the consumer at the head, stop.
        {
            let c = client(url, &db, &user).await?;
            if mode == "stalled" {
                drop(c.stream("stalled", StreamOptions::texts()).await?);
            }
            c.stop().await;
        }
        let conv = writer.create_direct(&user).await?;
        writer
            .send_many(
                &conv,
                &format!("{mode}-"),
                (0..n).map(|i| format!("rss {i}")),
                512,
            )
            .await?;
        let exe = std::env::current_exe()?;
        let mut child = std::process::Command::new(exe);
        child
            .args(["--rss-child", mode, url])
            .arg(&db)
            .arg(&user)
            .arg(n.to_string());
        let out = tokio::task::spawn_blocking(move || child.output()).await??;
        anyhow::ensure!(
            out.status.success(),
            "rss child: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let samples: Vec<u64> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("rss ")?.parse().ok())
            .collect();
        anyhow::ensure!(!samples.is_empty(), "no RSS samples");
        results.push((mode, samples));
    }
    let peak = |s: &[u64]| s.iter().max().copied().unwrap_or(0);
    let (none, stalled) = (&results[0].1, &results[1].1);
    let third = |s: &[u64]| -> String {
        let at = |f: f64| s[((s.len() - 1) as f64 * f) as usize] / 1024;
        format!("{}/{}/{} MiB", at(0.0), at(0.5), at(1.0))
    };
    println!(
        "bench 9  RSS during a {n}-message catch-up: stalled stream consumer peak {} MiB (start/mid/end {}), no stream {} MiB ({}): {:.2}×",
        peak(stalled) / 1024,
        third(stalled),
        peak(none) / 1024,
        third(none),
        peak(stalled) as f64 / peak(none) as f64
    );
    Ok(())
}

/// The child of bench 9: catches up `n` messages while sampling its RSS;
/// with `stalled`, a stream consumer that never reads is open throughout.
pub fn rss_child(args: &[String]) -> anyhow::Result<()> {
    let [mode, url, db, user, n] = args else {
        anyhow::bail!("usage: --rss-child MODE URL DB USER N");
    };
    let n: u64 = n.parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (c, _events) = ClientBuilder::new(url, db, format!("{user}-bench")).open()?;
        c.start();
        let _stream = if mode == "stalled" {
            Some(c.stream("stalled", StreamOptions::texts()).await?)
        } else {
            None
        };
        let sampler = tokio::spawn(async {
            loop {
                println!("rss {}", vm_rss_kib());
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        let t0 = Instant::now();
        loop {
            let held: u64 = c
                .conversations()?
                .iter()
                .map(|r| c.timeline_len(&r.conv).unwrap_or(0))
                .sum();
            if held >= n {
                break;
            }
            anyhow::ensure!(t0.elapsed() < Duration::from_secs(600), "catch-up stalled");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        println!("rss {}", vm_rss_kib());
        sampler.abort();
        c.stop().await;
        Ok(())
    })
}

/// This process's resident set size in KiB (Linux `/proc`; 0 elsewhere).
fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
