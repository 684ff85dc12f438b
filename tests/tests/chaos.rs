//! Chaos: 3 users × 2 devices send 1,020 messages across 5 conversations through the fault
//! proxy (cuts between and inside frames, stalls, delays) while the server is restarted on the
//! same port. Afterwards every device's store must equal the server's timelines as a fresh,
//! clean connection `pull`s them: same seqs, senders and bodies, nothing duplicated, every sent
//! message exactly once, and the same unread counts.
//!
//! The seed is printed; rerun a failure with `CHAOS_SEED=N cargo test -p conformance --test chaos`.

#[path = "../src/syncbench/wire.rs"]
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use conformance::proxy::{Faults, Proxy};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server_mock::{Config, DbLocation, RunningServer};
use sync_core::Config as EngineConfig;
use sync_core::protocol::{ConvId, Message, Summary};
use sync_core::{Client, ClientBuilder, Events, TimelineItem, TimelineQuery};
use tokio::sync::Mutex;
use wire::RawConn;

const USERS: [&str; 3] = ["alice", "bob", "carol"];
const PASSWORD: &str = "chaos-password";
const DEVICES_PER_USER: usize = 2;
const MESSAGES_PER_DEVICE: usize = 170;

fn seed() -> u64 {
    std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            t.as_nanos() as u64
        })
}

/// The server behind the proxy; restarted on the same address and database file.
struct ServerSlot {
    addr: SocketAddr,
    db: PathBuf,
    running: Option<RunningServer>,
}

fn server_config(listen: SocketAddr, db: &Path) -> Config {
    Config {
        listen,
        db: DbLocation::Path(db.to_owned()),
        ..Config::default()
    }
}

impl ServerSlot {
    async fn start(db: PathBuf) -> ServerSlot {
        let running = server_mock::start(server_config("127.0.0.1:0".parse().unwrap(), &db))
            .await
            .unwrap();
        ServerSlot {
            addr: running.local_addr(),
            db,
            running: Some(running),
        }
    }

