//! `convo` with no command: get a session (stored token, or a first-use
//! password prompt before the TUI takes the screen), start the engine, run
//! the TUI until the user quits.

use anyhow::{Result, bail};

use super::Ctx;
use super::account::first_use_login;
use super::session::{Offline, resume_stored};

/// Runs the TUI on this context's account.
pub async fn run(ctx: &Ctx) -> Result<()> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        bail!("the TUI needs a terminal (use a command such as `convo list` in scripts)");
    }
    let (client, events) = ctx.open()?;
    if ctx.local {
        crate::local::ensure_account(ctx, &client).await?;
    } else {
        match resume_stored(ctx, &client).await {
            Ok(()) => {}
            Err(Offline::NoSession) => first_use_login(ctx, &client).await?,
            Err(Offline::Rejected(why)) => {
                eprintln!("convo: the stored session was refused ({why}); log in again");
                ctx.tokens()?.delete()?;
                first_use_login(ctx, &client).await?;
            }
            Err(Offline::Failed(why)) => bail!("{why}"),
            // The TUI works from the local store and keeps reconnecting in the
            // background, so an unreachable server is not a reason to stop.
            Err(Offline::Unreachable(why)) => {
                eprintln!("convo: warning: {why}; starting offline, will keep retrying");
            }
        }
    }
    let keys = crate::ui::keys::KeyMap::from_config(&ctx.config.keys)
        .map_err(|e| anyhow::anyhow!("config.toml [keys]: {e}"))?;
    let opts = crate::ui::TuiOptions {
        user: ctx.user.clone(),
        server: ctx.server()?.to_owned(),
        keys,
        colors: ctx.config.use_colors(),
        bell: ctx.config.notifications.bell,
        osc9: ctx.config.notifications.osc9,
    };
    client.start();
    let result = crate::ui::run(client.clone(), events, opts).await;
    client.stop().await;
    result
}
