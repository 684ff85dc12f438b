//! Chaos: 3 users × 2 devices send 1,020 messages across 5 conversations through the fault
//! proxy (cuts between and inside frames, stalls, delays) while the server is restarted on the
//! same port. Afterwards every device's store must equal the server's timelines as a fresh,
//! clean connection `pull`s them: same seqs, senders and bodies, nothing duplicated, every sent
//! message exactly once, and the same unread counts.
//!
//! The seed is printed; rerun a failure with `CHAOS_SEED=N cargo test -p conformance --test chaos`.

#[path = "../src/syncbench/wire.rs"]
mod wire;

#[path = "support/converge.rs"]
mod converge;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use conformance::proxy::{Faults, Proxy};
use converge::{
    Convs, Truth, assert_exactly_once, converge, engine_config, fetch_truth, seed, wait_for,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server_mock::{Config, DbLocation, RunningServer};
use sync_core::protocol::ConvId;
use sync_core::{Client, ClientBuilder, Events};
use tokio::sync::Mutex;

const USERS: [&str; 3] = ["alice", "bob", "carol"];
const PASSWORD: &str = "chaos-password";
const DEVICES_PER_USER: usize = 2;
const MESSAGES_PER_DEVICE: usize = 170;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_every_device_converges_to_the_server() {
    let seed = seed("CHAOS_SEED");
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
    let convs = Convs::create(
        &devices[0].client,
        &devices[2].client,
        str::to_owned,
        "chaos",
    )
    .await;
    convs
        .open_groups(devices.iter().map(|d| (d.name.as_str(), &d.client)))
        .await;

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
        let convs = convs.of(user);
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
        let url = format!("ws://{server_addr}/v1");
        truths.insert(dev.user, fetch_truth(&url, &session).await);
    }

    // Every sent message exists exactly once on the server, in its conversation, with its body.
    let all: Vec<&Truth> = truths.values().collect();
    assert_exactly_once(&all, 5, &sent, seed);
    assert_eq!(truths["alice"].summaries.len(), 4);

    // Every device converges to the truth. Groups are lazy except the open one, so open each
    // group in turn and load older pages until it is complete.
    for dev in &devices {
        let truth = &truths[dev.user];
        converge(&dev.name, &dev.client, truth, seed).await;
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
