//! The `server-mock` binary: flags → [`server_mock::Config`], prints
//! `listening on ws://IP:PORT/v1` (or `wss://` with `--tls-cert`/`--tls-key`)
//! once ready, stops gracefully on SIGINT/SIGTERM, re-reads its TLS
//! certificate on SIGHUP.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use server_mock::{Config, DbLocation};

/// Reference timeline server (protocol v1.1), durable on SQLite. Without a
/// subcommand it serves; `invite`, `admin`, `backup` and `check` manage and
/// probe it (`backup` copies the database while the server runs).
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(flatten)]
    serve: Args,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Invite codes for --register invite-only.
    Invite {
        #[command(subcommand)]
        command: InviteCmd,
    },
    /// Account administration on the database (the server may be running:
    /// it applies revocations and disables within 5 s).
    Admin {
        #[command(subcommand)]
        command: AdminCmd,
    },
    /// Copies the SQLite database to the new file OUT, while the server runs.
    ///
    /// The copy is consistent, one file, mode 0600. To restore: stop the
    /// server, move the copy in place of the database, remove any stale
    /// -wal/-shm files next to it, start. For PostgreSQL use pg_dump.
    Backup {
        #[command(flatten)]
        db: DbArg,
        /// The copy to create (never overwritten).
        #[arg(value_name = "OUT")]
        out: std::path::PathBuf,
    },
    /// Exits 0 when the server at URL answers `hello` (a health check).
    Check {
        /// Server URL, e.g. wss://chat.example.org/v1.
        #[arg(long, value_name = "URL")]
        server: String,
        /// For wss://: also trust the CA certificate(s) in this PEM file.
        #[arg(long, value_name = "PEM")]
        ca_file: Option<std::path::PathBuf>,
    },
}

