//! Crash safety: SIGKILL a process running the sync engine (`crash_child`) in the middle of a
//! large catch-up and in the middle of sending, then open its store with rusqlite and check
//! that SQLite is intact, no cursor is ahead of the stored messages, held ranges describe
//! exactly the stored rows, and every enqueued message is either still in the outbox or on the
//! server. A fresh process then finishes, and every reported message reaches the server
//! exactly once.
//!
//! The seed is printed; rerun with `CRASH_SEED=N cargo test -p conformance --test crash`.

#[path = "../src/syncbench/wire.rs"]
mod wire;

#[path = "support/converge.rs"]
mod converge;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use converge::seed;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server_mock::{Config, DbLocation, RunningServer};
use sync_core::protocol::{ConvId, Message};
use wire::RawConn;

const CHILD: &str = env!("CARGO_BIN_EXE_crash_child");
const PASSWORD: &str = "crash-password";
const CATCH_UP: usize = 20_000;
/// The most entries one store commit can add during a catch-up: the driver gathers up to
/// 16 pulled pages of 500 into one transaction.
const MAX_COMMIT: u64 = 16 * 500;

async fn start_server(dir: &Path) -> RunningServer {
    server_mock::start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        db: DbLocation::Path(dir.join("server.db")),
        // Seeding pipelines thousands of sends on one connection.
        send_rate_per_sec: 1e9,
        send_burst: 1_000_000_000,
        ..Config::default()
    })
    .await
    .unwrap()
}

/// alice and bob with one direct conversation; returns bob's connection and token, and the
/// conversation. alice's connection is closed so pushes don't pile up on it.
async fn two_users(url: &str) -> (RawConn, String, ConvId) {
    let mut alice = RawConn::connect(url).await.unwrap();
    alice.register("alice", PASSWORD, "seeder").await.unwrap();
    let mut bob = RawConn::connect(url).await.unwrap();
    let bob_token = bob.register("bob", PASSWORD, "seeder").await.unwrap();
    let conv = alice.create_direct("bob").await.unwrap();
    alice.close().await;
    (bob, bob_token, conv)
}

struct ChildRun {
    lines: Vec<String>,
    killed: bool,
    status: ExitStatus,
}

/// Runs `crash_child ARGS`, SIGKILLs it when `kill_when` first returns true for a stdout line,
/// and collects every line it managed to print (also those after the kill decision).
fn run_child(args: &[String], mut kill_when: impl FnMut(&str) -> bool) -> ChildRun {
    let mut child = Command::new(CHILD)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn crash_child");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let end = Instant::now() + Duration::from_secs(180);
    let (mut lines, mut killed) = (Vec::new(), false);
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                if !killed && kill_when(&line) {
                    child.kill().expect("SIGKILL crash_child");
                    killed = true;
                }
                lines.push(line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if Instant::now() > end {
                    let _ = child.kill();
                    panic!(
                        "crash_child {args:?} hung; last lines: {:?}",
                        lines.iter().rev().take(3).collect::<Vec<_>>()
                    );
                }
            }
        }
    }
    let _ = reader.join();
    let status = child.wait().expect("wait crash_child");
    ChildRun {
        lines,
        killed,
        status,
    }
}

/// What the store held when checked.
#[derive(Debug)]
struct StoreCheck {
    messages: u64,
    outbox: Vec<(String, String)>,
}

/// Opens the store left behind by a killed process and asserts its invariants.
fn check_store(db: &Path) -> StoreCheck {
    let conn = rusqlite::Connection::open(db).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok", "integrity_check");
    let mut stmt = conn
        .prepare("SELECT conv, cursor FROM conversations")
        .unwrap();
    let convs: Vec<(String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut messages = 0;
    for (conv, cursor) in convs {
        let stored: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM messages WHERE conv = ?1",
                [&conv],
                |r| r.get(0),
            )
            .unwrap();
        let newest: i64 = conn
            .query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conv = ?1",
                [&conv],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            cursor <= newest,
            "{conv}: cursor {cursor} is ahead of the newest stored seq {newest}"
        );
        let mut stmt = conn
            .prepare("SELECT lo, hi FROM held_ranges WHERE conv = ?1 ORDER BY lo")
            .unwrap();
        let ranges: Vec<(i64, i64)> = stmt
            .query_map([&conv], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            ranges.last().map_or(0, |r| r.1),
            cursor,
            "{conv}: cursor is the top of the held ranges"
        );
        let mut claimed = 0;
        for (lo, hi) in &ranges {
            let n: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM messages WHERE conv = ?1 AND seq BETWEEN ?2 AND ?3",
                    rusqlite::params![conv, lo, hi],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(
                n,
                hi - lo + 1,
                "{conv}: held range {lo}..={hi} has only {n} stored rows"
            );
            claimed += hi - lo + 1;
        }
        assert_eq!(
            claimed, stored,
            "{conv}: {stored} stored rows but held ranges claim {claimed}"
        );
        messages += stored as u64;
    }
    let mut stmt = conn
        .prepare("SELECT client_id, state FROM outbox ORDER BY ord")
        .unwrap();
    let outbox: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (id, state) in &outbox {
        assert!(
            state == "pending" || state == "sending",
            "outbox row {id} is {state}, not pending"
        );
    }
    StoreCheck { messages, outbox }
}

