//! server-mock as several stateless nodes on one PostgreSQL database, pushes
//! crossing nodes through NATS (issue 13): each test starts a throwaway
//! PostgreSQL, one nats-server and N `server-mock` processes
//! (`--db postgres://… --cluster nats://…`, see `conformance::cluster`).
//!
//! These fail until server-mock accepts `--cluster` and a second node on one
//! database; the failure names the node's own error. Without PostgreSQL or
//! nats-server they are skipped with a loud line (a failure under CI).
//! Rerun `chaos_three_nodes` with `CHAOS_SEED=N`.

#[path = "../src/syncbench/wire.rs"]
mod wire;

#[path = "support/converge.rs"]
mod converge;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use conformance::cluster::{Cluster, Tuning, debug_server_bin};
use conformance::report::Outcome;
use conformance::runner::{BoxFuture, Restarter};
use conformance::suite::{SuiteConfig, default_dir, load, run_suite};
use converge::{
    Convs, Truth, assert_exactly_once, converge, engine_config, fetch_truth, seed, wait_for,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sync_core::protocol::{ClientFrame, ConvId, ConvKind, EntryKind, ServerFrame};
use sync_core::{Client, ClientBuilder, Events};
use wire::RawConn;

const PASSWORD: &str = "cluster-password";

/// The cluster (nodes with server-mock's default send rate), or `None` when
/// PostgreSQL or nats-server is missing; panics with the node's own words
/// when a node does not start.
async fn cluster(nodes: usize) -> Option<Cluster> {
    tuned_cluster(nodes, Tuning::TESTS).await
}

async fn tuned_cluster(nodes: usize, tuning: Tuning) -> Option<Cluster> {
    let bin = tokio::task::spawn_blocking(debug_server_bin)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("server-mock binary: {e}"));
    Cluster::start_async(bin, nodes, tuning)
        .await
        .unwrap_or_else(|e| panic!("starting {nodes} server-mock nodes on one database: {e}"))
}

/// A fresh lowercase tag so names never collide between runs.
fn tag() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// Restarts every node of the cluster (SIGKILL, then start on the same
/// ports): a scenario's `restart` is the whole service going down.
struct RestartAll(Mutex<Cluster>);

impl Restarter for RestartAll {
    fn restart(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            tokio::task::block_in_place(|| {
                let mut cluster = self.0.lock().map_err(|_| "cluster lock poisoned")?;
                for node in &mut cluster.nodes {
                    node.kill();
                }
                for node in &mut cluster.nodes {
                    node.restart().map_err(|e| e.to_string())?;
                }
                Ok(())
            })
        })
    }
}

/// The whole conformance suite with `--servers node1,node2`: connection k
/// of each scenario goes to node k mod 2, so every push, receipt and event
/// between two users crosses nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_scenarios_pass_against_two_nodes() {
    let Some(cluster) = cluster(2).await else {
        return;
    };
    let filter = std::env::var("CONFORMANCE_FILTER").ok();
    scenarios_pass(cluster, filter.as_slice()).await;
}

/// A `conversation` event and the new group's first pushes cross the
/// nodes close together: a node's interest refresh (subscribing to the
/// group, finding its start) is slowed by 100 ms, so the other node's
/// first sends go out on the bus before this node listens, and this
/// node's own sends commit before it knows where to start. Every
/// connection still gets every push from seq 2 on, in order. (Before the
/// order task held a joining group's pushes, a local push sent straight
/// in that window made the start skip the remote ones before it: seq 4
/// came first, 2 and 3 never.) And a typing event sent as soon as the
/// other members saw the `conversation` event reaches them: a node
/// delivers that event once it listens to the group. (Before, it was
/// delivered at once, and typing, which no database keeps, was lost in
/// the window.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_racing_the_first_pushes_keep_every_push_in_order() {
    let tuning = Tuning {
        failpoint: Some("slow-interest-refresh"),
        ..Tuning::TESTS
    };
    let Some(cluster) = tuned_cluster(2, tuning).await else {
        return;
    };
    scenarios_pass(cluster, &["send_concurrent_contiguous", "typing"]).await;
}

