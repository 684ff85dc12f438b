//! The shipped echo bot (`sync-core/examples/bot.rs`) as a real process
//! against a real server-mock: SIGKILLed at random points 20 times during a
//! 500-message burst across a direct conversation and two groups (twice
//! inside the reply's store transaction, through the test-only failpoint),
//! with one server restart. Every message must be answered exactly once,
//! checked from the server's history.
//!
//! The seed is printed; rerun with `BOT_SEED=N cargo test -p conformance --test bot`.

#[path = "../src/syncbench/wire.rs"]
mod wire;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server_mock::{Config, DbLocation, RunningServer};
use sync_core::protocol::{ConvId, EntryKind};
use wire::RawConn;

const PASSWORD: &str = "bot-test-password";
const MESSAGES: usize = 500;
const KILLS: usize = 20;
/// Kills whose next run aborts inside its first reply's store transaction.
const FAILPOINT_RUNS: [usize; 2] = [5, 13];

/// The example binary `cargo test` builds next to the test binaries.
fn bot_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let path = profile_dir
        .join("examples")
        .join(format!("bot{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        // Only when this test is run on its own (`-p conformance`).
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "-p", "sync-core", "--example", "bot"])
            .status()
            .unwrap();
        assert!(st.success(), "building the bot example");
    }
    path
}

async fn start_server(addr: SocketAddr, db: &Path) -> RunningServer {
    server_mock::start(Config {
        listen: addr,
        db: DbLocation::Path(db.to_owned()),
        send_rate_per_sec: 1e9,
        send_burst: 1_000_000_000,
        ..Config::default()
    })
    .await
    .unwrap()
}

fn spawn_bot(url: &str, db: &Path, failpoint: bool) -> Child {
    let mut cmd = Command::new(bot_binary());
    cmd.args([url, "echobot", PASSWORD])
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if failpoint {
        cmd.env("SYNC_CORE_FAILPOINT", "consumer-ack");
    }
    cmd.spawn().expect("spawn the bot example")
}

/// Who sends message `i`, and where.
fn plan(i: usize, dm: &ConvId, g1: &ConvId, g2: &ConvId) -> (&'static str, ConvId) {
    match i % 4 {
        0 => ("alice", dm.clone()),
        1 => ("alice", g1.clone()),
        2 => ("bob", g1.clone()),
        _ => ("bob", g2.clone()),
    }
}

/// Sends messages `range` in small chunks, pausing between them, so the
/// burst lasts a few seconds.
async fn burst(
    url: &str,
    range: std::ops::Range<usize>,
    convs: (&ConvId, &ConvId, &ConvId),
    rng: &mut StdRng,
) {
    let mut conns: HashMap<&str, RawConn> = HashMap::new();
    for user in ["alice", "bob"] {
        let mut c = RawConn::connect(url).await.unwrap();
        c.login(user, PASSWORD, &format!("{user}-burst"))
            .await
            .unwrap();
        conns.insert(user, c);
    }
    for i in range {
        let (user, conv) = plan(i, convs.0, convs.1, convs.2);
        let c = conns.get_mut(user).unwrap();
        let n = c
            .send_many(&conv, &format!("burst-{i}-"), [format!("m{i}")], 1)
            .await
            .unwrap();
        assert_eq!(n, 1);
        if i % 5 == 4 {
            tokio::time::sleep(Duration::from_millis(rng.random_range(10..60))).await;
        }
    }
    for (_, c) in conns {
        c.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_bot_answers_every_message_exactly_once_through_kills_and_a_restart() {
    let seed: u64 = std::env::var("BOT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("BOT_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let server_db = dir.path().join("server.db");
    let server = start_server("127.0.0.1:0".parse().unwrap(), &server_db).await;
    let url = server.url();
    let addr: SocketAddr = url
        .trim_start_matches("ws://")
        .trim_end_matches("/v1")
        .parse()
        .unwrap();

    let mut alice = RawConn::connect(&url).await.unwrap();
    alice.register("alice", PASSWORD, "setup").await.unwrap();
    let mut bob = RawConn::connect(&url).await.unwrap();
    bob.register("bob", PASSWORD, "setup").await.unwrap();
    let mut bot = RawConn::connect(&url).await.unwrap();
    bot.register("echobot", PASSWORD, "setup").await.unwrap();
    bot.close().await;
    let dm = alice.create_direct("echobot").await.unwrap();
    let g1 = alice
        .create_group("one", &["bob", "echobot"])
        .await
        .unwrap();
    let g2 = bob
        .create_group("two", &["alice", "echobot"])
        .await
        .unwrap();
    alice.close().await;
    bob.close().await;

    // First run: wait until the bot reads its stream.
    let bot_db = dir.path().join("bot.db");
    let mut child = spawn_bot(&url, &bot_db, false);
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "echobot is answering\n");

    // The kill loop runs beside the burst: SIGKILL, restart, 20 times.
    let running = Arc::new(Mutex::new(child));
    let killer = {
        let (running, url, bot_db) = (running.clone(), url.clone(), bot_db.clone());
        let mut rng = StdRng::seed_from_u64(seed ^ 0xb07);
        std::thread::spawn(move || {
            for k in 0..KILLS {
                std::thread::sleep(Duration::from_millis(rng.random_range(80..450)));
                let mut child = running.lock().unwrap();
                child.kill().unwrap();
                child.wait().unwrap();
                *child = spawn_bot(&url, &bot_db, FAILPOINT_RUNS.contains(&k));
            }
        })
    };
    let convs = (&dm, &g1, &g2);
    burst(&url, 0..MESSAGES / 2, convs, &mut rng).await;
    // Restart the server once, mid-burst, on the same address and database.
    server.shutdown().await;
    let server = start_server(addr, &server_db).await;
    burst(&url, MESSAGES / 2..MESSAGES, convs, &mut rng).await;
    killer.join().unwrap();
    // A failpoint run that never replied is still armed: replace it.
    {
        let mut child = running.lock().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        *child = spawn_bot(&url, &bot_db, false);
    }

    // Every message answered exactly once, as the server has it.
    let mut reader = RawConn::connect(&url).await.unwrap();
    reader.login("alice", PASSWORD, "checker").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let replies = loop {
        let mut replies: HashMap<String, usize> = HashMap::new();
        for conv in [&dm, &g1, &g2] {
            for m in reader.pull_all(conv).await.unwrap() {
                if m.sender == "echobot" && m.kind == EntryKind::Text {
                    *replies.entry(m.body.unwrap_or_default()).or_default() += 1;
                }
            }
        }
        let total: usize = replies.values().sum();
        if total >= MESSAGES || Instant::now() > deadline {
            break replies;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let mut missing = Vec::new();
    for i in 0..MESSAGES {
        let (user, _) = plan(i, &dm, &g1, &g2);
        let want = format!("{user} said: m{i}");
        match replies.get(&want).copied().unwrap_or(0) {
            1 => {}
            0 => missing.push(i),
            n => panic!("m{i} was answered {n} times (seed {seed})"),
        }
    }
    assert!(
        missing.is_empty(),
        "never answered: {missing:?} (seed {seed})"
    );
    assert_eq!(replies.values().sum::<usize>(), MESSAGES, "{replies:?}");
    {
        let mut child = running.lock().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
    server.shutdown().await;
}
