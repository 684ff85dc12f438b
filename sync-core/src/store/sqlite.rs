//! SQLite implementation of [`Store`]: WAL, numbered migrations, one
//! `BEGIN IMMEDIATE` transaction per [`Batch`].
//!
//! This type does blocking I/O. The driver keeps it on a dedicated store
//! thread; tests and tools may use it directly (e.g. to inspect a database
//! after a crash with [`SqliteStore::open`]).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    Batch, ConvRecord, MetaKey, OutboxItem, OutboxKind, OutboxState, RangeSet, SeqRange, Session,
    Snapshot, Store, StoreError, Write,
};
use crate::protocol::ConvId;

/// Numbered migrations; migration `i` (1-based) brings the schema to version `i`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_streams.sql"),
    include_str!("migrations/0003_protocol_1_1.sql"),
    include_str!("migrations/0004_orphan_replies.sql"),
    include_str!("migrations/0005_redaction_erases.sql"),
];

/// [`StoreError::DiskFull`] when `e` failed for lack of space on the disk
/// holding `file`: SQLite says so (`SQLITE_FULL`), or it reports an I/O
/// error (growing the `-shm` or `-wal` file) and a probe write next to the
/// file fails with `StorageFull`. Otherwise `e` back, for the caller's
/// error.
fn full_disk(file: &Path, e: rusqlite::Error) -> Result<StoreError, rusqlite::Error> {
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let full = match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => true,
        Some(rusqlite::ErrorCode::SystemIoFailure) => no_space_in(dir),
        _ => false,
    };
    if !full {
        return Err(e);
    }
    Ok(StoreError::DiskFull {
        dir: dir.display().to_string(),
    })
}

/// Whether writing 64 KiB in `dir` fails for lack of space.
fn no_space_in(dir: &Path) -> bool {
    use std::io::Write;
    let probe = dir.join(format!(".convo-space-check-{}", std::process::id()));
    let full = std::fs::File::create(&probe)
        .and_then(|mut f| f.write_all(&[0; 64 * 1024]).and_then(|()| f.sync_all()))
        .is_err_and(|e| e.kind() == std::io::ErrorKind::StorageFull);
    let _ = std::fs::remove_file(&probe);
    full
}

/// The SQLite cache.
#[derive(Debug)]
pub struct SqliteStore {
    pub(super) conn: Connection,
    /// Where more connections to the same database are opened (a file
    /// path, or a shared in-memory database's URI).
    location: String,
    /// `PRAGMA data_version` when opened, then at the last
    /// [`Store::changed_elsewhere`].
    data_version: i64,
}

