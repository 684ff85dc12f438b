//! `convo` with no command: resume the stored session (or, on first use, let
//! the TUI ask for the password), start the engine, run the TUI until the
//! user quits.

use std::sync::Arc;

use anyhow::{Result, bail};
use sync_core::Client;

use super::Ctx;
use super::session::{Offline, is_auth_failure, is_conflict, resume_stored};
use crate::token::Secret;
use crate::ui::engine::LoginHook;

/// Runs the TUI on this context's account.
pub async fn run(ctx: &Ctx, local_peers: Option<crate::ui::engine::LocalPeers>) -> Result<()> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        bail!("the TUI needs a terminal (use a command such as `convo list` in scripts)");
    }
    let (client, events) = ctx.open_or_create()?;
    // `--local` accounts log in with their generated password; everyone else
    // types it into the TUI when there is no session or the server ends it.
    let login = (!ctx.local).then(|| login_hook(ctx, &client)).transpose()?;
    let mut login_now = false;
    let mut startup_notice = None;
    if ctx.local {
        crate::local::ensure_account(ctx, &client).await?;
    } else {
        match resume_stored(ctx, &client).await {
            Ok(()) => {}
            // First use: the TUI opens on a password prompt (it shows the
            // cached store, if any, behind it).
            Err(Offline::NoSession) => login_now = true,
            Err(Offline::Rejected(why)) => {
                ctx.tokens()?.delete()?;
                eprintln!("convo: the stored session was refused ({why}); log in again");
                login_now = true;
            }
            Err(Offline::Failed(why)) => bail!("{why}"),
            Err(reset @ Offline::Reset) => {
                startup_notice = Some(reset.describe(ctx));
                login_now = true;
            }
            // The TUI works from the local store and keeps reconnecting in the
            // background, so an unreachable server is not a reason to stop.
            Err(Offline::Unreachable(why)) => {
                eprintln!("convo: warning: {why}; starting offline, will keep retrying");
            }
        }
    }
    // ws:// across a network: said on stderr by `open`, and in the status
    // line (the TUI covers the terminal).
    if startup_notice.is_none()
        && let Some(server) = ctx
            .servers
            .iter()
            .find(|s| s.starts_with("ws://") && !sync_core::client::is_loopback_url(s))
    {
        startup_notice = Some(format!(
            "{server} is not encrypted (ws://): the token and messages cross the network in clear text"
        ));
    }
    let keys = crate::ui::keys::KeyMap::from_config(&ctx.config.keys)
        .map_err(|e| anyhow::anyhow!("config.toml [keys]: {e}"))?;
    let opts = crate::ui::TuiOptions {
        user: ctx.user.clone(),
        server: ctx.server()?.to_owned(),
        keys,
        colors: ctx.config.use_colors(),
        hyperlinks: ctx
            .config
            .hyperlinks
            .enabled(std::env::var("TERM").ok().as_deref()),
        bell: ctx.config.notifications.bell,
        osc9: ctx.config.notifications.osc9,
        login,
        login_now,
        account: Some(account_hooks(ctx, &client)?),
        local_peers,
        startup_notice,
        startup_info: ctx.local.then(|| {
            let url = ctx.servers.first().map_or("", String::as_str);
            format!("local server on {url}: others join with: convo --server {url} --user NAME")
        }),
        drafts_file: Some(
            ctx.paths
                .store(ctx.server_key()?, &ctx.user)
                .with_extension("drafts.json"),
        ),
    };
    client.start();
    let result = crate::ui::run(client.clone(), events, opts).await;
    client.stop().await;
    result
}

