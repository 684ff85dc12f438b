//! `send` (with §9.1 `reply_to`), `edit`, `redact`: field rules, then the
//! writer-side append: `client_id` dedup, target rules, §9.3 mentions, the
//! §9.1 thread aggregates, §9.5 erasure, the sender's read cursor, the push.

use crate::params;
use crate::store::sql::Db;
use sync_core::protocol::{ConvId, EntryKind, ErrorCode, Seq, ServerFrame, validate};

use super::{Ctx, conv};
use crate::error::Reject;
#[cfg(test)]
use crate::store::batch::WriteOp;
use crate::store::batch::{
    Apply, Batch, Done, NewRow, OpResult, Target, first_sent, member_conv, members_of, push_sent,
    set_read, sql, target, try_append,
};
use crate::store::prefetch::TextKey;

/// What a client-sent append adds.
#[derive(Debug, Clone)]
enum NewEntry {
    /// `send`, maybe a reply.
    Text { body: String, reply_to: Option<Seq> },
    /// `edit`.
    Edit { target: Seq, body: String },
    /// `redact`.
    Redact { target: Seq },
}

/// `send`, `edit`, `redact` in the writer.
#[derive(Debug)]
struct Append {
    user: String,
    conv: i64,
    client_id: String,
    entry: NewEntry,
}

impl Apply for Append {
    fn apply(self: Box<Self>, db: &dyn Db, b: &mut Batch<'_>) -> OpResult {
        client_append(db, b, &self.user, self.conv, &self.client_id, self.entry)
    }

    fn text_key(&self) -> Option<TextKey> {
        // A reply reads its target, which may be a text of the same batch
        // still waiting to be written: not on the fast path.
        matches!(self.entry, NewEntry::Text { reply_to: None, .. }).then(|| TextKey {
            user: self.user.clone(),
            conv: self.conv,
            client_id: self.client_id.clone(),
        })
    }
}

type Reply = Result<Option<ServerFrame>, Reject>;

fn append(ctx: &Ctx<'_>, c: &ConvId, client_id: String, entry: NewEntry) -> Reply {
    let conv = conv(c)?;
    validate::client_id(&client_id)?;
    ctx.submit(Append {
        user: ctx.user.to_owned(),
        conv,
        client_id,
        entry,
    })
}

/// The writer op of a plain `send` (tests drive the writer with it).
#[cfg(test)]
pub(crate) fn send_op(user: &str, conv: i64, client_id: &str, body: &str) -> WriteOp {
    WriteOp::new(Append {
        user: user.to_owned(),
        conv,
        client_id: client_id.to_owned(),
        entry: NewEntry::Text {
            body: body.to_owned(),
            reply_to: None,
        },
    })
}

/// An `edit` op, for the writer's tests.
#[cfg(test)]
pub(crate) fn edit_op(user: &str, conv: i64, client_id: &str, target: Seq, body: &str) -> WriteOp {
    WriteOp::new(Append {
        user: user.to_owned(),
        conv,
        client_id: client_id.to_owned(),
        entry: NewEntry::Edit {
            target,
            body: body.to_owned(),
        },
    })
}

/// A `redact` op, for the writer's tests.
#[cfg(test)]
pub(crate) fn redact_op(user: &str, conv: i64, client_id: &str, target: Seq) -> WriteOp {
    WriteOp::new(Append {
        user: user.to_owned(),
        conv,
        client_id: client_id.to_owned(),
        entry: NewEntry::Redact { target },
    })
}

/// `send`; `reply_to` counts only with §9.1 on (else an unknown field).
pub fn send(
    ctx: &Ctx<'_>,
    c: &ConvId,
    client_id: String,
    body: String,
    reply_to: Option<Seq>,
) -> Reply {
    validate::default_body(&body)?;
    let reply_to = reply_to.filter(|_| ctx.shared.features.reply);
    append(ctx, c, client_id, NewEntry::Text { body, reply_to })
}

/// `edit`.
pub fn edit(ctx: &Ctx<'_>, c: &ConvId, client_id: String, target: Seq, body: String) -> Reply {
    validate::default_body(&body)?;
    append(ctx, c, client_id, NewEntry::Edit { target, body })
}

/// `redact`.
pub fn redact(ctx: &Ctx<'_>, c: &ConvId, client_id: String, target: Seq) -> Reply {
    append(ctx, c, client_id, NewEntry::Redact { target })
}

