//! `conformance`: runs the scripted scenarios against any timeline server.
//!
//! `conformance --server ws[s]://HOST:PORT/v1 [--ca-file PEM] [--filter NAME] [--scenarios DIR]`
//! prints one line per scenario and a final `N passed, N failed` line; exits
//! non-zero when a scenario failed. It cannot restart a remote server, so
//! scenarios that restart are skipped.

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
    #[arg(long)]
    server: String,
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
    let tls = if args.server.starts_with("wss://") {
        Some(sync_core::tls::client_config(args.ca_file.as_deref()).context("TLS set-up")?)
    } else {
        None
    };
    let cfg = SuiteConfig {
        url: args.server,
        tls,
        restarter: None,
        jobs: args.jobs,
        scenario_timeout: Duration::from_secs(args.scenario_timeout),
    };
    let report = run_suite(&scenarios, &cfg, |line| println!("{line}")).await;
    println!("{}", report.summary());
    Ok(if report.failed() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
