//! `register`, `login`, `auth`, `logout`: argon2id password hashes (computed
//! on the blocking pool) and tokens stored only as SHA-256.

use std::time::Instant;

use crate::params;
use crate::store::sql::{Db, DbExt};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};
use sync_core::protocol::{ClientFrame, ErrorCode, validate};

use crate::error::{Reject, StoreError};
use crate::handler::Authed;
use crate::state::Shared;
use crate::store::batch::{Apply, Batch, Done, OpResult, sql};

fn unauthorized(msg: &str) -> Reject {
    Reject::new(ErrorCode::Unauthorized, msg)
}

fn internal(what: &str) -> Reject {
    tracing::error!("{what}");
    Reject::new(ErrorCode::Internal, "internal server error")
}

/// The argon2id hasher with the crate's default (OWASP) parameters in every
/// build. The workspace compiles argon2 and blake2 optimized even in dev
/// profiles, so tests that register many users stay fast.
fn hasher() -> Argon2<'static> {
    Argon2::default()
}

/// A valid argon2id hash of a random password, computed once.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::encode_b64(&[7u8; 16]).ok();
        salt.and_then(|salt| {
            hasher()
                .hash_password(&rand::random::<[u8; 16]>(), &salt)
                .ok()
                .map(|h| h.to_string())
        })
        .unwrap_or_default()
    })
}

/// SHA-256 of a token as presented by the client.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn new_token() -> (String, [u8; 32]) {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let hash = token_hash(&token);
    (token, hash)
}

/// Runs password hashing on the bounded pool (`rate_limited` when its
/// queue is full).
async fn hashing<T: Send + 'static>(
    shared: &Shared,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Reject> {
    match shared.hashing.run(f).await {
        Some(r) => r.map_err(|e| internal(&format!("blocking task failed: {e}"))),
        None => Err(throttled(
            std::time::Duration::from_secs(1),
            "the server is busy checking passwords",
        )),
    }
}

/// Asks the log-in throttle; a throttled attempt is answered `rate_limited`
/// late (a tarpit: a guessing loop on one connection then costs the server
/// a timer, not a stream of replies).
async fn admit(shared: &Shared, user: Option<&str>, peer: std::net::IpAddr) -> Result<(), Reject> {
    let Err(after) = shared.throttle.check(user, peer, Instant::now()) else {
        return Ok(());
    };
    tokio::time::sleep(shared.throttle.limits().tarpit).await;
    Err(throttled(
        after,
        match user {
            Some(_) => "too many failed log-ins: wait and retry",
            None => "too many failed attempts from this address: wait and retry",
        },
    ))
}

/// `rate_limited` with `retry_after_ms`.
fn throttled(after: std::time::Duration, why: &str) -> Reject {
    let mut r = Reject::new(ErrorCode::RateLimited, why);
    r.retry_after_ms = Some(after.as_millis() as u64);
    r
}

/// An argon2id hash of `password`, synchronously (admin commands).
pub fn hash_password_now(password: &str) -> Result<String, String> {
    let salt =
        SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| format!("salt: {e}"))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("hash password: {e}"))
}

/// An argon2id hash of `password` (on the bounded hashing pool).
pub(crate) async fn hash_password(shared: &Shared, password: String) -> Result<String, Reject> {
    hashing(shared, move || hash_password_now(&password))
        .await?
        .map_err(|e| internal(&e))
}

