//! `convo status [--json]`: connect (resume the stored session, catch up)
//! and say which server URL answered, for a `--server URL1,URL2` list
//! that fails over.

use anyhow::{Result, bail};

use super::Ctx;
use super::session::{Offline, go_online};

/// Connects, then prints the account, the URL in use and the state. Exit
/// 1 (with the reason on stderr) when no URL could be used; with `--json`
/// the object is printed first, its `server` null and `error` set.
pub async fn status(ctx: &Ctx, json: bool) -> Result<()> {
    // `--local`: the in-process server, which `account` leaves out (it is
    // no account to remember) but which is the one in use.
    let local = (ctx.local && !ctx.servers.is_empty()).then(|| crate::accounts::Account {
        servers: ctx.servers.clone(),
        user: ctx.user.clone(),
    });
    let Some(account) = ctx.account().or(local) else {
        bail!(
            "no account: run `convo login --server ws://HOST:PORT/v1 --user NAME` (or use --local)"
        );
    };
    // An account never logged in here is reported like any other without a
    // session, and gets no empty store.
    let (in_use, server_id, pending, error) = if ctx.is_known()? {
        let (client, _events) = ctx.open_or_create()?;
        let online = go_online(ctx, &client).await;
        let in_use = online.is_ok().then(|| client.current_url());
        let server_id = client.server_id().ok().flatten();
        let pending = client.outbox().map(|o| o.len()).unwrap_or_default();
        client.stop().await;
        let error = online.as_ref().err().map(|why| why.describe(ctx));
        (in_use, server_id, pending, error)
    } else {
        (None, None, 0, Some(Offline::NoSession.describe(ctx)))
    };
    if json {
        crate::output::print_json(&serde_json::json!({
            "server": in_use,
            "servers": account.servers,
            "user": account.user,
            "state": if error.is_none() { "live" } else { "offline" },
            "server_id": server_id,
            "pending": pending,
            "error": error,
        }))?;
    } else if let Some(url) = &in_use {
        println!(
            "{} on {}: live ({pending} pending)",
            crate::output::safe(&account.user),
            crate::output::safe(url)
        );
    }
    match error {
        Some(why) => bail!("{why}"),
        None => Ok(()),
    }
}