/// Runs the conformance scenarios whose names contain one of `only` (all
/// when it is empty) against `cluster`; none may fail or be skipped.
async fn scenarios_pass(cluster: Cluster, only: &[impl AsRef<str>]) {
    let urls = cluster.urls();
    let restarter = Arc::new(RestartAll(Mutex::new(cluster)));
    let mut scenarios = load(&default_dir(), None).unwrap();
    scenarios.retain(|(name, _)| only.is_empty() || only.iter().any(|f| name.contains(f.as_ref())));
    assert!(!scenarios.is_empty(), "no scenario matches the filter");
    let cfg = SuiteConfig {
        servers: urls,
        tls: None,
        restarter: Some(restarter.clone()),
        jobs: 4,
        scenario_timeout: Duration::from_secs(120),
        spec_only: false,
    };
    let report = run_suite(&scenarios, &cfg, |line| println!("{line}")).await;
    println!("{}", report.summary());
    assert_eq!(report.failed(), 0, "{}", report.summary());
    let skipped: Vec<&String> = report
        .results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Skip(_)))
        .map(|(n, _)| n)
        .collect();
    assert!(skipped.is_empty(), "skipped: {skipped:?}");
    drop(cfg);
    tokio::task::block_in_place(|| drop(restarter));
}

/// A connection registered as `user` (on the node at `url`).
async fn registered(url: &str, user: &str) -> RawConn {
    let mut conn = RawConn::connect(url)
        .await
        .unwrap_or_else(|e| panic!("{user} connecting to {url}: {e:#}"));
    conn.register(user, PASSWORD, "d1")
        .await
        .unwrap_or_else(|e| panic!("registering {user} on {url}: {e:#}"));
    conn
}

/// Text pushes of `conv` read by `conn` until `count` arrived: (seq,
/// client_id) in arrival order. Fails when 30 s pass without a frame.
async fn collect_pushes(mut conn: RawConn, conv: ConvId, count: usize) -> Vec<(u64, String)> {
    let mut got = Vec::with_capacity(count);
    while got.len() < count {
        let frame = tokio::time::timeout(Duration::from_secs(30), conn.next_frame())
            .await
            .unwrap_or_else(|_| panic!("no frame for 30 s after {} pushes", got.len()))
            .unwrap_or_else(|e| panic!("after {} pushes: {e:#}", got.len()));
        if let ServerFrame::Message { conv: c, message } = frame
            && c == conv
            && message.kind == EntryKind::Text
        {
            got.push((message.seq, message.client_id.unwrap_or_default()));
        }
    }
    // Nothing more may follow: no duplicate of an entry already pushed.
    let extra = tokio::time::timeout(Duration::from_millis(500), conn.next_frame()).await;
    if let Ok(Ok(ServerFrame::Message { conv: c, message })) = extra {
        assert_ne!(c, conv, "an extra push after all of them: {message:?}");
    }
    got
}

