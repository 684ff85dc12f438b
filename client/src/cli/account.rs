//! `convo register|login|logout`, the password sources (stdin, $CONVO_PASSWORD,
//! no-echo prompt) and the first-use log-in the TUI path runs before it starts.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result, bail};

use super::{Ctx, PasswordOpts, RegisterOpts};
use crate::accounts::Accounts;
use crate::token::Secret;

/// Where a password comes from, in order: `--password-stdin`, `$CONVO_PASSWORD`,
/// a no-echo prompt on the terminal.
fn read_password(opts: &PasswordOpts, prompt: &str) -> Result<String> {
    if opts.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    if let Ok(pw) = std::env::var("CONVO_PASSWORD") {
        return Ok(pw);
    }
    prompt_password(prompt)
}

/// A no-echo prompt; fails clearly when there is no terminal to ask on.
pub fn prompt_password(prompt: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("no password: use --password-stdin or set CONVO_PASSWORD (stdin is not a terminal)");
    }
    rpassword::prompt_password(prompt).context("reading the password")
}

fn check_password(pw: &str) -> Result<()> {
    sync_core::protocol::validate::password(pw).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `convo register [--invite CODE]`.
pub async fn register(ctx: &Ctx, opts: &RegisterOpts) -> Result<()> {
    ctx.server()?;
    let server = ctx.servers.join(",");
    let pw = read_password(
        &opts.password,
        &format!("new password for {}@{server}: ", ctx.user),
    )?;
    check_password(&pw)?;
    let (client, _events) = ctx.open_or_create()?;
    let session = client
        .register_with_invite(&ctx.user, &pw, opts.invite.as_deref())
        .await
        .with_context(|| format!("registering {} on {server}", ctx.user))?;
    save_token(ctx, session.token, None)?;
    remember(ctx)?;
    println!("registered {} on {}", session.user, client.current_url());
    Ok(())
}

/// `convo login`.
pub async fn login(ctx: &Ctx, opts: &PasswordOpts) -> Result<()> {
    ctx.server()?;
    let server = ctx.servers.join(",");
    let pw = read_password(opts, &format!("password for {}@{server}: ", ctx.user))?;
    check_password(&pw)?;
    let (client, _events) = ctx.open_or_create()?;
    let session = client
        .login(&ctx.user, &pw)
        .await
        .with_context(|| format!("logging in as {} on {server}", ctx.user))?;
    save_token(ctx, session.token, None)?;
    remember(ctx)?;
    println!("logged in as {} on {}", session.user, client.current_url());
    Ok(())
}

/// `convo passwd`: the old password, then the new one; the user's other
/// devices are signed out, this one stays logged in.
pub async fn passwd(ctx: &Ctx, opts: &PasswordOpts) -> Result<()> {
    let server = ctx.server()?.to_owned();
    let (old, new) = if opts.password_stdin {
        let mut lines = std::io::stdin().lock().lines();
        let mut next = |what: &str| -> Result<String> {
            Ok(lines
                .next()
                .with_context(|| format!("reading the {what} password from stdin"))??
                .trim_end_matches('\r')
                .to_owned())
        };
        (next("old")?, next("new")?)
    } else {
        let old = match std::env::var("CONVO_PASSWORD") {
            Ok(p) => p,
            Err(_) => prompt_password(&format!("current password for {}@{server}: ", ctx.user))?,
        };
        let new = match std::env::var("CONVO_NEW_PASSWORD") {
            Ok(p) => p,
            Err(_) if !std::io::stdin().is_terminal() => bail!(
                "no new password: set CONVO_NEW_PASSWORD (with CONVO_PASSWORD), or give both \
                 on stdin with --password-stdin (stdin is not a terminal)"
            ),
            Err(_) => {
                let a = prompt_password("new password: ")?;
                if prompt_password("new password again: ")? != a {
                    bail!("the two new passwords differ; nothing was changed");
                }
                a
            }
        };
        (old, new)
    };
    check_password(&new)?;
    let (client, _events) = ctx.open()?;
    super::session::require_online(ctx, &client).await?;
    let changed = client.change_password(&old, &new).await;
    client.stop().await;
    match changed {
        Err(sync_core::Error::Unsupported(feature)) => {
            Err(super::v11::NotSupported { feature }.into())
        }
        Ok(()) => {
            if ctx.local {
                // --local keeps its generated password with the token.
                let tokens = ctx.tokens()?;
                if let Some(mut secret) = tokens.load()? {
                    secret.password = Some(new);
                    tokens.save(&secret)?;
                }
            }
            println!(
                "changed the password of {} on {server}; other devices were signed out",
                ctx.user
            );
            Ok(())
        }
        Err(sync_core::Error::Server {
            code: sync_core::protocol::ErrorCode::Unauthorized,
            ..
        }) => bail!("the current password is wrong; nothing was changed"),
        Err(e) => Err(anyhow::Error::new(e).context("changing the password")),
    }
}

/// `convo logout [--all]`: revoke on the server if reachable (every device
/// with `--all`), forget locally always.
pub async fn logout(ctx: &Ctx, all: bool) -> Result<()> {
    let tokens = ctx.tokens()?;
    let Some(secret) = tokens.load()? else {
        bail!("{}", ctx.login_hint());
    };
    let (client, _events) = ctx.open()?;
    let revoked = match client.resume(Some(secret.token.as_str())).await {
        Ok(_) if all => match client.logout_all().await {
            // Nothing was revoked: keep the session rather than half-log-out.
            Err(sync_core::Error::Unsupported(feature)) => {
                return Err(super::v11::NotSupported { feature }.into());
            }
            other => other.map_err(|e| e.to_string()),
        },
        Ok(_) => client.logout().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    tokens.delete()?;
    if let Some(account) = ctx.account() {
        let mut accounts = Accounts::load(&ctx.paths.data)?;
        if accounts.forget(&account) {
            accounts.save(&ctx.paths.data)?;
        }
    }
    match revoked {
        Ok(()) if all => println!(
            "logged out {} from {} on every device",
            ctx.user,
            ctx.server()?
        ),
        Ok(()) => println!("logged out {} from {}", ctx.user, ctx.server()?),
        Err(e) => {
            eprintln!(
                "convo: warning: could not revoke the token on the server ({e}); forgot it here"
            );
            println!("forgot the session of {} on {}", ctx.user, ctx.server()?);
        }
    }
    Ok(())
}

/// Stores a fresh token (and, for `--local`, the generated password).
pub fn save_token(ctx: &Ctx, token: String, password: Option<String>) -> Result<()> {
    ctx.tokens()?.save(&Secret { token, password })
}

/// Makes this account the one plain commands use (`--local` has its own).
fn remember(ctx: &Ctx) -> Result<()> {
    match ctx.account() {
        Some(account) => remember_account(&ctx.paths.data, &ctx.profile, account),
        None => Ok(()),
    }
}

/// Stores `account` under `profile` in the data dir's `accounts.json`, as current.
pub(super) fn remember_account(
    data: &std::path::Path,
    profile: &str,
    account: crate::accounts::Account,
) -> Result<()> {
    let mut accounts = Accounts::load(data)?;
    accounts.remember(profile, account);
    accounts.save(data)
}

/// `convo whoami`: the account plain commands use, and whether a session is stored.
pub fn whoami(ctx: &Ctx, json: bool) -> Result<()> {
    if ctx.local {
        // Not remembered (`--local` finds its own), but it is the account in use.
        let session = ctx.tokens()?.load()?.is_some();
        let server = ctx.servers.first().cloned();
        if json {
            let v = serde_json::json!({
                "server": server,
                "servers": ctx.servers,
                "user": ctx.user,
                "profile": null,
                "session": session,
            });
            println!("{v}");
        } else {
            println!(
                "{} on {} (--local): {}",
                crate::output::safe(&ctx.user),
                crate::output::safe(server.as_deref().unwrap_or("the local server")),
                if session {
                    "logged in"
                } else {
                    "not logged in"
                }
            );
        }
        return Ok(());
    }
    let Some(account) = ctx.account() else {
        bail!(
            "{}",
            "no account: run `convo login --server ws://HOST:PORT/v1 --user NAME` (or use --local)"
        );
    };
    let accounts = Accounts::load(&ctx.paths.data)?;
    // The profile in use when it names this account (one account may be
    // under several names), else the first that does.
    let profile = match accounts.profiles.get(&ctx.profile) {
        Some(a) if a.same(&account) => Some(ctx.profile.clone()),
        _ => accounts.name_of(&account).map(str::to_owned),
    };
    let session = ctx.tokens()?.load()?.is_some();
    if json {
        let v = serde_json::json!({
            "server": account.server(),
            "servers": account.servers,
            "user": account.user,
            "profile": profile,
            "session": session,
        });
        println!("{v}");
    } else {
        let profile = profile.map_or(String::new(), |p| format!(" (profile {p})"));
        let session = if session {
            "logged in"
        } else {
            "not logged in"
        };
        println!(
            "{} on {}{profile}: {session}",
            crate::output::safe(&account.user),
            crate::output::safe(&account.servers_arg())
        );
    }
    Ok(())
}
