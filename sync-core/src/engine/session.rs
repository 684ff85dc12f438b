//! Sessions: `hello`, register/login/auth on a connection, a replaced
//! server, a revoked session.

use std::time::Instant;

use super::{AccountReq, Engine, Pending, Phase, ReplyToken, ReplyValue, server_error};
use crate::error::Error;
use crate::events::{ConnState, ErrorEvent, Event, SyncReport};
use crate::protocol::{ClientFrame, ErrorCode, ServerFrame};
use crate::store::{MetaKey, OutboxState, Session, Write};

impl Engine {
    pub(super) fn account(&mut self, _now: Instant, req: AccountReq, token: Option<ReplyToken>) {
        self.link.want_online = true;
        // A caller's request supersedes a stored token still waiting for the
        // server (queued, without a caller, by `handle_connect_failed`).
        self.calls.account_queue.retain(|(_, t)| t.is_some());
        self.calls.account_queue.push_back((req, token));
        match self.link.phase {
            Phase::Offline => {
                if self.link.reconnect_at.is_none() {
                    self.link.connect_now = true;
                }
            }
            Phase::Unauthenticated => {
                self.send_next_account();
            }
            _ => {
                // Already authenticating or authenticated: the protocol
                // refuses a second session on one connection.
                if let Some((_, Some(t))) = self.calls.account_queue.pop_back() {
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

    pub(super) fn send_next_account(&mut self) -> bool {
        let Some((req, token)) = self.calls.account_queue.pop_front() else {
            return false;
        };
        let id = self.track(Pending::Account(token, Some(req.clone())));
        let device = self.cfg.device.clone();
        self.transmit(match req {
            AccountReq::Register {
                user,
                password,
                invite,
            } => ClientFrame::Register {
                id,
                user,
                password,
                device,
                invite,
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
        self.link.phase = Phase::Authenticating;
        true
    }

    pub(super) fn on_hello(&mut self, _now: Instant, server_id: String) {
        if self.link.phase != Phase::WaitingHello {
            return;
        }
        match &self.server_id {
            Some(old) if *old != server_id => self.reset_all(&server_id),
            Some(_) => {}
            None => self.write_meta(MetaKey::ServerId, Some(server_id.clone())),
        }
        self.server_id = Some(server_id);
        self.link.phase = Phase::Unauthenticated;
        if self.send_next_account() {
            return;
        }
        if let Some(s) = &self.session {
            let (token, device) = (s.token.clone(), self.cfg.device.clone());
            let id = self.track(Pending::Account(None, None));
            self.transmit(ClientFrame::Auth { id, token, device });
            self.link.phase = Phase::Authenticating;
        } else {
            self.set_state(ConnState::LoggedOut);
        }
    }

    /// The server's database changed: nothing cached is meaningful any more.
    pub(super) fn reset_all(&mut self, server_id: &str) {
        self.convs.clear();
        self.since = None;
        self.fetch.stalled.clear();
        self.write(Write::ResetAll);
        self.write_meta(MetaKey::ServerId, Some(server_id.to_owned()));
        // Unsent rows name conversations of the old server: fail them visibly.
        for i in 0..self.outbox.len() {
            self.outbox[i].state = OutboxState::Failed {
                code: crate::store::FailCode::ServerReplaced,
                message: "the server was replaced; this message was not sent".into(),
            };
            let item = self.outbox[i].clone();
            if let (Some(t), OutboxState::Failed { code, message }) =
                (self.calls.waiters.remove(&item.client_id), &item.state)
            {
                let e = super::outbox::failed_row_error(&item.kind, *code, message);
                self.reply(t, Err(e));
            }
            self.write(Write::OutboxPut(item));
        }
        self.emit(Event::CacheReset {
            reason: format!("server id changed to {server_id}: local cache discarded"),
        });
        self.emit(Event::OutboxChanged);
    }

    pub(super) fn drop_session(&mut self, why: &str) {
        self.session = None;
        self.write_meta(MetaKey::Token, None);
        self.link.want_online = false;
        self.emit(Event::Error(ErrorEvent::LoggedOut {
            reason: why.to_owned(),
        }));
    }

    /// The answer to `request` (`register`, `login` or `auth`).
    pub(super) fn on_session_reply(
        &mut self,
        _now: Instant,
        token: Option<ReplyToken>,
        request: &'static str,
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
                self.link.want_online = true;
                self.catchup.report = SyncReport::default();
                self.start_sync(false);
            }
            other => {
                let code = match &other {
                    ServerFrame::Error { code, .. } => Some(*code),
                    _ => None,
                };
                if let Some(tok) = token {
                    self.reply(tok, Err(server_error(request, other)));
                }
                if token.is_none() && code == Some(ErrorCode::Unauthorized) {
                    self.drop_session("the stored token was refused");
                } else if token.is_none() {
                    // The server failed, not the token: try again later.
                    self.link.close_now = true;
                    return;
                }
                self.link.phase = Phase::Unauthenticated;
                if !self.send_next_account() {
                    self.set_state(ConnState::LoggedOut);
                }
            }
        }
    }
}

impl AccountReq {
    /// The request's type on the wire, for errors (`server refused login: …`).
    pub(super) fn name(&self) -> &'static str {
        match self {
            AccountReq::Register { .. } => "register",
            AccountReq::Login { .. } => "login",
            AccountReq::Auth { .. } => "auth",
        }
    }
}
