//! Durable storage: the interface ops and reads are written against
//! ([`sql::Db`], backend-neutral values and portable SQL), and its SQLite
//! implementation: schema and migrations ([`schema`]), the writer
//! thread with group commit ([`writer`]; the [`batch`] every op shares, the
//! ops themselves live with their request family in `cmd/*`), the task that delivers committed replies and pushes in
//! commit order ([`delivery`]), the cached member lists pushes go to
//! ([`members`]), a pool of
//! reader connections used through `spawn_blocking` ([`Store::read`]), and row
//! mapping ([`rows`]). Blocking SQLite work never runs on the async executor.

pub mod batch;
pub mod delivery;
pub mod lock;
pub mod members;
pub mod mention_rows;
pub mod pg;
pub mod pg_tls;
pub mod prefetch;
pub mod rows;
pub mod schema;
pub mod sql;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

pub use schema::{MIGRATIONS, PRAGMAS};

use crate::DbLocation;
use crate::connection::Outbox;
use crate::error::{Reject, StoreError};
use batch::{Barrier, Done, WriteOp};
use delivery::Deliveries;
use sync_core::protocol::RequestId;
use writer::{Cmd, Job, ReplyTo};

/// Reader connections: at most this many reads run at once, so every read
/// reuses a pooled connection instead of opening one under load.
fn reader_pool_size() -> usize {
    std::thread::available_parallelism().map_or(4, |n| (n.get() * 2).clamp(4, 16))
}

/// Cheap cloneable handle to the database.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    writer: mpsc::Sender<Cmd>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    source: Source,
    pool: Mutex<Vec<Box<dyn sql::Db + Send>>>,
    readers: tokio::sync::Semaphore,
    server_id: String,
    /// Set for `DbLocation::Memory`: a throwaway file removed at shutdown.
    temp: Option<PathBuf>,
}

/// Where reader connections come from.
#[derive(Debug, Clone)]
enum Source {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Source {
    fn open_reader(&self) -> Result<Box<dyn sql::Db + Send>, StoreError> {
        match self {
            Source::Sqlite(path) => {
                let c = open_conn(path)?;
                c.execute_batch("PRAGMA busy_timeout=5000; PRAGMA query_only=1;")
                    .map_err(|e| StoreError::Sql("configure reader", e.into()))?;
                Ok(Box::new(c))
            }
            Source::Postgres(url) => Ok(Box::new(
                pg::PgConn::connect(url).map_err(|e| StoreError::Sql("connect reader", e))?,
            )),
        }
    }
}

pub(crate) fn open_conn(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Sql("open database", e.into()))?;
    // Every statement goes through the cache (`sql::Db`); room for all of
    // them, so none is re-prepared under load.
    conn.set_prepared_statement_cache_capacity(256);
    // Query planner stability: without it SQLite marks a statement whose
    // plan might depend on a bound value (a join constrained through a
    // parameter, as the membership check of every send is) to be prepared
    // again each time it is bound, which cached statements always are:
    // that re-prepare was 40 % of the writer's time per text. Plans here
    // never depend on bound values (partial indexes are matched by
    // literals in the SQL).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(|e| StoreError::Sql("configure the database", e.into()))?;
    Ok(conn)
}

/// The SQLite query plan of `sql` with `params` on a fresh, migrated
/// database: one line per plan step (`EXPLAIN QUERY PLAN`'s detail).
#[cfg(test)]
pub(crate) fn query_plan(sql: &str, params: &[&dyn rusqlite::ToSql]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut db = open_conn(&dir.path().join("plan.db")).expect("open");
    schema::prepare(&mut db).expect("migrate");
    db.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("prepare")
        .query_map(params, |r| r.get::<_, String>(3))
        .expect("plan")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn spawn_writer<D: sql::Db + Send + 'static>(
    db: D,
    rx: mpsc::Receiver<Cmd>,
    deliveries: Deliveries,
    counter: i64,
    features: crate::Features,
    writers: writer::Writers,
    lock: Option<lock::DbLock>,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    std::thread::Builder::new()
        .name("db-writer".into())
        .spawn(move || {
            // Held until the writer has committed its last batch.
            let _lock = lock;
            writer::run(db, rx, deliveries, counter, features, writers)
        })
        .map_err(StoreError::Dir)
}

/// Makes a new database file at `path` readable by its owner only (0600;
/// SQLite gives its `-wal` and `-shm` files the same mode), in a directory
/// made 0700 when it does not exist yet: the file holds every message and
/// the password hashes. An existing file keeps its mode.
fn create_private(path: &Path) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(StoreError::Dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::File(path.display().to_string(), e)),
    }
}

fn temp_path() -> PathBuf {
    let r: u64 = rand::random();
    std::env::temp_dir().join(format!("server-mock-{}-{r:016x}.db", std::process::id()))
}

