//! `convo send|show|tail`: message-level commands.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use sync_core::protocol::{ConvId, Seq};
use sync_core::{
    Client, Convs, Event, OutboxKind, StartAt, StreamOptions, TimelineItem, TimelineQuery,
};

use super::Ctx;
use super::session::{find_target, go_online, require_online};
use crate::output::{self, ItemJson, print_json};

/// How long `send` waits for the server's `sent`.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// Finds TARGET; `@user` creates the direct conversation when it is not held
/// yet (which needs the connection `online` says we have).
/// `create`: only `send` creates a direct conversation; `show` never does
/// (the other user would see an empty conversation appear).
async fn resolve(client: &Client, target: &str, online: bool, create: bool) -> Result<ConvId> {
    if let Some(row) = super::session::lookup(client, target)? {
        return Ok(row.conv);
    }
    if let Some(user) = target.strip_prefix('@') {
        if !create {
            bail!(
                "no direct conversation with {} (`convo send @{}` starts one)",
                output::safe(user),
                output::safe(user)
            );
        }
        if !online {
            bail!(
                "no direct conversation with {} yet, and the server is unreachable",
                output::safe(user)
            );
        }
        return client
            .create_direct(user)
            .await
            .with_context(|| format!("opening a direct conversation with {}", output::safe(user)));
    }
    bail!("no conversation {:?}", output::safe(target))
}

/// What `convo send` did, printed by [`Sent::print`].
#[derive(Debug)]
pub enum Sent {
    /// The server stored it as `seq` (a reply to `reply_to`).
    Stored {
        conv: ConvId,
        seq: Seq,
        reply_to: Option<Seq>,
    },
    /// Queued in the outbox (`--no-wait`).
    Queued { conv: ConvId, client_id: String },
}

impl Sent {
    /// A line (`sent to c1 as #43`), or one JSON object with `json`.
    pub fn print(&self, json: bool) -> Result<()> {
        match (self, json) {
            (
                Sent::Stored {
                    conv,
                    seq,
                    reply_to,
                },
                true,
            ) => {
                let mut v = serde_json::json!({"conv": conv, "seq": seq});
                if let Some(r) = reply_to {
                    v["reply_to"] = serde_json::json!(r);
                }
                print_json(&v)
            }
            (Sent::Queued { conv, client_id }, true) => print_json(&serde_json::json!({
                "conv": conv, "seq": null, "client_id": client_id, "state": "pending"
            })),
            (
                Sent::Stored {
                    conv,
                    seq,
                    reply_to,
                },
                false,
            ) => {
                match reply_to {
                    Some(r) => println!("sent to {conv} as #{seq} (reply to #{r})"),
                    None => println!("sent to {conv} as #{seq}"),
                }
                Ok(())
            }
            (Sent::Queued { conv, client_id }, false) => {
                println!("queued in {conv} ({client_id})");
                Ok(())
            }
        }
    }
}

/// `convo send TARGET TEXT [--no-wait]`.
pub async fn send(ctx: &Ctx, target: &str, text: &str, no_wait: bool) -> Result<Sent> {
    let (client, mut events) = ctx.open()?;
    super::body::check(&client, text)?;
    if no_wait {
        // Queue without waiting for anything: the outbox row is durable and
        // the next connection (any command or the TUI) flushes it. Only go
        // online when the target is not known locally.
        let online = if super::session::lookup(&client, target)?.is_none() {
            go_online(ctx, &client).await.is_ok()
        } else {
            false
        };
        let conv = resolve(&client, target, online, true).await?;
        let client_id = client
            .send(&conv, text)
            .await
            .context("queueing the message")?;
        client.stop().await;
        return Ok(Sent::Queued { conv, client_id });
    }
    // Without --no-wait, `send` delivers or fails: with the server out of
    // reach nothing is queued, and the error says so (docs/CLI.md).
    if let Err(why) = go_online(ctx, &client).await {
        client.stop().await;
        bail!(
            "{}; nothing was queued (`convo send --no-wait` queues it to go out with the next connection)",
            why.describe(ctx)
        );
    }
    let conv = resolve(&client, target, true, true).await?;
    let seq = match client.send_and_wait(&conv, text, SEND_TIMEOUT).await {
        Ok(seq) => seq,
        Err(e @ sync_core::Error::NotStored(_)) => {
            client.stop().await;
            bail!(
                "{e}; the server did not confirm the message in time, so it may not have \
                 arrived, and nothing is queued to retry it (see `convo show {target}`)"
            );
        }
        Err(e @ sync_core::Error::SendTimeout { .. }) => {
            return Err(e)
                .context("sending (the message stays queued and goes out on the next connection)");
        }
        Err(e @ sync_core::Error::Invalid { .. }) => {
            return Err(e).context("sending (nothing was queued)");
        }
        Err(e) => return Err(e).context("sending"),
    };
    client.stop().await;
    warn_not_stored(&mut events);
    Ok(Sent::Stored {
        conv,
        seq,
        reply_to: None,
    })
}

