//! Session secrets: the OS keyring when one exists, else a 0600 file in a 0700
//! directory of the data dir. The secret never goes to logs, argv or the
//! message database.
//!
//! One record per (server, user): a small JSON object `{"token": "…"}`, plus
//! `"password"` for accounts that `--local` created with a generated password
//! (so a later `--local` run can log in again if the token was revoked).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::config::{Paths, create_private_dir};

/// Keyring service name.
const SERVICE: &str = "convo";

/// What we keep for one account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    /// The session token.
    pub token: String,
    /// Generated password (`--local` accounts only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

// Hand-written so that `{:?}` can never leak the token into a log line.
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("token", &"<hidden>")
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// Where one account's secret lives.
#[derive(Debug, Clone)]
pub struct TokenStore {
    account: String,
    file: PathBuf,
    use_keyring: bool,
}

impl TokenStore {
    /// The store for `user` on `server`. `CONVO_NO_KEYRING=1` forces the file
    /// (tests, and users who prefer it).
    pub fn new(paths: &Paths, server: &str, user: &str) -> TokenStore {
        let no_keyring = std::env::var_os("CONVO_NO_KEYRING").is_some_and(|v| v != "0");
        TokenStore {
            account: format!("{user}@{server}"),
            file: paths.token_file(server, user),
            use_keyring: !no_keyring,
        }
    }

    /// Path of the fallback file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The stored secret, if any: the keyring first, then the file.
    pub fn load(&self) -> Result<Option<Secret>> {
        if self.use_keyring
            && let Some(entry) = self.entry()
            && let Ok(text) = entry.get_password()
            && let Ok(secret) = serde_json::from_str::<Secret>(&text)
        {
            return Ok(Some(secret));
        }
        match std::fs::read_to_string(&self.file) {
            Ok(text) => {
                let secret = serde_json::from_str(&text)
                    .with_context(|| format!("reading token file {}", self.file.display()))?;
                Ok(Some(secret))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.file.display())),
        }
    }

    /// Saves the secret: in the keyring if it accepts it, else in the file
    /// (saying so once on stderr, when the file is first created).
    pub fn save(&self, secret: &Secret) -> Result<()> {
        if let Some(notice) = self.save_noting(secret)? {
            eprintln!("convo: {notice}");
        }
        Ok(())
    }

    /// Like [`TokenStore::save`], but returns the one-time notice instead of
    /// printing it (the TUI shows it in its status line).
    pub fn save_noting(&self, secret: &Secret) -> Result<Option<String>> {
        let text = serde_json::to_string(secret).context("encoding the token record")?;
        if self.use_keyring
            && let Some(entry) = self.entry()
            && entry.set_password(&text).is_ok()
        {
            // A stale file would shadow nothing (keyring is read first) but
            // would keep an old secret on disk: remove it.
            let _ = std::fs::remove_file(&self.file);
            return Ok(None);
        }
        let dir = self
            .file
            .parent()
            .context("token file has no parent directory")?;
        create_private_dir(dir)?;
        let existed = self.file.exists();
        write_private(&self.file, text.as_bytes())?;
        Ok((!existed && self.use_keyring).then(|| {
            format!(
                "no OS keyring available; the session token is kept in {} (mode 0600)",
                self.file.display()
            )
        }))
    }

    /// Forgets the secret everywhere.
    pub fn delete(&self) -> Result<()> {
        if self.use_keyring
            && let Some(entry) = self.entry()
        {
            let _ = entry.delete_credential();
        }
        match std::fs::remove_file(&self.file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", self.file.display())),
        }
    }

    /// The keyring entry, or None when no keyring service is reachable
    /// (headless Linux without a Secret Service, CI).
    fn entry(&self) -> Option<keyring::Entry> {
        if keyring::Entry::store_status().is_err() {
            return None;
        }
        keyring::Entry::new(SERVICE, &self.account).ok()
    }
}

/// Writes `bytes` to `path` through a file that is 0600 from its creation (no
/// window where another user could open it), replacing it atomically.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("token.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn file_fallback_is_private_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::resolve(Some(dir.path()), Some(&dir.path().join("c.toml"))).unwrap();
        let store = TokenStore {
            use_keyring: false,
            ..TokenStore::new(&paths, "ws://h/v1", "alice")
        };
        assert_eq!(store.load().unwrap(), None);
        let secret = Secret {
            token: "abc".into(),
            password: None,
        };
        store.save(&secret).unwrap();
        assert_eq!(store.load().unwrap(), Some(secret));
        let mode = std::fs::metadata(store.file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dmode = std::fs::metadata(store.file().parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dmode & 0o777, 0o700);
        store.delete().unwrap();
        assert_eq!(store.load().unwrap(), None);
    }

    #[test]
    fn debug_hides_the_token() {
        let s = Secret {
            token: "supersecret".into(),
            password: Some("pw".into()),
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("supersecret"));
        assert!(!shown.contains("pw\""));
    }
}