impl Store {
    /// Opens (creating and migrating if needed) the database and starts the
    /// writer thread, which hands committed batches to `deliveries`
    /// ([`delivery::spawn`]).
    pub fn open(
        location: &DbLocation,
        deliveries: Deliveries,
        features: crate::Features,
    ) -> Result<Store, StoreError> {
        let (tx, rx) = mpsc::channel();
        let (source, temp, server_id, thread) = match location {
            DbLocation::Postgres(url) => {
                let db = pg::PgConn::connect(url).map_err(|e| StoreError::Sql("connect", e))?;
                let server_id = pg::prepare(&db)?;
                let counter = writer::load_counter(&db)?;
                let thread = spawn_writer(
                    db,
                    rx,
                    deliveries,
                    counter,
                    features,
                    writer::Writers::Many,
                    None,
                )?;
                (Source::Postgres(url.clone()), None, server_id, thread)
            }
            DbLocation::Memory | DbLocation::Path(_) => {
                // `:memory:` cannot be shared between the writer and reader
                // connections, so a throwaway server uses a temp file
                // instead, without fsync (nothing needs to survive it).
                let (path, temp, lock) = match location {
                    DbLocation::Path(p) => {
                        create_private(p)?;
                        (p.clone(), false, Some(lock::DbLock::acquire(p)?))
                    }
                    _ => (temp_path(), true, None),
                };
                let mut db = open_conn(&path)?;
                let server_id = schema::prepare(&mut db)?;
                if temp {
                    db.execute_batch("PRAGMA synchronous=OFF")
                        .map_err(|e| StoreError::Sql("relax throwaway database", e.into()))?;
                }
                let counter = writer::load_counter(&db)?;
                let thread = spawn_writer(
                    db,
                    rx,
                    deliveries,
                    counter,
                    features,
                    writer::Writers::One,
                    lock,
                )?;
                let temp = temp.then(|| path.clone());
                (Source::Sqlite(path), temp, server_id, thread)
            }
        };
        Ok(Store {
            inner: Arc::new(Inner {
                writer: tx,
                thread: Mutex::new(Some(thread)),
                source,
                pool: Mutex::new(Vec::new()),
                readers: tokio::sync::Semaphore::new(reader_pool_size()),
                server_id,
                temp,
            }),
        })
    }

    /// The random id created with the database.
    pub fn server_id(&self) -> &str {
        &self.inner.server_id
    }

    /// Queues `op`; the writer replies straight into `outbox` as the reply to
    /// `re` once the batch holding it has committed.
    pub fn submit(
        &self,
        op: impl Into<WriteOp>,
        origin: u64,
        outbox: Outbox,
        re: RequestId,
    ) -> Result<(), Reject> {
        outbox.begin_write();
        let job = Job {
            op: op.into(),
            origin: Some(origin),
            reply: ReplyTo::Conn { outbox, re },
        };
        self.inner.writer.send(Cmd::Job(job)).map_err(|e| {
            if let Cmd::Job(Job {
                reply: ReplyTo::Conn { outbox, .. },
                ..
            }) = e.0
            {
                outbox.end_write();
            }
            Reject::from(StoreError::WriterGone)
        })
    }

    /// Resolves once every write queued before it has committed and its
    /// reply has been queued: the writer runs jobs in FIFO order.
    pub async fn barrier(&self) {
        let _ = self.call(Barrier, None).await;
    }

    /// Runs `op` and waits for its committed result.
    pub async fn call(&self, op: impl Into<WriteOp>, origin: Option<u64>) -> Result<Done, Reject> {
        let (tx, rx) = oneshot::channel();
        let job = Job {
            op: op.into(),
            origin,
            reply: ReplyTo::Chan(tx),
        };
        self.inner
            .writer
            .send(Cmd::Job(job))
            .map_err(|_| Reject::from(StoreError::WriterGone))?;
        rx.await.map_err(|_| Reject::from(StoreError::WriterGone))?
    }

    /// Runs `f` on a reader connection on the blocking pool, inside one
    /// read transaction: everything `f` reads comes from one snapshot.
    pub async fn read<T, F>(&self, f: F) -> Result<T, Reject>
    where
        T: Send + 'static,
        F: FnOnce(&dyn sql::Db) -> Result<T, Reject> + Send + 'static,
    {
        // The semaphore is never closed; an error would be reported as internal.
        let _permit = self
            .inner
            .readers
            .acquire()
            .await
            .map_err(|e| Reject::from(StoreError::Reader(e.to_string())))?;
        let inner = self.inner.clone();
        let task = tokio::task::spawn_blocking(move || {
            let pooled = inner
                .pool
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let conn = match pooled {
                Some(c) => c,
                None => inner.source.open_reader()?,
            };
            conn.begin_read()
                .map_err(|e| StoreError::Sql("begin read", e))?;
            let out = f(&*conn);
            // Read only: ending it cannot lose anything. A connection that
            // cannot end its transaction is not reused.
            if conn.batch("ROLLBACK").is_ok() {
                let mut pool = inner.pool.lock().unwrap_or_else(PoisonError::into_inner);
                pool.push(conn);
            }
            out
        });
        match task.await {
            Ok(r) => r,
            Err(e) => Err(Reject::from(StoreError::Reader(e.to_string()))),
        }
    }

    /// Lets the writer finish every queued job, then stops it and closes the
    /// readers. Blocking: call from `spawn_blocking`.
    pub fn stop_blocking(&self) {
        let _ = self.inner.writer.send(Cmd::Stop);
        let handle = self
            .inner
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        self.inner
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.inner.remove_temp_files();
    }
}

impl Inner {
    fn remove_temp_files(&self) {
        if let Some(path) = &self.temp {
            for suffix in ["", "-wal", "-shm"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

impl Drop for Inner {
    /// A throwaway database is removed even when the server was dropped
    /// without `shutdown` (e.g. a test that panicked).
    fn drop(&mut self) {
        self.remove_temp_files();
    }
}