/// `/passwd` and `/logout [all]` in the TUI, with the same token handling as
/// `convo passwd` and `convo logout [--all]`.
fn account_hooks(ctx: &Ctx, client: &Client) -> Result<crate::ui::engine::AccountHooks> {
    let tokens = ctx.tokens()?;
    let server = ctx.server()?.to_owned();
    let user = ctx.user.clone();
    let (data, account) = (ctx.paths.data.clone(), ctx.account());
    let passwd = {
        let (client, tokens, server, user) =
            (client.clone(), tokens.clone(), server.clone(), user.clone());
        Arc::new(
            move |old: String, new: String| -> crate::ui::engine::BoxFut<String> {
                let (client, tokens, server, user) =
                    (client.clone(), tokens.clone(), server.clone(), user.clone());
                Box::pin(async move {
                    match client.change_password(&old, &new).await {
                        Ok(()) => {
                            // --local keeps its generated password with the token.
                            if let Ok(Some(mut secret)) = tokens.load()
                                && secret.password.is_some()
                            {
                                secret.password = Some(new);
                                tokens.save(&secret).map_err(|e| format!("{e:#}"))?;
                            }
                            Ok(format!(
                                "changed the password of {user} on {server}; your other devices were signed out"
                            ))
                        }
                        Err(sync_core::Error::Server {
                            code: sync_core::protocol::ErrorCode::Unauthorized,
                            ..
                        }) => Err("the current password is wrong; nothing was changed".into()),
                        Err(e) => Err(e.to_string()),
                    }
                })
            },
        )
    };
    let logout = {
        let client = client.clone();
        Arc::new(move |all: bool| -> crate::ui::engine::BoxFut<String> {
            let (client, tokens, server, user, data, account) = (
                client.clone(),
                tokens.clone(),
                server.clone(),
                user.clone(),
                data.clone(),
                account.clone(),
            );
            Box::pin(async move {
                let done = if all {
                    client.logout_all().await
                } else {
                    client.logout().await
                };
                done.map_err(|e| e.to_string())?;
                tokens.delete().map_err(|e| format!("{e:#}"))?;
                if let Some(account) = account {
                    let mut accounts =
                        crate::accounts::Accounts::load(&data).map_err(|e| format!("{e:#}"))?;
                    if accounts.forget(&account) {
                        accounts.save(&data).map_err(|e| format!("{e:#}"))?;
                    }
                }
                Ok(if all {
                    format!("logged out {user} from {server} on every device")
                } else {
                    format!("logged out {user} from {server}")
                })
            })
        })
    };
    Ok(crate::ui::engine::AccountHooks { passwd, logout })
}

/// How long the log-in box waits for the server before saying it cannot reach it.
const LOGIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The TUI's log-in: `login` (or `register`) with the typed password, then the
/// token goes to the keyring or the token file, like `convo login` does.
fn login_hook(ctx: &Ctx, client: &Client) -> Result<LoginHook> {
    let tokens = ctx.tokens()?;
    let (client, user, server) = (client.clone(), ctx.user.clone(), ctx.server()?.to_owned());
    let remember = (ctx.paths.data.clone(), ctx.profile.clone(), ctx.account());
    Ok(LoginHook(Arc::new(
        move |password: String, register: bool, invite: Option<String>| {
            let (client, tokens, user, server) =
                (client.clone(), tokens.clone(), user.clone(), server.clone());
            let (data, profile, account) = remember.clone();
            Box::pin(async move {
                let request = async {
                    if register {
                        client
                            .register_with_invite(&user, &password, invite.as_deref())
                            .await
                    } else {
                        client.login(&user, &password).await
                    }
                };
                // An unreachable server (a mistyped URL) must not look like a hang.
                let Ok(result) = tokio::time::timeout(LOGIN_TIMEOUT, request).await else {
                    return Err(format!(
                        "no answer from {server} within {} s: check the URL and that the server is running",
                        LOGIN_TIMEOUT.as_secs()
                    ));
                };
                let session = match result {
                    Ok(s) => s,
                    // The server gives one answer for "no such user" and "wrong
                    // password", so offer both ways out.
                    Err(e) if is_auth_failure(&e) => {
                        return Err(format!("refused: wrong password, or no user {user} yet"));
                    }
                    // An invite-only server: ask for the code (the box grows a field).
                    Err(sync_core::Error::Server {
                        code: sync_core::protocol::ErrorCode::Forbidden,
                        message,
                        ..
                    }) if register && message.contains("invite") => {
                        if invite.is_none() && message.contains("needs an invite code") {
                            return Err(format!(
                                "{}{server} needs an invite code to register",
                                crate::ui::engine::NEEDS_INVITE
                            ));
                        }
                        return Err(format!("{message}: check the code"));
                    }
                    Err(sync_core::Error::Server {
                        code: sync_core::protocol::ErrorCode::Forbidden,
                        message,
                        ..
                    }) if register && message == "registration is disabled" => {
                        return Err(format!(
                            "registration is closed on {server}: ask its administrator for an account"
                        ));
                    }
                    // Refused, no such host, TLS: said at once, not after a wait.
                    Err(sync_core::Error::Connect { cause, .. }) => {
                        return Err(format!(
                            "cannot reach {server} ({cause}): check the URL and that the server is running"
                        ));
                    }
                    Err(e) if is_conflict(&e) => {
                        return Err(format!(
                            "{user} already exists on {server}: check the password"
                        ));
                    }
                    Err(e) => return Err(e.to_string()),
                };
                let notice = tokens
                    .save_noting(&Secret {
                        token: session.token,
                        password: None,
                    })
                    .map_err(|e| format!("{e:#}"))?;
                if let Some(account) = account {
                    super::account::remember_account(&data, &profile, account)
                        .map_err(|e| format!("{e:#}"))?;
                }
                let done = if register { "registered" } else { "logged in" };
                Ok(match notice {
                    Some(n) => format!("{done} as {user}; {n}"),
                    None => format!("{done} as {user} on {server}"),
                })
            }) as crate::ui::engine::BoxFut<String>
        },
    )))
}
