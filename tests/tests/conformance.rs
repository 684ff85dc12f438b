//! Runs every scenario of `tests/scenarios/` against an in-process server-mock
//! on a temporary database, with restart support; fails if any scenario fails.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use conformance::report::Outcome;
use conformance::runner::{BoxFuture, Restarter};
use conformance::suite::{SuiteConfig, default_dir, load, run_suite};
use conformance::watchdog::watch;
use server_mock::{Config, DbLocation, Features, RunningServer};

/// The server under test; restart = graceful shutdown, then start on the same
/// database file and port.
struct MockServer {
    running: tokio::sync::Mutex<Option<RunningServer>>,
    addr: SocketAddr,
    db: DbLocation,
    features: Features,
}

fn config(listen: SocketAddr, db: &DbLocation, features: Features) -> Config {
    Config {
        listen,
        db: db.clone(),
        login_limits: suite_login_limits(),
        features,
        ..Default::default()
    }
}

/// Every scenario connects from 127.0.0.1: the per-address log-in budget
/// (20 failures) would be shared by all of them, so it is raised; the
/// per-account rule (pinned by `session_login_throttled`) keeps its default.
fn suite_login_limits() -> server_mock::throttle::LoginLimits {
    server_mock::throttle::LoginLimits {
        per_address: 10_000,
        ..Default::default()
    }
}

impl Restarter for MockServer {
    fn restart(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let mut running = self.running.lock().await;
            if let Some(server) = running.take() {
                stop(server).await;
            }
            let server = server_mock::start(config(self.addr, &self.db, self.features))
                .await
                .map_err(|e| e.to_string())?;
            *running = Some(server);
            Ok(())
        })
    }
}

/// Runs the scenarios (narrowed by CONFORMANCE_FILTER while debugging one)
/// against a fresh server-mock serving `features` on a fresh SQLite file.
async fn run_against(
    features: Features,
) -> (
    conformance::report::Report,
    Vec<conformance::suite::Loaded>,
    Option<String>,
) {
    let dir = tempfile::tempdir().unwrap();
    let db = DbLocation::Path(dir.path().join("conformance.sqlite"));
    run_on(db, features).await
}

/// Runs the scenarios against a server-mock on `db`.
async fn run_on(
    db: DbLocation,
    features: Features,
) -> (
    conformance::report::Report,
    Vec<conformance::suite::Loaded>,
    Option<String>,
) {
    run_on_nodes(db, features, 1).await
}

/// Runs the scenarios against a server-mock on `db`, its URL given `nodes`
/// times in `SuiteConfig::servers` (the `--servers` spreading, all on one
/// node).
async fn run_on_nodes(
    db: DbLocation,
    features: Features,
    nodes: usize,
) -> (
    conformance::report::Report,
    Vec<conformance::suite::Loaded>,
    Option<String>,
) {
    let server = server_mock::start(config(SocketAddr::from(([127, 0, 0, 1], 0)), &db, features))
        .await
        .unwrap();
    let addr = server.local_addr();
    let url = server.url();
    let mock = Arc::new(MockServer {
        running: tokio::sync::Mutex::new(Some(server)),
        addr,
        db,
        features,
    });
    let filter = std::env::var("CONFORMANCE_FILTER").ok();
    let scenarios = load(&default_dir(), filter.as_deref()).unwrap();
    assert!(
        filter.is_some() || scenarios.len() >= 30,
        "only {} scenarios found",
        scenarios.len()
    );
    let cfg = SuiteConfig {
        servers: vec![url; nodes],
        tls: None,
        restarter: Some(mock.clone()),
        jobs: 4,
        scenario_timeout: Duration::from_secs(120),
        spec_only: false,
    };
    let report = run_suite(&scenarios, &cfg, |line| println!("{line}")).await;
    println!("{}", report.summary());
    if let Some(server) = mock.running.lock().await.take() {
        stop(server).await;
    }
    (report, scenarios, filter)
}

/// Stops a server under test; its connections must all close in time.
async fn stop(server: RunningServer) {
    let what = format!("the shutdown of the server at {}", server.url());
    let lingering = watch(&what, Duration::from_secs(30), server.shutdown()).await;
    assert_eq!(lingering, 0, "connections still open after {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_scenarios_pass_against_server_mock() {
    let (report, _, _) = run_against(Features::ALL).await;
    assert_all_passed(&report);
}

/// `--servers` with the same node twice: every connection is routed
/// through the spreading (connection k to URL k mod 2), and the whole suite,
/// restarts included, still passes against the one SQLite node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_scenarios_pass_with_one_node_given_twice_in_servers() {
    let dir = tempfile::tempdir().unwrap();
    let db = DbLocation::Path(dir.path().join("twice.sqlite"));
    let (report, _, _) = run_on_nodes(db, Features::ALL, 2).await;
    assert_all_passed(&report);
}

