//! `convo sync|list|create-group|read|search`: conversation-level commands.

use anyhow::{Context, Result};

use super::Ctx;
use super::session::{find_target, go_online, require_online};
use crate::output::{self, ConvJson, HitJson, print_json};

/// `convo sync`: catch up and flush, then one summary line.
pub async fn sync(ctx: &Ctx) -> Result<()> {
    let (client, _events) = ctx.open()?;
    // Sent = the queued rows that were acknowledged during this run (the
    // engine's own count is of frames written at connect time, one per
    // conversation, not of messages delivered).
    let queued: Vec<String> = client
        .outbox()
        .context("reading the outbox")?
        .into_iter()
        .filter(|r| !matches!(r.state, sync_core::OutboxState::Failed { .. }))
        .map(|r| r.client_id)
        .collect();
    let report = require_online(ctx, &client).await?;
    let left = client.outbox().context("reading the outbox")?;
    client.stop().await;
    let sent = queued
        .iter()
        .filter(|id| !left.iter().any(|r| &r.client_id == *id))
        .count();
    let failed = left
        .iter()
        .filter(|r| matches!(r.state, sync_core::OutboxState::Failed { .. }))
        .count();
    let failed = if failed > 0 {
        format!(", {failed} failed")
    } else {
        String::new()
    };
    println!(
        "synced {} conversation(s): {} changed, {} message(s) pulled, {sent} sent, {} pending{failed}{}",
        report.conversations,
        report.changed,
        report.pulled_messages,
        left.len(),
        if report.full { " (full listing)" } else { "" }
    );
    Ok(())
}

/// Which conversations `convo list` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Not archived: pinned first, then by activity.
    Main,
    /// Archived only (`--archived`), by activity.
    Archived,
    /// Main, then archived (`--all`).
    All,
}

/// `convo list`: sync first unless `--offline`; on failure fall back to the
/// cached list with one warning line on stderr.
pub async fn list(ctx: &Ctx, json: bool, offline: bool, which: Which) -> Result<()> {
    let (client, _events) = ctx.open()?;
    if !offline && let Err(why) = go_online(ctx, &client).await {
        // The cache is gone with the old server: nothing to fall back to.
        if matches!(why, super::session::Offline::Reset) {
            client.stop().await;
            anyhow::bail!("{}", why.describe(ctx));
        }
        eprintln!(
            "convo: warning: {}; showing the cached list",
            why.describe(ctx)
        );
    }
    let mut rows = Vec::new();
    if which != Which::Archived {
        rows = client.conversations().context("reading conversations")?;
    }
    if which != Which::Main {
        rows.extend(
            client
                .archived_conversations()
                .context("reading conversations")?,
        );
    }
    client.stop().await;
    if json {
        let items: Vec<ConvJson<'_>> = rows.iter().map(ConvJson::from).collect();
        print_json(&items)?;
    } else if rows.is_empty() {
        println!("no conversations");
    } else {
        for r in &rows {
            println!("{}", output::conv_line(r));
        }
    }
    Ok(())
}

/// `convo create-group TITLE USER…`.
pub async fn create_group(ctx: &Ctx, title: &str, users: &[String]) -> Result<()> {
    sync_core::protocol::validate::title(title).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (client, _events) = ctx.open()?;
    require_online(ctx, &client).await?;
    let members: Vec<&str> = users.iter().map(String::as_str).collect();
    let conv = client
        .create_group(title, &members)
        .await
        .context("creating the group")?;
    client.stop().await;
    println!("{conv}");
    Ok(())
}

/// The group TARGET names (a direct conversation has no members to change).
fn group_of(client: &sync_core::Client, target: &str) -> Result<sync_core::ConvRow> {
    let row = find_target(client, target)?;
    if row.kind != sync_core::protocol::ConvKind::Group {
        anyhow::bail!("{} is a direct conversation, not a group", row.conv);
    }
    Ok(row)
}