/// The database the admin commands work on.
#[derive(Debug, clap::Args)]
struct DbArg {
    /// SQLite database path [default: server.db in the platform data directory].
    #[arg(long)]
    db: Option<std::path::PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum InviteCmd {
    /// Prints a new invite code.
    Create {
        #[command(flatten)]
        db: DbArg,
        /// Registrations the code allows.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How long it stays valid: 7d, 12h, 30m [default: no expiry].
        #[arg(long, value_name = "DURATION", value_parser = server_mock::admin::parse_duration)]
        expires: Option<std::time::Duration>,
    },
}

#[derive(Debug, clap::Subcommand)]
enum AdminCmd {
    /// Lists the users: disabled or not, signed-in devices, last seen.
    Users {
        #[command(flatten)]
        db: DbArg,
    },
    /// Sets a new password (read from stdin, or $SERVER_MOCK_PASSWORD) and
    /// signs the user out everywhere.
    ResetPassword {
        /// The user.
        user: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Signs the user out everywhere (revokes every token).
    Revoke {
        /// The user.
        user: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Refuses the user's log-ins and ends their sessions.
    Disable {
        /// The user.
        user: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Lets a disabled user log in again.
    Enable {
        /// The user.
        user: String,
        #[command(flatten)]
        db: DbArg,
    },
}

/// Serving flags.
#[derive(Debug, clap::Args)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// SQLite database path, `:memory:` for a throwaway server, or a
    /// PostgreSQL URL (`postgres://user@host:port/db`); another URL scheme
    /// is refused [default: server.db in the platform data directory].
    #[arg(long)]
    db: Option<String>,
    /// Who may create an account: open, invite-only (needs a code from
    /// `server-mock invite create`) or closed.
    #[arg(long, value_name = "MODE", default_value = "open", value_parser = parse_register)]
    register: server_mock::RegisterMode,
    /// Same as --register closed.
    #[arg(long)]
    no_register: bool,
    /// Most simultaneous connections.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Send rate per user (shared by their connections): RATE[/s][/BURST], e.g. 50/s/100 (50 per second, bursts of 100).
    #[arg(long, default_value = "50/100")]
    send_rate: String,
    /// Serve wss:// with this PEM certificate chain (with --tls-key) [default: plain ws://].
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// A token unused for this many days stops working (the user logs in again).
    #[arg(long, value_name = "N", default_value_t = 90)]
    token_idle_days: u32,
    /// A browser Origin allowed to open a WebSocket (repeatable); any other
    /// Origin is refused [default: none; non-browser clients send no Origin].
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,
    /// Connections one source address may hold (IPv6 by /64); more are closed with 1013.
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_per_address: usize,
    /// Seconds a connection may stay open without authenticating.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    auth_timeout: u64,
    /// Failed log-ins per account (per account and address, at an address it
    /// logged in from within 30 days) in the window before `rate_limited`.
    #[arg(long, value_name = "N", default_value_t = 5)]
    login_fails_per_account: u32,
    /// Failed log-ins per address (any accounts; IPv6 by /64) in the window.
    #[arg(long, value_name = "N", default_value_t = 20)]
    login_fails_per_address: u32,
    /// The failed log-in window, in minutes (also the longest `retry_after`).
    #[arg(long, value_name = "MINUTES", default_value_t = 15)]
    login_window: u64,
    /// A proxy (CIDR, repeatable) whose PROXY protocol header (v1/v2) or
    /// X-Forwarded-For names the client's address [default: none].
    #[arg(long, value_name = "CIDR", value_parser = server_mock::proxy::Cidr::parse)]
    trusted_proxy: Vec<server_mock::proxy::Cidr>,
    /// The protocol 1.1 extensions to serve: `all`, `none` (a pure protocol
    /// version 1 server), or a comma list such as `reply,reactions`.
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = server_mock::Features::parse)]
    features: server_mock::Features,
    /// `--protocol 1` is `--features none`.
    #[arg(long, value_name = "VERSION", value_parser = parse_protocol, conflicts_with = "features")]
    protocol: Option<server_mock::Features>,
    /// Run as one node of several on the same PostgreSQL --db, with pushes
    /// crossing nodes through this NATS server (`nats://HOST:PORT`;
    /// `tls://HOST:PORT` for TLS, `nats://USER:PASSWORD@…` to log in).
    #[arg(long, value_name = "URL")]
    cluster: Option<String>,
    /// The CA (PEM) that signed the NATS server's certificate, when it is
    /// not in the system's trust store: --cluster then requires TLS.
    #[arg(long, value_name = "PEM", requires = "cluster")]
    cluster_ca: Option<std::path::PathBuf>,
}

fn parse_protocol(s: &str) -> Result<server_mock::Features, String> {
    match s {
        "1" => Ok(server_mock::Features::NONE),
        "1.1" => Ok(server_mock::Features::ALL),
        _ => Err(format!("{s:?}: expected 1 or 1.1")),
    }
}

fn parse_register(s: &str) -> Result<server_mock::RegisterMode, String> {
    server_mock::RegisterMode::parse(s)
        .ok_or_else(|| format!("{s:?}: expected open, invite-only or closed"))
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

/// `e` and its causes on one line, each said once. Most error types here
/// show their cause in their own message and also return it as `source`,
/// so a plain `{:#}` repeated it ("connect: error connecting to server:
/// connect: error connecting to server: …"); a cause whose text already
/// ends the previous link's is left out.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut prev = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        // A cause that repeats the one before it, or restates it behind a
        // code ("Error code 13: database or disk is full"), adds nothing.
        let repeats = !prev.is_empty() && (prev.ends_with(&text) || text.ends_with(&prev));
        if !repeats {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        prev = text;
    }
    out
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Every failure is one line on stderr (and exit 1).
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server-mock: error: {}", one_line(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    // Colours only on a terminal: a log file or journald gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    if let Some(command) = cli.command {
        return admin(command).await;
    }
    let args = cli.serve;
    let (send_rate_per_sec, send_burst) = parse_rate(&args.send_rate)?;
    let db = match args.db.as_deref() {
        Some(s) => DbLocation::parse(s)?,
        None => DbLocation::default_path()?,
    };
    let config = Config {
        listen: args.listen,
        db,
        register: if args.no_register {
            server_mock::RegisterMode::Closed
        } else {
            args.register
        },
        max_connections: args.max_connections,
        send_rate_per_sec,
        send_burst,
        token_idle_days: args.token_idle_days,
        allowed_origins: args.allow_origin,
        max_per_address: args.max_per_address,
        auth_timeout: std::time::Duration::from_secs(args.auth_timeout),
        trusted_proxies: args.trusted_proxy,
        login_limits: server_mock::throttle::LoginLimits {
            per_account: args.login_fails_per_account,
            per_address: args.login_fails_per_address,
            window: std::time::Duration::from_secs(args.login_window * 60),
            max_backoff: std::time::Duration::from_secs(args.login_window * 60),
            ..Default::default()
        },
        tls: match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some(server_mock::TlsFiles { cert, key }),
            _ => None,
        },
        features: args.protocol.unwrap_or(args.features),
        cluster: args.cluster.clone(),
        cluster_ca: args.cluster_ca.clone(),
        ..Config::default()
    };
    let server = server_mock::start(config).await?;
    // Handlers first: a SIGHUP right after the line below must not kill the
    // process (the default action).
    let mut signals = Signals::install()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", server.url())?;
        out.flush()?;
    }
    signals.serve_until_stop(&server).await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// The SQLite file `db` names; on a PostgreSQL URL, a refusal saying
