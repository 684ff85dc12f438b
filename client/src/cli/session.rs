//! One run's context (paths, config, server, user, device, token store) and
//! the shared "open the store, resume the session, catch up" step every
//! networked command starts with, exactly as the TUI does.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use sync_core::{Client, ClientBuilder, Events, SyncReport};

use super::GlobalOpts;
use crate::accounts::{Account, Accounts};
use crate::config::{Config, Paths, default_user_name, device_id};
use crate::token::TokenStore;

/// How long a command waits for catch-up (and then for outbox acks) before
/// giving up. An unreachable server is reported at once, not after this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything a command needs to know about where and who.
#[derive(Debug)]
pub struct Ctx {
    /// Directories.
    pub paths: Paths,
    /// Parsed config.toml.
    pub config: Config,
    /// Server URLs in failover order (`--server URL1,URL2`); empty when
    /// none was given (`--local` sets it once the server runs).
    pub servers: Vec<String>,
    /// User name.
    pub user: String,
    /// True when the server is the in-process `--local` one.
    pub local: bool,
    /// The remembered-account name a successful log-in is stored under.
    pub profile: String,
    /// Extra CA certificates for wss:// (`--ca-file`, `$CONVO_CA_FILE`,
    /// config.toml's `ca_file`).
    pub ca_file: Option<std::path::PathBuf>,
}

/// A non-empty environment variable.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Ctx {
    /// Precedence, highest first: flags, environment variables
    /// (`CONVO_SERVER`, `CONVO_USER`, `CONVO_PROFILE`), the remembered
    /// account, config.toml, built-in defaults (`$USER`).
    pub fn new(g: &GlobalOpts) -> Result<Ctx> {
        let paths = Paths::resolve(g.data_dir.as_deref(), g.config.as_deref())?;
        let config = Config::load(&paths.config_file)?;
        let given_server = g
            .server
            .clone()
            .or_else(|| env_var("CONVO_SERVER"))
            .map(|s| parse_servers(&s))
            .transpose()?;
        let given_user = g.user.clone().or_else(|| env_var("CONVO_USER"));
        let accounts = Accounts::load(&paths.data)?;
        let remembered = match (&given_server, g.local) {
            (_, true) => None,
            // A server was named: its remembered account supplies the user.
            (Some(server), false) if g.profile.is_none() => accounts.profiles.values().find(|a| {
                a.server() == server[0] && given_user.as_ref().is_none_or(|u| *u == a.user)
            }),
            // A server and a profile name not remembered yet: this run names
            // that profile (`convo login --profile work --server URL …`).
            (Some(_), false)
                if g.profile
                    .as_deref()
                    .is_some_and(|p| !accounts.profiles.contains_key(p)) =>
            {
                None
            }
            _ => accounts.pick(g.profile.as_deref(), given_user.as_deref())?,
        };
        let servers = if g.local {
            Vec::new()
        } else {
            match given_server.or_else(|| remembered.map(|a| a.servers.clone())) {
                Some(list) => list,
                None => match &config.server {
                    Some(s) => parse_servers(s).context("config.toml `server`")?,
                    None => Vec::new(),
                },
            }
        };
        let user = given_user
            .or_else(|| remembered.map(|a| a.user.clone()))
            .or_else(|| config.user.clone())
            .unwrap_or_else(default_user_name);
        if let Err(e) = sync_core::protocol::validate::user_name(&user) {
            bail!("invalid user name {:?}: {e}", crate::output::safe(&user));
        }
        for s in &servers {
            check_server_url(s)?;
        }
        let profile = g.profile.clone().unwrap_or_else(|| user.clone());
        let ca_file = g.ca_file.clone().or_else(|| config.ca_file.clone());
        Ok(Ctx {
            paths,
            config,
            servers,
            user,
            local: g.local,
            profile,
            ca_file,
        })
    }

    /// The first server URL (it names the account's store and token), or
    /// the error telling how to give one.
    pub fn server(&self) -> Result<&str> {
        self.servers.first().map(String::as_str).context(
            "no server given and no remembered log-in: run `convo login --server ws://HOST:PORT/v1 --user NAME` once, or pass --server or --local",
        )
    }

    /// This run's account as `accounts.json` names it (None for `--local`).
    pub fn account(&self) -> Option<Account> {
        if self.local {
            return None;
        }
        if self.servers.is_empty() {
            return None;
        }
        Some(Account {
            servers: self.servers.clone(),
            user: self.user.clone(),
        })
    }

    /// As `--server` takes them (comma-separated), for messages.
    pub fn servers_arg(&self) -> Option<String> {
        (!self.servers.is_empty()).then(|| self.servers.join(","))
    }

    /// What names this server in the data dir: the first URL, except for
    /// `--local`, whose port may change between runs while its database
    /// (and so the account and the cache) stays the same.
    pub fn server_key(&self) -> Result<&str> {
        if self.local {
            Ok(crate::local::STORE_KEY)
        } else {
            self.server()
        }
    }

    /// The token store of this account.
    pub fn tokens(&self) -> Result<TokenStore> {
        Ok(TokenStore::new(&self.paths, self.server_key()?, &self.user))
    }

    /// Whether this account was ever used here: its store exists or a token
    /// is stored (always for `--local`, which makes its own account).
    pub fn is_known(&self) -> Result<bool> {
        Ok(self.local
            || self.paths.store(self.server_key()?, &self.user).exists()
            || self.tokens()?.load()?.is_some())
    }

    /// Opens this account's local store, for every command but the ones
    /// that make an account: an account never logged in here is told to log
    /// in ([`Ctx::login_hint`]) and gets no empty store. No network yet.
    pub fn open(&self) -> Result<(Client, Events)> {
        if !self.is_known()? {
            bail!("{}", self.login_hint());
        }
        self.open_or_create()
    }

    /// Opens or creates this account's local store (`login`, `register`
    /// and the TUI, which asks for the password). No network yet.
    pub fn open_or_create(&self) -> Result<(Client, Events)> {
        self.server()?;
        let store = self.paths.store(self.server_key()?, &self.user);
        if let Some(dir) = store.parent() {
            crate::config::create_private_dir(dir)?;
        }
        let device = device_id(&self.paths)?;
        for server in &self.servers {
            warn_if_unencrypted(server);
        }
        // The token lives in the keyring or the token file, never in the message database.
        let mut builder = ClientBuilder::new(&self.servers[0], &store, &device)
            .servers(self.servers.iter().cloned())
            .token_in_memory();
        if let Some(ca) = &self.ca_file {
            builder = builder.ca_file(ca);
        }
        builder.open().map_err(|e| match e {
            // A bad URL or CA file is the user's input, not the store's.
            sync_core::Error::Connect { .. } | sync_core::Error::Invalid { .. } => {
                anyhow::anyhow!("{e}")
            }
            other => anyhow::Error::new(other)
                .context(format!("opening the local store {}", store.display())),
        })
    }

    /// The hint printed when no session is stored.
    pub fn login_hint(&self) -> String {
        format!(
            "not logged in as {} on {}: run `convo login --server {} --user {}` (or `convo register …`)",
            self.user,
            self.servers_arg().as_deref().unwrap_or("?"),
            self.servers_arg().as_deref().unwrap_or("URL"),
            self.user
        )
    }
}

