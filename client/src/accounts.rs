//! The remembered accounts (`gh auth login` style): after `convo register`
//! or `convo login`, plain commands use that server and user. The file
//! `<data>/accounts.json` keeps the server URLs and user of each profile and
//! which one is current; tokens stay in the keyring or the token file.
//!
//! A profile is written with `servers` (the list, failover order) and
//! `server` (its first URL, the one that names the store): files written
//! before several URLs existed have only `server` and still load, and an
//! older convo reading a newer file finds the `server` it knows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// One remembered account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "AccountFile", into = "AccountFile")]
pub struct Account {
    /// Server URLs, in failover order (at least one).
    pub servers: Vec<String>,
    /// User name.
    pub user: String,
}

/// An [`Account`] as `accounts.json` spells it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccountFile {
    /// The first URL (the only field before several URLs existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    server: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    servers: Vec<String>,
    user: String,
}

impl TryFrom<AccountFile> for Account {
    type Error = String;
    fn try_from(f: AccountFile) -> Result<Account, String> {
        let servers = if f.servers.is_empty() {
            f.server.into_iter().collect::<Vec<_>>()
        } else {
            f.servers
        };
        if servers.is_empty() {
            return Err(format!("the profile of {:?} names no server", f.user));
        }
        Ok(Account {
            servers,
            user: f.user,
        })
    }
}

impl From<Account> for AccountFile {
    fn from(a: Account) -> AccountFile {
        AccountFile {
            server: a.servers.first().cloned(),
            servers: a.servers,
            user: a.user,
        }
    }
}

impl Account {
    /// The first URL: it names the account's store and token.
    pub fn server(&self) -> &str {
        self.servers.first().map_or("", String::as_str)
    }

    /// The same account: same user on the same first URL (the list may
    /// differ, the store and the token are the same).
    pub fn same(&self, other: &Account) -> bool {
        self.user == other.user && self.server() == other.server()
    }

    /// The URLs as `--server` takes them: comma-separated.
    pub fn servers_arg(&self) -> String {
        self.servers.join(",")
    }
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
        self.profiles.retain(|_, a| !a.same(account));
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
            .find(|(_, a)| a.same(account))
            .map(|(n, _)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(server: &str, user: &str) -> Account {
        Account {
            servers: vec![server.into()],
            user: user.into(),
        }
    }

    #[test]
    fn a_profile_file_from_before_server_lists_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            Accounts::path(dir.path()),
            r#"{"current":"alice","profiles":{"alice":{"server":"ws://a:1/v1","user":"alice"}}}"#,
        )
        .unwrap();
        let a = Accounts::load(dir.path()).unwrap();
        assert_eq!(
            a.pick(None, None).unwrap(),
            Some(&acc("ws://a:1/v1", "alice"))
        );
    }

    #[test]
    fn a_server_list_is_saved_with_its_first_url_as_server() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Accounts::default();
        let two = Account {
            servers: vec!["ws://a:1/v1".into(), "ws://b:2/v1".into()],
            user: "alice".into(),
        };
        a.remember("alice", two.clone());
        a.save(dir.path()).unwrap();
        let text = std::fs::read_to_string(Accounts::path(dir.path())).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["profiles"]["alice"],
            serde_json::json!({
                "server": "ws://a:1/v1",
                "servers": ["ws://a:1/v1", "ws://b:2/v1"],
                "user": "alice"
            })
        );
        assert_eq!(Accounts::load(dir.path()).unwrap().profiles["alice"], two);
        // The same account with a shorter list: same store, so forgotten too.
        assert!(a.forget(&acc("ws://a:1/v1", "alice")));
        assert!(a.profiles.is_empty());
        let empty = r#"{"current":null,"profiles":{"x":{"servers":[],"user":"x"}}}"#;
        std::fs::write(Accounts::path(dir.path()), empty).unwrap();
        assert!(Accounts::load(dir.path()).is_err());
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