/// `commands` ("admin and invite work") with `hint` after it.
fn sqlite_path(db: &DbArg, commands: &str, hint: &str) -> anyhow::Result<std::path::PathBuf> {
    match &db.db {
        Some(p)
            if matches!(
                DbLocation::parse(&p.to_string_lossy()),
                Ok(DbLocation::Postgres(_))
            ) =>
        {
            anyhow::bail!("{commands} on SQLite files only (this --db is a PostgreSQL URL){hint}")
        }
        Some(p) => Ok(p.clone()),
        None => match DbLocation::default_path()? {
            DbLocation::Path(p) => Ok(p),
            DbLocation::Memory | DbLocation::Postgres(_) => anyhow::bail!("no database path"),
        },
    }
}

fn db_path(db: &DbArg) -> anyhow::Result<std::path::PathBuf> {
    sqlite_path(db, "admin and invite work", "")
}

/// Prints `value` as JSON, or `text`.
fn show<T: serde::Serialize>(json: bool, value: &T, text: &str) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(value)?);
    } else {
        println!("{text}");
    }
    Ok(())
}

async fn admin(command: Sub) -> anyhow::Result<()> {
    use server_mock::admin as a;
    match command {
        Sub::Check { server, ca_file } => check(&server, ca_file.as_deref()).await,
        Sub::Backup { db, out } => {
            let path = sqlite_path(&db, "backup works", ": back PostgreSQL up with pg_dump")?;
            let b = server_mock::backup::backup(&path, &out)?;
            show(
                db.json,
                &b,
                &format!(
                    "backed up {} to {} ({}, {}, {}, {:.1} MiB)",
                    b.db.display(),
                    b.out.display(),
                    plural(b.users, "user"),
                    plural(b.conversations, "conversation"),
                    plural(b.entries, "entry"),
                    b.bytes as f64 / (1024.0 * 1024.0)
                ),
            )
        }
        Sub::Invite {
            command: InviteCmd::Create { db, uses, expires },
        } => {
            let conn = a::open(&db_path(&db)?)?;
            let invite = a::create_invite(&conn, uses, expires)?;
            show(db.json, &invite, &invite.code)
        }
        Sub::Admin { command } => match command {
            AdminCmd::Users { db } => {
                let users = a::users(&a::open(&db_path(&db)?)?)?;
                if db.json {
                    return show(true, &users, "");
                }
                for u in users {
                    println!(
                        "{:<32} {:<8} {} device(s){}",
                        u.name,
                        if u.disabled { "disabled" } else { "active" },
                        u.tokens,
                        u.last_seen_ms
                            .map(|ms| format!(", last seen {}", ago(ms)))
                            .unwrap_or_default()
                    );
                }
                Ok(())
            }
            AdminCmd::ResetPassword { user, db } => {
                let password = match std::env::var("SERVER_MOCK_PASSWORD") {
                    Ok(p) if !p.is_empty() => p,
                    _ => {
                        let mut line = String::new();
                        std::io::stdin().read_line(&mut line)?;
                        line.trim_end_matches(['\n', '\r']).to_owned()
                    }
                };
                let n = a::reset_password(&a::open(&db_path(&db)?)?, &user, &password)?;
                let out =
                    serde_json::json!({"user": user, "password_reset": true, "tokens_revoked": n});
                show(
                    db.json,
                    &out,
                    &format!("password of {user} reset; {n} session(s) ended"),
                )
            }
            AdminCmd::Revoke { user, db } => {
                let n = a::revoke(&a::open(&db_path(&db)?)?, &user)?;
                let out = serde_json::json!({"user": user, "tokens_revoked": n});
                show(db.json, &out, &format!("{n} session(s) of {user} ended"))
            }
            AdminCmd::Disable { user, db } => {
                a::set_disabled(&a::open(&db_path(&db)?)?, &user, true)?;
                let out = serde_json::json!({"user": user, "disabled": true});
                show(
                    db.json,
                    &out,
                    &format!("{user} is disabled; their sessions end within 5 s"),
                )
            }
            AdminCmd::Enable { user, db } => {
                a::set_disabled(&a::open(&db_path(&db)?)?, &user, false)?;
                let out = serde_json::json!({"user": user, "disabled": false});
                show(db.json, &out, &format!("{user} can log in again"))
            }
        },
    }
}

/// "1 user", "2 users", "3 entries".
fn plural(n: u64, one: &str) -> String {
    match (n, one.strip_suffix('y')) {
        (1, _) => format!("1 {one}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {one}s"),
    }
}

