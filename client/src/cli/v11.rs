//! `convo react|thread|settings` and `send --reply-to`: the protocol 1.1
//! (§9) commands. Each needs the server to list its feature in
//! `hello.features`; against one that does not it fails with
//! [`NotSupported`], which `main` maps to its own exit code (3).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use sync_core::protocol::{ConvId, Seq, features};
use sync_core::{Client, ConvRow, Notify, OutboxKind, OutboxState, SettingsChange, TimelineItem};

use super::Ctx;
use super::messages::Sent;
use super::session::{find_target, require_online};
use crate::output::{self, ItemJson, print_json};

/// How long `react` waits for the server's `sent` (as `send`).
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// Exit code of a command the server does not support (docs/CLI.md).
pub const EXIT_UNSUPPORTED: u8 = 3;

/// The server does not list the §9 feature a command needs.
#[derive(Debug)]
pub struct NotSupported {
    /// The `hello.features` name.
    pub feature: &'static str,
}

impl std::fmt::Display for NotSupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.feature {
            features::REPLY => "replies and threads",
            features::REACTIONS => "reactions",
            features::SETTINGS => "conversation settings",
            features::ACCOUNT => "password changes and signing out everywhere",
            other => other,
        };
        write!(
            f,
            "the server does not support {what} (protocol 1.1 `{}` is not in its hello.features); nothing was changed",
            self.feature
        )
    }
}

impl std::error::Error for NotSupported {}

/// True when `e` says a §9 feature is missing (ours or sync-core's error):
/// `main` exits with [`EXIT_UNSUPPORTED`] then.
pub fn is_unsupported(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<NotSupported>()
            || matches!(
                c.downcast_ref::<sync_core::Error>(),
                Some(sync_core::Error::Unsupported(_))
            )
    })
}

/// Fails with [`NotSupported`] (after stopping the client) unless the
/// server just reached lists `feature`.
async fn ensure(client: &Client, feature: &'static str) -> Result<()> {
    if client.supports(feature) {
        return Ok(());
    }
    client.stop().await;
    Err(NotSupported { feature }.into())
}

/// `convo send TARGET --reply-to SEQ TEXT [--no-wait]`: waits for `sent`
/// like `send` (a reply the server refuses is not kept), or only queues it.
/// TARGET must be a held conversation (a reply needs the text it answers).
pub async fn send_reply(
    ctx: &Ctx,
    target: &str,
    reply_to: Seq,
    text: &str,
    no_wait: bool,
) -> Result<Sent> {
    let (client, _events) = ctx.open()?;
    super::body::check(&client, text)?;
    if no_wait {
        // Queued without a connection, like `send --no-wait`. A server known
        // (from an earlier run) to lack `reply` refuses it here; before any
        // server was reached the row is queued and fails if it lacks it.
        let conv = find_target(&client, target)?.conv;
        let queued = client.send_reply(&conv, reply_to, text).await;
        client.stop().await;
        let client_id = queued.context("queueing the reply")?;
        return Ok(Sent::Queued { conv, client_id });
    }
    require_online(ctx, &client).await?;
    ensure(&client, features::REPLY).await?;
    let conv = find_target(&client, target)?.conv;
    let result = client
        .send_reply_and_wait(&conv, reply_to, text, SEND_TIMEOUT)
        .await;
    discard_if_refused(
        &client,
        &result,
        |k| matches!(k, OutboxKind::Reply { reply_to: r } if *r == reply_to),
    )
    .await;
    client.stop().await;
    let seq = result.with_context(|| format!("replying to #{reply_to}"))?;
    Ok(Sent::Stored {
        conv,
        seq,
        reply_to: Some(reply_to),
    })
}

/// `convo react TARGET SEQ KEY [--remove]`.
pub async fn react(ctx: &Ctx, target: &str, seq: Seq, key: &str, remove: bool) -> Result<()> {
    let (client, _events) = ctx.open()?;
    require_online(ctx, &client).await?;
    ensure(&client, features::REACTIONS).await?;
    let conv = find_target(&client, target)?.conv;
    // `:tada:` is 🎉 here as in the TUI's picker and `/react`.
    let key = &crate::ui::features::canonical_key(key);
    let result = if remove {
        client
            .unreact_and_wait(&conv, seq, key, SEND_TIMEOUT)
            .await
            .map_err(|e| match e {
                sync_core::Error::Invalid { field: "key", .. } => anyhow::anyhow!(
                    "you have no {} reaction on #{seq} in {conv}; nothing was removed",
                    output::safe(key)
                ),
                other => anyhow::Error::new(other).context("removing the reaction"),
            })
    } else {
        client
            .react_and_wait(&conv, seq, key, SEND_TIMEOUT)
            .await
            .context("reacting")
    };
    discard_if_refused(&client, &result, |k| match k {
        OutboxKind::React { target, key: k } => *target == seq && k == key,
        OutboxKind::Redact { .. } => remove,
        _ => false,
    })
    .await;
    client.stop().await;
    let entry = result?;
    let done = if remove { "removed" } else { "reacted" };
    println!(
        "{done} {} on #{seq} in {conv} (#{entry})",
        output::safe(key)
    );
    Ok(())
}