/// `convo invite TARGET USER…`.
pub async fn invite(ctx: &Ctx, target: &str, users: &[String]) -> Result<()> {
    let (client, _events) = ctx.open()?;
    require_online(ctx, &client).await?;
    let row = group_of(&client, target)?;
    let who: Vec<&str> = users.iter().map(String::as_str).collect();
    let done = client.invite(&row.conv, &who).await;
    client.stop().await;
    done.context("inviting")?;
    println!(
        "invited {} to {}",
        output::safe(&users.join(", ")),
        row.conv
    );
    Ok(())
}

/// `convo leave TARGET`.
pub async fn leave(ctx: &Ctx, target: &str) -> Result<()> {
    let (client, _events) = ctx.open()?;
    require_online(ctx, &client).await?;
    let row = group_of(&client, target)?;
    let done = client.leave(&row.conv).await;
    client.stop().await;
    done.context("leaving")?;
    println!("left {} ({})", row.conv, output::safe(&row.title));
    Ok(())
}

/// `convo rename TARGET TITLE`.
pub async fn rename(ctx: &Ctx, target: &str, title: &str) -> Result<()> {
    sync_core::protocol::validate::title(title).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (client, _events) = ctx.open()?;
    require_online(ctx, &client).await?;
    let row = group_of(&client, target)?;
    let done = client.rename(&row.conv, title).await;
    client.stop().await;
    done.context("renaming")?;
    println!("renamed {} to {}", row.conv, output::safe(title));
    Ok(())
}

/// `convo read TARGET`: moves the read cursor to the newest message and
/// waits until the server has it (the engine queues reads).
pub async fn read(ctx: &Ctx, target: &str) -> Result<()> {
    let (client, _events) = ctx.open()?;
    require_online(ctx, &client).await?;
    let row = find_target(&client, target)?;
    client
        .mark_read(&row.conv, row.last_seq)
        .await
        .context("marking read")?;
    // One more round trip on the same connection: its reply comes after the
    // `read`'s `ok` (replies follow request order across writes,
    // docs/PROTOCOL-NOTES.md), so the server has the cursor before we close.
    // Reconnecting instead left the `read` unanswered on the first connection.
    // (A conversation the user left is read-only: the server has nothing to
    // confirm and answers `not_found` to anything about it.)
    if !row.left {
        client
            .members(&row.conv)
            .await
            .context("confirming the read with the server")?;
    }
    let after = client
        .conversation(&row.conv)
        .context("reading the conversation")?;
    client.stop().await;
    let unread = after.map(|r| r.unread).unwrap_or(0);
    println!(
        "{} read up to #{} ({} unread)",
        row.conv, row.last_seq, unread
    );
    Ok(())
}

/// `convo search TEXT`: searches what the store holds after syncing.
pub async fn search(ctx: &Ctx, text: &str, json: bool, limit: usize) -> Result<()> {
    let (client, _events) = ctx.open()?;
    if let Err(why) = go_online(ctx, &client).await {
        eprintln!(
            "convo: warning: {}; searching the cached messages",
            why.describe(ctx)
        );
    }
    let hits = client.search(text, limit).context("searching")?;
    let mut rows = client.conversations().context("reading conversations")?;
    rows.extend(
        client
            .archived_conversations()
            .context("reading conversations")?,
    );
    client.stop().await;
    let title_of = |conv: &sync_core::protocol::ConvId| -> &str {
        rows.iter()
            .find(|r| &r.conv == conv)
            .map(|r| r.title.as_str())
            .unwrap_or("")
    };
    if json {
        let items: Vec<HitJson<'_>> = hits
            .iter()
            .map(|h| HitJson::new(h, title_of(&h.conv)))
            .collect();
        print_json(&items)?;
    } else if hits.is_empty() {
        println!("no matches");
    } else {
        for h in &hits {
            println!(
                "{:<6} {:<16} #{:<5} {}: {}",
                h.conv.as_str(),
                output::safe(title_of(&h.conv)),
                h.seq,
                output::safe(&h.sender),
                output::safe(&h.body)
            );
        }
    }
    Ok(())
}
