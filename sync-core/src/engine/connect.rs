//! Connection lifecycle: hello, authentication, sync paging, the end of
//! catch-up, disconnects, backoff, liveness and server requests.

use std::time::{Duration, Instant};

use super::{
    AccountReq, Engine, Pending, Phase, ReplyToken, ReplyValue, Request, SyncRun, error_event,
    server_error,
};
use crate::error::{ConnectError, Error};
use crate::events::{ConnState, ErrorEvent, Event, SyncReport};
use crate::protocol::{ClientFrame, ConvKind, ErrorCode, ServerFrame, Summary};
use crate::store::{MetaKey, OutboxState, Session, Write};

impl Engine {
    /// The driver opened a socket; `hello` is expected next.
    pub fn handle_connected(&mut self, now: Instant) {
        self.phase = Phase::WaitingHello;
        self.last_rx = Some(now);
        self.reconnect_at = None;
        self.live_since = None;
        self.pushed_above.clear();
        self.set_state(ConnState::Connecting);
        self.seal();
    }

    /// Opening a connection to `url` failed. A permanent cause stops the
    /// reconnects; a server that cannot be reached at all fails the queued
    /// `login`/`register`/`resume` calls at once with [`Error::Connect`].
    pub fn handle_connect_failed(&mut self, now: Instant, url: &str, cause: ConnectError) {
        self.emit(Event::Error(ErrorEvent::Connection {
            url: url.to_owned(),
            cause: cause.clone(),
        }));
        if cause.is_permanent() {
            self.want_online = false;
        }
        if cause.is_unreachable() {
            for (_, token) in std::mem::take(&mut self.account_queue) {
                if let Some(t) = token {
                    let err = Error::Connect {
                        url: url.to_owned(),
                        cause: cause.clone(),
                    };
                    self.reply(t, Err(err));
                }
            }
        }
        self.last_error = Some(cause);
        self.handle_disconnected(now, None);
    }

    /// An established connection to `url` failed (a read or write error):
    /// reconnect with backoff; a request on the wire is asked again.
    pub fn handle_lost(&mut self, now: Instant, url: &str, why: String) {
        let cause = ConnectError::Lost(why);
        self.emit(Event::Error(ErrorEvent::Connection {
            url: url.to_owned(),
            cause: cause.clone(),
        }));
        self.last_error = Some(cause);
        self.handle_disconnected(now, None);
    }

    /// The socket closed (or could not be opened). `close_code` is the
    /// WebSocket close code when the server sent one.
    pub fn handle_disconnected(&mut self, now: Instant, close_code: Option<u16>) {
        let was_stable = self
            .live_since
            .is_some_and(|t| now.duration_since(t) >= self.cfg.stable_after);
        self.phase = Phase::Offline;
        self.last_rx = None;
        self.live_since = None;
        self.next_resync = None;
        self.sync_run = None;
        self.fetch_queue.clear();
        self.queued.clear();
        self.fetching.clear();
        self.retry_at.clear();
        self.fail_open_waiters();
        let mut resend = Vec::new();
        for (_, p) in std::mem::take(&mut self.pending) {
            match p {
                // A log-in cut on the wire is asked again on the next
                // connection (the caller's deadline bounds it).
                Pending::Account(Some(token), Some(req)) if self.want_online => {
                    resend.push((req, Some(token)));
                }
                Pending::Account(Some(token), _)
                | Pending::Older { token, .. }
                | Pending::Request { token, .. } => self.reply(token, Err(Error::Disconnected)),
                _ => {}
            }
        }
        for r in resend.into_iter().rev() {
            self.account_queue.push_front(r);
        }
        if let Some(code) = close_code
            && self.last_error.is_none()
        {
            self.last_error = Some(ConnectError::Closed(code));
        }
        // Rows on the wire go back to pending; the resend reuses their client id.
        let mut changed = false;
        for i in 0..self.outbox.len() {
            if self.outbox[i].state == OutboxState::Sending {
                self.outbox[i].state = OutboxState::Pending;
                let item = self.outbox[i].clone();
                self.write(Write::OutboxPut(item));
                changed = true;
            }
        }
        if changed {
            self.emit(Event::OutboxChanged);
        }
        if close_code == Some(4001) {
            self.drop_session("the session was revoked");
        }
        if close_code == Some(1001) {
            // A server going away says so; tell the user, not just "refused" later.
            self.emit(Event::Error(ErrorEvent::ServerClosing));
            self.last_error = Some(ConnectError::Closed(1001));
        }
        if self.want_online && (self.session.is_some() || !self.account_queue.is_empty()) {
            // Backoff grows with every failed attempt and restarts after a
            // connection that stayed up for `stable_after`.
            self.attempt = if was_stable {
                1
            } else {
                self.attempt.saturating_add(1)
            };
            if was_stable || self.offline_since.is_none() {
                self.offline_since = Some(now);
            }
            let outage = self.offline_since.map_or(Duration::ZERO, |t| now - t);
            let delay = self.backoff(outage);
            self.reconnect_at = Some(now + delay);
            let last_error = self.last_error.take();
            self.set_state(ConnState::Reconnecting {
                in_ms: delay.as_millis() as u64,
                last_error,
            });
        } else if let Some(error) = self.last_error.take().filter(ConnectError::is_permanent) {
            self.set_state(ConnState::Failed { error });
        } else if self.session.is_none() {
            self.last_error = None;
            self.set_state(ConnState::LoggedOut);
        } else {
            self.last_error = None;
            self.set_state(ConnState::Offline);
        }
        self.seal();
    }

