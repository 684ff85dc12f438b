//! Queries: answered from the local store only, never waiting on the
//! network.

use tokio::sync::watch;

use super::{Client, IDLE_READERS};
use crate::error::Error;
use crate::protocol::{ConvId, ConvKind, Seq};
use crate::store::{ConvRow, MetaKey, OutboxItem, SearchHit, Store, TimelineItem, TimelineQuery};

impl Client {
    // ---- queries (local store only) -------------------------------------

    /// Runs a read on an idle reader connection (WAL: it never waits for
    /// the store thread's writes).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, crate::store::StoreError>,
    ) -> Result<T, Error> {
        let reader = self.take_reader()?;
        let out = f(&*reader);
        self.put_reader(reader);
        Ok(out?)
    }

    pub(crate) fn take_reader(&self) -> Result<Box<dyn Store>, Error> {
        // A panic while holding the lock cannot leave the pool inconsistent.
        let idle = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        match idle {
            Some(r) => Ok(r),
            None => Ok(self
                .inner
                .spare
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .reader()?),
        }
    }

    pub(crate) fn put_reader(&self, reader: Box<dyn Store>) {
        let mut idle = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(reader);
        }
    }

    /// A receiver bumped after every store commit.
    pub(crate) fn commits(&self) -> watch::Receiver<u64> {
        self.inner.commits.clone()
    }

    /// The logged-in user's name (None before a session exists).
    pub fn user(&self) -> Option<String> {
        let mut cached = self.inner.user.lock().unwrap_or_else(|p| p.into_inner());
        if cached.is_none() {
            *cached = self.session().map(|s| s.user);
        }
        cached.clone()
    }

    /// How far the other member of a direct conversation has read (the
    /// highest `receipt` stored, kept across restarts); 0 when unknown.
    pub fn receipt(&self, conv: &ConvId) -> Result<Seq, Error> {
        self.read(|r| r.receipt(conv))
    }

    /// The id of the server the local cache belongs to (`hello.server_id`);
    /// None before the first connection. An app compares it across a
    /// connection to tell the user that the server was reset.
    pub fn server_id(&self) -> Result<Option<String>, Error> {
        self.read(|r| r.meta(MetaKey::ServerId))
    }

    /// Conversations, most recent activity first.
    pub fn conversations(&self) -> Result<Vec<ConvRow>, Error> {
        self.read(|r| r.conversations())
    }

    /// One conversation.
    pub fn conversation(&self, conv: &ConvId) -> Result<Option<ConvRow>, Error> {
        self.read(|r| r.conversation(conv))
    }

    /// Finds a conversation by id, title (case-insensitive) or `@user` (direct).
    pub fn find_conversation(&self, query: &str) -> Result<Option<ConvRow>, Error> {
        let rows = self.conversations()?;
        if let Some(user) = query.strip_prefix('@') {
            return Ok(rows
                .into_iter()
                .find(|r| r.kind == ConvKind::Direct && r.title == user));
        }
        if let Some(r) = rows.iter().find(|r| r.conv.as_str() == query) {
            return Ok(Some(r.clone()));
        }
        Ok(rows
            .into_iter()
            .find(|r| r.title.eq_ignore_ascii_case(query)))
    }

    /// A timeline window with explicit gaps and pending echoes.
    pub fn timeline(&self, conv: &ConvId, q: TimelineQuery) -> Result<Vec<TimelineItem>, Error> {
        self.read(|r| r.timeline(conv, q))
    }

    /// Number of held entries.
    pub fn timeline_len(&self, conv: &ConvId) -> Result<u64, Error> {
        self.read(|r| r.timeline_len(conv))
    }

    /// Local full-text search over held texts, newest first.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>, Error> {
        self.read(|r| r.search(text, limit))
    }

    /// Outbox rows in send order.
    pub fn outbox(&self) -> Result<Vec<OutboxItem>, Error> {
        self.read(|r| r.outbox())
    }
}
