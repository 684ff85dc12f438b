//! Queries: answered from the local store only, never waiting on the
//! network.

use tokio::sync::watch;

use super::{Client, IDLE_READERS};
use crate::error::Error;
use crate::protocol::{ConvId, ConvKind, Seq, ServerLimits};
use crate::store::{
    ConvRow, MetaKey, OutboxItem, SearchHit, Store, ThreadWindow, TimelineItem, TimelineQuery,
};

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

    /// The logged-in user's name (None before any log-in). Stored at
    /// log-in, also when the token is kept out of the store
    /// ([`crate::ClientBuilder::token_in_memory`]).
    pub fn user(&self) -> Option<String> {
        let mut cached = self.inner.user.lock().unwrap_or_else(|p| p.into_inner());
        if cached.is_none() {
            *cached = self
                .read(|r| r.meta(crate::store::MetaKey::User))
                .ok()
                .flatten();
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

    /// Conversations that are not archived: pinned ones first, then by
    /// most recent activity (ties by id).
    pub fn conversations(&self) -> Result<Vec<ConvRow>, Error> {
        let mut rows = self.served_rows()?;
        rows.retain(|r| !r.archived);
        Ok(rows)
    }

    /// §9.4: archived conversations, most recent activity first.
    pub fn archived_conversations(&self) -> Result<Vec<ConvRow>, Error> {
        let mut rows = self.served_rows()?;
        rows.retain(|r| r.archived);
        rows.sort_by(|a, b| {
            b.last_activity_ts
                .cmp(&a.last_activity_ts)
                .then_with(|| a.conv.cmp(&b.conv))
        });
        Ok(rows)
    }

    /// Whether the server lists this section 9 feature
    /// ([`crate::protocol::features`]) in `hello.features`: the current
    /// server's, or the last one's (kept in the store, so a cold start
    /// offline knows). False before any server was reached.
    pub fn supports(&self, feature: &str) -> bool {
        self.features()
            .is_some_and(|list| list.iter().any(|f| f == feature))
    }

    /// The server's limits (`hello.max_body_bytes`, `max_frame_bytes`): the
    /// current server's, or the last one's; the protocol's example values
    /// (16 KiB bodies, 64 KiB frames) before any server was reached. A
    /// body over `max_body_bytes` is refused with [`Error::Invalid`].
    pub fn server_limits(&self) -> ServerLimits {
        self.read(|r| r.meta(MetaKey::Limits))
            .ok()
            .and_then(crate::store::parse_limits)
            .unwrap_or_default()
    }

    /// The stored `hello.features`; None before any server was reached.
    pub(crate) fn features(&self) -> Option<Vec<String>> {
        self.read(|r| r.meta(MetaKey::Features))
            .ok()
            .and_then(crate::store::parse_features)
    }

    /// A feature may be used: the server lists it, or no server was
    /// reached yet (the engine decides once one is).
    pub(crate) fn feature_allowed(&self, feature: &str) -> bool {
        self.features()
            .is_none_or(|list| list.iter().any(|f| f == feature))
    }

    /// §9.1: the thread of `root` as held locally (never waits on the
    /// network): the root, the replies with gaps where replies may be
    /// missing, pending reply echoes, and whether it is complete. Call
    /// [`Client::load_thread`] to fill it. [`Error::Unsupported`] against a
    /// server without `reply`.
    ///
    /// ```no_run
    /// # async fn demo(client: sync_core::Client, conv: sync_core::protocol::ConvId) -> Result<(), sync_core::Error> {
    /// if !client.thread(&conv, 42)?.complete {
    ///     client.load_thread(&conv, 42).await?;
    /// }
    /// for item in client.thread(&conv, 42)?.items {
    ///     println!("{item:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn thread(&self, conv: &ConvId, root: Seq) -> Result<ThreadWindow, Error> {
        if !self.feature_allowed(crate::protocol::features::REPLY) {
            return Err(Error::Unsupported(crate::protocol::features::REPLY));
        }
        self.read(|r| r.thread(conv, root))
    }

    /// One conversation.
    pub fn conversation(&self, conv: &ConvId) -> Result<Option<ConvRow>, Error> {
        let mut row = self.read(|r| r.conversation(conv))?;
        if self.settings_unserved() {
            row.iter_mut().for_each(default_settings);
        }
        Ok(row)
    }

    /// Every stored row, pinned first then by activity. Against a server
    /// without §9.4 `settings` (version 1, or one that dropped the feature)
    /// the settings a 1.1 server stored earlier read as the defaults: they
    /// must not keep a conversation archived (hidden, with nothing able to
    /// unarchive it), pinned or muted. They stay stored, for a server that
    /// serves them again.
    fn served_rows(&self) -> Result<Vec<ConvRow>, Error> {
        let mut rows = self.read(|r| r.conversations())?;
        if self.settings_unserved() {
            rows.iter_mut().for_each(default_settings);
            crate::store::sort_rows(&mut rows);
        }
        Ok(rows)
    }

    /// The last server's `hello` is known and lacks `settings`.
    fn settings_unserved(&self) -> bool {
        self.features().is_some_and(|list| {
            !list
                .iter()
                .any(|f| f == crate::protocol::features::SETTINGS)
        })
    }

    /// Finds a conversation by id, title (case-insensitive) or `@user` (direct).
    pub fn find_conversation(&self, query: &str) -> Result<Option<ConvRow>, Error> {
        // Archived conversations are found too.
        let rows = self.served_rows()?;
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

/// §9.4 defaults: notify `all`, not pinned, not archived.
fn default_settings(row: &mut ConvRow) {
    row.notify = crate::protocol::Notify::All;
    row.pinned = false;
    row.archived = false;
}