/// `convo edit TARGET SEQ TEXT`: waits for the server like `send`; an edit
/// the server refuses (not my text, no such text) is reported and not kept.
pub async fn edit(ctx: &Ctx, target: &str, seq: Seq, text: &str) -> Result<()> {
    let (client, _events) = ctx.open()?;
    super::body::check(&client, text)?;
    require_online(ctx, &client).await?;
    let conv = find_target(&client, target)?.conv;
    let result = client.edit_and_wait(&conv, seq, text, SEND_TIMEOUT).await;
    super::v11::discard_if_refused(
        &client,
        &result,
        |k| matches!(k, OutboxKind::Edit { target } if *target == seq),
    )
    .await;
    client.stop().await;
    let entry = result.with_context(|| format!("editing #{seq}"))?;
    println!("edited #{seq} in {conv} (#{entry})");
    Ok(())
}

/// `convo delete TARGET SEQ`: waits for the server; says whether the
/// content is erased for everyone (a server with §9.5 `redaction`) or may
/// remain on the server.
pub async fn delete(ctx: &Ctx, target: &str, seq: Seq) -> Result<()> {
    let (client, _events) = ctx.open()?;
    require_online(ctx, &client).await?;
    let conv = find_target(&client, target)?.conv;
    let result = client.redact_and_wait(&conv, seq, SEND_TIMEOUT).await;
    super::v11::discard_if_refused(
        &client,
        &result,
        |k| matches!(k, OutboxKind::Redact { target } if *target == seq),
    )
    .await;
    let erased = client.supports(sync_core::protocol::features::REDACTION);
    client.stop().await;
    let entry = result.with_context(|| format!("deleting #{seq}"))?;
    let what = if erased {
        "the content is erased for everyone"
    } else {
        "the content may remain on the server (it does not support real deletion)"
    };
    println!("deleted #{seq} in {conv} (#{entry}): {what}");
    Ok(())
}

/// Says on stderr when the store could not keep what was done (a full
/// disk): the server has it, this device does not.
fn warn_not_stored(events: &mut sync_core::Events) {
    let mut said = std::collections::BTreeSet::new();
    while let Some(e) = events.try_recv() {
        if let sync_core::Event::Error(sync_core::ErrorEvent::Store(why)) = e
            && said.insert(why.clone())
        {
            eprintln!("convo: warning: not saved on this device: {why}");
        }
    }
}

/// What a timeline window holds: (held messages, a gap inside it, oldest seq).
fn coverage(items: &[TimelineItem]) -> (usize, bool, Option<u64>) {
    let mut held = 0;
    let mut gap = false;
    let mut oldest: Option<u64> = None;
    for it in items {
        match it {
            TimelineItem::Message(m) => {
                held += 1;
                oldest = Some(oldest.map_or(m.seq, |o| o.min(m.seq)));
            }
            TimelineItem::Gap { .. } => gap = true,
            TimelineItem::Pending(_) => {}
        }
    }
    (held, gap, oldest)
}