/// `--server URL1,URL2`: the comma-separated URLs, in failover order.
pub fn parse_servers(s: &str) -> Result<Vec<String>> {
    let list: Vec<String> = s.split(',').map(|u| u.trim().to_owned()).collect();
    if list.iter().any(String::is_empty) {
        bail!(
            "empty server URL in {:?}: give one URL, or several separated by commas",
            crate::output::safe(s)
        );
    }
    Ok(list)
}

/// Says once per run, on stderr, that a `ws://` URL to a host other than
/// loopback carries the token and messages unencrypted. Allowed, never silent.
pub fn warn_if_unencrypted(server: &str) {
    static SAID: std::sync::Once = std::sync::Once::new();
    if server.starts_with("ws://") && !sync_core::client::is_loopback_url(server) {
        SAID.call_once(|| {
            eprintln!(
                "convo: warning: {} is not encrypted (ws://): the token and messages cross the network in clear text; use wss://",
                crate::output::safe(server)
            );
        });
    }
}

/// Rejects URLs the client cannot use, before anything touches the network.
fn check_server_url(s: &str) -> Result<()> {
    if !(s.starts_with("ws://") || s.starts_with("wss://")) {
        bail!(
            "server URL must start with ws:// or wss:// (got {:?})",
            crate::output::safe(s)
        );
    }
    Ok(())
}