impl SqliteStore {
    /// Opens (or creates) the database at `path` and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let p = path.as_ref();
        let open_err = |source| StoreError::Open {
            path: p.display().to_string(),
            source,
        };
        let conn = Connection::open(p).map_err(|e| full_disk(p, e).unwrap_or_else(open_err))?;
        Self::setup(conn, p.display().to_string()).map_err(|e| match e {
            StoreError::Write(source) => full_disk(p, source).unwrap_or_else(open_err),
            StoreError::Migrate { version, source } => full_disk(p, source)
                .unwrap_or_else(|source| StoreError::Migrate { version, source }),
            other => other,
        })
    }

    /// An in-memory SQLite database (for tests that want the real schema).
    /// Its readers share it (a named shared-cache database), and it is gone
    /// once every connection to it is closed.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let uri = format!(
            "file:sync-core-mem-{}-{n}?mode=memory&cache=shared",
            std::process::id()
        );
        let conn = Self::connect_uri(&uri)?;
        Self::setup(conn, uri)
    }

    fn connect_uri(uri: &str) -> Result<Connection, StoreError> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        Connection::open_with_flags(uri, flags).map_err(|source| StoreError::Open {
            path: uri.to_owned(),
            source,
        })
    }

    /// Another connection to the same database.
    pub fn reopen(&self) -> Result<SqliteStore, StoreError> {
        if self.location.starts_with("file:") {
            let conn = Self::connect_uri(&self.location)?;
            return Self::setup(conn, self.location.clone());
        }
        SqliteStore::open(&self.location)
    }

    fn setup(conn: Connection, location: String) -> Result<SqliteStore, StoreError> {
        // WAL lets the query connection read while the store thread writes;
        // NORMAL is durable against process crashes, FULL is used per batch
        // where the user expects it (outbox rows).
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(StoreError::Write)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(StoreError::Write)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(StoreError::Write)?;
        // §9.5: the bytes of a redacted body (and of every row deleted or
        // rewritten) are overwritten in the file, not left in free space.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(StoreError::Write)?;
        // Ingest and queries use ~30 distinct cached statements.
        conn.set_prepared_statement_cache_capacity(64);
        let mut store = SqliteStore {
            conn,
            location,
            data_version: 0,
        };
        store.migrate()?;
        store.data_version = store.data_version()?;
        Ok(store)
    }

    /// Applies several batches, in order, in one transaction: one commit (and one FTS
    /// flush) for a run of queued pages instead of one each. `synchronous=FULL` if any
    /// batch asks for it. On error nothing of them is applied.
    fn apply_in_one(&mut self, batches: &[Batch]) -> Result<(), StoreError> {
        let durable = batches.iter().any(|b| b.durable);
        if durable {
            self.conn
                .pragma_update(None, "synchronous", "FULL")
                .map_err(StoreError::Write)?;
        }
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            for w in batches.iter().flat_map(|b| &b.writes) {
                apply_write(&tx, w)?;
            }
            tx.commit()
        })();
        if durable {
            self.conn
                .pragma_update(None, "synchronous", "NORMAL")
                .map_err(StoreError::Write)?;
        }
        result.map_err(|e| {
            if self.location.starts_with("file:") {
                return StoreError::Write(e); // in memory: no disk
            }
            full_disk(Path::new(&self.location), e).unwrap_or_else(StoreError::Write)
        })
    }

    /// `PRAGMA data_version`: changes only when another connection commits.
    fn data_version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "data_version", |r| r.get(0))
            .map_err(StoreError::Read)
    }

    /// The schema version recorded in the database (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<usize, StoreError> {
        let v: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(StoreError::Read)?;
        Ok(usize::try_from(v).unwrap_or(0))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let current = self.schema_version()?;
        if current > MIGRATIONS.len() {
            return Err(StoreError::TooNew {
                found: current,
                supported: MIGRATIONS.len(),
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
            let version = i + 1;
            let err = |source| StoreError::Migrate { version, source };
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            // Re-check inside the write lock: another connection may have migrated.
            let now: i64 = tx
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(err)?;
            if now as usize >= version {
                continue;
            }
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", version as i64)
                .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(())
    }

    pub(super) fn meta_value(&self, key: MetaKey) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [key.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(StoreError::Read)
    }
}

fn apply_write(tx: &rusqlite::Transaction<'_>, w: &Write) -> rusqlite::Result<()> {
    match w {
        Write::Meta(key, Some(v)) => {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key.as_str(), v],
            )?;
        }
        Write::Meta(key, None) => {
            tx.execute("DELETE FROM meta WHERE key = ?1", [key.as_str()])?;
        }
        Write::ResetAll => {
            tx.execute_batch(
                "DELETE FROM messages_fts; DELETE FROM messages; DELETE FROM held_ranges;
                 DELETE FROM gaps; DELETE FROM conversations; DELETE FROM receipts;
                 DELETE FROM consumer_pos; DELETE FROM thread_ranges; DELETE FROM threads;
                 DELETE FROM meta WHERE key = 'since';",
            )?;
        }
        Write::Conv(rec) => write_conv(tx, rec)?,
        Write::ClearTimeline(conv) => clear_timeline(tx, conv)?,
        Write::RemoveConv(conv) => {
            clear_timeline(tx, conv)?;
            tx.execute("DELETE FROM conversations WHERE conv = ?1", [conv.as_str()])?;
            tx.execute("DELETE FROM receipts WHERE conv = ?1", [conv.as_str()])?;
        }
        Write::Messages(conv, msgs) => super::sqlite_insert::insert_messages(tx, conv, msgs)?,
        Write::OutboxPut(item) => {
            let (kind, target, key) = match &item.kind {
                OutboxKind::Send => ("send", None, None),
                OutboxKind::Edit { target } => ("edit", Some(*target as i64), None),
                OutboxKind::Redact { target } => ("redact", Some(*target as i64), None),
                OutboxKind::Reply { reply_to } => ("reply", Some(*reply_to as i64), None),
                OutboxKind::React { target, key } => {
                    ("react", Some(*target as i64), Some(key.as_str()))
                }
            };
            let (state, code, message) = match &item.state {
                OutboxState::Pending => ("pending", None, None),
                OutboxState::Sending => ("sending", None, None),
                OutboxState::Failed { code, message } => {
                    ("failed", Some(code.as_str()), Some(message.as_str()))
                }
            };
            tx.execute(
                "INSERT INTO outbox (client_id, ord, conv, kind, target, body, state, err_code,
                                     err_message, created_ts, rkey)
                 VALUES (?1, (SELECT COALESCE(MAX(ord), 0) + 1 FROM outbox), ?2, ?3, ?4, ?5, ?6,
                         ?7, ?8, ?9, ?10)
                 ON CONFLICT(client_id) DO UPDATE SET state = excluded.state,
                     err_code = excluded.err_code, err_message = excluded.err_message",
                params![
                    item.client_id,
                    item.conv.as_str(),
                    kind,
                    target,
                    item.body,
                    state,
                    code,
                    message,
                    item.created_ts,
                    key
                ],
            )?;
        }
        Write::OutboxRemove(client_id) => {
            tx.execute("DELETE FROM outbox WHERE client_id = ?1", [client_id])?;
        }
        Write::Receipt(conv, user, seq) => {
            tx.execute(
                "INSERT INTO receipts (conv, user_name, seq) VALUES (?1, ?2, ?3)
                 ON CONFLICT(conv, user_name) DO UPDATE SET seq = MAX(seq, excluded.seq)",
                params![conv.as_str(), user, *seq as i64],
            )?;
        }
        Write::Totals { conv, as_of, texts } => {
            let mut st = tx.prepare_cached(
                "UPDATE messages SET snap_seq = ?3, snap_reactions = ?4, snap_replies = ?5,
                     snap_last_reply = ?6
                 WHERE conv = ?1 AND seq = ?2 AND kind = 'text' AND snap_seq < ?3",
            )?;
            for x in texts {
                let reactions = if x.reactions.is_empty() {
                    None
                } else {
                    serde_json::to_string(&x.reactions).ok()
                };
                st.execute(params![
                    conv.as_str(),
                    x.seq as i64,
                    *as_of as i64,
                    reactions,
                    x.replies as i64,
                    x.last_reply_seq.map(|s| s as i64)
                ])?;
            }
        }
        Write::ThreadPage {
            conv,
            root,
            from,
            to,
            thread_last,
        } => write_thread_page(tx, conv, *root, *from, *to, *thread_last)?,
        Write::Live(conv, seqs) => {
            let mut st =
                tx.prepare_cached("UPDATE messages SET live = 1 WHERE conv = ?1 AND seq = ?2")?;
            for s in seqs {
                st.execute(params![conv.as_str(), *s as i64])?;
            }
        }
        Write::ConsumerStart {
            name,
            positions,
            reset,
        } => {
            tx.execute(
                "INSERT OR IGNORE INTO consumers (name, created_ts) VALUES (?1, ?2)",
                params![
                    name,
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as i64)
                ],
            )?;
            if *reset {
                tx.execute("DELETE FROM consumer_pos WHERE name = ?1", [name])?;
            }
            let mut st = tx.prepare_cached(
                "INSERT OR IGNORE INTO consumer_pos (name, conv, pos) VALUES (?1, ?2, ?3)",
            )?;
            for (conv, pos) in positions {
                st.execute(params![name, conv.as_str(), *pos as i64])?;
            }
        }
        Write::ConsumerAck { name, conv, seq } => {
            failpoint("consumer-ack");
            tx.prepare_cached("INSERT OR IGNORE INTO consumers (name, created_ts) VALUES (?1, 0)")?
                .execute([name])?;
            tx.prepare_cached(
                "INSERT INTO consumer_pos (name, conv, pos) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name, conv) DO UPDATE SET pos = MAX(pos, excluded.pos)",
            )?
            .execute(params![name, conv.as_str(), *seq as i64])?;
        }
    }
    Ok(())
}

