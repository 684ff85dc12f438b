//! `server-mock admin …` and `server-mock invite create`: account
//! administration straight on the database, whether or not a server runs on
//! it. Every change that ends sessions bumps `meta.admin_epoch`; a running
//! server polls it (every [`ADMIN_POLL`]) and closes the connections whose
//! token was revoked or whose user was disabled with 4001.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sync_core::protocol::validate;

use crate::store::rows::now_ms;
use crate::store::sql::{Db, DbError, DbExt};

/// How often a running server looks for administrative changes.
pub const ADMIN_POLL: Duration = Duration::from_secs(2);

/// One user as `admin users` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// Account creation, Unix ms.
    pub created_ms: i64,
    /// Log-in refused.
    pub disabled: bool,
    /// Valid tokens (signed-in devices).
    pub tokens: u32,
    /// Newest token use, Unix ms.
    pub last_seen_ms: Option<i64>,
}

/// A created invite code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invite {
    /// The code to hand out.
    pub code: String,
    /// Registrations it allows.
    pub uses: u32,
    /// When it stops working, Unix ms.
    pub expires_ms: Option<i64>,
}

/// Opens (migrating if needed) the server database at `path`; another
/// program's SQLite file is refused, untouched. A database an older
/// running server serves is not migrated under it (that server's
/// statements would meet tables they do not know): refused instead.
pub fn open(path: &Path) -> anyhow::Result<Connection> {
    anyhow::ensure!(path.exists(), "no database at {}", path.display());
    let mut db = crate::store::open_conn(path)?;
    let version = crate::backup::check_ours(&db, path)?;
    let current = crate::store::MIGRATIONS.len();
    if version < current
        && let Some(pid) = crate::store::lock::holder(path)
    {
        anyhow::bail!(
            "{} is served by an older server-mock ({}schema version {version}; this one would upgrade it to {current} under it): run the admin command of the version that serves it, or stop that server first",
            path.display(),
            pid.map(|p| format!("pid {p}, ")).unwrap_or_default(),
        );
    }
    crate::store::schema::prepare(&mut db)?;
    Ok(db)
}

fn bump_epoch(db: &Connection) -> anyhow::Result<()> {
    db.execute(
        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'admin_epoch'",
        [],
    )?;
    Ok(())
}

fn require_user(db: &Connection, user: &str) -> anyhow::Result<()> {
    let known: Option<i64> = db
        .query_row("SELECT 1 FROM users WHERE name = ?1", [user], |r| r.get(0))
        .optional()?;
    anyhow::ensure!(known.is_some(), "no user {user:?}");
    Ok(())
}

/// Every user, by name.
pub fn users(db: &Connection) -> anyhow::Result<Vec<UserInfo>> {
    let mut st = db.prepare(
        "SELECT u.name, u.created_ms, u.disabled, COUNT(t.hash), MAX(t.last_used_ms)
         FROM users u LEFT JOIN tokens t ON t.user = u.name
         GROUP BY u.name ORDER BY u.name",
    )?;
    let rows = st.query_map([], |r| {
        Ok(UserInfo {
            name: r.get(0)?,
            created_ms: r.get(1)?,
            disabled: r.get(2)?,
            tokens: r.get(3)?,
            last_seen_ms: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Sets a new password and signs the user out everywhere. Returns the
/// number of tokens revoked.
pub fn reset_password(db: &Connection, user: &str, password: &str) -> anyhow::Result<usize> {
    validate::password(password).map_err(|e| anyhow::anyhow!("{e}"))?;
    require_user(db, user)?;
    let hash = crate::cmd::session::hash_password_now(password).map_err(anyhow::Error::msg)?;
    db.execute(
        "UPDATE users SET pw_hash = ?2 WHERE name = ?1",
        params![user, hash],
    )?;
    revoke(db, user)
}

/// Revokes every token of `user`. Returns how many.
pub fn revoke(db: &Connection, user: &str) -> anyhow::Result<usize> {
    require_user(db, user)?;
    let n = db.execute("DELETE FROM tokens WHERE user = ?1", [user])?;
    bump_epoch(db)?;
    Ok(n)
}

/// Disables (log-in refused, every session ended) or enables `user`.
pub fn set_disabled(db: &Connection, user: &str, disabled: bool) -> anyhow::Result<()> {
    require_user(db, user)?;
    db.execute(
        "UPDATE users SET disabled = ?2 WHERE name = ?1",
        params![user, disabled],
    )?;
    if disabled {
        revoke(db, user)?;
    }
    Ok(())
}

/// A new invite code good for `uses` registrations, until `valid_for` from now.
pub fn create_invite(
    db: &Connection,
    uses: u32,
    valid_for: Option<Duration>,
) -> anyhow::Result<Invite> {
    anyhow::ensure!(uses >= 1, "--uses must be at least 1");
    const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789x";
    let code: String = (0..16)
        .map(|i| {
            let c = ALPHABET[(rand::random::<u8>() & 31) as usize] as char;
            if i > 0 && i % 4 == 0 {
                format!("-{c}")
            } else {
                c.to_string()
            }
        })
        .collect();
    let now = now_ms();
    let expires_ms = valid_for.map(|d| now + d.as_millis() as i64);
    db.execute(
        "INSERT INTO invites (code, uses_left, expires_ms, created_ms) VALUES (?1, ?2, ?3, ?4)",
        params![code, uses, expires_ms, now],
    )?;
    Ok(Invite {
        code,
        uses,
        expires_ms,
    })
}

/// `7d`, `12h`, `30m`, `45s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s.split_at(s.trim_end_matches(char::is_alphabetic).len());
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and a unit, e.g. 7d"))?;
    let secs = match unit {
        "d" => n * 86_400,
        "h" => n * 3_600,
        "m" => n * 60,
        "s" => n,
        _ => return Err(format!("{s:?}: the unit is d, h, m or s")),
    };
    Ok(Duration::from_secs(secs))
}

/// The epoch admin commands bump (a running server compares it).
pub fn epoch(db: &dyn Db) -> Result<i64, DbError> {
    db.query_row(
        "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'admin_epoch'",
        crate::params![],
        |r| r.get(0),
    )
}

/// Whether the token `hash` still lets its user in (not revoked, user not
/// disabled).
pub fn token_valid(db: &dyn Db, hash: &[u8; 32]) -> Result<bool, DbError> {
    db.query_row(
        "SELECT COUNT(*) FROM tokens t JOIN users u ON u.name = t.user
         WHERE t.hash = ?1 AND u.disabled = 0",
        crate::params![hash],
        |r| Ok(r.get::<i64>(0)? > 0),
    )
}
