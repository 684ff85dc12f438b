//! Server requests made for API calls (create, invite, leave, rename,
//! members, logout) and their replies.

use super::{Engine, Pending, ReplyToken, ReplyValue, Request, server_error};
use crate::error::Error;
use crate::events::{ConnState, Event};
use crate::protocol::{ClientFrame, ConvKind, ServerFrame, features};

impl Engine {
    pub(super) fn request(&mut self, request: Request, token: ReplyToken) {
        let needs = match &request {
            Request::Password { .. } | Request::Logout { all: true } => Some(features::ACCOUNT),
            Request::Settings { .. } => Some(features::SETTINGS),
            _ => None,
        };
        // A server that said it lacks the feature: the lasting answer, also
        // while offline. Otherwise a connection is needed to ask.
        let unsupported = needs.filter(|f| self.features_known && !self.has_feature(f));
        if let Some(feature) = unsupported {
            self.reply(token, Err(Error::Unsupported(feature)));
            return;
        }
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
            Request::Logout { all } => ClientFrame::Logout { id, all },
            Request::Password { old, new } => ClientFrame::Password { id, old, new },
            Request::Settings { conv, change } => ClientFrame::Settings {
                id,
                conv,
                notify: change.notify,
                pinned: change.pinned,
                archived: change.archived,
            },
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
            Request::Logout { .. } => "logout",
            Request::Password { .. } => "password",
            Request::Settings { .. } => "settings",
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
            (Request::Logout { .. }, ServerFrame::Ok { .. }) => {
                self.drop_session("logout");
                self.link.close_now = true;
                self.set_state(ConnState::LoggedOut);
                Ok(ReplyValue::Done)
            }
            (Request::Settings { conv, change }, ServerFrame::Ok { .. }) => {
                self.apply_settings(&conv, change);
                Ok(ReplyValue::Done)
            }
            (_, ServerFrame::Ok { .. }) => Ok(ReplyValue::Done),
            (_, other) => Err(server_error(name, other)),
        };
        self.reply(token, result);
    }
}