/// Merges a completed `thread` page into the thread's covered ranges.
fn write_thread_page(
    tx: &rusqlite::Transaction<'_>,
    conv: &ConvId,
    root: u64,
    from: u64,
    to: u64,
    thread_last: u64,
) -> rusqlite::Result<()> {
    let c = conv.as_str();
    let mut ranges = RangeSet::default();
    {
        let mut st =
            tx.prepare_cached("SELECT lo, hi FROM thread_ranges WHERE conv = ?1 AND root = ?2")?;
        let rows = st.query_map(params![c, root as i64], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
        })?;
        for row in rows {
            let (lo, hi) = row?;
            ranges.insert_range(lo, hi);
        }
    }
    ranges.insert_range(from, to);
    tx.prepare_cached("DELETE FROM thread_ranges WHERE conv = ?1 AND root = ?2")?
        .execute(params![c, root as i64])?;
    let mut put = tx
        .prepare_cached("INSERT INTO thread_ranges (conv, root, lo, hi) VALUES (?1, ?2, ?3, ?4)")?;
    for r in ranges.ranges() {
        put.execute(params![c, root as i64, r.from as i64, r.to as i64])?;
    }
    tx.prepare_cached(
        "INSERT INTO threads (conv, root, thread_last) VALUES (?1, ?2, ?3)
         ON CONFLICT(conv, root) DO UPDATE SET thread_last = MAX(thread_last, excluded.thread_last)",
    )?
    .execute(params![c, root as i64, thread_last as i64])?;
    Ok(())
}