/// `convo thread TARGET SEQ [--json]`: loads the whole thread, then prints
/// the root and its replies (gaps it could not fill, pending replies).
pub async fn thread(ctx: &Ctx, target: &str, root: Seq, json: bool, raw: bool) -> Result<()> {
    let (client, _events) = ctx.open()?;
    require_online(ctx, &client).await?;
    ensure(&client, features::REPLY).await?;
    let conv = find_target(&client, target)?.conv;
    let window = load(&client, &conv, root).await;
    // SEQ may be a reply: its thread is its root's.
    let window = match window {
        Ok(w) => match w.root.as_ref().and_then(|r| r.thread) {
            Some(up) if up != root => load(&client, &conv, up).await,
            _ => Ok(w),
        },
        Err(e) => Err(e),
    };
    client.stop().await;
    let window = window?;
    let Some(root_msg) = window.root else {
        bail!("no text #{root} in {conv}");
    };
    let mut items = vec![TimelineItem::Message(root_msg)];
    items.extend(window.items);
    if json {
        return print_json(&items_json(ctx, &conv, &items)?);
    }
    for it in &items {
        println!("{}", output::annotated_text(it, &items, raw));
    }
    Ok(())
}

/// When `result` (of a command that waited for the server) failed, drops
/// the rows of this command the server refused for good (the error is
/// reported, and the run ends: a failed row would only clutter `show`).
pub(super) async fn discard_if_refused<T, E>(
    client: &Client,
    result: &Result<T, E>,
    ours: impl Fn(&OutboxKind) -> bool,
) {
    if result.is_ok() {
        return;
    }
    let Ok(rows) = client.outbox() else { return };
    for r in rows {
        if matches!(r.state, OutboxState::Failed { .. }) && ours(&r.kind) {
            let _ = client.discard(&r.client_id).await;
        }
    }
}

/// Loads the thread of `root` whole, then reads it.
/// A group left: the server refuses it to a former member, so the thread
/// is what is held (its holes shown as such).
async fn load(client: &Client, conv: &ConvId, root: Seq) -> Result<sync_core::ThreadWindow> {
    if !super::session::has_left(client, conv)? {
        client
            .load_thread(conv, root)
            .await
            .with_context(|| format!("loading the thread of #{root}"))?;
    }
    client.thread(conv, root).context("reading the thread")
}

/// JSON values of timeline items, as `show --json` prints them.
pub fn items_json(
    ctx: &Ctx,
    conv: &ConvId,
    items: &[TimelineItem],
) -> Result<Vec<serde_json::Value>> {
    Ok(items
        .iter()
        .map(|it| match it {
            TimelineItem::Message(m) => serde_json::to_value(ItemJson::held(conv.as_str(), m)),
            TimelineItem::Pending(o) => {
                serde_json::to_value(ItemJson::pending(conv.as_str(), &ctx.user, o))
            }
            TimelineItem::Gap { from, to } => {
                Ok(serde_json::json!({ "gap": { "from": from, "to": to } }))
            }
        })
        .collect::<Result<Vec<_>, _>>()?)
}

/// What `convo settings` prints.
#[derive(Debug, Serialize)]
struct SettingsJson<'a> {
    conv: &'a str,
    title: &'a str,
    notify: &'static str,
    pinned: bool,
    archived: bool,
}

/// `convo settings TARGET [--notify …] [--pin|--unpin] [--archive|--unarchive]`:
/// changes the given settings (all of this user's devices follow), then
/// prints the current ones.
pub async fn settings(ctx: &Ctx, target: &str, change: SettingsChange, json: bool) -> Result<()> {
    let (client, _events) = ctx.open()?;
    require_online(ctx, &client).await?;
    ensure(&client, features::SETTINGS).await?;
    let conv = find_target(&client, target)?.conv;
    if !change.is_empty() {
        let set = client.set_settings(&conv, change).await;
        if let Err(e) = set {
            client.stop().await;
            return Err(anyhow::Error::new(e).context("changing the settings"));
        }
    }
    let row = client
        .conversation(&conv)
        .context("reading the conversation");
    client.stop().await;
    let row: ConvRow = row?.with_context(|| format!("no conversation {conv}"))?;
    if json {
        return print_json(&SettingsJson {
            conv: row.conv.as_str(),
            title: &row.title,
            notify: row.notify.as_str(),
            pinned: row.pinned,
            archived: row.archived,
        });
    }
    println!(
        "{} {}: notify {}, {}, {}",
        row.conv,
        output::safe(&row.title),
        row.notify.as_str(),
        if row.pinned { "pinned" } else { "not pinned" },
        if row.archived {
            "archived"
        } else {
            "not archived"
        }
    );
    Ok(())
}

/// Parses `--notify`.
pub fn parse_notify(s: &str) -> Result<Notify, String> {
    Notify::parse(s).ok_or_else(|| format!("{s:?} is not one of all, mentions, none"))
}