/// `--servers` spreads a scenario's connections k mod n: over two separate
/// servers (two databases), connection 0 registers alice on the first, so
/// connection 1 (second server) cannot log her in and connection 2 (first
/// server again) can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_spreads_connections_k_mod_n() {
    let start = || {
        server_mock::start(Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            db: DbLocation::Memory,
            ..Default::default()
        })
    };
    let (first, second) = (start().await.unwrap(), start().await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("spread.scn"),
        r#"users alice
open A alice
connect B
send B {"type":"login","id":1,"user":"alice","password":"correct-horse-battery","device":"d1"}
expect B {"type":"error","re":1,"code":"unauthorized"}
connect C
send C {"type":"login","id":2,"user":"alice","password":"correct-horse-battery","device":"d1"}
expect C {"type":"session","re":2,"device":"d1"}
"#,
    )
    .unwrap();
    let scenarios = load(dir.path(), None).unwrap();
    let mut cfg = SuiteConfig::new(first.url());
    cfg.servers.push(second.url());
    let report = run_suite(&scenarios, &cfg, |line| println!("{line}")).await;
    assert_eq!(report.summary(), "1 passed, 0 failed");
    // The same scenario against one server fails at line 5: B logs in.
    let report = run_suite(&scenarios, &SuiteConfig::new(first.url()), |_| {}).await;
    assert_eq!(report.failed(), 1, "{}", report.summary());
    stop(first).await;
    stop(second).await;
}

fn assert_all_passed(report: &conformance::report::Report) {
    assert_eq!(report.failed(), 0, "{}", report.summary());
    assert!(
        !report
            .results
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Skip(_))),
        "{}",
        report.summary()
    );
}

/// The whole suite against server-mock on PostgreSQL (`--db postgres://…`),
/// in a throwaway cluster (skipped with a loud line where PostgreSQL is not
/// installed; a failure under CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_scenarios_pass_against_server_mock_on_postgres() {
    let Some(pg) = conformance::pg::PgCluster::start_async().await else {
        return;
    };
    let url = pg.database("conformance");
    let (report, _, _) = run_on(DbLocation::Postgres(url), Features::ALL).await;
    assert_all_passed(&report);
    pg.stop().await;
}

/// A pure protocol version 1 server (`--features none`): every scenario
/// that `requires` a §9 feature is skipped with its reason, every other one
/// passes unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_1_server_skips_the_1_1_scenarios_and_passes_the_rest() {
    let (report, scenarios, filter) = run_against(Features::NONE).await;
    let mut needs_1_1 = 0;
    for (name, parsed) in &scenarios {
        let scenario = parsed.as_ref().unwrap();
        let outcome = &report
            .results
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} did not run"))
            .1;
        match scenario.requires.first() {
            Some(feature) => {
                needs_1_1 += 1;
                assert_eq!(
                    outcome,
                    &Outcome::Skip(format!("the server lacks the {feature} feature")),
                    "{name}"
                );
            }
            None => assert!(matches!(outcome, Outcome::Pass(_)), "{name}: {outcome:?}"),
        }
    }
    if filter.is_none() {
        assert!(needs_1_1 >= 12, "only {needs_1_1} scenarios need 1.1");
    }
}

/// `register` on a server with registration disabled: the scenarios in
/// `scenarios/no_register/` run against a second server configured that way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_disabled_scenarios_pass() {
    let server = server_mock::start(Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        db: DbLocation::Memory,
        register: server_mock::RegisterMode::Closed,
        ..Default::default()
    })
    .await
    .unwrap();
    let scenarios = load(&default_dir().join("no_register"), None).unwrap();
    assert_eq!(scenarios.len(), 1);
    let cfg = SuiteConfig {
        servers: vec![server.url()],
        tls: None,
        restarter: None,
        jobs: 1,
        scenario_timeout: Duration::from_secs(60),
        spec_only: false,
    };
    let report = run_suite(&scenarios, &cfg, |line| println!("{line}")).await;
    let summary = report.summary();
    println!("{summary}");
    stop(server).await;
    assert_eq!(summary, "1 passed, 0 failed");
}

/// The whole suite over `wss://` (TLS with a throwaway CA), as an outside
/// server run behind TLS would be checked. Scenarios that restart the
/// server are skipped (no restarter), as against a remote server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_passes_over_wss() {
    let dir = tempfile::tempdir().unwrap();
    let pki = conformance::pki::make(dir.path(), &["localhost"]).unwrap();
    let server = server_mock::start(Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        db: DbLocation::Path(dir.path().join("tls.sqlite")),
        tls: Some(server_mock::TlsFiles {
            cert: pki.cert.clone(),
            key: pki.key.clone(),
        }),
        login_limits: suite_login_limits(),
        ..Default::default()
    })
    .await
    .unwrap();
    let url = server.url().replace("127.0.0.1", "localhost");
    assert!(url.starts_with("wss://localhost:"), "{url}");
    let scenarios = load(
        &default_dir(),
        std::env::var("CONFORMANCE_FILTER").ok().as_deref(),
    )
    .unwrap();
    let cfg = SuiteConfig {
        servers: vec![url],
        tls: Some(sync_core::tls::client_config(Some(&pki.ca)).unwrap()),
        restarter: None,
        jobs: 4,
        scenario_timeout: Duration::from_secs(120),
        spec_only: false,
    };
    let report = run_suite(&scenarios, &cfg, |line| println!("{line}")).await;
    let summary = report.summary();
    println!("{summary}");
    stop(server).await;
    assert_eq!(report.failed(), 0, "{summary}");
}