fn write_conv(tx: &rusqlite::Transaction<'_>, rec: &ConvRecord) -> rusqlite::Result<()> {
    let last_json = rec
        .last
        .as_ref()
        .and_then(|m| serde_json::to_string(m).ok());
    let last_ts = rec.last.as_ref().map_or(0, |m| m.ts);
    tx.execute(
        "INSERT INTO conversations (conv, kind, title, member_count, last_seq, read_seq, unread,
                                    local_read, last_json, left_conv, cursor, last_activity_ts,
                                    mentions, mention_seqs, notify, pinned, archived)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT(conv) DO UPDATE SET kind = excluded.kind, title = excluded.title,
             member_count = excluded.member_count, last_seq = excluded.last_seq,
             read_seq = excluded.read_seq, unread = excluded.unread,
             local_read = MAX(local_read, excluded.local_read), last_json = excluded.last_json,
             left_conv = excluded.left_conv, cursor = excluded.cursor,
             mentions = excluded.mentions, mention_seqs = excluded.mention_seqs,
             notify = excluded.notify, pinned = excluded.pinned, archived = excluded.archived,
             last_activity_ts = MAX(last_activity_ts, excluded.last_activity_ts)",
        params![
            rec.conv.as_str(),
            rec.kind.as_str(),
            rec.title,
            rec.member_count,
            rec.last_seq as i64,
            rec.read_seq as i64,
            rec.unread as i64,
            rec.local_read as i64,
            last_json,
            rec.left,
            rec.cursor() as i64,
            last_ts,
            rec.mentions as i64,
            serde_json::to_string(&rec.mention_seqs).unwrap_or_else(|_| "[]".into()),
            rec.notify.as_str(),
            rec.pinned,
            rec.archived
        ],
    )?;
    let conv = rec.conv.as_str();
    tx.execute("DELETE FROM held_ranges WHERE conv = ?1", [conv])?;
    tx.execute("DELETE FROM gaps WHERE conv = ?1", [conv])?;
    let mut put_range =
        tx.prepare_cached("INSERT INTO held_ranges (conv, lo, hi) VALUES (?1, ?2, ?3)")?;
    for r in rec.held.ranges() {
        put_range.execute(params![conv, r.from as i64, r.to as i64])?;
    }
    let mut put_gap = tx.prepare_cached("INSERT INTO gaps (conv, lo, hi) VALUES (?1, ?2, ?3)")?;
    for g in rec.held.gaps(rec.last_seq) {
        put_gap.execute(params![conv, g.from as i64, g.to as i64])?;
    }
    Ok(())
}

/// Test-only crash point: when `SYNC_CORE_FAILPOINT` names `point`, the
/// process aborts here, inside the store transaction (before its commit).
/// Crash tests use it to show that a write and what commits with it (a
/// stream reply and its ack) are all-or-nothing.
fn failpoint(point: &str) {
    static ARMED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let armed = ARMED.get_or_init(|| std::env::var("SYNC_CORE_FAILPOINT").ok());
    if armed.as_deref() == Some(point) {
        std::process::abort();
    }
}

fn clear_timeline(tx: &rusqlite::Transaction<'_>, conv: &ConvId) -> rusqlite::Result<()> {
    let c = conv.as_str();
    tx.execute(
        "DELETE FROM messages_fts WHERE rowid IN (SELECT id FROM messages WHERE conv = ?1)",
        [c],
    )?;
    tx.execute("DELETE FROM messages WHERE conv = ?1", [c])?;
    tx.execute("DELETE FROM held_ranges WHERE conv = ?1", [c])?;
    tx.execute("DELETE FROM gaps WHERE conv = ?1", [c])?;
    tx.execute("DELETE FROM thread_ranges WHERE conv = ?1", [c])?;
    tx.execute("DELETE FROM threads WHERE conv = ?1", [c])?;
    tx.execute("UPDATE conversations SET cursor = 0 WHERE conv = ?1", [c])?;
    // The seqs the positions counted are gone: consumers read it again from 0.
    tx.execute("DELETE FROM consumer_pos WHERE conv = ?1", [c])?;
    Ok(())
}

impl Store for SqliteStore {
    fn changed_elsewhere(&mut self) -> Result<bool, StoreError> {
        let now = self.data_version()?;
        Ok(std::mem::replace(&mut self.data_version, now) != now)
    }

