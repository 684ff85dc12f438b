//! `register`, `login`, `auth`, `logout`: argon2id password hashes (computed
//! on the blocking pool) and tokens stored only as SHA-256.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};
use sync_core::protocol::{ClientFrame, ErrorCode, validate};

use crate::error::{Reject, StoreError};
use crate::handler::Authed;
use crate::state::Shared;
use crate::store::ops::WriteOp;

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

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Reject> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal(&format!("blocking task failed: {e}")))
}

/// Handles `register`, `login` or `auth`; returns the identity and the token.
pub async fn authenticate(shared: &Shared, frame: ClientFrame) -> Result<(Authed, String), Reject> {
    match frame {
        ClientFrame::Register {
            user,
            password,
            device,
            ..
        } => {
            if !shared.allow_register {
                return Err(Reject::new(
                    ErrorCode::Forbidden,
                    "registration is disabled",
                ));
            }
            validate::user_name(&user)?;
            validate::password(&password)?;
            validate::device(&device)?;
            let pw_hash = blocking(move || {
                let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
                    .map_err(|e| format!("salt: {e}"))?;
                hasher()
                    .hash_password(password.as_bytes(), &salt)
                    .map(|h| h.to_string())
                    .map_err(|e| format!("hash password: {e}"))
            })
            .await?
            .map_err(|e| internal(&e))?;
            let (token, token_hash) = new_token();
            let op = WriteOp::Register {
                user: user.clone(),
                pw_hash,
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
        ClientFrame::Login {
            user,
            password,
            device,
            ..
        } => {
            validate::user_name(&user)?;
            validate::password(&password)?;
            validate::device(&device)?;
            let name = user.clone();
            let stored: Option<String> = shared
                .store
                .read(move |db| {
                    db.query_row("SELECT pw_hash FROM users WHERE name = ?1", [&name], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(|e| Reject::from(StoreError::Sql("read password hash", e)))
                })
                .await?;
            const WRONG: &str = "wrong user name or password";
            let known = stored.is_some();
            let ok = blocking(move || {
                // An unknown user costs the same argon2 work as a wrong
                // password, so timing does not reveal which names exist.
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
            if !(ok && known) {
                return Err(unauthorized(WRONG));
            }
            let (token, token_hash) = new_token();
            let op = WriteOp::AddToken {
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
            let row: Option<(String, String)> = shared
                .store
                .read(move |db| {
                    db.query_row(
                        "SELECT user, device FROM tokens WHERE hash = ?1",
                        [&hash[..]],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(|e| Reject::from(StoreError::Sql("read token", e)))
                })
                .await?;
            match row {
                // A token belongs to the device it was issued to.
                Some((user, d)) if d == device => Ok((
                    Authed {
                        user,
                        device,
                        token_hash: hash,
                    },
                    token,
                )),
                _ => Err(unauthorized("unknown or revoked token")),
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
            WriteOp::RevokeToken {
                token_hash: auth.token_hash,
            },
            Some(conn_id),
        )
        .await
        .map(|_| ())
}
