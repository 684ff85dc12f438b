//! The four sync-core benchmarks. Each prints its figures next to a baseline measured in the
//! same run: a bare protocol connection for traffic and latency, plain rusqlite for ingest.
//! All client traffic goes through the fault proxy (with no faults), which counts the bytes.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use conformance::proxy::{Direction, Proxy, ProxyStats};
use serde::Deserialize;
use sync_core::protocol::ConvId;
use sync_core::{Client, ClientBuilder, Events};

use crate::rawstore;
use crate::seed::{self, Layout, PASSWORD, Scale};
use crate::wire::RawConn;

/// Human-readable bytes.
pub fn kib(b: u64) -> String {
    if b >= 10 * 1024 * 1024 {
        format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
    } else if b >= 10 * 1024 {
        format!("{:.1} KiB", b as f64 / 1024.0)
    } else {
        format!("{b} B")
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// Polls `done` every millisecond until it holds (or fails after `timeout`).
async fn until(
    what: &str,
    timeout: Duration,
    mut done: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let end = Instant::now() + timeout;
    while !done()? {
        if Instant::now() > end {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// Counts the bytes of `messages` replies (history) for a set of conversations.
#[derive(Debug, Default)]
pub struct HistoryTap {
    convs: std::sync::Mutex<HashSet<String>>,
    bytes: AtomicU64,
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    ty: String,
    conv: Option<String>,
}

impl HistoryTap {
    /// Installs the tap on `proxy` (for connections accepted from now on).
    pub fn install(self: &Arc<Self>, proxy: &Proxy) {
        let me = self.clone();
        proxy.set_tap(Some(Arc::new(move |dir, _opcode, payload: &[u8]| {
            // Cheap prefilter: only `messages` frames are parsed.
            let head = &payload[..payload.len().min(64)];
            if dir != Direction::Down || !head.windows(10).any(|w| w == b"\"messages\"") {
                return;
            }
            if let Ok(Head {
                ty,
                conv: Some(conv),
            }) = serde_json::from_slice::<Head>(payload)
            {
                let watched = me.convs.lock().map(|c| c.contains(&conv)).unwrap_or(false);
                if ty == "messages" && watched {
                    me.bytes.fetch_add(payload.len() as u64, Ordering::Relaxed);
                }
            }
        })));
    }

    /// Watches these conversations.
    pub fn watch(&self, convs: &[ConvId]) {
        if let Ok(mut c) = self.convs.lock() {
            c.extend(convs.iter().map(|c| c.0.clone()));
        }
    }

    /// Bytes of watched history so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Everything the cases share.
#[derive(Debug)]
pub struct Bench {
    /// The proxy in front of the server.
    pub proxy: Proxy,
    /// The server's own URL (for seeding and raw baselines that must not be counted).
    pub server_url: String,
    /// Scratch directory for stores.
    pub dir: std::path::PathBuf,
    /// Seeded sizes.
    pub scale: Scale,
    /// Seeded conversations.
    pub layout: Layout,
    /// Group-history byte counter.
    pub tap: Arc<HistoryTap>,
}

impl Bench {
    fn open(&self, name: &str) -> anyhow::Result<(Client, Events)> {
        let db = self.dir.join(format!("{name}.db"));
        Ok(ClientBuilder::new(self.proxy.url(), db, name).open()?)
    }

    /// A client connected straight to the server, not through the counting proxy (whose
    /// frame decoding would share the two cores with the engine being timed).
    fn open_direct(&self, name: &str) -> anyhow::Result<(Client, Events)> {
        let db = self.dir.join(format!("{name}.db"));
        Ok(ClientBuilder::new(self.server_url.as_str(), db, name).open()?)
    }

    fn stats(&self) -> ProxyStats {
        self.proxy.stats()
    }
}

/// What a cold login measured until the list was complete.
#[derive(Debug, Clone, Copy)]
pub struct Cold {
    /// Time from `login` to the complete list.
    pub list: Duration,
    /// Bytes received by then.
    pub bytes: u64,
}

/// Resets the proxy's counters, logs `user` in, starts the engine and waits
/// until its list holds `expect` rows.
async fn login_until_listed(
    b: &Bench,
    client: &Client,
    user: &str,
    expect: usize,
) -> anyhow::Result<()> {
    b.proxy.reset_stats();
    client.login(user, PASSWORD).await?;
    client.start();
    until("the conversation list", Duration::from_secs(600), || {
        Ok(client.conversations()?.len() >= expect)
    })
    .await
}

/// A cold login whose list must reach `expect` rows; returns the live client.
async fn cold_login(
    b: &Bench,
    user: &str,
    expect: usize,
    label: &str,
) -> anyhow::Result<(Client, Events, Cold)> {
    let (client, events) = b.open(&format!("{user}-cold"))?;
    let history_before = b.tap.bytes();
    let t0 = Instant::now();
    login_until_listed(b, &client, user, expect).await?;
    let (t_list, at_list, history_at_list) =
        (t0.elapsed(), b.stats(), b.tap.bytes() - history_before);
    let report = client.wait_live(Duration::from_secs(600)).await?;
    let (t_live, at_live) = (t0.elapsed(), b.stats());

    // Baseline: a bare connection that logs in and reads the full list, nothing else.
    b.proxy.reset_stats();
    let t0 = Instant::now();
    let mut raw = RawConn::connect(&b.proxy.url()).await?;
    raw.login(user, PASSWORD, "baseline").await?;
    let n = raw.sync_all().await?.len();
    let (t_raw, raw_stats) = (t0.elapsed(), b.stats());
    raw.close().await;
    println!("{label}");
    println!(
        "    list complete ({expect} rows): {:>9}  {:>10} received  | baseline login+full sync ({n} rows): {:>9}  {:>10}",
        ms(t_list),
        kib(at_list.bytes_down),
        ms(t_raw),
        kib(raw_stats.bytes_down)
    );
    println!("    group history bytes when the list is complete: {history_at_list}");
    println!(
        "    live (directs pulled, {} entries): {:>9}  {:>10} received, {} frames up",
        report.pulled_messages,
        ms(t_live),
        kib(at_live.bytes_down),
        at_live.frames_up
    );
    let cold = Cold {
        list: t_list,
        bytes: at_list.bytes_down,
    };
    Ok((client, events, cold))
}

/// Bench 1: cold login of the 1,000-conversation user.
pub async fn cold(b: &Bench) -> anyhow::Result<(Client, Events, Cold)> {
    b.tap.watch(&b.layout.groups);
    cold_login(
        b,
        "big",
        b.scale.big_user_convs(),
        &format!(
            "[1] cold login, {} conversations ({} groups x {} unread, {} directs x {})",
            b.scale.big_user_convs(),
            b.scale.groups,
            b.scale.group_messages,
            b.scale.directs,
            b.scale.direct_messages
        ),
    )
    .await
}

/// One cold login of `user` into a fresh store `store`, without printing:
/// time to the complete list, time and bytes to Live (every direct pulled,
/// so the bytes do not depend on timing), then stopped.
async fn cold_once(b: &Bench, user: &str, store: &str, expect: usize) -> anyhow::Result<Cold> {
    let (client, _events) = b.open(store)?;
    let t0 = Instant::now();
    login_until_listed(b, &client, user, expect).await?;
    let list = t0.elapsed();
    client.wait_live(Duration::from_secs(600)).await?;
    let bytes = b.stats().bytes_down;
    client.stop().await;
    Ok(Cold { list, bytes })
}

/// Bytes of a bare login + full sync of `user` (the list alone).
async fn full_sync_bytes(
    b: &Bench,
    user: &str,
) -> anyhow::Result<(u64, Vec<sync_core::protocol::Summary>)> {
    b.proxy.reset_stats();
    let mut raw = RawConn::connect(&b.proxy.url()).await?;
    raw.login(user, PASSWORD, "baseline").await?;
    let list = raw.sync_all().await?;
    raw.close().await;
    Ok((b.stats().bytes_down, list))
}

/// Bench 1m: cold login of `mbig`, whose 1,000 conversations are `big`'s
/// twins except that `group_messages / 20` texts of each group mention it
/// (§9.3: each summary's `mentions` comes from the server's index), next to
/// `big` itself, alternating, best of 3 for the times.
pub async fn cold_mentions(b: &Bench) -> anyhow::Result<()> {
    let per_group = seed::mentions_per_group(b.scale);
    let expect = b.scale.big_user_convs();
    println!(
        "[1m] cold login, {expect} conversations, {per_group} of each group's {} unread mentioning the user, next to the same without",
        b.scale.group_messages
    );
    let (mut plain, mut mention): (Option<Cold>, Option<Cold>) = (None, None);
    for round in 0..3 {
        for (user, best) in [("big", &mut plain), (seed::MENTIONED, &mut mention)] {
            let c = cold_once(b, user, &format!("{user}-m{round}"), expect).await?;
            let keep = best.map_or(c, |o| Cold {
                list: o.list.min(c.list),
                bytes: c.bytes,
            });
            *best = Some(keep);
        }
    }
    let (Some(plain), Some(mention)) = (plain, mention) else {
        bail!("no round ran");
    };
    let (plain_sync, _) = full_sync_bytes(b, "big").await?;
    let (mention_sync, list) = full_sync_bytes(b, seed::MENTIONED).await?;
    let total: u64 = list.iter().map(|s| s.mentions.unwrap_or(0)).sum();
    let expected = (per_group * b.scale.groups) as u64;
    if total != expected {
        bail!(
            "{} has {total} mentions in its list, expected {expected}",
            seed::MENTIONED
        );
    }
    let r = |a: f64, b: f64| a / b.max(1e-9);
    println!(
        "    list complete: {} with {total} mentions | {} without | ratio {:.2} (goal <= 1.2)",
        ms(mention.list),
        ms(plain.list),
        r(mention.list.as_secs_f64(), plain.list.as_secs_f64())
    );
    println!(
        "    full sync: {} with | {} without | ratio {:.2};  until live: {} with | {} without | ratio {:.2}",
        kib(mention_sync),
        kib(plain_sync),
        r(mention_sync as f64, plain_sync as f64),
        kib(mention.bytes),
        kib(plain.bytes),
        r(mention.bytes as f64, plain.bytes as f64)
    );
    Ok(())
}

/// Bench 2: reconnect after one conversation changed, for a user with `convs` conversations.
async fn reconnect_one(
    b: &Bench,
    client: &Client,
    user: &str,
    peer: &str,
    conv: &ConvId,
) -> anyhow::Result<(ProxyStats, ProxyStats, Duration)> {
    client.wait_live(Duration::from_secs(600)).await?;
    // Baseline token: a bare connection's full sync before the change.
    let mut raw = RawConn::connect(&b.server_url).await?;
    raw.login(user, PASSWORD, "baseline").await?;
    let (before, token) = raw.sync_pages(None).await?;
    raw.close().await;
    let old_last = before
        .iter()
        .find(|s| &s.conv == conv)
        .map(|s| s.last_seq)
        .context("conv in list")?;

    client.stop().await;
    let mut p = seed::login(&b.server_url, peer).await?;
    p.send_many(conv, &format!("chg-{user}-"), ["one change".to_owned()], 1)
        .await?;
    p.close().await;

    b.proxy.reset_stats();
    let t0 = Instant::now();
    client.start();
    client.wait_live(Duration::from_secs(600)).await?;
    until("the change to arrive", Duration::from_secs(60), || {
        Ok(client.timeline_len(conv)? > old_last)
    })
    .await?;
    let (t, engine) = (t0.elapsed(), b.stats());

    // Baseline: connect, log in, incremental sync, pull the one changed conversation.
    b.proxy.reset_stats();
    let mut raw = RawConn::connect(&b.proxy.url()).await?;
    raw.login(user, PASSWORD, "baseline").await?;
    let (changed, _) = raw.sync_pages(Some(token)).await?;
    for s in &changed {
        raw.pull(&s.conv, old_last.min(s.last_seq), 500).await?;
    }
    let base = b.stats();
    raw.close().await;
    Ok((engine, base, t))
}

/// Bench 2 for the big user (1,000 conversations) and the small one (100).
pub async fn reconnect(b: &Bench, big: &Client) -> anyhow::Result<()> {
    let small_n = b.scale.small_directs;
    let (small, _small_events, _) = cold_login(
        b,
        "small",
        small_n,
        &format!("[2a] (setup) cold login, {small_n} conversations"),
    )
    .await?;
    let cases = [
        (
            big,
            "big",
            seed::peer(5),
            &b.layout.directs[5],
            b.scale.big_user_convs(),
        ),
        (
            &small,
            "small",
            seed::peer(7),
            &b.layout.small_directs[7],
            small_n,
        ),
    ];
    println!("[2] incremental reconnect, 1 conversation changed");
    for (client, user, peer, conv, n) in cases {
        let (engine, base, t) = reconnect_one(b, client, user, &peer, conv).await?;
        println!(
            "    {n:>5} conversations: {:>10} received, {} frames up, {:>9} | baseline auth+sync(since)+pull: {:>10}, {} frames up",
            kib(engine.bytes_down),
            engine.frames_up,
            ms(t),
            kib(base.bytes_down),
            base.frames_up
        );
    }
    small.stop().await;
    Ok(())
}

/// One catch-up run: returns messages/s into the store.
async fn catch_up_once(
    b: &Bench,
    user: &str,
    fts: bool,
) -> anyhow::Result<(f64, ConvId, Duration)> {
    let (client, _events) = b.open_direct(user)?;
    if !fts {
        rawstore::disable_fts(&b.dir.join(format!("{user}.db")))?;
    }
    client.register(user, PASSWORD).await?;
    let peer = format!("{user}-peer");
    let mut p = seed::register(&b.server_url, &peer).await?;
    let conv = p.create_direct(user).await?;
    client.start();
    client.wait_live(Duration::from_secs(60)).await?;
    until("the direct", Duration::from_secs(60), || {
        Ok(client.timeline_len(&conv)? >= 1)
    })
    .await?;
    client.stop().await;
    let n = b.scale.catch_up;
    p.send_many(
        &conv,
        "c",
        (0..n).map(|i| format!("missed message {i}: lorem ipsum dolor sit amet")),
        256,
    )
    .await?;
    p.close().await;

    let t0 = Instant::now();
    client.start();
    let want = n as u64 + 1;
    // No polling while it ingests. `wait_live` resolves when the catch-up (eager pulls) is
    // done; the store may still be committing the last pages.
    let report = client.wait_live(Duration::from_secs(600)).await?;
    let first = t0.elapsed();
    until("the catch-up", Duration::from_secs(600), || {
        Ok(client.timeline_len(&conv)? >= want)
    })
    .await?;
    let t = t0.elapsed();
    client.stop().await;
    println!(
        "    ({user}: connect + auth + sync + pulls, straight to the server: live after {}, {} entries pulled)",
        ms(first),
        report.pulled_messages,
    );
    Ok((n as f64 / t.as_secs_f64(), conv, t))
}

/// Bench 3: catch-up of N missed messages in one direct, with and without the FTS index.
pub async fn catch_up(b: &Bench) -> anyhow::Result<()> {
    let n = b.scale.catch_up;
    println!("[3] catch-up of {n} missed messages in one direct conversation");
    for (fts, user) in [(true, "catchup-fts"), (false, "catchup-nofts")] {
        let (rate, conv, t) = catch_up_once(b, user, fts).await?;
        let mut raw = seed::login(&b.server_url, user).await?;
        let t_pull = Instant::now();
        let rows = raw.pull_all(&conv).await?;
        let t_pull = t_pull.elapsed();
        raw.close().await;
        // Best of three fresh databases: the baseline at its fastest (other load on the
        // machine only ever slows a run down), so the ratio errs low.
        let mut base_t = Duration::MAX;
        for k in 0..3 {
            let path = b.dir.join(format!("{user}-raw{k}.db"));
            base_t = base_t.min(rawstore::bulk_insert(&path, &conv, &rows, fts)?);
        }
        let base = rows.len() as f64 / base_t.as_secs_f64();
        println!(
            "    FTS {}: engine {:>8.0} msg/s ({}) | baseline rusqlite bulk insert (best of 3) {:>8.0} msg/s ({}) | ratio {:.2}x (target >= 0.5x)",
            if fts { "on " } else { "off" },
            rate,
            ms(t),
            base,
            ms(base_t),
            rate / base
        );
        println!(
            "             network only: a bare connection pulls the same {} entries in {} ({:.0} msg/s)",
            rows.len(),
            ms(t_pull),
            rows.len() as f64 / t_pull.as_secs_f64()
        );
        if fts {
            let t_store =
                rawstore::store_only(&b.dir.join(format!("{user}-store.db")), &conv, &rows)?;
            let rate = rows.len() as f64 / t_store.as_secs_f64();
            println!(
                "             store only: sync-core's SqliteStore writes the same entries in pages of 500 in {} ({:.0} msg/s, {:.2}x the bulk insert)",
                ms(t_store),
                rate,
                rate / base
            );
        }
    }
    println!(
        "    (FTS off = the store's messages_fts swapped for a plain table: sync-core has no switch)"
    );
    Ok(())
}

/// Bench 4: open a group with N unread: round trips, bytes and time to the first page.
pub async fn open_big_group(b: &Bench) -> anyhow::Result<()> {
    let g = &b.layout.big_group;
    let (client, _events) = b.open("lurker")?;
    client.login("lurker", PASSWORD).await?;
    client.start();
    client.wait_live(Duration::from_secs(120)).await?;
    b.proxy.reset_stats();
    let t0 = Instant::now();
    // `open` resolves once the newest page is stored.
    client.open(g).await?;
    let (t, first) = (t0.elapsed(), b.stats());
    let held = client.timeline_len(g)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = b.stats();
    client.stop().await;

    let mut raw = seed::login(&b.proxy.url(), "lurker").await?;
    b.proxy.reset_stats();
    let t0 = Instant::now();
    let page = raw.history(g, None, 50).await?;
    let (t_raw, base) = (t0.elapsed(), b.stats());
    raw.close().await;
    println!("[4] open a group with {} unread", b.scale.big_group);
    println!(
        "    first page ({held} entries): {:>9}, {} round trips, {:>10} received | baseline one history(50) ({} entries): {:>9}, 1 round trip, {:>10}",
        ms(t),
        first.frames_up,
        kib(first.bytes_down),
        page.len(),
        ms(t_raw),
        kib(base.bytes_down)
    );
    println!(
        "    1 s later: {} round trips, {} received in total (nothing more is fetched unless asked)",
        later.frames_up,
        kib(later.bytes_down)
    );
    Ok(())
}

/// Scratch directory helper.
pub fn store_dir(root: &Path) -> std::path::PathBuf {
    root.join("stores")
}