/// 20 senders, 10 on each of two nodes, append 50 texts each to one group
/// at the same time: the acked seqs are exactly 2..=1001 (seq 1 is the
/// group's `create` entry), and a member on each node receives every entry
/// pushed once, in seq order, whichever node stored it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_on_two_nodes_get_dense_seqs() {
    const SENDERS: usize = 20;
    const PER_SENDER: usize = 50;
    const TOTAL: usize = SENDERS * PER_SENDER;
    let Some(cluster) = cluster(2).await else {
        return;
    };
    let urls = cluster.urls();
    let tag = tag();
    let senders: Vec<String> = (0..SENDERS).map(|k| format!("cs{tag}s{k:02}")).collect();
    let watchers = [format!("cs{tag}w0"), format!("cs{tag}w1")];

    let mut owner = registered(&urls[0], &watchers[0]).await;
    let mut other = registered(&urls[1], &watchers[1]).await;
    let mut sender_conns = Vec::new();
    for (k, user) in senders.iter().enumerate() {
        sender_conns.push(registered(&urls[k % 2], user).await);
    }
    let members: Vec<String> = senders.iter().chain([&watchers[1]]).cloned().collect();
    let created = owner
        .request(|id| ClientFrame::Create {
            id,
            kind: ConvKind::Group,
            title: Some("two nodes".into()),
            members,
        })
        .await
        .unwrap();
    let ServerFrame::Conversation { conversation, .. } = created else {
        panic!("create: {created:?}");
    };
    assert_eq!(conversation.last_seq, 1, "the create entry is seq 1");
    let conv = conversation.conv;
    // The member on the other node hears of the group across nodes first.
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), other.next_frame())
            .await
            .expect("the conversation event reaches node 2 within 10 s")
            .unwrap();
        if let ServerFrame::Conversation { conversation, .. } = frame
            && conversation.conv == conv
        {
            break;
        }
    }
    let watch = [owner, other].map(|c| tokio::spawn(collect_pushes(c, conv.clone(), TOTAL)));

    let start = Arc::new(tokio::sync::Barrier::new(SENDERS));
    let mut tasks = Vec::new();
    for (k, mut conn) in sender_conns.into_iter().enumerate() {
        let (conv, start) = (conv.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let mut acked = Vec::new();
            for i in 0..PER_SENDER {
                let client_id = format!("s{k}-{i}");
                let reply = conn
                    .request(|id| ClientFrame::Send {
                        id,
                        conv: conv.clone(),
                        client_id: client_id.clone(),
                        body: format!("sender {k} message {i}"),
                        reply_to: None,
                    })
                    .await
                    .unwrap_or_else(|e| panic!("sender {k} message {i}: {e:#}"));
                let ServerFrame::Sent { seq, .. } = reply else {
                    panic!("sender {k}: {reply:?}");
                };
                acked.push((client_id, seq));
            }
            acked
        }));
    }
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    for (k, t) in tasks.into_iter().enumerate() {
        let mine = t.await.unwrap();
        let seqs: Vec<u64> = mine.iter().map(|(_, s)| *s).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "sender {k}'s seqs go up: {seqs:?}"
        );
        acked.extend(mine);
    }
    let mut seqs: Vec<u64> = acked.values().copied().collect();
    seqs.sort_unstable();
    let expected: Vec<u64> = (2..=(TOTAL as u64 + 1)).collect();
    assert_eq!(seqs, expected, "acked seqs are exactly 2..={}", TOTAL + 1);
    let by_seq: HashMap<u64, &String> = acked.iter().map(|(c, s)| (*s, c)).collect();
    for (node, w) in watch.into_iter().enumerate() {
        let pushes = w.await.unwrap();
        let got: Vec<u64> = pushes.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            got,
            expected,
            "member on node {} gets every seq in order",
            node + 1
        );
        for (seq, client_id) in &pushes {
            assert_eq!(
                by_seq[seq],
                client_id,
                "push of seq {seq} on node {}",
                node + 1
            );
        }
    }
    tokio::task::block_in_place(|| drop(cluster));
}

/// Sends `text {i}` (client id `t{i}`) to `conv`; its seq.
async fn send_text(conn: &mut RawConn, conv: &ConvId, i: u64) -> u64 {
    let reply = conn
        .request(|id| ClientFrame::Send {
            id,
            conv: conv.clone(),
            client_id: format!("t{i}"),
            body: format!("text {i}"),
            reply_to: None,
        })
        .await
        .unwrap();
    match reply {
        ServerFrame::Sent { seq, .. } => seq,
        other => panic!("text {i}: {other:?}"),
    }
}

/// Waits on `conn` for the `conversation` event announcing `conv`.
async fn await_conversation(conn: &mut RawConn, conv: &ConvId) {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), conn.next_frame())
            .await
            .expect("the conversation event crosses nodes within 10 s")
            .unwrap();
        if let ServerFrame::Conversation { conversation, .. } = frame
            && conversation.conv == *conv
        {
            return;
        }
    }
}

