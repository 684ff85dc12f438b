//! Loading a scenario directory and running it: ordinary scenarios a few at a
//! time, then `exclusive` and restarting ones alone (a restart would cut every
//! other scenario's connections).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::parse::{ScriptError, parse_file};
use crate::report::{Outcome, Report, line};
use crate::runner::{Restarter, run_scenario};
use crate::script::Scenario;
use crate::watchdog::{InFlight, say};

/// File extension of scenario files.
pub const EXTENSION: &str = "scn";

/// The scenario directory of this crate's source tree.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// A scenario file, parsed or not (a parse error is reported as a failure).
pub type Loaded = (String, Result<Scenario, ScriptError>);

/// Parses every `*.scn` file of `dir` whose name contains `filter`, by name.
pub fn load(dir: &Path, filter: Option<&str>) -> Result<Vec<Loaded>, ScriptError> {
    let read_err = |source| ScriptError::Read {
        file: dir.display().to_string(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.extension().and_then(|e| e.to_str()) == Some(EXTENSION) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths
        .into_iter()
        .filter_map(|p| {
            let name = p.file_stem()?.to_string_lossy().into_owned();
            if filter.is_some_and(|f| !name.contains(f)) {
                return None;
            }
            Some((name, parse_file(&p)))
        })
        .collect())
}

/// How to run a suite.
#[derive(Clone)]
pub struct SuiteConfig {
    /// `ws://HOST:PORT/v1` or `wss://HOST:PORT/v1`: one URL, or the nodes
    /// of one service, over which each scenario's connections are spread
    /// (connection k to `servers[k % n]`, see [`run_scenario`]).
    pub servers: Vec<String>,
    /// How `wss://` servers are verified (None: plain `ws://`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Set when the runner owns the server and can restart it (every node).
    pub restarter: Option<Arc<dyn Restarter>>,
    /// Ordinary scenarios running at the same time.
    pub jobs: usize,
    /// A scenario running longer than this fails.
    pub scenario_timeout: Duration,
    /// Skip `notes` scenarios (those pinning the project's own choices
    /// where PROTOCOL.md is silent): for servers written from the spec alone.
    pub spec_only: bool,
}

impl std::fmt::Debug for SuiteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuiteConfig")
            .field("servers", &self.servers)
            .field("restart", &self.restarter.is_some())
            .field("jobs", &self.jobs)
            .field("spec_only", &self.spec_only)
            .finish()
    }
}

impl SuiteConfig {
    /// A configuration for one server at `url`, without restarts.
    pub fn new(url: impl Into<String>) -> SuiteConfig {
        SuiteConfig {
            servers: vec![url.into()],
            tls: None,
            restarter: None,
            jobs: 4,
            scenario_timeout: Duration::from_secs(120),
            spec_only: false,
        }
    }
}