    async fn kill(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    async fn restart(&mut self) {
        self.kill().await;
        // The port was just released; a retry covers a slow close.
        for attempt in 0.. {
            match server_mock::start(server_config(self.addr, &self.db)).await {
                Ok(r) => {
                    self.running = Some(r);
                    return;
                }
                Err(e) if attempt < 50 => {
                    eprintln!("restart attempt {attempt}: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("server did not restart on {}: {e}", self.addr),
            }
        }
    }
}

struct Device {
    user: &'static str,
    name: String,
    client: Client,
    _events: Events,
}

fn engine_config(seed: u64) -> EngineConfig {
    EngineConfig {
        // Reconnect quickly so the run stays short; stalls last at most 800 ms.
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(800),
        dead_after: Duration::from_secs(5),
        seed,
        ..EngineConfig::default()
    }
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The server's view of one user, fetched directly (not through the proxy).
struct Truth {
    summaries: BTreeMap<ConvId, Summary>,
    timelines: BTreeMap<ConvId, Vec<Message>>,
}

/// `session` is a token of the user's (reused with `auth`: no slow password hash).
async fn fetch_truth(server: SocketAddr, session: &sync_core::Session) -> Truth {
    let mut conn = RawConn::connect(&format!("ws://{server}/v1"))
        .await
        .unwrap();
    conn.auth(&session.token, &session.device).await.unwrap();
    let mut summaries = BTreeMap::new();
    let mut timelines = BTreeMap::new();
    for s in conn.sync_all().await.unwrap() {
        timelines.insert(s.conv.clone(), conn.pull_all(&s.conv).await.unwrap());
        summaries.insert(s.conv.clone(), s);
    }
    conn.close().await;
    Truth {
        summaries,
        timelines,
    }
}

/// Every difference between a device's store and the server's truth (empty when equal).
fn differences(dev: &Device, truth: &Truth) -> Vec<String> {
    let mut diffs = Vec::new();
    let rows = dev.client.conversations().unwrap();
    if rows.len() != truth.summaries.len() {
        diffs.push(format!(
            "{}: {} conversations, server has {}",
            dev.name,
            rows.len(),
            truth.summaries.len()
        ));
    }
    for (conv, s) in &truth.summaries {
        let Some(row) = rows.iter().find(|r| &r.conv == conv) else {
            diffs.push(format!("{}: {} missing", dev.name, conv.0));
            continue;
        };
        if (row.last_seq, row.unread) != (s.last_seq, s.unread) {
            diffs.push(format!(
                "{} {}: last_seq/unread {}/{} but server {}/{} (read_seq {} vs {})",
                dev.name,
                conv.0,
                row.last_seq,
                row.unread,
                s.last_seq,
                s.unread,
                row.read_seq,
                s.read_seq
            ));
        }
        let items = dev
            .client
            .timeline(conv, TimelineQuery::Latest { limit: 1_000_000 })
            .unwrap();
        let expected = &truth.timelines[conv];
        let mut held = Vec::new();
        for item in items {
            match item {
                TimelineItem::Message(m) => held.push(m),
                TimelineItem::Gap { from, to } => {
                    diffs.push(format!("{} {}: gap {from}..={to}", dev.name, conv.0))
                }
                TimelineItem::Pending(p) => diffs.push(format!(
                    "{} {}: still pending {:?}",
                    dev.name, conv.0, p.body
                )),
            }
        }
        if held.len() != expected.len() {
            diffs.push(format!(
                "{} {}: holds {} entries, server {}",
                dev.name,
                conv.0,
                held.len(),
                expected.len()
            ));
        }
        for (i, (h, e)) in held.iter().zip(expected).enumerate() {
            let same = h.seq == e.seq
                && h.sender == e.sender
                && h.ts == e.ts
                && h.kind == e.kind
                && h.body == e.body
                && h.client_id == e.client_id;
            if !same {
                diffs.push(format!(
                    "{} {} #{i}: holds {h:?}, server {e:?}",
                    dev.name, conv.0
                ));
                break;
            }
        }
    }
    diffs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_every_device_converges_to_the_server() {
    let seed = seed();
    println!("chaos seed = {seed} (rerun with CHAOS_SEED={seed})");
    eprintln!("chaos seed = {seed} (rerun with CHAOS_SEED={seed})");
    tokio::time::timeout(Duration::from_secs(240), run(seed))
        .await
        .unwrap_or_else(|_| {
            panic!("chaos run (seed {seed}) did not finish within 240 s");
        });
}

async fn run(seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(Mutex::new(
        ServerSlot::start(dir.path().join("server.db")).await,
    ));
    let server_addr = server.lock().await.addr;
    let proxy = Proxy::start(server_addr, Faults::none(), seed)
        .await
        .unwrap();
    let mut rng = StdRng::seed_from_u64(seed);

    // Setup on a clean pipe: accounts, devices, five conversations.
    let mut devices = Vec::new();
    for user in USERS {
        for d in 1..=DEVICES_PER_USER {
            let name = format!("{user}-d{d}");
            let db = dir.path().join(format!("{name}.db"));
            let (client, events) = ClientBuilder::new(proxy.url(), &db, name.as_str())
                .config(engine_config(rng.random()))
                .open()
                .unwrap();
            if d == 1 {
                client.register(user, PASSWORD).await.unwrap();
            } else {
                client.login(user, PASSWORD).await.unwrap();
            }
            client.start();
            client.wait_live(Duration::from_secs(20)).await.unwrap();
            devices.push(Device {
                user,
                name,
                client,
                _events: events,
            });
        }
    }
    let (alice, bob) = (&devices[0].client, &devices[2].client);
    let ab = alice.create_direct("bob").await.unwrap();
    let ac = alice.create_direct("carol").await.unwrap();
    let bc = bob.create_direct("carol").await.unwrap();
    let g1 = alice
        .create_group("chaos one", &["bob", "carol"])
        .await
        .unwrap();
    let g2 = bob
        .create_group("chaos two", &["alice", "carol"])
        .await
        .unwrap();
    let convs_of = |user: &str| -> Vec<ConvId> {
        let directs = match user {
            "alice" => [&ab, &ac],
            "bob" => [&ab, &bc],
            _ => [&ac, &bc],
        };
        directs.into_iter().chain([&g1, &g2]).cloned().collect()
    };
    for (i, dev) in devices.iter().enumerate() {
        // Each device keeps one group open (eager); directs are always eager.
        drop(dev.client.open(if i % 2 == 0 { &g1 } else { &g2 }));
        wait_for(
            &format!("{} to list 4 conversations", dev.name),
            Duration::from_secs(20),
            || {
                dev.client
                    .conversations()
                    .map(|c| c.len() == 4)
                    .unwrap_or(false)
            },
        )
        .await;
    }

    // Chaos on: connections die at random frames (half of the time inside a frame), frames
    // are delayed and directions stall; a background task cuts everything or restarts the server.
    proxy.set_faults(Faults {
        cut_probability: 0.4,
        cut_after_frames: 1..300,
        mid_frame_probability: 0.5,
        delay_probability: 0.05,
        max_delay: Duration::from_millis(25),
        stall_probability: 0.003,
        max_stall: Duration::from_millis(800),
    });
    proxy.cut_all();
    let proxy = Arc::new(proxy);
    let stop = Arc::new(AtomicBool::new(false));
    let chaos = {
        let (proxy, server, stop) = (proxy.clone(), server.clone(), stop.clone());
        let mut rng = StdRng::seed_from_u64(rng.random());
        tokio::spawn(async move {
            let (mut cuts, mut restarts) = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(rng.random_range(800..2500))).await;
                if rng.random_bool(0.5) {
                    let down = Duration::from_millis(rng.random_range(0..700));
                    let mut s = server.lock().await;
                    proxy.cut_all();
                    s.kill().await;
                    tokio::time::sleep(down).await;
                    s.restart().await;
                    restarts += 1;
                } else {
                    proxy.cut_all();
                    cuts += 1;
                }
            }
            (cuts, restarts)
        })
    };

    // The workload: every device sends to its user's conversations and sometimes reads.
    let started = Instant::now();
    let mut workers = Vec::new();
    for dev in &devices {
        let client = dev.client.clone();
        let (user, name) = (dev.user, dev.name.clone());
        let convs = convs_of(user);
        let mut rng = StdRng::seed_from_u64(rng.random());
        workers.push(tokio::spawn(async move {
            let mut sent: Vec<(String, ConvId, String)> = Vec::new();
            for i in 0..MESSAGES_PER_DEVICE {
                let conv = convs[rng.random_range(0..convs.len())].clone();
                let body = format!("{name} #{i} ~{seed}");
                // `send` and `mark_all_read` await their store commit without
                // blocking the runtime, which also runs the server and the proxy.
                let read = rng
                    .random_bool(0.05)
                    .then(|| convs[rng.random_range(0..convs.len())].clone());
                let client_id = client.send(&conv, &body).await.unwrap();
                if let Some(r) = read {
                    client.mark_all_read(&r).await.unwrap();
                }
                sent.push((client_id, conv, body));
                tokio::time::sleep(Duration::from_millis(rng.random_range(5..90))).await;
            }
            sent
        }));
    }
    let mut sent = Vec::new();
    for w in workers {
        sent.extend(w.await.unwrap());
    }
    println!(
        "workload enqueued {} messages in {:?}",
        sent.len(),
        started.elapsed()
    );
    assert_eq!(
        sent.len(),
        USERS.len() * DEVICES_PER_USER * MESSAGES_PER_DEVICE
    );

    // Keep the chaos going a little while the outboxes drain, then calm the network down.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let (cuts, restarts) = chaos.await.unwrap();
    proxy.set_faults(Faults::none());
    proxy.cut_all();
    let stats = proxy.stats();
    println!(
        "chaos: {cuts} cut_all, {restarts} server restarts, {} connections, {} cut by the plan/cut_all, {} refused",
        stats.connections, stats.cuts, stats.upstream_failures
    );
    for dev in &devices {
        wait_for(
            &format!("{}'s outbox to drain (seed {seed})", dev.name),
            Duration::from_secs(60),
            || dev.client.outbox().map(|o| o.is_empty()).unwrap_or(false),
        )
        .await;
    }

    // The server's truth through a fresh, clean connection.
    let server_addr = server.lock().await.addr;
    let mut truths = HashMap::new();
    for dev in devices.iter().step_by(DEVICES_PER_USER) {
        let session = dev
            .client
            .session()
            .expect("a logged-in device has a session");
        truths.insert(dev.user, fetch_truth(server_addr, &session).await);
    }

    // Every sent message exists exactly once on the server, in its conversation, with its body.
    let mut by_client_id: HashMap<(&str, &str), Vec<&Message>> = HashMap::new();
    let alice_truth = &truths["alice"];
    let all_convs: BTreeMap<&ConvId, &Vec<Message>> =
        truths.values().flat_map(|t| t.timelines.iter()).collect();
    assert_eq!(all_convs.len(), 5, "five conversations on the server");
    for (conv, timeline) in &all_convs {
        let seqs: Vec<u64> = timeline.iter().map(|m| m.seq).collect();
        assert_eq!(
            seqs,
            (1..=timeline.len() as u64).collect::<Vec<_>>(),
            "{} seqs contiguous",
            conv.0
        );
        for m in timeline.iter() {
            if let Some(cid) = &m.client_id {
                by_client_id
                    .entry((conv.as_str(), cid.as_str()))
                    .or_default()
                    .push(m);
            }
        }
    }
    let texts: usize = all_convs
        .values()
        .map(|t| t.iter().filter(|m| m.client_id.is_some()).count())
        .sum();
    assert_eq!(
        texts,
        sent.len(),
        "server holds exactly the sent messages (seed {seed})"
    );
    for (client_id, conv, body) in &sent {
        let found = by_client_id
            .get(&(conv.as_str(), client_id.as_str()))
            .map_or(0, |v| v.len());
        assert_eq!(
            found, 1,
            "message {body:?} ({client_id}) stored {found} times (seed {seed})"
        );
        let m = by_client_id[&(conv.as_str(), client_id.as_str())][0];
        assert_eq!(m.body.as_deref(), Some(body.as_str()));
    }
    assert_eq!(alice_truth.summaries.len(), 4);

    // Every device converges to the truth. Groups are lazy except the open one, so open each
    // group in turn and load older pages until it is complete.
    for dev in &devices {
        let truth = &truths[dev.user];
        dev.client.wait_live(Duration::from_secs(30)).await.unwrap();
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            let diffs = differences(dev, truth);
            if diffs.is_empty() {
                break;
            }
            if Instant::now() > end {
                panic!(
                    "seed {seed}: {} differs from the server in {} ways:\n{}",
                    dev.name,
                    diffs.len(),
                    diffs
                        .iter()
                        .take(20)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
            for (conv, s) in &truth.summaries {
                if s.kind == sync_core::protocol::ConvKind::Group
                    && dev.client.timeline_len(conv).unwrap_or(0) < s.last_seq
                {
                    drop(dev.client.open(conv));
                    for _ in 0..20 {
                        if dev.client.timeline_len(conv).unwrap_or(0) >= s.last_seq {
                            break;
                        }
                        let _ = dev.client.load_older(conv).await;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        println!(
            "{}: store equals the server ({} conversations)",
            dev.name,
            truth.summaries.len()
        );
    }
    for dev in &devices {
        dev.client.stop().await;
    }
    server.lock().await.kill().await;
}
