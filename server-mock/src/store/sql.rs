//! The storage interface every op and read is written against: [`Db`]
//! (execute / query / batch with backend-neutral [`Value`]s; parameters
//! are bound as borrowed [`Bound`]s, so SQLite binds a text without a copy
//! on the Rust side), the conveniences on top of it ([`DbExt`]), and its
//! SQLite implementation on `rusqlite::Connection` (PostgreSQL's is
//! [`super::pg`]). Nothing outside `store/` (schema, pool, writer set-up)
//! and the offline `admin` commands names a SQLite type.
//!
//! The SQL handed to [`Db`] is the portable subset both SQLite and
//! PostgreSQL accept: numbered placeholders `?N` (a PostgreSQL backend
//! rewrites them to `$N` when it prepares), `INSERT … ON CONFLICT DO
//! NOTHING` rather than `INSERT OR IGNORE`, `INSERT … RETURNING id` rather
//! than `last_insert_rowid()`, and integer flags compared as `= 1`.

use rusqlite::types::{ToSqlOutput, ValueRef};

/// A value bound to a placeholder or read from a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Why a [`Db`] call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The SQLite backend reported an error.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The PostgreSQL backend reported an error.
    #[error(transparent)]
    Postgres(#[from] postgres::Error),
    /// The TLS settings of a `postgres://` URL cannot be used.
    #[error(transparent)]
    Tls(#[from] super::pg_tls::TlsSetupError),
    /// A column held a value of another type than the one asked for.
    #[error("column {col}: expected {want}, found {found:?}")]
    Column {
        col: usize,
        want: &'static str,
        found: Value,
    },
    /// A column index past the row's end.
    #[error("no column {0}")]
    NoColumn(usize),
    /// `query_row` found no row.
    #[error("no row returned")]
    NoRow,
    /// A parameter that no backend column can hold (a `u64` above `i64::MAX`).
    #[error("parameter out of range: {0}")]
    Param(u64),
    /// A text parameter PostgreSQL cannot hold (a NUL character).
    #[error("parameter {0}: text with a NUL character")]
    Nul(usize),
    /// A stored value that could not be decoded (e.g. bad JSON).
    #[error("column {0}: {1}")]
    Decode(usize, String),
}

impl DbError {
    /// Whether the database could not write for lack of space (SQLite's
    /// `SQLITE_FULL`, PostgreSQL's `disk_full`): the request may succeed
    /// later, once an operator freed space.
    pub fn is_storage_full(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DiskFull
            }
            DbError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::DISK_FULL),
            _ => false,
        }
    }
}

/// A value as bound to a placeholder, borrowed from the parameter (text
/// and blobs are not copied on the way to the backend).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl Bound<'_> {
    /// The owned [`Value`].
    pub fn to_value(self) -> Value {
        match self {
            Bound::Null => Value::Null,
            Bound::Int(n) => Value::Int(n),
            Bound::Real(f) => Value::Real(f),
            Bound::Text(s) => Value::Text(s.to_owned()),
            Bound::Blob(b) => Value::Blob(b.to_vec()),
        }
    }
}

/// A value that can be bound to a placeholder.
pub trait Param {
    /// The value bound, borrowed.
    fn bound(&self) -> Result<Bound<'_>, DbError>;
    /// The neutral value bound, owned.
    fn value(&self) -> Result<Value, DbError> {
        self.bound().map(Bound::to_value)
    }
}

impl Param for Value {
    fn bound(&self) -> Result<Bound<'_>, DbError> {
        Ok(match self {
            Value::Null => Bound::Null,
            Value::Int(n) => Bound::Int(*n),
            Value::Real(f) => Bound::Real(*f),
            Value::Text(s) => Bound::Text(s),
            Value::Blob(b) => Bound::Blob(b),
        })
    }
    fn value(&self) -> Result<Value, DbError> {
        Ok(self.clone())
    }
}

impl Param for i64 {
    fn bound(&self) -> Result<Bound<'_>, DbError> {
        Ok(Bound::Int(*self))
    }
}

impl Param for u64 {
    fn bound(&self) -> Result<Bound<'_>, DbError> {
        i64::try_from(*self)
            .map(Bound::Int)
            .map_err(|_| DbError::Param(*self))
    }
}

impl Param for u32 {
    fn bound(&self) -> Result<Bound<'_>, DbError> {
        Ok(Bound::Int(i64::from(*self)))
    }
}

impl Param for bool {
    fn bound(&self) -> Result<Bound<'_>, DbError> {
        Ok(Bound::Int(i64::from(*self)))
    }
}

impl Param for str {
    fn bound(&self) -> Result<Bound<'_>, DbError> {
        Ok(Bound::Text(self))
    }
}