/// bob's view of the conversation through a fresh connection (`auth`: no password hashing).
async fn server_timeline(url: &str, bob_token: &str, conv: &ConvId) -> Vec<Message> {
    let mut conn = RawConn::connect(url).await.unwrap();
    conn.auth(bob_token, "seeder").await.unwrap();
    let t = conn.pull_all(conv).await.unwrap();
    conn.close().await;
    t
}

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_mid_ingest_keeps_the_store_consistent() {
    let seed = seed("CRASH_SEED");
    println!("crash seed = {seed} (rerun with CRASH_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.url();
    let (mut bob, bob_token, conv) = two_users(&url).await;
    let t0 = Instant::now();
    let bodies = (0..CATCH_UP).map(|i| format!("catch-up {i}"));
    assert_eq!(
        bob.send_many(&conv, "seed-", bodies, 256).await.unwrap(),
        CATCH_UP as u64
    );
    bob.close().await;
    println!("seeded {CATCH_UP} messages in {:?}", t0.elapsed());
    let total = CATCH_UP as u64 + 1; // the `create` entry, then the texts
    let db = dir.path().join("alice.db");
    let a = args(&[
        "ingest",
        &url,
        db.to_str().unwrap(),
        "alice",
        PASSWORD,
        "crash-dev",
    ]);

    // Each round kills the child once it holds more than the previous round left, so every
    // kill lands further into the same catch-up.
    let (mut mid_ingest_kills, mut held) = (0, 0);
    // One commit can add up to MAX_COMMIT entries, so the progress line that first reaches
    // a target can be that far past it, and another commit can land before the kill does:
    // targets stay two commits short of the end, or the child could go live first.
    let last_target = total - 2 * MAX_COMMIT;
    for round in 0..4 {
        if held + 1 > last_target {
            break;
        }
        let target = rng.random_range(held + 1..=last_target);
        let t0 = Instant::now();
        let a = a.clone();
        let run = tokio::task::spawn_blocking(move || {
            run_child(&a, |line| {
                line.strip_prefix("progress ")
                    .and_then(|n| n.parse::<u64>().ok())
                    >= Some(target)
            })
        })
        .await
        .unwrap();
        let went_live = run.lines.iter().any(|l| l.starts_with("live"));
        let check = check_store(&db);
        println!(
            "ingest round {round}: kill at >= {target} held, killed {}, store holds {} after {:?}",
            run.killed,
            check.messages,
            t0.elapsed()
        );
        assert!(check.messages <= total);
        assert!(
            check.messages >= held,
            "the store lost entries across a kill"
        );
        held = check.messages;
        if run.killed && !went_live && check.messages < total {
            mid_ingest_kills += 1;
        }
    }
    assert!(
        mid_ingest_kills >= 1,
        "no kill landed in the middle of the catch-up"
    );

    let run = tokio::task::spawn_blocking(move || run_child(&a, |_| false))
        .await
        .unwrap();
    assert!(
        run.status.success(),
        "final ingest failed: {:?}",
        run.lines.last()
    );
    assert_eq!(
        run.lines.last().map(String::as_str),
        Some(format!("live {total}").as_str())
    );
    let check = check_store(&db);
    assert_eq!(check.messages, total);
    let truth = server_timeline(&url, &bob_token, &conv).await;
    let store = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = store
        .prepare("SELECT seq, body FROM messages WHERE conv = ?1 ORDER BY seq")
        .unwrap();
    let held: Vec<(u64, Option<String>)> = stmt
        .query_map([&conv.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<(u64, Option<String>)> = truth.into_iter().map(|m| (m.seq, m.body)).collect();
    assert_eq!(held.len(), expected.len());
    assert!(held == expected, "store timeline differs from the server's");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_mid_send_loses_and_duplicates_nothing() {
    let seed = seed("CRASH_SEED");
    println!("crash seed = {seed} (rerun with CRASH_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5e4d);
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.url();
    let (bob, bob_token, conv) = two_users(&url).await;
    bob.close().await;
    let db = dir.path().join("alice.db");
    let db_s = db.to_str().unwrap().to_owned();

    // (round, client_id, body) of every row the child reported as committed.
    let mut reported: Vec<(usize, String, String)> = Vec::new();
    let rounds = 3;
    for round in 0..rounds {
        let k = rng.random_range(10..250);
        let a = args(&[
            "send",
            &url,
            &db_s,
            "alice",
            PASSWORD,
            "crash-dev",
            &conv.0,
            "400",
            &format!("r{round}"),
        ]);
        let run = tokio::task::spawn_blocking(move || {
            let mut seen = 0;
            run_child(&a, |line| {
                seen += usize::from(line.starts_with("enqueued "));
                seen >= k
            })
        })
        .await
        .unwrap();
        assert!(
            run.killed,
            "round {round}: the child finished before the kill"
        );
        let mine: Vec<(usize, String, String)> = run
            .lines
            .iter()
            .filter_map(|l| l.strip_prefix("enqueued "))
            .filter_map(|l| l.split_once(' '))
            .map(|(id, body)| (round, id.to_owned(), body.to_owned()))
            .collect();
        let check = check_store(&db);
        let outbox: HashSet<&str> = check.outbox.iter().map(|(id, _)| id.as_str()).collect();
        let on_server: HashSet<String> = server_timeline(&url, &bob_token, &conv)
            .await
            .into_iter()
            .filter_map(|m| m.client_id)
            .collect();
        for (_, id, body) in reported.iter().chain(&mine) {
            assert!(
                outbox.contains(id.as_str()) || on_server.contains(id),
                "round {round}: {body} ({id}) is neither pending nor on the server (seed {seed})"
            );
        }
        println!(
            "send round {round}: killed after {k} lines, {} reported, {} pending, {} on the server",
            mine.len(),
            outbox.len(),
            on_server.len()
        );
        reported.extend(mine);
    }

    let a = args(&["finish", &url, &db_s, "alice", PASSWORD, "crash-dev"]);
    let run = tokio::task::spawn_blocking(move || run_child(&a, |_| false))
        .await
        .unwrap();
    assert!(
        run.status.success(),
        "finish failed: {:?}",
        run.lines.last()
    );
    assert_eq!(check_store(&db).outbox.len(), 0);

    let truth = server_timeline(&url, &bob_token, &conv).await;
    let mut by_id: HashMap<&str, Vec<&str>> = HashMap::new();
    for m in &truth {
        if let (Some(id), Some(body)) = (&m.client_id, &m.body) {
            by_id.entry(id.as_str()).or_default().push(body.as_str());
        }
    }
    for (_, id, body) in &reported {
        assert_eq!(
            by_id.get(id.as_str()),
            Some(&vec![body.as_str()]),
            "{id} on the server exactly once (seed {seed})"
        );
    }
    // A row can be committed and the process killed before it printed `enqueued`: at most the
    // next body of each round may be on the server without having been reported.
    let reported_ids: HashSet<&str> = reported.iter().map(|(_, id, _)| id.as_str()).collect();
    for (id, bodies) in &by_id {
        if reported_ids.contains(id) {
            continue;
        }
        assert_eq!(
            bodies.len(),
            1,
            "unreported {id} stored {} times",
            bodies.len()
        );
        let next: Vec<String> = (0..rounds)
            .map(|r| {
                format!(
                    "r{r}-{}",
                    reported.iter().filter(|(rr, _, _)| *rr == r).count()
                )
            })
            .collect();
        assert!(
            next.iter().any(|b| b == bodies[0]),
            "unexpected message {:?} on the server",
            bodies[0]
        );
    }
    println!(
        "{} reported sends, {} texts by alice on the server",
        reported.len(),
        by_id.len()
    );
    server.shutdown().await;
}
