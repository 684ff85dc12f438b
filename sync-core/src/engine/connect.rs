//! Connection lifecycle: connected, failed, lost, disconnected; backoff,
//! liveness and the timers.

use std::time::{Duration, Instant};

use super::servers::Next;
use super::{AccountReq, Engine, Pending, Phase};
use crate::error::{ConnectError, Error};
use crate::events::{ConnState, ErrorEvent, Event};
use crate::store::{OutboxState, Write};

impl Engine {
    /// The driver opened a socket; `hello` is expected next.
    pub fn handle_connected(&mut self, now: Instant) {
        self.link.phase = Phase::WaitingHello;
        self.link.last_rx = Some(now);
        self.link.reconnect_at = None;
        self.link.live_since = None;
        self.fetch.rose_at.clear();
        self.set_state(ConnState::Connecting);
        self.seal();
    }

    /// Opening a connection to `url` failed. The next URL of the list is
    /// tried (see `servers.rs`); a permanent cause skips this URL, and stops
    /// the reconnects once every URL failed so; when a whole round could not
    /// reach any server, the queued `login`/`register`/`resume` calls fail
    /// at once with [`Error::Connect`].
    pub fn handle_connect_failed(&mut self, now: Instant, url: &str, cause: ConnectError) {
        self.note_failure(url, cause);
        self.disconnected(now, None, Some(url));
    }

    /// An established connection to `url` failed (a read or write error):
    /// reconnect (to the next URL, if there are several) with backoff; a
    /// request on the wire is asked again.
    pub fn handle_lost(&mut self, now: Instant, url: &str, why: String) {
        self.note_failure(url, ConnectError::Lost(why));
        self.disconnected(now, None, Some(url));
    }

    /// The socket closed (or could not be opened). `close_code` is the
    /// WebSocket close code when the server sent one.
    pub fn handle_disconnected(&mut self, now: Instant, close_code: Option<u16>) {
        self.disconnected(now, close_code, None);
    }

    /// A `hello` from a server that must not be used ([`Engine::wrong_server`]):
    /// said as a failed connection, then closed.
    pub(super) fn refuse_server(&mut self, cause: ConnectError) {
        let url = self.current_url().unwrap_or_default().to_owned();
        self.note_failure(&url, cause);
        self.link.close_now = true;
    }

    /// Tells the app that the connection to `url` failed, and keeps `cause`
    /// for the state that follows.
    fn note_failure(&mut self, url: &str, cause: ConnectError) {
        self.emit(Event::Error(ErrorEvent::Connection {
            url: url.to_owned(),
            cause: cause.clone(),
        }));
        self.link.last_error = Some(cause);
    }

    /// Fails the account calls waiting for a connection: no server of the
    /// list could be reached (`url` was the last one tried).
    fn fail_account_calls(&mut self, url: &str, cause: &ConnectError, stopping: bool) {
        for (req, token) in std::mem::take(&mut self.calls.account_queue) {
            // Resuming a stored token: the caller learns at once that the
            // server is unreachable, but the token stays queued, so the
            // engine keeps reconnecting (an app working offline from its
            // store) and authenticates once the server is back.
            if matches!(req, AccountReq::Auth { .. }) && !stopping {
                self.calls.account_queue.push_back((req, None));
            }
            if let Some(t) = token {
                let err = Error::Connect {
                    url: url.to_owned(),
                    cause: cause.clone(),
                };
                self.reply(t, Err(err));
            }
        }
    }