/// A group of 300 (at least `cluster::lists::NAMED_FROM`): its pushes cross
/// nodes with the member list once, then by the list's id. A member on the
/// other node gets every text once, in order; a newcomer invited midway
/// (a new list) gets every text after the invite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_group_s_pushes_cross_nodes_with_its_list_named() {
    const BULK: usize = 300;
    const HALF: u64 = 20;
    let Some(cluster) = cluster(2).await else {
        return;
    };
    let urls = cluster.urls();
    let tag = tag();
    let bulk: Vec<String> = (0..BULK).map(|k| format!("lg{tag}m{k:03}")).collect();
    for chunk in bulk.chunks(10) {
        let conns: Vec<_> = chunk.iter().map(|u| registered(&urls[0], u)).collect();
        futures_util::future::join_all(conns).await;
    }
    let (watcher, newcomer) = (format!("lg{tag}w"), format!("lg{tag}n"));
    let mut owner = registered(&urls[0], &format!("lg{tag}o")).await;
    let mut watching = registered(&urls[1], &watcher).await;
    let mut joining = registered(&urls[1], &newcomer).await;
    let members: Vec<String> = bulk.iter().chain([&watcher]).cloned().collect();
    let created = owner
        .request(|id| ClientFrame::Create {
            id,
            kind: ConvKind::Group,
            title: Some("everyone".into()),
            members,
        })
        .await
        .unwrap();
    let ServerFrame::Conversation { conversation, .. } = created else {
        panic!("create: {created:?}");
    };
    let conv = conversation.conv;
    await_conversation(&mut watching, &conv).await;
    // Past the resend interval: the first text carries the list whole
    // while node 2 listens, the next ones only its id.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let watch = tokio::spawn(collect_pushes(watching, conv.clone(), 2 * HALF as usize));
    let mut seqs = Vec::new();
    for i in 0..HALF {
        seqs.push(send_text(&mut owner, &conv, i).await);
    }
    let invited = owner
        .request(|id| ClientFrame::Invite {
            id,
            conv: conv.clone(),
            users: vec![newcomer.clone()],
        })
        .await
        .unwrap();
    assert!(
        !matches!(invited, ServerFrame::Error { .. }),
        "invite: {invited:?}"
    );
    await_conversation(&mut joining, &conv).await;
    let join = tokio::spawn(collect_pushes(joining, conv.clone(), HALF as usize));
    for i in HALF..2 * HALF {
        seqs.push(send_text(&mut owner, &conv, i).await);
    }
    let expected: Vec<(u64, String)> = seqs
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, format!("t{i}")))
        .collect();
    assert_eq!(seqs[0], 2, "the create entry is seq 1");
    assert_eq!(watch.await.unwrap(), expected, "node 2's member");
    assert_eq!(
        join.await.unwrap(),
        expected[HALF as usize..],
        "the newcomer on node 2"
    );
    tokio::task::block_in_place(|| drop(cluster));
}

// ---- chaos over three nodes -------------------------------------------

const USERS: [&str; 3] = ["alice", "bob", "carol"];
const DEVICES_PER_USER: usize = 2;
const MESSAGES_PER_DEVICE: usize = 170;
/// The node SIGKILLed mid-run.
const KILLED: usize = 2;

/// One device: its store, the node it talks to, and its client.
struct Device {
    user: &'static str,
    name: String,
    db: PathBuf,
    node: usize,
    client: Client,
    _events: Events,
}

impl Device {
    fn open(name: &str, db: &std::path::Path, url: &str, seed: u64) -> (Client, Events) {
        ClientBuilder::new(url, db, name)
            .config(engine_config(seed))
            .open()
            .unwrap()
    }

    /// Moves to node `node`: stop, then a new client on the same store.
    async fn move_to(&mut self, node: usize, url: &str, seed: u64) {
        self.client.stop().await;
        let (client, events) = Device::open(&self.name, &self.db, url, seed);
        client.start();
        (self.client, self._events) = (client, events);
        self.node = node;
    }
}

/// Three nodes, six devices (3 users × 2) spread over them, five
/// conversations, 1,020 sends; node 3 is SIGKILLed mid-run (its devices
/// move to another node on the same store) and NATS is restarted once.
/// Afterwards every send is stored exactly once with dense seqs, and every
/// device's store equals the database as a fresh connection reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_three_nodes() {
    let seed = seed("CHAOS_SEED");
    println!("chaos seed = {seed} (rerun with CHAOS_SEED={seed})");
    tokio::time::timeout(Duration::from_secs(300), chaos(seed))
        .await
        .unwrap_or_else(|_| panic!("chaos over three nodes (seed {seed}) took over 300 s"));
}

