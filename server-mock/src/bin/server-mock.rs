//! The `server-mock` binary: flags → [`server_mock::Config`], prints
//! `listening on ws://IP:PORT/v1` (or `wss://` with `--tls-cert`/`--tls-key`)
//! once ready, stops gracefully on SIGINT/SIGTERM.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use server_mock::{Config, DbLocation};

/// Reference timeline server (protocol v1), durable on SQLite.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// SQLite database path, or `:memory:` for a throwaway server
    /// [default: server.db in the platform data directory].
    #[arg(long)]
    db: Option<String>,
    /// Refuse `register`.
    #[arg(long)]
    no_register: bool,
    /// Most simultaneous connections.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Per-connection send rate: RATE[/s][/BURST], e.g. 50/s/100 (50 per second, bursts of 100).
    #[arg(long, default_value = "50/100")]
    send_rate: String,
    /// Serve wss:// with this PEM certificate chain (with --tls-key) [default: plain ws://].
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
}

/// `RATE[/s][/BURST]`: `50`, `50/s`, `50/100` and `50/s/100` all mean 50
/// sends per second; BURST defaults to twice the rate.
fn parse_rate(s: &str) -> anyhow::Result<(f64, u32)> {
    let parts: Vec<&str> = s.split('/').map(str::trim).collect();
    let (rate, burst) = match parts.as_slice() {
        [rate] | [rate, "s"] => (*rate, None),
        [rate, "s", burst] => (*rate, Some(*burst)),
        [rate, burst] => (*rate, Some(*burst)),
        _ => anyhow::bail!("--send-rate: expected RATE[/s][/BURST], e.g. 50/s/100"),
    };
    let rate: f64 = rate.parse().context("--send-rate: RATE is not a number")?;
    anyhow::ensure!(
        rate.is_finite() && rate > 0.0,
        "--send-rate: RATE must be positive"
    );
    let burst = match burst {
        Some(b) => b
            .parse()
            .context("--send-rate: BURST is not a whole number")?,
        None => (rate.ceil() as u32).saturating_mul(2).max(1),
    };
    anyhow::ensure!(burst >= 1, "--send-rate: BURST must be at least 1");
    Ok((rate, burst))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Every failure is one line on stderr (and exit 1).
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server-mock: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let (send_rate_per_sec, send_burst) = parse_rate(&args.send_rate)?;
    let db = match args.db.as_deref() {
        Some(s) => DbLocation::parse(s),
        None => DbLocation::default_path()?,
    };
    let config = Config {
        listen: args.listen,
        db,
        allow_register: !args.no_register,
        max_connections: args.max_connections,
        send_rate_per_sec,
        send_burst,
        tls: match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some(server_mock::TlsFiles { cert, key }),
            _ => None,
        },
        ..Config::default()
    };
    let server = server_mock::start(config).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", server.url())?;
        out.flush()?;
    }
    wait_for_signal().await?;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("install SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("wait for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn send_rate_spellings() {
        assert_eq!(parse_rate("50/100").unwrap(), (50.0, 100));
        assert_eq!(parse_rate("50/s/100").unwrap(), (50.0, 100));
        assert_eq!(parse_rate("50/s").unwrap(), (50.0, 100));
        assert_eq!(parse_rate("50").unwrap(), (50.0, 100));
        assert_eq!(parse_rate("0.5").unwrap(), (0.5, 2));
        for bad in ["", "x", "0", "-1", "50/x", "50/s/0", "50/s/100/1", "inf"] {
            assert!(parse_rate(bad).is_err(), "{bad:?} accepted");
        }
    }
}