/// Whether `password` is `user`'s. An unknown user costs the same argon2
/// work as a wrong password, so timing does not reveal which names exist.
async fn check_password(shared: &Shared, user: &str, password: String) -> Result<bool, Reject> {
    let name = user.to_owned();
    let stored: Option<String> = shared
        .store
        .read(move |db| {
            db.query_opt(
                "SELECT pw_hash FROM users WHERE name = ?1",
                params![&name],
                |r| r.get(0),
            )
            .map_err(|e| Reject::from(StoreError::Sql("read password hash", e)))
        })
        .await?;
    let known = stored.is_some();
    let ok = hashing(shared, move || {
        let hash = stored.unwrap_or_else(|| dummy_hash().to_owned());
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await?;
    Ok(ok && known)
}

/// Whether an administrator disabled `user`.
async fn is_disabled(shared: &Shared, user: &str) -> Result<bool, Reject> {
    let name = user.to_owned();
    shared
        .store
        .read(move |db| {
            db.query_opt(
                "SELECT disabled FROM users WHERE name = ?1",
                params![&name],
                |r| r.get::<bool>(0),
            )
            .map(|d| d.unwrap_or(false))
            .map_err(|e| Reject::from(StoreError::Sql("read user", e)))
        })
        .await
}

/// §9.6 `password`: `new` must follow the `register` rules (`bad_request`
/// whatever `old` is), `old` must be the password (`unauthorized`); then
/// every token of the user but this connection's is revoked (the caller
/// closes their connections).
pub async fn change_password(
    shared: &Shared,
    auth: &Authed,
    old: String,
    new: String,
    conn_id: u64,
) -> Result<(), Reject> {
    validate::password(&new)?;
    if !check_password(shared, &auth.user, old).await? {
        return Err(unauthorized("wrong password"));
    }
    let pw_hash = hash_password(shared, new).await?;
    let op = SetPassword {
        user: auth.user.clone(),
        pw_hash,
        keep: Some(auth.token_hash),
    };
    shared.store.call(op, Some(conn_id)).await.map(|_| ())
}

/// §9.6 `logout` with `all`: revokes every token of the user.
pub async fn logout_all(shared: &Shared, auth: &Authed, conn_id: u64) -> Result<(), Reject> {
    let op = RevokeUser {
        user: auth.user.clone(),
    };
    shared.store.call(op, Some(conn_id)).await.map(|_| ())
}

/// Handles `register`, `login` or `auth`; returns the identity and the token.
pub async fn authenticate(
    shared: &Shared,
    frame: ClientFrame,
    peer: std::net::IpAddr,
) -> Result<(Authed, String), Reject> {
    let peer = crate::state::address_key(peer);
    // What `check` reserves for this request: the account for `login`,
    // the address only for `register`; an `auth` reserves only when its
    // token turns out unknown (a valid token is never throttled).
    let reserved = match &frame {
        ClientFrame::Login { user, .. } => Some(Some(user.clone())),
        ClientFrame::Register { .. } => Some(None),
        _ => None,
    };
    let result = authenticate_inner(shared, frame, peer).await;
    let now = Instant::now();
    match &result {
        Ok((auth, _)) => {
            if let Some(r) = &reserved {
                shared.throttle.release(r.as_deref(), peer, now);
            }
            shared.throttle.trust(&auth.user, peer, now);
        }
        // The reservation stays a failure; the other nodes count it too.
        Err(e) if e.code != ErrorCode::RateLimited => {
            if let (Some(r), Some(cluster)) = (&reserved, &shared.cluster) {
                cluster.login_failed(r.as_deref(), peer);
            }
        }
        Err(_) => {}
    }
    result
}

async fn authenticate_inner(
    shared: &Shared,
    frame: ClientFrame,
    peer: std::net::IpAddr,
) -> Result<(Authed, String), Reject> {
    match frame {
        ClientFrame::Register {
            user,
            password,
            device,
            invite,
            ..
        } => {
            let invite = match shared.register {
                crate::RegisterMode::Open => None,
                crate::RegisterMode::Closed => {
                    return Err(Reject::new(
                        ErrorCode::Forbidden,
                        "registration is disabled",
                    ));
                }
                crate::RegisterMode::InviteOnly => Some(invite.ok_or_else(|| {
                    Reject::new(
                        ErrorCode::Forbidden,
                        "registration needs an invite code on this server",
                    )
                })?),
            };
            validate::user_name(&user)?;
            validate::password(&password)?;
            validate::device(&device)?;
            admit(shared, None, peer).await?;
            let pw_hash = hash_password(shared, password).await?;
            let (token, token_hash) = new_token();
            let op = Register {
                user: user.clone(),
                pw_hash,
                device: device.clone(),
                token_hash,
                invite,
            };
            shared.store.call(op, None).await?;
            Ok((
                Authed {
                    user,
                    device,
                    token_hash,
                },
                token,
            ))
        }
        ClientFrame::Login {
            user,
            password,
            device,
            ..
        } => {
            validate::user_name(&user)?;
            validate::password(&password)?;
            validate::device(&device)?;
            admit(shared, Some(&user), peer).await?;
            if !check_password(shared, &user, password).await? {
                return Err(unauthorized("wrong user name or password"));
            }
            if is_disabled(shared, &user).await? {
                return Err(Reject::new(
                    ErrorCode::Forbidden,
                    "this account is disabled",
                ));
            }
            let (token, token_hash) = new_token();
            let op = AddToken {
                user: user.clone(),
                device: device.clone(),
                token_hash,
            };
            shared.store.call(op, None).await?;
            Ok((
                Authed {
                    user,
                    device,
                    token_hash,
                },
                token,
            ))
        }
        ClientFrame::Auth { token, device, .. } => {
            validate::device(&device)?;
            let hash = token_hash(&token);
            let row: Option<(String, String, i64, bool)> = shared
                .store
                .read(move |db| {
                    db.query_opt(
                        "SELECT t.user, t.device, t.last_used_ms, u.disabled
                         FROM tokens t JOIN users u ON u.name = t.user WHERE t.hash = ?1",
                        params![&hash[..]],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .map_err(|e| Reject::from(StoreError::Sql("read token", e)))
                })
                .await?;
            let now = crate::store::rows::now_ms();
            let idle_ms = i64::from(shared.token_idle_days) * 86_400_000;
            match row {
                Some((_, _, _, true)) => Err(unauthorized("this account is disabled")),
                // A token unused for too long stops working (the client asks
                // for the password again, as for a revoked token).
                Some((_, _, last_used, _)) if now - last_used > idle_ms => {
                    let _ = shared
                        .store
                        .call(RevokeToken { token_hash: hash }, None)
                        .await;
                    Err(unauthorized(&format!(
                        "token expired: unused for more than {} days",
                        shared.token_idle_days
                    )))
                }
                // A token belongs to the device it was issued to.
                Some((user, d, last_used, _)) if d == device => {
                    // Refreshed at most hourly: one small write, not one per auth.
                    if now - last_used > 3_600_000 {
                        let _ = shared
                            .store
                            .call(TouchToken { token_hash: hash }, None)
                            .await;
                    }
                    Ok((
                        Authed {
                            user,
                            device,
                            token_hash: hash,
                        },
                        token,
                    ))
                }
                // An unknown token: throttled per address (a valid one never is).
                _ => {
                    admit(shared, None, peer).await?;
                    Err(unauthorized("unknown or revoked token"))
                }
            }
        }
        _ => Err(Reject::bad("not a session request")),
    }
}

/// Revokes the connection's token (the caller closes the connections).
pub async fn logout(shared: &Shared, auth: &Authed, conn_id: u64) -> Result<(), Reject> {
    shared
        .store
        .call(
            RevokeToken {
                token_hash: auth.token_hash,
            },
            Some(conn_id),
        )
        .await
        .map(|_| ())
}

// ---- Writer-side ops (run inside the writer's batch transaction) ----

/// `register`: a new account plus its first token.
#[derive(Debug)]
pub(crate) struct Register {
    pub user: String,
    pub pw_hash: String,
    pub device: String,
    pub token_hash: [u8; 32],
    /// Consumed in the same transaction (invite-only servers).
    pub invite: Option<String>,
}

impl Apply for Register {
    fn apply(self: Box<Self>, db: &dyn Db, b: &mut Batch<'_>) -> OpResult {
        let exists: Option<i64> = db
            .query_opt(
                "SELECT 1 FROM users WHERE name = ?1",
                params![&self.user],
                |r| r.get(0),
            )
            .map_err(sql("check user"))?;
        if exists.is_some() {
            return Err(Reject::new(ErrorCode::Conflict, "user name taken"));
        }
        if let Some(code) = &self.invite {
            use_invite(db, code, b.now)?;
        }
        db.execute(
            "INSERT INTO users (name, pw_hash, created_ms) VALUES (?1, ?2, ?3)",
            params![self.user, self.pw_hash, b.now],
        )
        .map_err(sql("insert user"))?;
        insert_token(db, b, &self.user, &self.device, &self.token_hash)
    }
}

/// `login`: a new token after a verified password.
#[derive(Debug)]
pub(crate) struct AddToken {
    pub user: String,
    pub device: String,
    pub token_hash: [u8; 32],
}

impl Apply for AddToken {
    fn apply(self: Box<Self>, db: &dyn Db, b: &mut Batch<'_>) -> OpResult {
        insert_token(db, b, &self.user, &self.device, &self.token_hash)
    }
}

/// `logout`, or an idle token found expired.
#[derive(Debug)]
pub(crate) struct RevokeToken {
    pub token_hash: [u8; 32],
}

impl Apply for RevokeToken {
    fn apply(self: Box<Self>, db: &dyn Db, _: &mut Batch<'_>) -> OpResult {
        db.execute(
            "DELETE FROM tokens WHERE hash = ?1",
            params![&self.token_hash[..]],
        )
        .map_err(sql("delete token"))?;
        Ok(Done::Ok)
    }
}

/// A token was used (its idle clock restarts).
#[derive(Debug)]
pub(crate) struct TouchToken {
    pub token_hash: [u8; 32],
}

impl Apply for TouchToken {
    fn apply(self: Box<Self>, db: &dyn Db, b: &mut Batch<'_>) -> OpResult {
        db.execute(
            "UPDATE tokens SET last_used_ms = ?2 WHERE hash = ?1",
            params![&self.token_hash[..], b.now],
        )
        .map_err(sql("touch token"))?;
        Ok(Done::Ok)
    }
}

/// Deletes every token of user ?1 (an index search: `tokens_by_user`).
const REVOKE_ALL: &str = "DELETE FROM tokens WHERE \"user\" = ?1";

/// Deletes every token of user ?1 but ?2.
const REVOKE_OTHERS: &str = "DELETE FROM tokens WHERE \"user\" = ?1 AND hash IS DISTINCT FROM ?2";

/// `logout` with `all`: every token of the user.
#[derive(Debug)]
pub(crate) struct RevokeUser {
    pub user: String,
}

impl Apply for RevokeUser {
    fn apply(self: Box<Self>, db: &dyn Db, _: &mut Batch<'_>) -> OpResult {
        db.execute(REVOKE_ALL, params![&self.user])
            .map_err(sql("delete tokens"))?;
        Ok(Done::Ok)
    }
}

/// `password`: the new hash; every token but `keep` is revoked.
#[derive(Debug)]
pub(crate) struct SetPassword {
    pub user: String,
    pub pw_hash: String,
    pub keep: Option<[u8; 32]>,
}

impl Apply for SetPassword {
    fn apply(self: Box<Self>, db: &dyn Db, _: &mut Batch<'_>) -> OpResult {
        let n = db
            .execute(
                "UPDATE users SET pw_hash = ?2 WHERE name = ?1",
                params![self.user, self.pw_hash],
            )
            .map_err(sql("set password"))?;
        if n == 0 {
            return Err(Reject::new(ErrorCode::NotFound, "no such user"));
        }
        db.execute(
            REVOKE_OTHERS,
            params![self.user, self.keep.as_ref().map(|k| &k[..])],
        )
        .map_err(sql("revoke other tokens"))?;
        Ok(Done::Ok)
    }
}

/// Takes one use of an invite code, or says why it cannot be used.
fn use_invite(db: &dyn Db, code: &str, now: i64) -> Result<(), Reject> {
    let row: Option<(i64, Option<i64>)> = db
        .query_opt(
            "SELECT uses_left, expires_ms FROM invites WHERE code = ?1",
            params![code],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(sql("read invite"))?;
    let forbidden = |m: &str| Reject::new(ErrorCode::Forbidden, m);
    match row {
        None => Err(forbidden("unknown invite code")),
        Some((_, Some(expires))) if expires <= now => {
            Err(forbidden("this invite code has expired"))
        }
        Some((uses, _)) if uses <= 0 => Err(forbidden("this invite code is used up")),
        Some(_) => {
            db.execute(
                "UPDATE invites SET uses_left = uses_left - 1 WHERE code = ?1",
                params![code],
            )
            .map_err(sql("use invite"))?;
            Ok(())
        }
    }
}

fn insert_token(db: &dyn Db, b: &Batch<'_>, user: &str, device: &str, hash: &[u8; 32]) -> OpResult {
    db.execute(
        "INSERT INTO tokens (hash, \"user\", device, created_ms, last_used_ms)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![&hash[..], user, device, b.now],
    )
    .map_err(sql("insert token"))?;
    Ok(Done::Ok)
}

#[cfg(test)]
mod tests {
    /// Revoking a user's sessions (in the writer thread) searches the
    /// user's tokens; it read every token of every user before migration 7.
    #[test]
    fn revoking_a_user_s_sessions_is_an_index_search() {
        let keep = [7u8; 32];
        let cases: [(&str, &[&dyn rusqlite::ToSql]); 2] = [
            (super::REVOKE_ALL, &[&"ann"]),
            (super::REVOKE_OTHERS, &[&"ann", &keep]),
        ];
        for (sql, params) in cases {
            assert_eq!(
                crate::store::query_plan(sql, params),
                ["SEARCH tokens USING INDEX tokens_by_user (user=?)"],
                "{sql}"
            );
        }
    }
}
