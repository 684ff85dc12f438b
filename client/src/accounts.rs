//! The remembered accounts (`gh auth login` style): after `convo register`
//! or `convo login`, plain commands use that server and user. The file
//! `<data>/accounts.json` keeps the server and user of each profile and
//! which one is current; tokens stay in the keyring or the token file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// One remembered account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Server URL.
    pub server: String,
    /// User name.
    pub user: String,
}

/// The contents of `accounts.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounts {
    /// The profile plain commands use.
    pub current: Option<String>,
    /// Profiles by name (the user name unless `--profile` named one).
    pub profiles: BTreeMap<String, Account>,
}

impl Accounts {
    /// The file under a data dir.
    pub fn path(data: &Path) -> PathBuf {
        data.join("accounts.json")
    }

    /// Reads the file; a missing one is empty, a malformed one an error that
    /// names it (a silent fallback would log in somewhere unexpected).
    pub fn load(data: &Path) -> Result<Accounts> {
        let path = Self::path(data);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Accounts::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        serde_json::from_str(&text).with_context(|| {
            format!(
                "parsing {} (fix or delete it, then log in again)",
                path.display()
            )
        })
    }

    /// Writes the file atomically (temp file + rename) in the private data dir.
    pub fn save(&self, data: &Path) -> Result<()> {
        crate::config::create_private_dir(data)?;
        let path = Self::path(data);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).context("encoding accounts")?;
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }

    /// The account a run uses when neither `--server` nor a profile name was
    /// given: the profile of `user` if one is remembered, else the current one.
    pub fn pick(&self, profile: Option<&str>, user: Option<&str>) -> Result<Option<&Account>> {
        if let Some(name) = profile {
            return match self.profiles.get(name) {
                Some(a) => Ok(Some(a)),
                None => bail!(
                    "no profile {:?}: log in with `convo login --profile {} --server URL --user NAME`",
                    crate::output::safe(name),
                    crate::output::safe(name)
                ),
            };
        }
        if let Some(user) = user {
            return Ok(self
                .profiles
                .get(user)
                .or_else(|| self.profiles.values().find(|a| a.user == user)));
        }
        Ok(self.current.as_ref().and_then(|c| self.profiles.get(c)))
    }

    /// Remembers `account` under `name` and makes it current.
    pub fn remember(&mut self, name: &str, account: Account) {
        self.profiles.insert(name.to_owned(), account);
        self.current = Some(name.to_owned());
    }

    /// Forgets every profile of this server and user; returns whether one was.
    pub fn forget(&mut self, account: &Account) -> bool {
        let before = self.profiles.len();
        self.profiles.retain(|_, a| a != account);
        if self
            .current
            .as_ref()
            .is_some_and(|c| !self.profiles.contains_key(c))
        {
            self.current = None;
        }
        before != self.profiles.len()
    }

    /// The name of the current profile, if it is this account.
    pub fn name_of(&self, account: &Account) -> Option<&str> {
        self.profiles
            .iter()
            .find(|(_, a)| *a == account)
            .map(|(n, _)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(server: &str, user: &str) -> Account {
        Account {
            server: server.into(),
            user: user.into(),
        }
    }

    #[test]
    fn the_current_profile_is_picked_and_user_selects_among_several() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Accounts::default();
        a.remember("alice", acc("ws://a:1/v1", "alice"));
        a.remember("work", acc("ws://b:2/v1", "bob"));
        a.save(dir.path()).unwrap();
        let a = Accounts::load(dir.path()).unwrap();
        assert_eq!(
            a.pick(None, None).unwrap(),
            Some(&acc("ws://b:2/v1", "bob"))
        );
        assert_eq!(
            a.pick(None, Some("alice")).unwrap(),
            Some(&acc("ws://a:1/v1", "alice"))
        );
        assert_eq!(
            a.pick(None, Some("bob")).unwrap(),
            Some(&acc("ws://b:2/v1", "bob"))
        );
        assert_eq!(a.pick(None, Some("carol")).unwrap(), None);
        assert!(a.pick(Some("nope"), None).is_err());
    }

    #[test]
    fn forgetting_the_current_account_clears_current() {
        let mut a = Accounts::default();
        a.remember("alice", acc("ws://a:1/v1", "alice"));
        assert!(a.forget(&acc("ws://a:1/v1", "alice")));
        assert_eq!(a.current, None);
        assert!(a.profiles.is_empty());
    }
}
