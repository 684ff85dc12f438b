//! frame_log: a frame-logging WebSocket proxy for reading a client's traffic against
//! PROTOCOL.md by hand (CLI runs, a TUI session in tmux), and the checker for its logs.
//!
//! ```text
//! frame_log proxy --listen 127.0.0.1:47310 --upstream 127.0.0.1:47311 --out /tmp/x/frames.jsonl
//! frame_log check /tmp/x/frames.jsonl
//! ```
//!
//! `proxy` appends one JSON line per frame or connection event (`Logged::to_json_line`) and runs
//! until killed; the upstream may be stopped and restarted on the same port meanwhile. `check`
//! prints every finding of `conformance::wire_check` and exits 1 if there is any.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use conformance::proxy::{Faults, Logged, Proxy};

#[derive(Parser)]
#[command(about = "Frame-logging WebSocket proxy and protocol checker")]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Forward `listen` to `upstream`, logging every frame to `out`.
    Proxy {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        upstream: SocketAddr,
        #[arg(long)]
        out: PathBuf,
    },
    /// Read a log against PROTOCOL.md.
    Check { log: PathBuf },
}

fn main() -> anyhow::Result<()> {
    match Args::parse().cmd {
        Cmd::Proxy {
            listen,
            upstream,
            out,
        } => proxy(listen, upstream, out),
        Cmd::Check { log } => {
            let file = std::fs::File::open(&log).with_context(|| format!("{}", log.display()))?;
            let mut lines = Vec::new();
            for line in std::io::BufReader::new(file).lines() {
                let line = line?;
                lines.push(Logged::from_json_line(&line).context(line)?);
            }
            let findings = conformance::wire_check::check(&lines);
            for f in &findings {
                println!("{f}");
            }
            println!("{} frames, {} findings", lines.len(), findings.len());
            std::process::exit(i32::from(!findings.is_empty()));
        }
    }
}

#[tokio::main]
async fn proxy(listen: SocketAddr, upstream: SocketAddr, out: PathBuf) -> anyhow::Result<()> {
    let proxy = Proxy::bind(listen, upstream, Faults::none(), 0).await?;
    let log = proxy.record();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out)
        .with_context(|| format!("{}", out.display()))?;
    eprintln!(
        "frame_log: {} -> {upstream}, logging to {}",
        proxy.url(),
        out.display()
    );
    let mut written = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let new = log.lines_from(written);
        written += new.len();
        for l in new {
            writeln!(file, "{}", l.to_json_line())?;
        }
        file.flush()?;
    }
}