impl Param for String {
    fn bound(&self) -> Result<Bound<'_>, DbError> {
        Ok(Bound::Text(self))
    }
}

impl Param for [u8] {
    fn bound(&self) -> Result<Bound<'_>, DbError> {
        Ok(Bound::Blob(self))
    }
}

impl Param for [u8; 32] {
    fn bound(&self) -> Result<Bound<'_>, DbError> {
        Ok(Bound::Blob(self))
    }
}

impl Param for Vec<u8> {
    fn bound(&self) -> Result<Bound<'_>, DbError> {
        Ok(Bound::Blob(self))
    }
}

impl<T: Param> Param for Option<T> {
    fn bound(&self) -> Result<Bound<'_>, DbError> {
        match self {
            Some(v) => v.bound(),
            None => Ok(Bound::Null),
        }
    }
}

impl<T: Param + ?Sized> Param for &T {
    fn bound(&self) -> Result<Bound<'_>, DbError> {
        (**self).bound()
    }
}

/// Builds the `&[&dyn Param]` a [`Db`] call takes, like `rusqlite::params!`.
#[macro_export]
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::store::sql::Param]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::store::sql::Param),+] as &[&dyn $crate::store::sql::Param]
    };
}

/// A value a column can be read into.
pub trait FromValue: Sized {
    /// Name of the expected type, for errors.
    const WANT: &'static str;
    /// `None` when `v` is not of this type.
    fn from_value(v: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    const WANT: &'static str = "integer";
    fn from_value(v: &Value) -> Option<i64> {
        match v {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }
}

impl FromValue for u64 {
    const WANT: &'static str = "non-negative integer";
    fn from_value(v: &Value) -> Option<u64> {
        i64::from_value(v).and_then(|n| u64::try_from(n).ok())
    }
}

impl FromValue for u32 {
    const WANT: &'static str = "32-bit non-negative integer";
    fn from_value(v: &Value) -> Option<u32> {
        i64::from_value(v).and_then(|n| u32::try_from(n).ok())
    }
}

impl FromValue for usize {
    const WANT: &'static str = "non-negative integer";
    fn from_value(v: &Value) -> Option<usize> {
        i64::from_value(v).and_then(|n| usize::try_from(n).ok())
    }
}

impl FromValue for bool {
    const WANT: &'static str = "0 or 1";
    fn from_value(v: &Value) -> Option<bool> {
        match v {
            Value::Int(0) => Some(false),
            Value::Int(1) => Some(true),
            _ => None,
        }
    }
}

impl FromValue for String {
    const WANT: &'static str = "text";
    fn from_value(v: &Value) -> Option<String> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    const WANT: &'static str = "blob";
    fn from_value(v: &Value) -> Option<Vec<u8>> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    const WANT: &'static str = T::WANT;
    fn from_value(v: &Value) -> Option<Option<T>> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One result row, its columns in select order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Column `i` as a `T`; a type mismatch is an error naming the column.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T, DbError> {
        let v = self.0.get(i).ok_or(DbError::NoColumn(i))?;
        T::from_value(v).ok_or_else(|| DbError::Column {
            col: i,
            want: T::WANT,
            found: v.clone(),
        })
    }
}

/// `(CAST(?1 AS T1), CAST(?2 AS T2)), …` for `n` rows of `types`: typed, so
/// PostgreSQL need not guess a parameter's type from a row comparison (an
/// empty type: the bare placeholder).
pub fn values_list(n: usize, types: &[&str]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(n * types.len() * 8);
    let mut i: usize = 0;
    for row in 0..n {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for (j, t) in types.iter().enumerate() {
            if j > 0 {
                out.push_str(", ");
            }
            i += 1;
            // Writing to a String cannot fail.
            let _ = if t.is_empty() {
                write!(out, "?{i}")
            } else {
                write!(out, "CAST(?{i} AS {t})")
            };
        }
        out.push(')');
    }
    out
}

/// `{set} FROM (VALUES (…), …) AS v WHERE {matching}` for `rows`, deferred
/// ([`Db::execute_later`]), 64 rows per statement: one statement where a
/// batch would run one per row. The columns are `v.column1`, `v.column2`,
/// … (both SQLite and PostgreSQL name a `VALUES` list's columns so).
pub fn bulk_update<P: Param, const N: usize>(
    db: &dyn Db,
    set: &str,
    matching: &str,
    rows: &[[P; N]],
) -> Result<(), DbError> {
    for chunk in rows.chunks(64) {
        let sql = format!(
            "{set} FROM (VALUES {}) AS v WHERE {matching}",
            values_list(chunk.len(), &[""; N])
        );
        let args: Vec<&dyn Param> = chunk.iter().flatten().map(|v| v as &dyn Param).collect();
        db.execute_later(&sql, &args)?;
    }
    Ok(())
}

/// `{head} VALUES (…), …` for rows of `width` parameters (`args` holds
/// them row after row), deferred ([`Db::execute_later`]),
/// `rows_per_statement` rows per statement.
pub fn bulk_insert(
    db: &dyn Db,
    head: &str,
    width: usize,
    args: &[&dyn Param],
    rows_per_statement: usize,
) -> Result<(), DbError> {
    let untyped = vec![""; width];
    for chunk in args.chunks(width * rows_per_statement) {
        let sql = format!(
            "{head} VALUES {}",
            values_list(chunk.len() / width, &untyped)
        );
        db.execute_later(&sql, chunk)?;
    }
    Ok(())
}

/// A database connection (or the open batch transaction of one) as the ops
/// and reads see it. Object safe: ops take `&dyn Db`.
pub trait Db: std::fmt::Debug {
    /// Runs one statement; returns the number of rows changed.
    fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<usize, DbError>;
    /// Runs one query and returns all its rows.
    fn query(&self, sql: &str, params: &[&dyn Param]) -> Result<Vec<Row>, DbError>;
    /// Runs statements without parameters or results (transaction control:
    /// `SAVEPOINT op`, `RELEASE op`, `ROLLBACK TO op`).
    fn batch(&self, sql: &str) -> Result<(), DbError>;
    /// Runs a write whose row count nobody needs, now or with the next
    /// statement (PostgreSQL: it travels with the next round trip; an
    /// error surfaces there). Reads after it see it either way.
    fn execute_later(&self, sql: &str, params: &[&dyn Param]) -> Result<(), DbError> {
        self.execute(sql, params).map(|_| ())
    }
    /// Opens the writer's batch transaction.
    fn begin_write(&self) -> Result<(), DbError> {
        self.batch("BEGIN")
    }
    /// Opens the writer's batch transaction and runs `query` (no
    /// parameters) in it; returns the first column of its first row as
    /// text. One round trip where the backend can.
    fn begin_write_and_read(&self, query: &str) -> Result<String, DbError> {
        self.begin_write()?;
        let rows = self.query(query, &[])?;
        let row = rows.first().ok_or(DbError::NoRow)?;
        row.get(0)
    }
    /// Opens a read-only transaction: one snapshot for every query in it.
    fn begin_read(&self) -> Result<(), DbError> {
        self.batch("BEGIN")
    }
}

/// Conveniences over [`Db`], for every implementation and `dyn Db`.
pub trait DbExt: Db {
    /// The first row mapped by `f`; [`DbError::NoRow`] when there is none.
    fn query_row<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.query_opt(sql, params, f)?.ok_or(DbError::NoRow)
    }

    /// The first row mapped by `f`, if any.
    fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<Option<T>, DbError> {
        self.query(sql, params)?.first().map(f).transpose()
    }

    /// Every row mapped by `f`.
    fn query_map<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        self.query(sql, params)?.iter().map(f).collect()
    }
}

