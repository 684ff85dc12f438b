//! Smoke test of the load generator's core functions in quick mode against
//! in-process servers: exact message counts, never timings.

#[path = "../src/load/mod.rs"]
#[allow(dead_code)]
mod load;

use load::RunNames;
use load::appends::{AppendShape, run_appends};
use load::broadcast_baseline::BroadcastServer;
use load::fanout::{FanoutShape, make_body, parse_body, run_fanout};
use load::idle::run_idle;
use load::sqlite_baseline::{Commit, run_inserts};
use load::target::{parse_vm_rss, start_in_process};

const FANOUT: FanoutShape = FanoutShape {
    members: 4,
    messages: 50,
    window: 8,
    body_bytes: 100,
    mentions: 0,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_delivers_every_message_to_every_member_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in_process(dir.path()).await.unwrap();
    let r = run_fanout(&server.url(), &RunNames::random(), FANOUT)
        .await
        .unwrap();
    assert_eq!(r.per_member, vec![50, 50, 50, 50]);
    assert_eq!(r.delivered, 200);
    assert_eq!(r.with_mentions, 0);
    assert_eq!(r.acked, 50);
    assert_eq!(r.out_of_order, 0);
    assert_eq!(r.rate_limited, 0);
    assert_eq!(r.latency_us.len(), 200);
    assert_eq!(r.ack_us.len(), 50);
    server.shutdown().await;
}

