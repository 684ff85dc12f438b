//! Request handlers, one module per request family. Each parses the decoded
//! request, defines the ops the writer applies for it
//! ([`crate::store::batch::Apply`]), and either returns its reply frame,
//! returns `None` when the writer thread replies after commit, or returns a
//! [`Reject`]. This file only routes.

pub mod conversations;
pub mod react;
pub mod read;
pub mod send;
pub mod session;
pub mod settings;
pub mod sync;
pub mod timeline;

use sync_core::protocol::{ClientFrame, ConvId, RequestId, ServerFrame};

use crate::connection::Outbox;
use crate::error::Reject;
use crate::state::Shared;
use crate::store::batch::WriteOp;
use crate::store::rows::parse_conv;

/// Who is asking, and where replies go.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub user: &'a str,
    pub conn_id: u64,
    pub outbox: &'a Outbox,
    pub re: RequestId,
}

impl Ctx<'_> {
    /// Queues `op`; the writer replies after commit.
    pub fn submit(&self, op: impl Into<WriteOp>) -> Result<Option<ServerFrame>, Reject> {
        self.shared
            .store
            .submit(op, self.conn_id, self.outbox.clone(), self.re)?;
        Ok(None)
    }
}

/// A conversation id this server issued, else `not_found`.
pub fn conv(c: &ConvId) -> Result<i64, Reject> {
    parse_conv(c).ok_or_else(Reject::no_conv)
}

/// Routes an authenticated request (session requests are handled by the caller).
pub async fn dispatch(ctx: &Ctx<'_>, frame: ClientFrame) -> Result<Option<ServerFrame>, Reject> {
    match frame {
        ClientFrame::Create {
            kind,
            title,
            members,
            ..
        } => conversations::create(ctx, kind, title, members),
        ClientFrame::Invite { conv, users, .. } => conversations::invite(ctx, &conv, users),
        ClientFrame::Leave { conv, .. } => conversations::leave(ctx, &conv),
        ClientFrame::Members { conv, .. } => conversations::members(ctx, conv).await,
        ClientFrame::Rename { conv, title, .. } => conversations::rename(ctx, &conv, title),
        ClientFrame::Sync { since, .. } => sync::sync(ctx, since).await,
        ClientFrame::Pull {
            conv, after, limit, ..
        } => timeline::pull(ctx, conv, after, limit).await,
        ClientFrame::History {
            conv,
            before,
            limit,
            ..
        } => timeline::history(ctx, conv, before, limit).await,
        ClientFrame::Thread {
            conv,
            root,
            after,
            limit,
            ..
        } => timeline::thread(ctx, conv, root, after, limit).await,
        ClientFrame::Send {
            conv,
            client_id,
            body,
            reply_to,
            ..
        } => send::send(ctx, &conv, client_id, body, reply_to),
        ClientFrame::Edit {
            conv,
            client_id,
            target,
            body,
            ..
        } => send::edit(ctx, &conv, client_id, target, body),
        ClientFrame::Redact {
            conv,
            client_id,
            target,
            ..
        } => send::redact(ctx, &conv, client_id, target),
        ClientFrame::React {
            conv,
            client_id,
            target,
            key,
            ..
        } => react::react(ctx, &conv, client_id, target, key),
        ClientFrame::Settings {
            conv,
            notify,
            pinned,
            archived,
            ..
        } => settings::settings(ctx, &conv, notify, pinned, archived),
        ClientFrame::Read { conv, seq, .. } => read::read(ctx, &conv, seq),
        ClientFrame::Typing { conv, .. } => read::typing(ctx, conv).await,
        ClientFrame::Register { .. }
        | ClientFrame::Login { .. }
        | ClientFrame::Auth { .. }
        | ClientFrame::Logout { .. }
        | ClientFrame::Password { .. }
        | ClientFrame::Ping { .. } => Err(Reject::bad("unexpected session request")),
    }
}