/// `convo show TARGET [--limit N] [--json]`: loads pages (newest missing
/// stretch first) only as far as needed to show the newest N messages.
pub async fn show(ctx: &Ctx, target: &str, limit: u32, json: bool, raw: bool) -> Result<()> {
    let (client, _events) = ctx.open()?;
    let offline = match go_online(ctx, &client).await {
        Ok(_) => None,
        // The cache is gone with the old server: nothing to show.
        Err(reset @ super::session::Offline::Reset) => bail!("{}", reset.describe(ctx)),
        Err(why) => Some(why.describe(ctx)),
    };
    let online = offline.is_none();
    let conv = match resolve(&client, target, online, false).await {
        Ok(conv) => conv,
        // One line: why there is nothing to show, and why the server could not help.
        Err(e) => match &offline {
            Some(why) => bail!("{e:#} (and {why})"),
            None => return Err(e),
        },
    };
    if let Some(why) = &offline {
        eprintln!("convo: warning: {why}; showing cached messages");
    }
    let query = TimelineQuery::Latest {
        limit: limit as usize,
    };
    let mut items = client
        .timeline(&conv, query)
        .context("reading the timeline")?;
    if online && !super::session::has_left(&client, &conv)? {
        // Each round fills one hole (newest first) or loads one older page;
        // stop when the window is complete, or when a round changes nothing
        // (never loop forever). Every hole inside the window gets filled:
        // a window with silent holes is never printed.
        loop {
            let (held, gap, oldest) = coverage(&items);
            if !gap && (held >= limit as usize || oldest.is_none_or(|o| o <= 1)) {
                break;
            }
            client
                .load_older(&conv)
                .await
                .context("loading older messages")?;
            let next = client
                .timeline(&conv, query)
                .context("reading the timeline")?;
            let unchanged = coverage(&next) == coverage(&items);
            items = next;
            if unchanged {
                break;
            }
        }
    }
    client.stop().await;
    print_items(ctx, &conv, &items, json, raw)
}

fn print_items(
    ctx: &Ctx,
    conv: &ConvId,
    items: &[TimelineItem],
    json: bool,
    raw: bool,
) -> Result<()> {
    if json {
        // Holes the store could not fill (offline, refused) are explicit items.
        return print_json(&super::v11::items_json(ctx, conv, items)?);
    }
    for it in items {
        println!("{}", output::annotated_text(it, items, raw));
    }
    Ok(())
}

/// `convo tail [TARGET] [--json] [--consumer NAME]`: messages by others as
/// they arrive, until Ctrl-C (or until the session is revoked). Built on a
/// sync-core stream: what arrives while the connection is down (direct or
/// group) is printed once, in order, after the catch-up. With `--consumer`,
/// the position is stored and the next run resumes where this one stopped.
pub async fn tail(
    ctx: &Ctx,
    target: Option<&str>,
    json: bool,
    consumer: Option<&str>,
) -> Result<()> {
    let (client, mut events) = ctx.open()?;
    require_online(ctx, &client).await?;
    let convs = match target {
        Some(t) => Convs::Only(vec![find_target(&client, t)?.conv]),
        None => Convs::All,
    };
    let opts = StreamOptions {
        convs,
        from: if consumer.is_some() {
            StartAt::Stored
        } else {
            StartAt::Now
        },
        // New messages: a group joined meanwhile starts at the invite, not
        // with its history.
        since_joined: true,
        ..StreamOptions::texts()
    };
    let mut stream = match consumer {
        Some(name) => client.stream(name, opts).await,
        None => client.stream_ephemeral(opts).await,
    }
    .context("starting the message stream")?;
    // Said on stderr so scripts reading stdout see only messages, and so a
    // caller knows from when on nothing is missed.
    eprintln!("convo: tailing new messages (Ctrl-C to stop)");
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            _ = &mut interrupted => break,
            item = stream.next() => {
                let item = item.context("reading the message stream")?;
                print_tail_item(&item, json)?;
                // Printed, then acked: a killed run prints it again (at-least-once).
                stream.ack(&item).await.context("storing the tail position")?;
            }
            // Events only matter for a revoked session; a slow reader
            // drops nothing here (the stream reads the store).
            ev = events.recv() => match ev {
                None => break,
                Some(Event::Connection(sync_core::ConnState::LoggedOut)) => {
                    client.stop().await;
                    bail!("{}", ctx.login_hint());
                }
                Some(_) => {}
            }
        }
    }
    client.stop().await;
    Ok(())
}

fn print_tail_item(item: &sync_core::StreamItem, json: bool) -> Result<()> {
    let m = &item.message;
    if json {
        let mut line = ItemJson::held(item.conv.as_str(), m);
        line.arrival = Some(match item.arrival {
            sync_core::Arrival::Live => "live",
            sync_core::Arrival::CatchUp => "catch_up",
        });
        return print_json(&line);
    }
    let body = if m.redacted {
        "(deleted)"
    } else {
        m.body.as_deref().unwrap_or(m.kind.as_str())
    };
    println!(
        "{} #{} {}: {}",
        item.conv,
        m.seq,
        output::safe(&m.sender),
        output::safe(body)
    );
    Ok(())
}