    fn load(&self) -> Result<Snapshot, StoreError> {
        let session = self.session()?;
        let mut convs = Vec::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT conv, lo, hi FROM held_ranges ORDER BY conv, lo")
                .map_err(StoreError::Read)?;
            let mut held: std::collections::HashMap<String, Vec<SeqRange>> = Default::default();
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .map_err(StoreError::Read)?;
            for row in rows {
                let (c, lo, hi) = row.map_err(StoreError::Read)?;
                held.entry(c)
                    .or_default()
                    .push(SeqRange::new(lo as u64, hi as u64));
            }
            for mut rec in self.conv_records()? {
                rec.held =
                    RangeSet::from_ranges(held.remove(rec.conv.as_str()).unwrap_or_default());
                convs.push(rec);
            }
        }
        Ok(Snapshot {
            server_id: self.meta_value(MetaKey::ServerId)?,
            since: self.meta_value(MetaKey::Since)?,
            session,
            convs,
            outbox: self.outbox()?,
            features: super::parse_features(self.meta_value(MetaKey::Features)?),
            limits: super::parse_limits(self.meta_value(MetaKey::Limits)?),
        })
    }

    fn apply(&mut self, batch: &Batch) -> Result<(), StoreError> {
        self.apply_in_one(std::slice::from_ref(batch))
    }

    fn apply_all(&mut self, batches: &[Batch]) -> Result<(), StoreError> {
        self.apply_in_one(batches)
    }

    fn reader(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(self.reopen()?))
    }

    fn meta(&self, key: MetaKey) -> Result<Option<String>, StoreError> {
        self.meta_value(key)
    }

    fn receipt(&self, conv: &ConvId) -> Result<crate::protocol::Seq, StoreError> {
        self.receipt_seq(conv)
    }

    fn conversations(&self) -> Result<Vec<super::ConvRow>, StoreError> {
        self.conv_rows(None)
    }

    fn conversation(&self, conv: &ConvId) -> Result<Option<super::ConvRow>, StoreError> {
        Ok(self.conv_rows(Some(conv))?.into_iter().next())
    }

    fn timeline(
        &self,
        conv: &ConvId,
        q: super::TimelineQuery,
    ) -> Result<Vec<super::TimelineItem>, StoreError> {
        self.timeline_window(conv, q)
    }

    fn timeline_len(&self, conv: &ConvId) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            // The held ranges are committed with the messages they cover, so
            // their lengths add up to the row count without scanning the rows.
            .query_row(
                "SELECT COALESCE(SUM(hi - lo + 1), 0) FROM held_ranges WHERE conv = ?1",
                [conv.as_str()],
                |r| r.get(0),
            )
            .map_err(StoreError::Read)?;
        Ok(n as u64)
    }

    fn gaps(&self, conv: &ConvId) -> Result<Vec<SeqRange>, StoreError> {
        self.gap_rows(conv, 1, u64::MAX)
    }

    fn search(&self, text: &str, limit: usize) -> Result<Vec<super::SearchHit>, StoreError> {
        self.search_fts(text, limit)
    }

    fn outbox(&self) -> Result<Vec<OutboxItem>, StoreError> {
        self.outbox_rows(None)
    }

    fn consumer(
        &self,
        name: &str,
    ) -> Result<Option<std::collections::BTreeMap<ConvId, crate::protocol::Seq>>, StoreError> {
        self.consumer_positions(name)
    }

    fn thread(
        &self,
        conv: &ConvId,
        root: crate::protocol::Seq,
    ) -> Result<super::ThreadWindow, StoreError> {
        self.thread_window(conv, root)
    }

    fn thread_coverage(
        &self,
        conv: &ConvId,
        root: crate::protocol::Seq,
    ) -> Result<(RangeSet, crate::protocol::Seq), StoreError> {
        self.thread_ranges(conv, root)
    }

    fn standing_reaction(
        &self,
        conv: &ConvId,
        target: crate::protocol::Seq,
        key: &str,
        user: &str,
    ) -> Result<Option<crate::protocol::Seq>, StoreError> {
        self.my_reaction(conv, target, key, user)
    }

    fn session(&self) -> Result<Option<Session>, StoreError> {
        match (
            self.meta_value(MetaKey::User)?,
            self.meta_value(MetaKey::Device)?,
            self.meta_value(MetaKey::Token)?,
        ) {
            (Some(user), Some(device), Some(token)) => Ok(Some(Session {
                user,
                device,
                token,
            })),
            _ => Ok(None),
        }
    }
}
