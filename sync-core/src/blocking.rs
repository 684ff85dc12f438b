//! Synchronous use of a [`crate::Client`], like `reqwest::blocking`: each
//! method hands its command to the engine and blocks the calling thread
//! until the write is committed. Safe to call from any thread, including a
//! multi-threaded tokio worker (it steps aside with `block_in_place`).
//!
//! ```no_run
//! # fn demo(client: &sync_core::Client, conv: &sync_core::protocol::ConvId) -> Result<(), sync_core::Error> {
//! let id = client.blocking().send(conv, "hello")?;
//! # let _ = id; Ok(()) }
//! ```

use crate::error::Error;
use crate::protocol::{ConvId, Seq};

/// Blocking versions of the [`crate::Client`] commands; see the module docs.
#[derive(Debug, Clone, Copy)]
pub struct Blocking<'a> {
    client: &'a crate::Client,
}

impl crate::Client {
    /// The blocking versions of this client's commands.
    pub fn blocking(&self) -> Blocking<'_> {
        Blocking { client: self }
    }
}

impl Blocking<'_> {
    /// [`crate::Client::send`], waiting for the commit.
    pub fn send(&self, conv: &ConvId, body: &str) -> Result<String, Error> {
        self.client.send(conv, body).wait()
    }

    /// [`crate::Client::send_with_id`], waiting for the commit.
    pub fn send_with_id(
        &self,
        conv: &ConvId,
        client_id: &str,
        body: &str,
    ) -> Result<String, Error> {
        self.client.send_with_id(conv, client_id, body).wait()
    }

    /// [`crate::Client::edit`], waiting for the commit.
    pub fn edit(&self, conv: &ConvId, target: Seq, body: &str) -> Result<String, Error> {
        self.client.edit(conv, target, body).wait()
    }

    /// [`crate::Client::redact`], waiting for the commit.
    pub fn redact(&self, conv: &ConvId, target: Seq) -> Result<String, Error> {
        self.client.redact(conv, target).wait()
    }

    /// [`crate::Client::retry`], waiting for the commit.
    pub fn retry(&self, client_id: &str) -> Result<(), Error> {
        self.client.retry(client_id).wait()
    }

    /// [`crate::Client::discard`], waiting for the commit.
    pub fn discard(&self, client_id: &str) -> Result<(), Error> {
        self.client.discard(client_id).wait()
    }

    /// [`crate::Client::mark_read`], waiting for the commit.
    pub fn mark_read(&self, conv: &ConvId, seq: Seq) -> Result<(), Error> {
        self.client.mark_read(conv, seq).wait()
    }

    /// [`crate::Client::mark_all_read`], waiting for the commit.
    pub fn mark_all_read(&self, conv: &ConvId) -> Result<(), Error> {
        self.client.mark_all_read(conv).wait()
    }
}