/// Why a command could not get online.
#[derive(Debug)]
pub enum Offline {
    /// No token stored for this account.
    NoSession,
    /// The server refused the stored token (revoked or unknown).
    Rejected(String),
    /// The server could not be reached or catch-up did not finish.
    Unreachable(String),
    /// Anything else, already phrased for the user.
    Failed(String),
    /// The server's database was replaced (a new `server_id`): the cache
    /// was discarded and the stored session forgotten.
    Reset,
}

impl Offline {
    /// One line for stderr.
    pub fn describe(&self, ctx: &Ctx) -> String {
        match self {
            Offline::NoSession => ctx.login_hint(),
            Offline::Rejected(e) => format!(
                "the server rejected the stored session ({e}): run `convo login --server {} --user {}`",
                ctx.servers_arg().as_deref().unwrap_or("URL"),
                ctx.user
            ),
            Offline::Failed(e) => e.clone(),
            Offline::Reset => format!(
                "the server at {server} was reset (its database was replaced): the local cache was discarded; log in again: convo login --server {server} --user {}",
                ctx.user,
                server = ctx.servers_arg().as_deref().unwrap_or("URL"),
            ),
            Offline::Unreachable(e) => {
                let servers = ctx.servers_arg();
                let servers = servers.as_deref().unwrap_or("the server");
                // The engine's error already names the URL when there is
                // only one: say it once, not `cannot reach U (cannot reach U: …)`.
                if e.starts_with(&format!("cannot reach {servers}:")) {
                    e.clone()
                } else {
                    format!("cannot reach {servers} ({e})")
                }
            }
        }
    }
}

/// Resumes the stored session and runs the engine until catch-up is done
/// (eager pulls, lazy groups, outbox flush: the same driver the TUI uses).
pub async fn go_online(ctx: &Ctx, client: &Client) -> Result<SyncReport, Offline> {
    let cached_for = client.server_id().ok().flatten();
    let result = go_online_inner(ctx, client).await;
    reset_or(ctx, client, cached_for, result)
}

/// A new server id at the same URL: whatever else happened (the old token
/// is unknown there), the one thing to tell is that the server was reset.
fn reset_or<T>(
    ctx: &Ctx,
    client: &Client,
    cached_for: Option<String>,
    result: Result<T, Offline>,
) -> Result<T, Offline> {
    let now_for = client.server_id().ok().flatten();
    if cached_for.is_some() && now_for.is_some() && cached_for != now_for {
        if !ctx.local {
            let _ = ctx.tokens().and_then(|t| t.delete());
        }
        return Err(Offline::Reset);
    }
    result
}

async fn go_online_inner(ctx: &Ctx, client: &Client) -> Result<SyncReport, Offline> {
    if ctx.local {
        // The in-process server: make or reuse the zero-set-up account.
        crate::local::ensure_account(ctx, client)
            .await
            .map_err(|e| Offline::Failed(format!("{e:#}")))?;
    } else {
        resume_stored(ctx, client).await?;
    }
    client.start();
    let report = tokio::select! {
        r = client.wait_live(CONNECT_TIMEOUT) => r.map_err(|e| classify(&e))?,
        why = first_failed_attempt(client) => return Err(Offline::Unreachable(why)),
    };
    // Catch-up ends with the outbox sent; wait for the acks too, so a command
    // that exits right after does not leave rows half-delivered (they would be
    // resent next time, safely, but the summary would be wrong).
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    while tokio::time::Instant::now() < deadline && outbox_in_flight(client) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(report)
}

/// True while outbox rows wait for the server (failed rows do not count).
pub fn outbox_in_flight(client: &Client) -> bool {
    client.outbox().is_ok_and(|rows| {
        rows.iter()
            .any(|r| !matches!(r.state, sync_core::OutboxState::Failed { .. }))
    }) && matches!(client.state(), sync_core::ConnState::Live)
}