/// "5 min ago", from a Unix ms time.
fn ago(ms: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let s = (now - ms).max(0) / 1000;
    match s {
        0..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        3600..86_400 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

/// A failed TLS handshake in `e`, said as convo says it ("the certificate
/// of HOST is from an unknown issuer …").
fn tls_reason(e: &anyhow::Error, url: &str) -> Option<String> {
    use tokio_tungstenite::tungstenite::Error as WsError;
    use tokio_tungstenite::tungstenite::error::TlsError;
    let uri: tokio_tungstenite::tungstenite::http::Uri = url.parse().ok()?;
    let host = uri.host()?.to_owned();
    match e.downcast_ref::<WsError>()? {
        WsError::Io(io) => sync_core::tls::from_io(io, &host).map(|c| c.to_string()),
        WsError::Tls(TlsError::Rustls(r)) => Some(sync_core::tls::describe(r, &host).to_string()),
        _ => None,
    }
}

/// `check`: connects, waits for `hello` (5 s), prints one line.
async fn check(url: &str, ca_file: Option<&std::path::Path>) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let connector = if url.starts_with("wss://") {
        Some(tokio_tungstenite::Connector::Rustls(
            sync_core::tls::client_config(ca_file)?,
        ))
    } else {
        None
    };
    let attempt = async {
        let (mut ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(url, None, true, connector).await?;
        while let Some(msg) = ws.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(t) = msg? {
                return Ok::<_, anyhow::Error>(sync_core::protocol::decode_server_frame(&t)?);
            }
        }
        anyhow::bail!("the connection closed before hello")
    };
    let hello = tokio::time::timeout(std::time::Duration::from_secs(5), attempt)
        .await
        .map_err(|_| anyhow::anyhow!("{url}: no hello within 5 s"))?
        .map_err(|e| {
            anyhow::anyhow!(
                "{url}: {}",
                tls_reason(&e, url).unwrap_or_else(|| e.to_string())
            )
        })?;
    match hello {
        sync_core::protocol::ServerFrame::Hello {
            server,
            protocol,
            features,
            register,
            ..
        } => {
            println!(
                "ok: {url} is {server}, protocol {protocol}, features [{}], register {}",
                features.join(", "),
                register.as_deref().unwrap_or("unknown")
            );
            Ok(())
        }
        other => anyhow::bail!("{url}: the first frame was not hello: {other:?}"),
    }
}

/// SIGINT and SIGTERM stop the server; SIGHUP reloads its certificate.
/// Streams, not one-shot futures, so a signal arriving during a reload is
/// not lost.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            int: signal(SignalKind::interrupt()).context("install SIGINT handler")?,
            term: signal(SignalKind::terminate()).context("install SIGTERM handler")?,
            hup: signal(SignalKind::hangup()).context("install SIGHUP handler")?,
        })
    }

    /// Returns on SIGINT or SIGTERM.
    async fn serve_until_stop(&mut self, server: &server_mock::RunningServer) {
        loop {
            tokio::select! {
                _ = self.int.recv() => return,
                _ = self.term.recv() => return,
                _ = self.hup.recv() => {
                    tracing::info!("SIGHUP: re-reading the TLS certificate and key");
                    // reload_tls logs the outcome; a failure keeps the
                    // previous certificate, so the server carries on.
                    if let Ok(None) = server.reload_tls().await {
                        tracing::info!("SIGHUP: no certificate to reload (plain ws://)");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_rate;
    use server_mock::DbLocation;

    #[test]
    fn db_spellings() {
        assert_eq!(DbLocation::parse(":memory:").unwrap(), DbLocation::Memory);
        for path in [
            "server.db",
            "/var/lib/convo/server.db",
            "dir/a:b.db",
            "./x://y",
        ] {
            assert_eq!(
                DbLocation::parse(path).unwrap(),
                DbLocation::Path(path.into()),
                "{path:?}"
            );
        }
        for url in ["postgres://u@h/db", "postgresql://h/db"] {
            assert_eq!(
                DbLocation::parse(url).unwrap(),
                DbLocation::Postgres(url.into()),
                "{url:?}"
            );
        }
        for url in ["sqlite://x.db", "mysql://h/db"] {
            let e = DbLocation::parse(url).unwrap_err().to_string();
            assert!(e.contains("only SQLite and PostgreSQL"), "{url:?}: {e}");
        }
    }

    #[test]
    fn a_cause_restating_the_one_before_is_said_once() {
        let sqlite = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(13),
            Some("database or disk is full".into()),
        );
        let e = anyhow::Error::new(sqlite).context("open database: apply pragmas");
        assert_eq!(
            crate::one_line(&e),
            "open database: apply pragmas: database or disk is full"
        );
    }

    #[test]
    fn counts_are_said_in_english() {
        assert_eq!(crate::plural(1, "entry"), "1 entry");
        assert_eq!(crate::plural(0, "entry"), "0 entries");
        assert_eq!(crate::plural(1, "user"), "1 user");
        assert_eq!(crate::plural(12, "conversation"), "12 conversations");
    }

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