impl<D: Db + ?Sized> DbExt for D {}

fn from_ref(col: usize, v: ValueRef<'_>) -> Result<Value, DbError> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(
            String::from_utf8(t.to_vec()).map_err(|e| DbError::Decode(col, e.to_string()))?,
        ),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

/// Binds every placeholder of `stmt` from `params`, borrowed; fails
/// unless their counts match (a cached statement keeps its old bindings).
fn bind_all(stmt: &mut rusqlite::Statement<'_>, params: &[&dyn Param]) -> Result<(), DbError> {
    if stmt.parameter_count() != params.len() {
        return Err(
            rusqlite::Error::InvalidParameterCount(params.len(), stmt.parameter_count()).into(),
        );
    }
    for (i, p) in params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, p.bound()?)?;
    }
    Ok(())
}

impl rusqlite::ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Bound::Null => ValueRef::Null,
            Bound::Int(n) => ValueRef::Integer(n),
            Bound::Real(f) => ValueRef::Real(f),
            Bound::Text(s) => ValueRef::Text(s.as_bytes()),
            Bound::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// SQLite: statements are prepared once per connection and cached.
impl Db for rusqlite::Connection {
    fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<usize, DbError> {
        let mut stmt = self.prepare_cached(sql)?;
        bind_all(&mut stmt, params)?;
        Ok(stmt.raw_execute()?)
    }