/// Resolves once the engine has given up on a connection attempt and is
/// waiting to retry. The engine would keep retrying (right for the TUI); a
/// one-shot command instead reports the server unreachable at once. Polls the
/// state, because the event stream belongs to the command.
///
/// The engine tells the failures apart (`ConnState::Reconnecting`'s
/// `last_error`): refused, no such host, TLS or a timeout fails at once with
/// that cause, while a connection that was established and then cut (a
/// flaky link, a cut during the handshake, auth or a send) is retried at
/// once, until the command's deadline ends the wait.
async fn first_failed_attempt(client: &Client) -> String {
    let mut cuts = 0;
    loop {
        match client.state() {
            sync_core::ConnState::Failed { error } => return error.to_string(),
            sync_core::ConnState::Reconnecting { last_error, .. } => match last_error {
                Some(e) if e.is_unreachable() => return e.to_string(),
                // A wrong path or a broken proxy also accepts TCP: give up
                // after a few sessions that failed at once.
                _ if cuts >= CUT_RETRIES => {
                    return format!(
                        "the server accepts connections but the session failed {cuts} times in a row"
                    );
                }
                _ => {
                    cuts += 1;
                    client.reconnect_now();
                }
            },
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Cut connections a one-shot command retries at once before giving up.
const CUT_RETRIES: u32 = 10;

/// Hands the stored token to the engine (which authenticates with it).
pub async fn resume_stored(ctx: &Ctx, client: &Client) -> Result<(), Offline> {
    let tokens = ctx
        .tokens()
        .map_err(|e| Offline::Unreachable(e.to_string()))?;
    let secret = match tokens.load() {
        Ok(Some(s)) => s,
        Ok(None) => return Err(Offline::NoSession),
        Err(e) => return Err(Offline::Unreachable(format!("{e:#}"))),
    };
    // The token comes from the keyring/file and is handed to the engine here;
    // it is never put on argv or into a log line.
    let cached_for = client.server_id().ok().flatten();
    let resume = client.resume(Some(secret.token.as_str()));
    let result = tokio::select! {
        r = resume => r.map(|_| ()).map_err(|e| classify(&e)),
        why = first_failed_attempt(client) => Err(Offline::Unreachable(why)),
    };
    reset_or(ctx, client, cached_for, result)
}

/// Sorts an engine error into "rejected" (credentials) or "unreachable".
fn classify(e: &sync_core::Error) -> Offline {
    if is_auth_failure(e) {
        Offline::Rejected(e.to_string())
    } else {
        Offline::Unreachable(e.to_string())
    }
}

/// The server refused the credentials or token (as opposed to not answering).
pub fn is_auth_failure(e: &sync_core::Error) -> bool {
    use sync_core::protocol::ErrorCode;
    matches!(
        e,
        sync_core::Error::LoggedOut
            | sync_core::Error::Server {
                code: ErrorCode::Unauthorized | ErrorCode::Unauthenticated,
                ..
            }
    )
}

/// The server said the thing already exists (`register` of a taken name).
pub fn is_conflict(e: &sync_core::Error) -> bool {
    matches!(
        e,
        sync_core::Error::Server {
            code: sync_core::protocol::ErrorCode::Conflict,
            ..
        }
    )
}

/// Like [`go_online`] but every failure is an error (commands that cannot do
/// anything useful offline).
pub async fn require_online(ctx: &Ctx, client: &Client) -> Result<SyncReport> {
    go_online(ctx, client)
        .await
        .map_err(|o| anyhow::anyhow!(o.describe(ctx)))
}

/// Resolves TARGET (conv id, group title, `@user`) in the local store.
pub fn find_target(client: &Client, target: &str) -> Result<sync_core::ConvRow> {
    lookup(client, target)?
        .with_context(|| format!("no conversation {:?}", crate::output::safe(target)))
}

/// Whether I left `conv` (its history stays here, read-only; the server
/// answers a former member's `pull`, `history` and `thread` with
/// `not_found`, so what is held is all there is to show).
pub fn has_left(client: &Client, conv: &sync_core::protocol::ConvId) -> Result<bool> {
    Ok(client
        .conversation(conv)
        .context("reading the conversation")?
        .is_some_and(|r| r.left))
}

/// TARGET (an id, `@user` or a group title) among the conversations held;
/// a title two of them share is refused (naming their ids) rather than
/// one of them picked.
pub fn lookup(client: &Client, target: &str) -> Result<Option<sync_core::ConvRow>> {
    let found = client
        .find_conversation(target)
        .context("looking up the conversation")?;
    let Some(row) = found.as_ref().filter(|r| r.conv.as_str() != target) else {
        return Ok(found);
    };
    if target.starts_with('@') {
        return Ok(found);
    }
    let mut same: Vec<String> = client
        .conversations()?
        .into_iter()
        .chain(client.archived_conversations()?)
        .filter(|r| r.title.eq_ignore_ascii_case(&row.title))
        .map(|r| r.conv.0)
        .collect();
    if same.len() > 1 {
        same.sort();
        bail!(
            "{} conversations are titled {:?} ({}): name one by its id",
            same.len(),
            crate::output::safe(target),
            same.join(", ")
        );
    }
    Ok(found)
}