    fn disconnected(&mut self, now: Instant, close_code: Option<u16>, url: Option<&str>) {
        let url = url.or(self.current_url()).unwrap_or_default().to_owned();
        let was_stable = self
            .link
            .live_since
            .is_some_and(|t| now.duration_since(t) >= self.cfg.stable_after);
        // Where the next attempt goes, and whether this round is over.
        let next = self.link.want_online.then(|| {
            self.servers
                .failed(was_stable, self.link.last_error.as_ref())
        });
        let cause = self.link.last_error.clone();
        match (next, &cause) {
            (Some(Next::Exhausted), Some(cause)) => {
                self.link.want_online = false;
                self.fail_account_calls(&url, cause, true);
            }
            (Some(Next::RoundOver { unreachable: true }), Some(cause)) => {
                self.fail_account_calls(&url, cause, false);
            }
            _ => {}
        }
        self.link.phase = Phase::Offline;
        self.link.last_rx = None;
        self.link.live_since = None;
        self.catchup.next_resync = None;
        self.catchup.sync_run = None;
        self.fetch.fetch_queue.clear();
        self.fetch.queued.clear();
        self.fetch.fetching.clear();
        self.fetch.entries.clear();
        self.fetch.retry_at.clear();
        self.fetch.failures.clear();
        self.fetch.early.clear();
        self.fetch.early_resync = false;
        self.calls.retry_at.clear();
        self.fail_open_waiters();
        let mut resend = Vec::new();
        for (_, p) in std::mem::take(&mut self.calls.pending) {
            match p {
                // A log-in cut on the wire is asked again on the next
                // connection (the caller's deadline bounds it).
                Pending::Account(Some(token), Some(req)) if self.link.want_online => {
                    resend.push((req, Some(token)));
                }
                Pending::Account(Some(token), _)
                | Pending::Older { token, .. }
                | Pending::Thread { token, .. }
                | Pending::Request { token, .. } => self.reply(token, Err(Error::Disconnected)),
                _ => {}
            }
        }
        for r in resend.into_iter().rev() {
            self.calls.account_queue.push_front(r);
        }
        if let Some(code) = close_code
            && self.link.last_error.is_none()
        {
            self.link.last_error = Some(ConnectError::Closed(code));
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
            self.link.last_error = Some(ConnectError::Closed(1001));
        }
        if self.link.want_online && (self.session.is_some() || !self.calls.account_queue.is_empty())
        {
            // Backoff grows with every failed attempt and restarts after a
            // connection that stayed up for `stable_after`.
            self.link.attempt = if was_stable {
                1
            } else {
                self.link.attempt.saturating_add(1)
            };
            if was_stable || self.link.offline_since.is_none() {
                self.link.offline_since = Some(now);
            }
            if next == Some(Next::Hop) {
                // The next URL of this round, after the first-retry delay;
                // still connecting as far as the app is concerned.
                let delay = self.backoff(Duration::ZERO);
                self.link.reconnect_at = Some(now + delay);
                self.link.last_error = None;
                self.set_state(ConnState::Connecting);
            } else {
                let outage = self.link.offline_since.map_or(Duration::ZERO, |t| now - t);
                let delay = self.backoff(outage);
                self.link.reconnect_at = Some(now + delay);
                let last_error = self.link.last_error.take();
                self.set_state(ConnState::Reconnecting {
                    in_ms: delay.as_millis() as u64,
                    last_error,
                });
            }
        } else if let Some(error) = self
            .link
            .last_error
            .take()
            .filter(ConnectError::is_permanent)
        {
            self.set_state(ConnState::Failed { error });
        } else if self.session.is_none() {
            self.link.last_error = None;
            self.set_state(ConnState::LoggedOut);
        } else {
            self.link.last_error = None;
            self.set_state(ConnState::Offline);
        }
        self.seal();
    }

    /// Time passed: reconnect, declare the connection dead, resync, resend.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(at) = self.link.reconnect_at
            && now >= at
        {
            self.link.reconnect_at = None;
            if self.link.want_online && self.link.phase == Phase::Offline {
                self.link.connect_now = true;
                self.set_state(ConnState::Connecting);
            }
        }
        if self.link.phase != Phase::Offline
            && let Some(rx) = self.link.last_rx
            && now.duration_since(rx) >= self.cfg.dead_after
        {
            self.emit(Event::Error(ErrorEvent::Dead {
                secs: self.cfg.dead_after.as_secs(),
            }));
            self.link.last_error = Some(ConnectError::Lost("no frame from the server".into()));
            self.link.last_rx = None;
            self.link.close_now = true;
        }
        if matches!(self.link.phase, Phase::Fetching | Phase::Live) {
            self.retry_fetches(now);
        }
        if self.link.phase == Phase::Live {
            if self.catchup.next_resync.is_some_and(|t| now >= t) && self.catchup.sync_run.is_none()
            {
                self.start_sync(true);
            }
            if !super::take_due(&mut self.calls.retry_at, now).is_empty() {
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
    pub(super) fn backoff(&mut self, outage: Duration) -> Duration {
        let min = self.cfg.backoff_min.as_millis() as u64;
        let cap = (self.cfg.backoff_max.as_millis() as u64).max(min);
        let ceiling = (outage.as_millis() as u64 * 2 / 5).clamp(min, cap);
        let floor = (min / 5).min(ceiling);
        let drawn = self.next_random() % (ceiling + 1);
        Duration::from_millis(drawn.max(floor).max(1))
    }
}