async fn chaos(seed: u64) {
    let Some(cluster) = cluster(3).await else {
        return;
    };
    let urls = cluster.urls();
    let cluster = Arc::new(Mutex::new(cluster));
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let tag = tag();
    let real = |user: &str| format!("{user}{tag}");

    let mut devices = Vec::new();
    for user in USERS {
        for d in 1..=DEVICES_PER_USER {
            let node = devices.len() % urls.len();
            let name = format!("{user}-d{d}");
            let db = dir.path().join(format!("{name}.db"));
            let (client, events) = Device::open(&name, &db, &urls[node], rng.random());
            if d == 1 {
                client.register(&real(user), PASSWORD).await.unwrap();
            } else {
                client.login(&real(user), PASSWORD).await.unwrap();
            }
            client.start();
            client.wait_live(Duration::from_secs(20)).await.unwrap();
            devices.push(Device {
                user,
                name,
                db,
                node,
                client,
                _events: events,
            });
        }
    }
    let convs = Convs::create(&devices[0].client, &devices[2].client, real, "nodes").await;
    convs
        .open_groups(devices.iter().map(|d| (d.name.as_str(), &d.client)))
        .await;

    // The workload; a device whose node died moves to the next node.
    let dead = Arc::new(AtomicUsize::new(usize::MAX));
    let started = Instant::now();
    let mut workers = Vec::new();
    for mut dev in devices {
        let convs = convs.of(dev.user);
        let (dead, urls) = (dead.clone(), urls.clone());
        let mut rng = StdRng::seed_from_u64(rng.random());
        workers.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for i in 0..MESSAGES_PER_DEVICE {
                if dev.node == dead.load(Ordering::Relaxed) {
                    let next = (dev.node + 1) % urls.len();
                    dev.move_to(next, &urls[next], rng.random()).await;
                }
                let conv = convs[rng.random_range(0..convs.len())].clone();
                let body = format!("{} #{i} ~{seed}", dev.name);
                let client_id = dev.client.send(&conv, &body).await.unwrap();
                if rng.random_bool(0.05) {
                    let r = &convs[rng.random_range(0..convs.len())];
                    dev.client.mark_all_read(r).await.unwrap();
                }
                sent.push((client_id, conv, body));
                tokio::time::sleep(Duration::from_millis(rng.random_range(5..40))).await;
            }
            (dev, sent)
        }));
    }
    // Chaos: one node dies for good, then NATS goes down and comes back.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tokio::task::block_in_place(|| cluster.lock().unwrap().nodes[KILLED].kill());
    dead.store(KILLED, Ordering::Relaxed);
    println!("node {} SIGKILLed at {:?}", KILLED + 1, started.elapsed());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    tokio::task::block_in_place(|| {
        let mut c = cluster.lock().unwrap();
        c.nats.stop();
        std::thread::sleep(Duration::from_millis(500));
        c.nats.restart().unwrap();
    });
    println!("NATS restarted at {:?}", started.elapsed());

    let mut devices = Vec::new();
    let mut sent = Vec::new();
    for w in workers {
        let (dev, mine) = w.await.unwrap();
        devices.push(dev);
        sent.extend(mine);
    }
    assert_eq!(
        sent.len(),
        USERS.len() * DEVICES_PER_USER * MESSAGES_PER_DEVICE
    );
    assert!(
        devices.iter().all(|d| d.node != KILLED),
        "every device left the killed node"
    );
    for dev in &devices {
        wait_for(
            &format!("{}'s outbox to drain (seed {seed})", dev.name),
            Duration::from_secs(60),
            || dev.client.outbox().is_ok_and(|o| o.is_empty()),
        )
        .await;
    }

    // The database's truth, through a fresh connection to a surviving node.
    let mut truths = HashMap::new();
    for dev in devices.iter().step_by(DEVICES_PER_USER) {
        let session = dev.client.session().expect("a logged-in device");
        truths.insert(dev.user, fetch_truth(&urls[0], &session).await);
    }
    let all: Vec<&Truth> = truths.values().collect();
    assert_exactly_once(&all, 5, &sent, seed);
    for dev in &devices {
        let truth = &truths[dev.user];
        converge(&dev.name, &dev.client, truth, seed).await;
        println!(
            "{} (node {}): store equals the database",
            dev.name,
            dev.node + 1
        );
    }
    for dev in &devices {
        dev.client.stop().await;
    }
    tokio::task::block_in_place(|| drop(cluster));
}
