//! Conversations: opening one, older pages, and the server requests that
//! create and change conversations.

use tokio::sync::oneshot;

use super::{Client, conv_of, invalid};
use crate::driver::DriverMsg;
use crate::engine::{Command, ReplyValue, Request, SettingsChange};
use crate::error::Error;
use crate::protocol::{ConvId, Seq, validate};

impl Client {
    /// While `Reconnecting`, tries to connect now instead of waiting for
    /// the backoff (a "reconnect now" key). Does nothing in other states.
    pub fn reconnect_now(&self) {
        let _ = self.send_cmd(Command::ReconnectNow);
    }

    /// Marks this conversation as the one on screen: it is kept complete
    /// from its newest page on. Opening a group costs one `history` page.
    ///
    /// The command is handed to the engine at once; the returned future
    /// resolves when the newest page is stored (at once when nothing was
    /// missing), with [`Error::Offline`] when there is no connection to
    /// fetch it (the cached part is there to show), or with the server's
    /// refusal. Dropping the future does not undo the open.
    pub fn open(
        &self,
        conv: &ConvId,
    ) -> impl std::future::Future<Output = Result<(), Error>> + Send + use<> {
        let _ = self.send_cmd(Command::Open(Some(conv.clone())));
        let token = self.token();
        let (tx, rx) = oneshot::channel();
        let sent = self.inner.cmds.send(DriverMsg {
            cmd: Command::WaitOpened {
                conv: conv.clone(),
                token,
            },
            ack: None,
            reply: Some((token, tx)),
        });
        let timeout = self.inner.request_timeout;
        async move {
            sent.map_err(|_| Error::DriverGone)?;
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(r)) => r.map(drop),
                Ok(Err(_)) => Err(Error::DriverGone),
                Err(_) => Err(Error::Timeout),
            }
        }
    }

    /// No conversation is on screen any more.
    pub fn close_conversation(&self) {
        let _ = self.send_cmd(Command::Open(None));
    }

    /// Loads one older page: the newest part of the highest gap.
    pub async fn load_older(&self, conv: &ConvId) -> Result<(), Error> {
        let conv = conv.clone();
        self.ask(
            |token| Command::LoadOlder { conv, token },
            self.inner.request_timeout,
        )
        .await
        .map(|_| ())
    }

    /// Creates a group; returns its id.
    pub async fn create_group(&self, title: &str, members: &[&str]) -> Result<ConvId, Error> {
        validate::title(title).map_err(invalid("title"))?;
        let members = members.iter().map(|m| (*m).to_owned()).collect();
        conv_of(
            self.request(Request::CreateGroup {
                title: title.to_owned(),
                members,
            })
            .await?,
        )
    }

    /// Finds or creates the direct conversation with `user`.
    pub async fn create_direct(&self, user: &str) -> Result<ConvId, Error> {
        conv_of(
            self.request(Request::CreateDirect {
                user: user.to_owned(),
            })
            .await?,
        )
    }

    /// Adds users to a group.
    pub async fn invite(&self, conv: &ConvId, users: &[&str]) -> Result<(), Error> {
        let users = users.iter().map(|u| (*u).to_owned()).collect();
        self.request(Request::Invite {
            conv: conv.clone(),
            users,
        })
        .await
        .map(|_| ())
    }

    /// Leaves a group; it stays readable locally.
    pub async fn leave(&self, conv: &ConvId) -> Result<(), Error> {
        self.request(Request::Leave { conv: conv.clone() })
            .await
            .map(|_| ())
    }

    /// Renames a group.
    pub async fn rename(&self, conv: &ConvId, title: &str) -> Result<(), Error> {
        validate::title(title).map_err(invalid("title"))?;
        self.request(Request::Rename {
            conv: conv.clone(),
            title: title.to_owned(),
        })
        .await
        .map(|_| ())
    }

    /// Current members, from the server.
    pub async fn members(&self, conv: &ConvId) -> Result<Vec<String>, Error> {
        match self
            .request(Request::Members { conv: conv.clone() })
            .await?
        {
            ReplyValue::Members(m) => Ok(m),
            _ => Err(Error::DriverGone),
        }
    }

    /// §9.4: changes the user's settings for a conversation (any non-empty
    /// subset; [`Error::Invalid`] when `change` sets nothing). Resolves once
    /// the server said `ok`; the store then holds the new values and an
    /// [`crate::Event::ConversationsChanged`] follows. The user's other
    /// devices learn it from the server's `settings` event.
    /// [`Error::Offline`] without a connection, [`Error::Unsupported`]
    /// against a server without `settings`.
    ///
    /// ```no_run
    /// # async fn demo(client: sync_core::Client, conv: sync_core::protocol::ConvId) -> Result<(), sync_core::Error> {
    /// use sync_core::{Notify, SettingsChange};
    /// client.set_settings(&conv, SettingsChange { notify: Some(Notify::Mentions), pinned: Some(true), archived: None }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_settings(&self, conv: &ConvId, change: SettingsChange) -> Result<(), Error> {
        if change.is_empty() {
            return Err(Error::Invalid {
                field: "settings",
                message: "nothing to change".into(),
            });
        }
        self.request(Request::Settings {
            conv: conv.clone(),
            change,
        })
        .await
        .map(|_| ())
    }

    /// §9.1: fetches the thread of `root` with `thread` requests until its
    /// newest entry is held (later calls continue where the last one
    /// completed); [`Client::thread`] then shows it complete.
    /// [`Error::Offline`] without a connection, [`Error::Unsupported`]
    /// against a server without `reply`.
    pub async fn load_thread(&self, conv: &ConvId, root: Seq) -> Result<(), Error> {
        let conv = conv.clone();
        self.ask(
            |token| Command::LoadThread { conv, root, token },
            self.inner.request_timeout,
        )
        .await
        .map(|_| ())
    }
}
