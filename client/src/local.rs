//! `--local`: the bundled server run in this process on 127.0.0.1 with its
//! database in the data dir, and the zero-set-up account on it.
//!
//! Decision (documented in `convo --help` and docs/CLI.md): a `--local`
//! account gets a random password generated on first use and kept with its
//! token (keyring, else the 0600 token file). It only guards a server bound to
//! loopback; a later run logs in again with it if the token was revoked.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::cli::Ctx;
use crate::config::create_private_dir;

/// Stands for the server URL in data-dir paths (see `Ctx::server_key`).
pub const STORE_KEY: &str = "local";
/// The port `--local` tries first.
pub const DEFAULT_PORT: u16 = 7878;
/// How many ports after the default are tried when it is taken.
const PORT_TRIES: u16 = 50;

/// The embedded server this run started, or the one another `--local` run
/// on the same data dir already serves (two servers must never share one
/// database file).
#[derive(Debug)]
pub struct LocalServer {
    server: Option<server_mock::RunningServer>,
    url_file: PathBuf,
}

impl LocalServer {
    /// Authenticated connections to the server this process runs other than
    /// the TUI's own (None when this run joined another run's server).
    pub fn peers(&self) -> Option<crate::ui::engine::LocalPeers> {
        let count = self.server.as_ref()?.connection_counter();
        Some(crate::ui::engine::LocalPeers(std::sync::Arc::new(
            move || count().saturating_sub(1),
        )))
    }

    /// Authenticated connections to the server right now (0 when joined).
    pub fn connections(&self) -> usize {
        self.server
            .as_ref()
            .map_or(0, server_mock::RunningServer::authenticated_connections)
    }

    /// The URL clients use, when this process runs the server.
    pub fn url(&self) -> Option<String> {
        self.server.as_ref().map(server_mock::RunningServer::url)
    }

    /// Stops accepting, closes connections, lets the database settle.
    pub async fn shutdown(self) {
        if let Some(server) = self.server {
            // Only the owner removes the note; a joiner leaves it alone.
            let _ = std::fs::remove_file(&self.url_file);
            server.shutdown().await;
        }
    }
}

/// The URL noted by a running `--local` server of this data dir, if it still
/// accepts connections.
async fn running_elsewhere(url_file: &Path) -> Option<String> {
    let url = std::fs::read_to_string(url_file).ok()?.trim().to_owned();
    let addr = url.strip_prefix("ws://")?.strip_suffix("/v1")?.to_owned();
    let probe = tokio::net::TcpStream::connect(addr);
    match tokio::time::timeout(Duration::from_millis(500), probe).await {
        Ok(Ok(_)) => Some(url),
        _ => None,
    }
}

/// Starts the server (the given port, else 7878 or the next free one), points
/// `ctx` at it and prints how others on this machine can join.
pub async fn start(ctx: &mut Ctx, port: Option<u16>) -> Result<LocalServer> {
    let db = ctx.paths.local_server_db();
    let dir = db.parent().context("server database path has no parent")?;
    create_private_dir(dir)?;
    let url_file = dir.join("url");
    if port.is_none()
        && let Some(url) = running_elsewhere(&url_file).await
    {
        eprintln!(
            "convo: joining the local server already running on {url} (another convo --local)"
        );
        ctx.servers = vec![url];
        return Ok(LocalServer {
            server: None,
            url_file,
        });
    }
    let ports: Vec<u16> = match port {
        Some(p) => vec![p],
        None => (0..PORT_TRIES)
            .filter_map(|i| DEFAULT_PORT.checked_add(i))
            .collect(),
    };
    let mut last_err = None;
    let mut running = None;
    for p in ports {
        let config = server_mock::Config {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, p)),
            db: server_mock::DbLocation::Path(db.clone()),
            register: server_mock::RegisterMode::Open,
            ..Default::default()
        };
        match server_mock::start(config).await {
            Ok(s) => {
                running = Some(s);
                break;
            }
            // Only a taken port is worth trying the next one for: a
            // database another server serves is refused on every port.
            Err(e @ server_mock::ServerError::Bind { .. }) => last_err = Some(format!("{e}")),
            Err(e) => bail!("could not start the local server: {e}"),
        }
    }
    let Some(server) = running else {
        bail!(
            "could not start the local server: {}",
            last_err.unwrap_or_else(|| "no port to try".into())
        );
    };
    let url = server.url();
    eprintln!(
        "convo: local server on {url} (database {})\nconvo: others can join with: convo --server {url} --user NAME",
        db.display()
    );
    if let Err(e) = std::fs::write(&url_file, &url) {
        eprintln!(
            "convo: warning: could not note the server URL in {}: {e}",
            url_file.display()
        );
    }
    ctx.servers = vec![url];
    Ok(LocalServer {
        server: Some(server),
        url_file,
    })
}

/// Makes sure the `--local` account has a stored token: keep the one stored,
/// else log in with the stored generated password, else register with a new
/// generated password.
pub async fn ensure_account(ctx: &Ctx, client: &sync_core::Client) -> Result<()> {
    let tokens = ctx.tokens()?;
    let stored = tokens.load()?;
    if let Some(secret) = &stored {
        if client.resume(Some(secret.token.as_str())).await.is_ok() {
            return Ok(());
        }
        if let Some(pw) = &secret.password
            && let Ok(session) = client.login(&ctx.user, pw).await
        {
            return crate::cli::save_token(ctx, session.token, Some(pw.clone()));
        }
    }
    let password = generate_password();
    match client.register(&ctx.user, &password).await {
        Ok(session) => crate::cli::save_token(ctx, session.token, Some(password)),
        Err(e) if crate::cli::is_conflict(&e) => bail!(
            "user {} already exists on the local server but no password for it is stored here: \
             run `convo login --server {} --user {}`, or pick another --user",
            ctx.user,
            ctx.server()?,
            ctx.user
        ),
        Err(e) => Err(e).context("registering on the local server"),
    }
}

/// 24 random alphanumerics (~142 bits).
fn generate_password() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}