/// The first node's `hello.features`; the nodes of one service are
/// expected to serve the same features. An error when no `hello` came
/// within a few seconds (bounded: a server that never answers must fail
/// the run, not hang it).
async fn server_features(cfg: &SuiteConfig) -> Result<Vec<String>, String> {
    let Some(url) = cfg.servers.first() else {
        return Ok(Vec::new());
    };
    let open = crate::connection::Connection::open(url, None, cfg.tls.clone());
    let mut c = match tokio::time::timeout(Duration::from_secs(10), open).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(format!("reading the features: connecting to {url}: {e}")),
        Err(_) => {
            return Err(format!(
                "reading the features: {url} did not connect in 10 s"
            ));
        }
    };
    let pattern = serde_json::json!({"type": "hello"});
    let vars = std::sync::Mutex::new(crate::template::Vars::default());
    let hello = crate::expect::expect(&mut c, &pattern, &vars, Duration::from_secs(5))
        .await
        .map_err(|e| format!("reading the features: no hello from {url}: {e}"))?;
    Ok(hello["features"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

async fn run_one(loaded: &Loaded, cfg: &SuiteConfig, inflight: &InFlight) -> Outcome {
    let _running = inflight.begin(&loaded.0);
    let scenario = match &loaded.1 {
        Ok(s) => s,
        Err(e) => return Outcome::Fail(format!("parse error: {e}")),
    };
    if let Some(reason) = scenario.notes.as_ref().filter(|_| cfg.spec_only) {
        return Outcome::Skip(format!("notes-only: {reason}"));
    }
    if scenario.needs_restart() && cfg.restarter.is_none() {
        return Outcome::Skip(match cfg.servers.len() {
            1 => "needs restart".into(),
            n => format!("needs restart (of all {n} nodes; this run cannot restart them)"),
        });
    }
    if !scenario.requires.is_empty() {
        let features = match server_features(cfg).await {
            Ok(f) => f,
            Err(e) => return Outcome::Fail(e),
        };
        if let Some(missing) = scenario.requires.iter().find(|f| !features.contains(f)) {
            return Outcome::Skip(format!("the server lacks the {missing} feature"));
        }
    }
    let started = Instant::now();
    let run = run_scenario(
        scenario,
        &cfg.servers,
        cfg.tls.clone(),
        cfg.restarter.as_deref(),
    );
    match tokio::time::timeout(cfg.scenario_timeout, run).await {
        Ok(Ok(())) => Outcome::Pass(started.elapsed()),
        Ok(Err(f)) if f.line == 0 => Outcome::Fail(f.msg),
        Ok(Err(f)) => Outcome::Fail(format!("{}:{}: {}", scenario.path, f.line, f.msg)),
        Err(_) => Outcome::Fail(format!(
            "did not finish within {} s",
            cfg.scenario_timeout.as_secs()
        )),
    }
}

/// Runs the scenarios, calling `on_line` with each result line as it is known.
pub async fn run_suite(
    scenarios: &[Loaded],
    cfg: &SuiteConfig,
    mut on_line: impl FnMut(&str),
) -> Report {
    let alone = |l: &&Loaded| {
        l.1.as_ref()
            .map(|s| s.exclusive || s.needs_restart())
            .unwrap_or(false)
    };
    let (solo, shared): (Vec<&Loaded>, Vec<&Loaded>) = scenarios.iter().partition(alone);
    let mut report = Report::default();
    let inflight = InFlight::default();
    let _monitor = overdue_monitor(inflight.clone(), cfg.scenario_timeout);
    let inflight = &inflight;
    let mut results = futures_util::stream::iter(shared)
        .map(|l| async move { (l.0.clone(), run_one(l, cfg, inflight).await) })
        .buffer_unordered(cfg.jobs.max(1));
    while let Some((name, outcome)) = results.next().await {
        on_line(&line(&name, &outcome));
        report.results.push((name, outcome));
    }
    for l in solo {
        let outcome = run_one(l, cfg, inflight).await;
        on_line(&line(&l.0, &outcome));
        report.results.push((l.0.clone(), outcome));
    }
    report
}

/// Says every minute which scenarios have run 30 s past `timeout` (the
/// timeout should have ended them: something in them ignores it); stops
/// when dropped.
fn overdue_monitor(inflight: InFlight, timeout: Duration) -> AbortOnDrop {
    let limit = timeout + Duration::from_secs(30);
    AbortOnDrop(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            let overdue = inflight.older_than(limit);
            if !overdue.is_empty() {
                say(&format!(
                    "WATCHDOG: scenarios still running past their {} s limit: {}",
                    timeout.as_secs(),
                    overdue.join(", ")
                ));
            }
        }
    }))
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_scenario_parses() {
        let loaded = load(&default_dir(), None).unwrap();
        assert!(loaded.len() >= 30, "only {} scenarios", loaded.len());
        for (name, parsed) in &loaded {
            if let Err(e) = parsed {
                panic!("{name}: {e}");
            }
        }
        let restarting: Vec<&str> = loaded
            .iter()
            .filter(|(_, p)| p.as_ref().is_ok_and(Scenario::needs_restart))
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(restarting, vec!["send_idempotent_after_restart"]);
    }

    /// `--spec-only` skips `notes` scenarios with their reason, before any
    /// connection (the URL here leads nowhere); others still run (and fail
    /// here, as nothing listens).
    #[tokio::test]
    async fn spec_only_skips_notes_scenarios_with_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a_notes.scn"),
            "notes the page size is server-mock's\nconnect A\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("b_spec.scn"), "connect A\n").unwrap();
        let scenarios = load(dir.path(), None).unwrap();
        let mut cfg = SuiteConfig::new("ws://127.0.0.1:1/v1");
        cfg.spec_only = true;
        let report = run_suite(&scenarios, &cfg, |_| {}).await;
        let outcome = |name: &str| {
            report
                .results
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, o)| o.clone())
                .unwrap()
        };
        assert_eq!(
            outcome("a_notes"),
            Outcome::Skip("notes-only: the page size is server-mock's".into())
        );
        assert!(matches!(outcome("b_spec"), Outcome::Fail(_)));
    }
}