    fn query(&self, sql: &str, params: &[&dyn Param]) -> Result<Vec<Row>, DbError> {
        let mut stmt = self.prepare_cached(sql)?;
        let n = stmt.column_count();
        bind_all(&mut stmt, params)?;
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut cols = Vec::with_capacity(n);
            for i in 0..n {
                cols.push(from_ref(i, r.get_ref(i)?)?);
            }
            out.push(Row(cols));
        }
        Ok(out)
    }

    fn batch(&self, sql: &str) -> Result<(), DbError> {
        Ok(self.execute_batch(sql)?)
    }

    /// Takes the write lock at once, so a batch never fails half way on a
    /// lock upgrade.
    fn begin_write(&self) -> Result<(), DbError> {
        self.batch("BEGIN IMMEDIATE")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> rusqlite::Connection {
        let c = rusqlite::Connection::open_in_memory().expect("open");
        c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, s TEXT, b BLOB)")
            .expect("create");
        c
    }

    #[test]
    fn values_round_trip_through_sqlite() {
        let c = db();
        let d: &dyn Db = &c;
        let hash = [7u8; 32];
        let n = d
            .execute(
                "INSERT INTO t (n, s, b) VALUES (?1, ?2, ?3)",
                params![5u64, "héllo", hash],
            )
            .expect("insert");
        assert_eq!(n, 1);
        d.execute(
            "INSERT INTO t (n, s, b) VALUES (?1, ?2, ?3)",
            params![None::<i64>, None::<String>, None::<Vec<u8>>],
        )
        .expect("insert nulls");
        let rows = d
            .query_map("SELECT n, s, b FROM t ORDER BY id", params![], |r| {
                Ok((
                    r.get::<Option<u64>>(0)?,
                    r.get::<Option<String>>(1)?,
                    r.get::<Option<Vec<u8>>>(2)?,
                ))
            })
            .expect("select");
        assert_eq!(
            rows,
            vec![
                (Some(5), Some("héllo".to_owned()), Some(hash.to_vec())),
                (None, None, None)
            ]
        );
    }

    #[test]
    fn query_row_and_opt_tell_missing_rows_apart() {
        let c = db();
        let d: &dyn Db = &c;
        let none = d
            .query_opt("SELECT n FROM t WHERE id = ?1", params![1i64], |r| {
                r.get::<i64>(0)
            })
            .expect("query");
        assert_eq!(none, None);
        let err = d
            .query_row("SELECT n FROM t WHERE id = ?1", params![1i64], |r| {
                r.get::<i64>(0)
            })
            .expect_err("no row");
        assert!(matches!(err, DbError::NoRow), "{err:?}");
        let id = d
            .query_row(
                "INSERT INTO t (n) VALUES (?1) RETURNING id",
                params![9i64],
                |r| r.get::<i64>(0),
            )
            .expect("returning");
        assert_eq!(id, 1);
    }

    #[test]
    fn type_mismatch_and_range_are_errors_not_defaults() {
        let c = db();
        let d: &dyn Db = &c;
        d.execute("INSERT INTO t (n, s) VALUES (-1, 'x')", params![])
            .expect("insert");
        let err = d
            .query_row("SELECT n FROM t", params![], |r| r.get::<u64>(0))
            .expect_err("negative as u64");
        assert!(
            matches!(
                err,
                DbError::Column {
                    col: 0,
                    found: Value::Int(-1),
                    ..
                }
            ),
            "{err:?}"
        );
        let err = d
            .query_row("SELECT s FROM t", params![], |r| r.get::<bool>(0))
            .expect_err("text as bool");
        assert!(matches!(err, DbError::Column { col: 0, .. }), "{err:?}");
        let err = d
            .execute("UPDATE t SET n = ?1", params![u64::MAX])
            .expect_err("u64 past i64");
        assert!(matches!(err, DbError::Param(u64::MAX)), "{err:?}");
    }

    /// Parameters are bound borrowed onto a cached statement, which keeps
    /// its previous bindings: too few or too many is an error, never a
    /// statement run with a stale value.
    #[test]
    fn a_cached_statement_never_runs_with_a_stale_binding() {
        let c = db();
        let d: &dyn Db = &c;
        let insert = "INSERT INTO t (n, s) VALUES (?1, ?2)";
        d.execute(insert, params![1i64, "first"]).expect("insert");
        let err = d.execute(insert, params![2i64]).expect_err("one missing");
        assert!(
            matches!(
                err,
                DbError::Sqlite(rusqlite::Error::InvalidParameterCount(1, 2))
            ),
            "{err:?}"
        );
        let err = d
            .execute(insert, params![2i64, "x", "y"])
            .expect_err("one too many");
        assert!(matches!(err, DbError::Sqlite(_)), "{err:?}");
        let body = String::from("borrowed \u{1b}[31m text");
        d.execute(insert, params![3i64, body]).expect("insert");
        let rows = d
            .query_map("SELECT n, s FROM t ORDER BY id", params![], |r| {
                Ok((r.get::<i64>(0)?, r.get::<String>(1)?))
            })
            .expect("select");
        assert_eq!(rows, vec![(1, "first".to_owned()), (3, body)]);
    }
}