/// The mention variant: every push carries the three mentioned members.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_with_mentions_delivers_pushes_that_carry_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in_process(dir.path()).await.unwrap();
    let shape = FanoutShape {
        mentions: 3,
        ..FANOUT
    };
    let r = run_fanout(&server.url(), &RunNames::random(), shape)
        .await
        .unwrap();
    assert_eq!(r.per_member, vec![50, 50, 50, 50]);
    assert_eq!(r.with_mentions, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_retries_rate_limited_sends_without_losing_or_doubling() {
    let dir = tempfile::tempdir().unwrap();
    let config = server_mock::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        db: server_mock::DbLocation::Path(dir.path().join("limited.db")),
        send_rate_per_sec: 200.0,
        send_burst: 5,
        ..Default::default()
    };
    let server = server_mock::start(config).await.unwrap();
    let shape = FanoutShape {
        members: 2,
        messages: 40,
        window: 16,
        body_bytes: 100,
        mentions: 0,
    };
    let r = run_fanout(&server.url(), &RunNames::random(), shape)
        .await
        .unwrap();
    assert!(
        r.rate_limited > 0,
        "the limiter never answered rate_limited"
    );
    assert_eq!(r.per_member, vec![40, 40]);
    assert_eq!(r.acked, 40);
    assert_eq!(r.out_of_order, 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_broadcast_server_delivers_the_same_counts() {
    let server = BroadcastServer::start().await.unwrap();
    let r = run_fanout(&server.url(), &RunNames::random(), FANOUT)
        .await
        .unwrap();
    assert_eq!(r.per_member, vec![50, 50, 50, 50]);
    assert_eq!(r.acked, 50);
    assert_eq!(r.out_of_order, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_are_all_acked_with_consecutive_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in_process(dir.path()).await.unwrap();
    let shape = AppendShape {
        senders: 3,
        per_sender: 10,
        body_bytes: 100,
    };
    let r = run_appends(&server.url(), &RunNames::random(), shape)
        .await
        .unwrap();
    assert_eq!(r.per_sender, vec![10, 10, 10]);
    assert_eq!(r.acked, 30);
    assert_eq!(r.seq_gaps, 0);
    server.shutdown().await;
}

#[test]
fn sqlite_baseline_commits_every_row_on_server_mock_schema() {
    let dir = tempfile::tempdir().unwrap();
    for (commit, file) in [(Commit::PerRow, "row.db"), (Commit::PerRound, "round.db")] {
        let r = run_inserts(
            &dir.path().join(file),
            server_mock::store::MIGRATIONS,
            server_mock::store::PRAGMAS,
            3,
            10,
            100,
            commit,
        )
        .unwrap();
        assert_eq!(r.rows, 30, "{commit:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_all_authenticate() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in_process(dir.path()).await.unwrap();
    // In-process, so the RSS read is this test process's own.
    let r = run_idle(&server.url(), &RunNames::random(), 20, std::process::id())
        .await
        .unwrap();
    assert_eq!(r.connections, 20);
    assert!(r.rss_after_kib > 0);
    server.shutdown().await;
}

#[test]
fn body_carries_send_time_and_index_at_exact_length() {
    let body = make_body(0x1234_5678_9abc, 42, 100);
    assert_eq!(body.len(), 100);
    assert_eq!(parse_body(&body), Some((0x1234_5678_9abc, 42)));
    assert_eq!(parse_body("too short"), None);
}

#[test]
fn vm_rss_is_read_from_proc_status_text() {
    let status = "Name:\tserver-mock\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t3\n";
    assert_eq!(parse_vm_rss(status), Some(1234));
    assert_eq!(parse_vm_rss("Name:\tx\n"), None);
}

/// Scenario 6's core: senders online, the rest of a 300-member group written
/// straight into the database; every send is acked once with dense seqs, and
/// the group really has 300 members.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_appends_into_a_large_group_are_acked_with_dense_seqs() {
    use load::group_size::{GroupShape, run_group};
    let dir = tempfile::tempdir().unwrap();
    let server = load::target::start_in_process_with(dir.path(), "groups", |_| {})
        .await
        .unwrap();
    let db = dir.path().join("groups.db");
    let shape = GroupShape {
        members: 300,
        senders: 2,
        per_sender: 5,
    };
    let r = run_group(&server.url(), &db, &RunNames::random(), shape)
        .await
        .unwrap();
    assert_eq!(r.acked, 10);
    assert!(r.dense, "seqs 2..=11 expected");
    assert_eq!(r.ack_us.len(), 10);
    server.shutdown().await;
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (members, last_seq): (i64, i64) = conn
        .query_row(
            "SELECT member_count, last_seq FROM convs WHERE title = 'loadgen group of 300'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((members, last_seq), (300, 11));
}

/// The set-up comparison's fan-out over node URLs (here one in-process
/// server given twice): every push arrives once, and the server CPU is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spread_fanout_counts_missing_and_duplicated_pushes_and_reads_cpu() {
    use load::fanout::run_fanout_spread;
    let dir = tempfile::tempdir().unwrap();
    let server = start_in_process(dir.path()).await.unwrap();
    let urls = vec![server.url(), server.url()];
    let me = || vec![std::process::id()];
    let r = run_fanout_spread(&urls, &RunNames::random(), FANOUT, Some(&me))
        .await
        .unwrap();
    assert_eq!(r.per_member, vec![50, 50, 50, 50]);
    assert_eq!((r.missing, r.duplicates, r.out_of_order), (0, 0, 0));
    let cpu = r.cpu_seconds.expect("CPU read from /proc");
    assert!((0.0..60.0).contains(&cpu), "{cpu}");
    assert!(r.cpu_us_per_push().is_some());
    let plain = run_fanout(&server.url(), &RunNames::random(), FANOUT)
        .await
        .unwrap();
    assert_eq!(plain.cpu_seconds, None);
    server.shutdown().await;
}

/// One hot group, senders spread over node URLs: every send acked once,
/// seqs exactly 2..=21.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_group_appends_over_node_urls_are_acked_with_dense_seqs() {
    use load::hot::{HotShape, run_hot};
    let dir = tempfile::tempdir().unwrap();
    let server = start_in_process(dir.path()).await.unwrap();
    let urls = vec![server.url(), server.url()];
    let shape = HotShape {
        senders: 4,
        per_sender: 5,
    };
    let r = run_hot(&urls, &RunNames::random(), shape).await.unwrap();
    assert_eq!(r.acked, 20);
    assert!(r.dense, "seqs 2..=21 expected");
    server.shutdown().await;
}

#[test]
fn setup_lists_parse() {
    use load::setups::Setup;
    assert_eq!(Setup::parse("all").unwrap(), Setup::ALL.to_vec());
    assert_eq!(Setup::parse("pg2").unwrap(), vec![Setup::Pg2]);
    assert_eq!(
        Setup::parse("mysql").unwrap_err(),
        "\"mysql\": expected sqlite, pg, pg2 or all"
    );
}
