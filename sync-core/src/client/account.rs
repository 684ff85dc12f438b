//! Accounts: register, log in, resume, log out, change the password,
//! and what the server said about itself.

use super::{Client, invalid, session_of};
use crate::engine::{Command, ReplyValue, Request, ServerInfo};
use crate::error::Error;
use crate::protocol::validate;
use crate::store::Session;

impl Client {
    /// Creates an account, stores the session, and goes online.
    pub async fn register(&self, user: &str, password: &str) -> Result<Session, Error> {
        self.register_with_invite(user, password, None).await
    }

    /// [`Client::register`] with an invite code, for a server whose
    /// registration is invite-only ([`ServerInfo::register`] is `invite`).
    pub async fn register_with_invite(
        &self,
        user: &str,
        password: &str,
        invite: Option<&str>,
    ) -> Result<Session, Error> {
        validate::user_name(user).map_err(invalid("user"))?;
        validate::password(password).map_err(invalid("password"))?;
        let (user, password) = (user.to_owned(), password.to_owned());
        let invite = invite.map(str::to_owned);
        session_of(
            self.ask(
                |token| Command::Register {
                    user,
                    password,
                    invite,
                    token,
                },
                self.inner.request_timeout,
            )
            .await?,
        )
    }

    /// Logs in with a password, stores the session, and goes online.
    pub async fn login(&self, user: &str, password: &str) -> Result<Session, Error> {
        let (user, password) = (user.to_owned(), password.to_owned());
        session_of(
            self.ask(
                |token| Command::Login {
                    user,
                    password,
                    token,
                },
                self.inner.request_timeout,
            )
            .await?,
        )
    }

    /// Authenticates with `token`, or the stored one when None, and goes online.
    pub async fn resume(&self, token: Option<&str>) -> Result<Session, Error> {
        let session_token = token.map(str::to_owned);
        session_of(
            self.ask(
                |token| Command::Resume {
                    session_token,
                    token,
                },
                self.inner.request_timeout,
            )
            .await?,
        )
    }

    /// Revokes the session on the server and forgets the token.
    pub async fn logout(&self) -> Result<(), Error> {
        self.request(Request::Logout { all: false })
            .await
            .map(|_| ())
    }

    /// Revokes every session of the user (all devices) and forgets the
    /// token here (§9.6; [`Error::Unsupported`] when the server lacks
    /// `account`).
    pub async fn logout_all(&self) -> Result<(), Error> {
        self.request(Request::Logout { all: true })
            .await
            .map(|_| ())
    }

    /// Changes the password (§9.6). The user's other sessions end (their
    /// connections close with 4001); this one stays. `Server { code:
    /// Unauthorized }` when `old` is wrong.
    pub async fn change_password(&self, old: &str, new: &str) -> Result<(), Error> {
        validate::password(new).map_err(invalid("new password"))?;
        self.request(Request::Password {
            old: old.to_owned(),
            new: new.to_owned(),
        })
        .await
        .map(|_| ())
    }

    /// What the server said about itself in its latest `hello`: its
    /// features and whether registration is open.
    pub async fn server_info(&self) -> Result<ServerInfo, Error> {
        match self
            .ask(
                |token| Command::ServerInfo { token },
                self.inner.request_timeout,
            )
            .await?
        {
            ReplyValue::ServerInfo(info) => Ok(info),
            _ => Err(Error::DriverGone),
        }
    }

    /// The stored session, if any.
    pub fn session(&self) -> Option<Session> {
        self.read(|r| r.session()).ok().flatten()
    }
}
