//! `send`, `edit`, `redact`: field rules, then the writer-side append:
//! `client_id` dedup, target rules, the sender's read cursor, the push.

use rusqlite::{Connection, OptionalExtension, params};
use sync_core::protocol::{ConvId, EntryKind, ErrorCode, Seq, ServerFrame, validate};

use super::{Ctx, conv};
use crate::error::Reject;
use crate::store::batch::{
    Apply, Batch, Done, NewRow, OpResult, append as append_entry, member_conv, push_message,
    set_read, sql,
};
use crate::store::rows::conv_id;

/// What a client-sent append adds.
#[derive(Debug, Clone)]
enum NewEntry {
    /// `send`.
    Text { body: String },
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
    fn apply(self: Box<Self>, db: &Connection, b: &mut Batch<'_>) -> OpResult {
        client_append(db, b, &self.user, self.conv, &self.client_id, self.entry)
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

/// `send`.
pub fn send(ctx: &Ctx<'_>, c: &ConvId, client_id: String, body: String) -> Reply {
    validate::default_body(&body)?;
    append(ctx, c, client_id, NewEntry::Text { body })
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
    db: &Connection,
    b: &mut Batch<'_>,
    me: &str,
    conv: i64,
    client_id: &str,
    entry: NewEntry,
) -> Result<Done, Reject> {
    let mut c = member_conv(db, me, conv)?;
    let mut stmt = db
        .prepare_cached(
            "SELECT seq, ts FROM entries WHERE conv = ?1 AND sender = ?2 AND client_id = ?3",
        )
        .map_err(sql("prepare dedup"))?;
    let first: Option<(u64, i64)> = stmt
        .query_row(params![conv, me, client_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(sql("dedup lookup"))?;
    if let Some((seq, ts)) = first {
        return Ok(Done::Sent {
            conv: conv_id(conv),
            client_id: client_id.to_owned(),
            seq,
            ts,
        });
    }
    let mut row = NewRow::new(me, EntryKind::Text);
    row.client_id = Some(client_id);
    match &entry {
        NewEntry::Text { body } => row.body = Some(body),
        NewEntry::Edit { target, body } => {
            check_target(db, me, conv, *target)?;
            row.kind = EntryKind::Edit;
            row.target = Some(*target);
            row.body = Some(body);
        }
        NewEntry::Redact { target } => {
            check_target(db, me, conv, *target)?;
            row.kind = EntryKind::Redact;
            row.target = Some(*target);
            // §9.5: erase, do not hide — the text's body and the bodies of
            // its edits are gone from the row (secure_delete overwrites the
            // freed bytes in the file; the WAL keeps an old page image only
            // until the next checkpoint).
            db.execute(
                "UPDATE entries SET redacted = 1, body = NULL WHERE conv = ?1 AND seq = ?2",
                params![conv, target],
            )
            .map_err(sql("erase redacted text"))?;
            db.execute(
                "UPDATE entries SET redacted = 1, body = NULL
                 WHERE conv = ?1 AND kind = 'edit' AND target = ?2",
                params![conv, target],
            )
            .map_err(sql("erase edits of a redacted text"))?;
        }
    }
    let is_text = row.kind == EntryKind::Text;
    let msg = append_entry(db, b, conv, &mut c, row)?;
    if is_text {
        // Sending moves the sender's cursor to the new seq, so a user's own
        // texts never count as unread.
        set_read(db, me, conv, msg.seq)?;
    }
    push_message(db, b, conv, &msg)?;
    Ok(Done::Sent {
        conv: conv_id(conv),
        client_id: client_id.to_owned(),
        seq: msg.seq,
        ts: msg.ts,
    })
}

/// Target rules, in order: missing → not_found; not a text → bad_request;
/// someone else's → forbidden; already redacted → conflict.
fn check_target(db: &Connection, me: &str, conv: i64, target: u64) -> Result<(), Reject> {
    let Ok(target) = i64::try_from(target) else {
        return Err(Reject::new(
            ErrorCode::NotFound,
            format!("no entry {target}"),
        ));
    };
    let mut stmt = db
        .prepare_cached("SELECT kind, sender, redacted FROM entries WHERE conv = ?1 AND seq = ?2")
        .map_err(sql("prepare target"))?;
    let t: Option<(String, String, bool)> = stmt
        .query_row(params![conv, target], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(sql("read target"))?;
    let Some((kind, sender, redacted)) = t else {
        return Err(Reject::new(
            ErrorCode::NotFound,
            format!("no entry {target}"),
        ));
    };
    if kind != "text" {
        return Err(Reject::bad("only text entries can be edited or redacted"));
    }
    if sender != me {
        return Err(Reject::new(
            ErrorCode::Forbidden,
            "only the sender may change a message",
        ));
    }
    if redacted {
        return Err(Reject::new(ErrorCode::Conflict, "the message was redacted"));
    }
    Ok(())
}
