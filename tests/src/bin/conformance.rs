//! `conformance`: runs the scripted scenarios against any timeline server.
//!
//! `conformance --server ws[s]://HOST:PORT/v1 [--ca-file PEM] [--filter NAME] [--scenarios DIR]`
//! prints one line per scenario and a final `N passed, N failed` line; exits
//! non-zero when a scenario failed. It cannot restart a remote server, so
//! scenarios that restart are skipped.
//!
//! `--spec-only` skips the scenarios marked `notes` (they pin choices of
//! docs/PROTOCOL-NOTES.md or server-mock's settings where PROTOCOL.md is
//! silent), each reported as `SKIP name: notes-only: REASON`: the run for
//! a server written from PROTOCOL.md alone.
//!
//! `--servers URL1,URL2,…` instead of `--server` runs against the nodes of
//! one service: each scenario's connection k goes to URL k mod n, so users
//! on different nodes see each other's pushes only across nodes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use conformance::suite::{SuiteConfig, default_dir, load, run_suite};

#[derive(Debug, Parser)]
#[command(about = "Run the timeline protocol conformance scenarios against a server")]
struct Args {
    /// Server URL, e.g. ws://127.0.0.1:8080/v1.
    #[arg(long, required_unless_present = "servers", conflicts_with = "servers")]
    server: Option<String>,
    /// Several nodes of one service, comma-separated: a scenario's k-th
    /// connection goes to URL k mod n.
    #[arg(long, value_delimiter = ',', value_name = "URL,URL,…")]
    servers: Vec<String>,
    /// Only scenarios whose name contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Scenario directory (default: the suite's own scenarios).
    #[arg(long)]
    scenarios: Option<PathBuf>,
    /// Scenarios run at the same time (exclusive ones always run alone).
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// Per-scenario time limit in seconds.
    #[arg(long, default_value_t = 120)]
    scenario_timeout: u64,
    /// Skip the scenarios marked `notes`: those pin choices of the convo
    /// project (docs/PROTOCOL-NOTES.md, server-mock's limits) where
    /// PROTOCOL.md is silent. Use this for a server written from
    /// PROTOCOL.md alone; each skip prints its reason.
    #[arg(long)]
    spec_only: bool,
    /// For wss://: also trust the CA certificate(s) in this PEM file.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<ExitCode> {
    let args = Args::parse();
    let dir = args.scenarios.unwrap_or_else(default_dir);
    let scenarios = load(&dir, args.filter.as_deref())
        .with_context(|| format!("loading scenarios from {}", dir.display()))?;
    let servers = match args.server {
        Some(url) => vec![url],
        None => args.servers,
    };
    let tls = if servers.iter().any(|u| u.starts_with("wss://")) {
        Some(sync_core::tls::client_config(args.ca_file.as_deref()).context("TLS set-up")?)
    } else {
        None
    };
    let cfg = SuiteConfig {
        servers,
        tls,
        restarter: None,
        jobs: args.jobs,
        scenario_timeout: Duration::from_secs(args.scenario_timeout),
        spec_only: args.spec_only,
    };
    let report = run_suite(&scenarios, &cfg, |line| println!("{line}")).await;
    println!("{}", report.summary());
    Ok(if report.failed() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