    /// Time passed: reconnect, declare the connection dead, resync, resend.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(at) = self.reconnect_at
            && now >= at
        {
            self.reconnect_at = None;
            if self.want_online && self.phase == Phase::Offline {
                self.connect_now = true;
                self.set_state(ConnState::Connecting);
            }
        }
        if self.phase != Phase::Offline
            && let Some(rx) = self.last_rx
            && now.duration_since(rx) >= self.cfg.dead_after
        {
            self.emit(Event::Error(ErrorEvent::Dead {
                secs: self.cfg.dead_after.as_secs(),
            }));
            self.last_error = Some(ConnectError::Lost("no frame from the server".into()));
            self.last_rx = None;
            self.close_now = true;
        }
        if self.phase == Phase::Live {
            if self.next_resync.is_some_and(|t| now >= t) && self.sync_run.is_none() {
                self.start_sync(true);
            }
            let due: Vec<_> = self
                .retry_at
                .iter()
                .filter(|(_, t)| now >= **t)
                .map(|(c, _)| c.clone())
                .collect();
            if !due.is_empty() {
                for c in due {
                    self.retry_at.remove(&c);
                }
                self.dispatch_outbox();
            }
        }
        self.seal();
    }

    /// Full jitter under a ceiling that grows with the outage: 40 % of the
    /// time offline so far, at least `backoff_min`, at most `backoff_max`
    /// (8 s). A client is back within ~2 s of a 5 s outage's end and within
    /// 8 s of any longer one, while the clients of a restarted server spread
    /// their reconnects evenly over up to 8 s (ARCHITECTURE.md).
    fn backoff(&mut self, outage: Duration) -> Duration {
        let min = self.cfg.backoff_min.as_millis() as u64;
        let cap = (self.cfg.backoff_max.as_millis() as u64).max(min);
        let ceiling = (outage.as_millis() as u64 * 2 / 5).clamp(min, cap);
        let floor = (min / 5).min(ceiling);
        let drawn = self.next_random() % (ceiling + 1);
        Duration::from_millis(drawn.max(floor).max(1))
    }

    pub(super) fn account(&mut self, _now: Instant, req: AccountReq, token: Option<ReplyToken>) {
        self.want_online = true;
        self.account_queue.push_back((req, token));
        match self.phase {
            Phase::Offline => {
                if self.reconnect_at.is_none() {
                    self.connect_now = true;
                }
            }
            Phase::Unauthenticated => {
                self.send_next_account();
            }
            _ => {
                // Already authenticating or authenticated: the protocol
                // refuses a second session on one connection.
                if let Some((_, Some(t))) = self.account_queue.pop_back() {
                    let err = if self.authenticated() {
                        Error::Invalid {
                            field: "session",
                            message: "already logged in; log out first".into(),
                        }
                    } else {
                        Error::Disconnected
                    };
                    self.reply(t, Err(err));
                }
            }
        }
    }

    fn send_next_account(&mut self) -> bool {
        let Some((req, token)) = self.account_queue.pop_front() else {
            return false;
        };
        let id = self.track(Pending::Account(token, Some(req.clone())));
        let device = self.cfg.device.clone();
        self.transmit(match req {
            AccountReq::Register { user, password } => ClientFrame::Register {
                id,
                user,
                password,
                device,
            },
            AccountReq::Login { user, password } => ClientFrame::Login {
                id,
                user,
                password,
                device,
            },
            AccountReq::Auth { session_token } => ClientFrame::Auth {
                id,
                token: session_token,
                device,
            },
        });
        self.phase = Phase::Authenticating;
        true
    }

    pub(super) fn on_hello(&mut self, _now: Instant, server_id: String) {
        if self.phase != Phase::WaitingHello {
            return;
        }
        match &self.server_id {
            Some(old) if *old != server_id => self.reset_all(&server_id),
            Some(_) => {}
            None => self.write_meta(MetaKey::ServerId, Some(server_id.clone())),
        }
        self.server_id = Some(server_id);
        self.phase = Phase::Unauthenticated;
        if self.send_next_account() {
            return;
        }
        if let Some(s) = &self.session {
            let (token, device) = (s.token.clone(), self.cfg.device.clone());
            let id = self.track(Pending::Account(None, None));
            self.transmit(ClientFrame::Auth { id, token, device });
            self.phase = Phase::Authenticating;
        } else {
            self.set_state(ConnState::LoggedOut);
        }
    }

    /// The server's database changed: nothing cached is meaningful any more.
    fn reset_all(&mut self, server_id: &str) {
        self.convs.clear();
        self.since = None;
        self.stalled.clear();
        self.write(Write::ResetAll);
        self.write_meta(MetaKey::ServerId, Some(server_id.to_owned()));
        // Unsent rows name conversations of the old server: fail them visibly.
        for i in 0..self.outbox.len() {
            self.outbox[i].state = OutboxState::Failed {
                code: crate::store::FailCode::ServerReplaced,
                message: "the server was replaced; this message was not sent".into(),
            };
            let item = self.outbox[i].clone();
            self.write(Write::OutboxPut(item));
        }
        self.emit(Event::CacheReset {
            reason: format!("server id changed to {server_id}: local cache discarded"),
        });
        self.emit(Event::OutboxChanged);
    }

    fn drop_session(&mut self, why: &str) {
        self.session = None;
        self.write_meta(MetaKey::Token, None);
        self.want_online = false;
        self.emit(Event::Error(ErrorEvent::LoggedOut {
            reason: why.to_owned(),
        }));
    }

    pub(super) fn on_session_reply(
        &mut self,
        _now: Instant,
        token: Option<ReplyToken>,
        frame: ServerFrame,
    ) {
        match frame {
            ServerFrame::Session {
                user,
                device,
                token: t,
                ..
            } => {
                let changed_user = self.session.as_ref().is_some_and(|s| s.user != user);
                if changed_user {
                    // Another account on this store: its cache is not ours.
                    let sid = self.server_id.clone().unwrap_or_default();
                    self.reset_all(&sid);
                }
                let s = Session {
                    user,
                    device,
                    token: t,
                };
                self.write_meta(MetaKey::User, Some(s.user.clone()));
                self.write_meta(MetaKey::Device, Some(s.device.clone()));
                if self.cfg.persist_token {
                    self.write_meta(MetaKey::Token, Some(s.token.clone()));
                }
                self.session = Some(s.clone());
                if let Some(tok) = token {
                    self.reply(tok, Ok(ReplyValue::Session(s)));
                }
                self.want_online = true;
                self.report = SyncReport::default();
                self.start_sync(false);
            }
            other => {
                let code = match &other {
                    ServerFrame::Error { code, .. } => Some(*code),
                    _ => None,
                };
                if let Some(tok) = token {
                    self.reply(tok, Err(server_error("session", other)));
                }
                if token.is_none() && code == Some(ErrorCode::Unauthorized) {
                    self.drop_session("the stored token was refused");
                } else if token.is_none() {
                    // The server failed, not the token: try again later.
                    self.close_now = true;
                    return;
                }
                self.phase = Phase::Unauthenticated;
                if !self.send_next_account() {
                    self.set_state(ConnState::LoggedOut);
                }
            }
        }
    }

    pub(super) fn start_sync(&mut self, background: bool) {
        if !background {
            self.phase = Phase::Syncing;
            self.set_state(ConnState::CatchingUp { remaining: 0 });
        }
        self.sync_run = Some(SyncRun {
            background,
            ..SyncRun::default()
        });
        let id = self.track(Pending::Sync);
        let since = self.since.clone();
        self.transmit(ClientFrame::Sync { id, since });
    }

    pub(super) fn on_sync_reply(&mut self, now: Instant, frame: ServerFrame) {
        let ServerFrame::Sync {
            since,
            full,
            more,
            conversations,
            ..
        } = frame
        else {
            self.emit(Event::Error(error_event("sync", frame)));
            self.close_now = true;
            return;
        };
        let Some(mut run) = self.sync_run.take() else {
            return;
        };
        run.full |= full;
        let mut changed = Vec::new();
        for s in &conversations {
            if full {
                run.listed.insert(s.conv.clone());
            }
            if self.apply_summary(s) {
                changed.push(s.conv.clone());
            }
        }
        run.changed += conversations.len();
        if full && !more {
            let gone: Vec<_> = self
                .convs
                .values()
                .filter(|c| !c.left && !run.listed.contains(&c.conv))
                .map(|c| c.conv.clone())
                .collect();
            for c in gone {
                self.convs.remove(&c);
                self.write(Write::RemoveConv(c.clone()));
                changed.push(c);
            }
        }
        // Store the token with the summaries it covers; a token in the middle
        // of a full listing is kept in memory only, so a crash restarts the
        // listing instead of skipping its first pages.
        if !(full && more) {
            self.write_meta(MetaKey::Since, Some(since.clone()));
        }
        self.since = Some(since.clone());
        if !changed.is_empty() {
            self.emit(Event::ConversationsChanged(changed));
        }
        if more {
            self.sync_run = Some(run);
            let id = self.track(Pending::Sync);
            self.transmit(ClientFrame::Sync {
                id,
                since: Some(since),
            });
            return;
        }
        self.next_resync = Some(now + self.cfg.resync_every);
        if !run.background {
            self.report.changed = run.changed;
            self.report.full = run.full;
            self.phase = Phase::Fetching;
        }
        self.stalled.clear();
        let all: Vec<_> = self.convs.keys().cloned().collect();
        for c in all {
            self.queue_fetch(c);
        }
        self.plan_fetches();
    }

    /// Applies a summary to the mirror and the store. Returns true when the
    /// conversation is new or changed.
    pub(super) fn apply_summary(&mut self, s: &Summary) -> bool {
        match self.convs.get(&s.conv).cloned() {
            None => {
                if s.left {
                    return false; // a conversation we never cached: nothing to keep
                }
                let rec = crate::store::ConvRecord::from_summary(s);
                self.write(Write::Conv(rec.clone()));
                self.convs.insert(s.conv.clone(), rec);
            }
            Some(mut rec) => {
                let before = rec.clone();
                if s.last_seq < rec.cursor() && !self.pushed_above.contains(&s.conv) {
                    self.reset_conv(&mut rec, s.last_seq);
                }
                rec.kind = s.kind;
                rec.title = s.title.clone();
                if rec.cursor() > s.last_seq {
                    // Pushes newer than this summary were already counted (a
                    // summary computed before they were committed, arriving
                    // after them): its counts are older than ours. Read cursors
                    // only move forward; a newer one also arrives as a `read`
                    // event.
                    rec.read_seq = rec.read_seq.max(s.read_seq);
                } else {
                    rec.member_count = s.member_count;
                    rec.last_seq = s.last_seq.max(rec.cursor());
                    rec.read_seq = s.read_seq;
                    rec.unread = s.unread;
                }
                rec.local_read = rec.local_read.max(s.read_seq);
                if s.last.as_ref().map(|m| m.seq) >= rec.last.as_ref().map(|m| m.seq) {
                    rec.last = s.last.clone();
                }
                rec.left = s.left;
                if rec == before {
                    return false;
                }
                self.write(Write::Conv(rec.clone()));
                self.convs.insert(s.conv.clone(), rec);
            }
        }
        true
    }

    /// The server's timeline of this conversation is behind our cursor: it
    /// was reset. Drop what we hold and fetch again.
    pub(super) fn reset_conv(&mut self, rec: &mut crate::store::ConvRecord, server_last: u64) {
        self.emit(Event::CacheReset {
            reason: format!(
                "conversation {} was reset by the server (last_seq {} < local cursor {}): refetching",
                rec.conv,
                server_last,
                rec.cursor()
            ),
        });
        rec.held = Default::default();
        rec.last_seq = server_last;
        rec.local_read = rec.local_read.min(server_last);
        if rec.last.as_ref().is_some_and(|m| m.seq > server_last) {
            rec.last = None;
        }
        self.write(Write::ClearTimeline(rec.conv.clone()));
        self.emit(Event::TimelineChanged {
            conv: rec.conv.clone(),
        });
    }

    /// Called when fetch work may have finished: ends catch-up with the
    /// outbox flush and the switch to Live.
    pub(super) fn maybe_finish_catchup(&mut self, now_live: bool) {
        if self.phase != Phase::Fetching {
            return;
        }
        let remaining = self.fetch_queue.len() + self.fetching.len();
        if remaining > 0 || !now_live {
            self.set_state(ConnState::CatchingUp { remaining });
            return;
        }
        self.phase = Phase::Live;
        let flushed = self.dispatch_outbox() + self.flush_reads();
        self.report.flushed = flushed;
        self.report.conversations = self.convs.len();
        self.last_report = Some(self.report.clone());
        self.set_state(ConnState::Live);
    }

    pub(super) fn mark_live_since(&mut self, now: Instant) {
        if self.phase == Phase::Live && self.live_since.is_none() {
            self.live_since = Some(now);
        }
    }

    pub(super) fn request(&mut self, request: Request, token: ReplyToken) {
        if !self.authenticated() {
            self.reply(token, Err(Error::Offline));
            return;
        }
        let id = self.track(Pending::Request {
            token,
            request: request.clone(),
        });
        self.transmit(match request {
            Request::CreateGroup { title, members } => ClientFrame::Create {
                id,
                kind: ConvKind::Group,
                title: Some(title),
                members,
            },
            Request::CreateDirect { user } => ClientFrame::Create {
                id,
                kind: ConvKind::Direct,
                title: None,
                members: vec![user],
            },
            Request::Invite { conv, users } => ClientFrame::Invite { id, conv, users },
            Request::Leave { conv } => ClientFrame::Leave { id, conv },
            Request::Rename { conv, title } => ClientFrame::Rename { id, conv, title },
            Request::Members { conv } => ClientFrame::Members { id, conv },
            Request::Logout => ClientFrame::Logout { id },
        });
    }

    pub(super) fn on_request_reply(
        &mut self,
        token: ReplyToken,
        request: Request,
        frame: ServerFrame,
    ) {
        let name = match &request {
            Request::CreateGroup { .. } | Request::CreateDirect { .. } => "create",
            Request::Invite { .. } => "invite",
            Request::Leave { .. } => "leave",
            Request::Rename { .. } => "rename",
            Request::Members { .. } => "members",
            Request::Logout => "logout",
        };
        let result = match (request, frame) {
            (_, ServerFrame::Conversation { conversation, .. }) => {
                let conv = conversation.conv.clone();
                if self.apply_summary(&conversation) {
                    self.emit(Event::ConversationsChanged(vec![conv.clone()]));
                }
                self.queue_fetch(conv.clone());
                self.plan_fetches();
                Ok(ReplyValue::Conv(conv))
            }
            (_, ServerFrame::Members { members, .. }) => Ok(ReplyValue::Members(members)),
            (Request::Leave { conv }, ServerFrame::Ok { .. }) => {
                if let Some(rec) = self.convs.get_mut(&conv) {
                    rec.left = true;
                    self.write_conv(&conv);
                    self.emit(Event::ConversationsChanged(vec![conv]));
                }
                Ok(ReplyValue::Done)
            }
            (Request::Logout, ServerFrame::Ok { .. }) => {
                self.drop_session("logout");
                self.close_now = true;
                self.set_state(ConnState::LoggedOut);
                Ok(ReplyValue::Done)
            }
            (_, ServerFrame::Ok { .. }) => Ok(ReplyValue::Done),
            (_, other) => Err(server_error(name, other)),
        };
        self.reply(token, result);
    }
}