/// Appends a client-sent entry, or returns the first `sent` of a repeated
/// `(sender, conv, client_id)` without appending anything.
fn client_append(
    db: &dyn Db,
    b: &mut Batch<'_>,
    me: &str,
    conv: i64,
    client_id: &str,
    entry: NewEntry,
) -> Result<Done, Reject> {
    // A leading text of the batch is checked against rows read up front.
    debug_assert!(
        b.prefetch.is_none() || matches!(entry, NewEntry::Text { reply_to: None, .. }),
        "only plain texts are on the fast path (Append::text_key)"
    );
    let mut c = match &b.prefetch {
        Some(p) => {
            let c = p.member_conv(me, conv)?;
            if let Some(first) = p.first_sent(me, conv, client_id) {
                return Ok(first);
            }
            c
        }
        _ => member_conv(db, me, conv)?,
    };
    // A repeated plain text is found by its insert (below); a reply, an
    // edit or a redact is looked up first, as its checks would refuse a
    // repeat (§7: a repeat returns the first `sent`, whatever it names).
    if !matches!(entry, NewEntry::Text { reply_to: None, .. })
        && let Some(first) = first_sent(db, me, conv, client_id)?
    {
        return Ok(first);
    }
    let mut row = NewRow::new(me, EntryKind::Text);
    row.client_id = Some(client_id);
    // The text whose mentions an edit adds to (the edit's own target).
    let mut mentions_of = None;
    match &entry {
        NewEntry::Text { body, reply_to } => {
            row.body = Some(body);
            if let Some(to) = reply_to {
                let t = target(db, conv, *to)?;
                if t.kind != EntryKind::Text {
                    return Err(Reject::bad("reply_to must name a text entry"));
                }
                row.reply_to = Some(t.seq);
                row.thread = Some(t.thread.unwrap_or(t.seq));
            }
        }
        NewEntry::Edit { target: to, body } => {
            let t = target(db, conv, *to)?;
            if t.kind != EntryKind::Text {
                return Err(Reject::bad("only text entries can be edited"));
            }
            own_standing(&t, me)?;
            row.kind = EntryKind::Edit;
            row.target = Some(t.seq);
            row.body = Some(body);
            mentions_of = Some(t.seq);
        }
        NewEntry::Redact { target: to } => {
            let t = target(db, conv, *to)?;
            if !matches!(t.kind, EntryKind::Text | EntryKind::Reaction) {
                return Err(Reject::bad(
                    "only text and reaction entries can be redacted",
                ));
            }
            own_standing(&t, me)?;
            row.kind = EntryKind::Redact;
            row.target = Some(t.seq);
            match t.kind {
                EntryKind::Reaction => withdraw_reaction(db, conv, &t)?,
                _ => redact_text(db, b, conv, t.seq)?,
            }
        }
    }
    if b.features.mentions
        && let Some(body) = row.body
    {
        let members = members_of(db, b, conv)?;
        row.mentions = crate::mentions::parse(body, |n| members.contains(n), me);
    }
    let thread = row.thread;
    let is_text = row.kind == EntryKind::Text;
    let Some(msg) = try_append(db, b, conv, &mut c, row)? else {
        return first_sent(db, me, conv, client_id)?.ok_or_else(|| {
            Reject::from(crate::error::StoreError::Corrupt(
                "a client id conflict without its entry".into(),
            ))
        });
    };
    if let Some(text) = mentions_of {
        index_edit_mentions(db, conv, text, &msg.mentions)?;
    }
    if let Some(root) = thread {
        db.execute_later(
            "INSERT INTO thread_stats (conv, root, replies, last_reply_seq) VALUES (?1, ?2, 1, ?3)
             ON CONFLICT (conv, root) DO UPDATE SET replies = thread_stats.replies + 1, last_reply_seq = ?3",
            params![conv, root, msg.seq],
        )
        .map_err(sql("count reply"))?;
    }
    // Sending moves the sender's cursor to the new seq, so a user's own
    // texts never count as unread (the fast path moves it at its end).
    match b.prefetch.as_mut() {
        Some(p) => p.appended(me, conv, client_id, &c, msg.ts),
        None if is_text => {
            // The cursor counts the mention rows it passes: the batch's
            // collected ones that mention the sender are written first.
            if b.mentions.mentions(conv, me) {
                b.mentions.write(db).map_err(sql("write mention rows"))?;
            }
            set_read(db, me, conv, msg.seq)?;
        }
        None => {}
    }
    let done = push_sent(db, b, conv, client_id, &msg)?;
    if mentions_of.is_none() && !msg.mentions.is_empty() {
        // Written with the batch's others (store::mention_rows).
        b.mentions.add(conv, msg.seq, msg.mentions);
    }
    Ok(done)
}

/// Only the sender may change an entry (`forbidden`), and not once it was
/// redacted or withdrawn (`conflict`).
fn own_standing(t: &Target, me: &str) -> Result<(), Reject> {
    if t.sender != me {
        return Err(Reject::new(
            ErrorCode::Forbidden,
            "only the sender may change a message",
        ));
    }
    if t.redacted {
        return Err(Reject::new(ErrorCode::Conflict, "the message was redacted"));
    }
    Ok(())
}

/// §9.3: the mentions an edit adds to its text: a row per (text, user)
/// and a bump of the user's `mention_n` (what a summary's `mentions` is
/// computed from, `mention_n − read_mention_n`), for each user neither the
/// text nor an earlier edit mentions; one added to a text the user has
/// already read counts as read. A new text's rows are written with the
/// batch's (`store::mention_rows`).
fn index_edit_mentions(db: &dyn Db, conv: i64, text: Seq, users: &[String]) -> Result<(), Reject> {
    for u in users {
        let added = db
            .execute(
                "INSERT INTO mentions (conv, seq, \"user\") VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                params![conv, text, u],
            )
            .map_err(sql("index mention"))?;
        if added == 1 {
            db.execute_later(
                "UPDATE members SET mention_n = mention_n + 1,
                    read_mention_n = read_mention_n + CASE WHEN read_seq >= ?3 THEN 1 ELSE 0 END
                 WHERE conv = ?1 AND \"user\" = ?2",
                params![conv, u, text],
            )
            .map_err(sql("count mention"))?;
        }
    }
    Ok(())
}

/// §9.2: a withdrawn reaction no longer stands (its entry stays, flagged)
/// and leaves its text's totals.
fn withdraw_reaction(db: &dyn Db, conv: i64, t: &Target) -> Result<(), Reject> {
    db.execute(
        "UPDATE entries SET redacted = 1 WHERE conv = ?1 AND seq = ?2",
        params![conv, t.seq],
    )
    .map_err(sql("withdraw reaction"))?;
    // A redacted text has no totals left to lower.
    db.execute(
        "UPDATE reaction_counts SET n = n - 1 WHERE conv = ?1 AND target = ?2 AND key = ?3",
        params![conv, t.target, t.key],
    )
    .map_err(sql("lower reaction total"))?;
    db.execute(
        "DELETE FROM reaction_counts WHERE conv = ?1 AND target = ?2 AND key = ?3 AND n <= 0",
        params![conv, t.target, t.key],
    )
    .map_err(sql("drop reaction total"))?;
    Ok(())
}

/// Redacts a text: it stops counting toward `mentions` and carries no
/// reaction totals. Under §9.5 its content and the bodies of its edits are
/// erased, not hidden (secure_delete overwrites the freed bytes in the file;
/// the WAL keeps an old page image only until the next checkpoint); a
/// version 1 server only flags the rows.
fn redact_text(db: &dyn Db, b: &Batch<'_>, conv: i64, text: Seq) -> Result<(), Reject> {
    // It stops counting for everyone it mentions (by itself or an edit).
    db.execute(
        "UPDATE members SET mention_n = mention_n - 1,
            read_mention_n = read_mention_n - CASE WHEN read_seq >= ?2 THEN 1 ELSE 0 END
         WHERE conv = ?1 AND \"user\" IN (SELECT \"user\" FROM mentions WHERE conv = ?1 AND seq = ?2)",
        params![conv, text],
    )
    .map_err(sql("uncount mentions of a redacted text"))?;
    db.execute(
        "DELETE FROM mentions WHERE conv = ?1 AND seq = ?2",
        params![conv, text],
    )
    .map_err(sql("drop mentions of a redacted text"))?;
    let erase = if b.features.redaction {
        ", body = NULL, mentions = NULL"
    } else {
        ""
    };
    db.execute(
        &format!("UPDATE entries SET redacted = 1{erase} WHERE conv = ?1 AND seq = ?2"),
        params![conv, text],
    )
    .map_err(sql("redact text"))?;
    db.execute(
        &format!(
            "UPDATE entries SET redacted = 1{erase} WHERE conv = ?1 AND kind = 'edit' AND target = ?2"
        ),
        params![conv, text],
    )
    .map_err(sql("redact the edits of a text"))?;
    db.execute(
        "DELETE FROM reaction_counts WHERE conv = ?1 AND target = ?2",
        params![conv, text],
    )
    .map_err(sql("drop reaction totals of a redacted text"))?;
    Ok(())
}
