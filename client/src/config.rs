//! Where convo keeps its files (data dir, config file, per-account store) and
//! what `config.toml` may say. Command-line flags override the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Contents of `config.toml`. Every field is optional; unknown keys are
/// rejected so that a typo does not silently do nothing.
///
/// ```toml
/// server = "ws://chat.example:7878/v1"
/// user = "alice"
/// [keys]          # action = "key", see the TUI's key map
/// quit = "ctrl+q"
/// colors = true  # false: no colours (so does the NO_COLOR env var)
/// hyperlinks = "auto"  # OSC 8 links: "auto" (by $TERM), "on" or "off"
/// [notifications]
/// bell = true
/// osc9 = false
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Default `--server`.
    pub server: Option<String>,
    /// Default `--user`.
    pub user: Option<String>,
    /// Default `--ca-file`: a PEM CA certificate trusted for wss://.
    pub ca_file: Option<PathBuf>,
    /// Key bindings handed to the TUI's key map.
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
    /// Colours on (default) or off.
    #[serde(default = "yes")]
    pub colors: bool,
    /// OSC 8 hyperlinks in the TUI.
    #[serde(default)]
    pub hyperlinks: crate::ui::hyperlink::Hyperlinks,
    /// How new messages are announced.
    #[serde(default)]
    pub notifications: Notifications,
}

/// `[notifications]` of `config.toml`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// Ring the terminal bell on a new message in a conversation not open.
    #[serde(default = "yes")]
    pub bell: bool,
    /// Send an OSC 9 desktop notification (terminals that support it).
    #[serde(default)]
    pub osc9: bool,
}

fn yes() -> bool {
    true
}

impl Default for Notifications {
    fn default() -> Self {
        Notifications {
            bell: true,
            osc9: false,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: None,
            user: None,
            ca_file: None,
            keys: BTreeMap::new(),
            colors: true,
            hyperlinks: Default::default(),
            notifications: Notifications::default(),
        }
    }
}

impl Config {
    /// Colours unless the config or `NO_COLOR` (https://no-color.org) says no.
    pub fn use_colors(&self) -> bool {
        self.colors && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    }

    /// Reads `path`; a missing file is an empty config, a malformed one an error
    /// (silently ignoring it would make a typo look like a bug elsewhere).
    pub fn load(path: &Path) -> Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// The directories convo uses for one run.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Root of the local stores, token files and the `--local` server database.
    pub data: PathBuf,
    /// `config.toml`.
    pub config_file: PathBuf,
}

impl Paths {
    /// Resolves the directories: flags first, then the platform defaults
    /// (`directories`: e.g. `~/.local/share/convo` and `~/.config/convo`).
    pub fn resolve(data_dir: Option<&Path>, config: Option<&Path>) -> Result<Paths> {
        let dirs = directories::ProjectDirs::from("", "", "convo");
        let data = match (data_dir, &dirs) {
            (Some(d), _) => d.to_path_buf(),
            (None, Some(p)) => p.data_dir().to_path_buf(),
            (None, None) => anyhow::bail!("no home directory found: pass --data-dir DIR"),
        };
        let config_file = match (config, &dirs) {
            (Some(c), _) => c.to_path_buf(),
            (None, Some(p)) => p.config_dir().join("config.toml"),
            // No home: there is no config file, which is fine.
            (None, None) => data.join("config.toml"),
        };
        Ok(Paths { data, config_file })
    }

    /// Directory holding everything for one server: `<data>/<server-hash>`.
    /// Hashing keeps any URL a valid single path component.
    pub fn server_dir(&self, server: &str) -> PathBuf {
        self.data.join(server_hash(server))
    }

    /// The SQLite store of one account: `<data>/<server-hash>/<user>.db`.
    pub fn store(&self, server: &str, user: &str) -> PathBuf {
        self.server_dir(server).join(format!("{user}.db"))
    }

    /// The token file used when no OS keyring exists.
    pub fn token_file(&self, server: &str, user: &str) -> PathBuf {
        self.server_dir(server).join(format!("{user}.token"))
    }

    /// Database of the `--local` embedded server.
    pub fn local_server_db(&self) -> PathBuf {
        self.data.join("local-server").join("server.db")
    }

    /// File holding this data dir's device id.
    pub fn device_file(&self) -> PathBuf {
        self.data.join("device-id")
    }
}

/// First 16 hex digits of SHA-256 of the server URL.
pub fn server_hash(server: &str) -> String {
    let digest = Sha256::digest(server.as_bytes());
    hex::encode(&digest[..8])
}

/// Creates `dir` (and parents) with mode 0700 for the last component, so
/// stores and token files are private from the start.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    // An existing directory created by someone else keeps its mode unless it
    // is group/world accessible, which we tighten.
    let meta = std::fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("securing {}", dir.display()))?;
    }
    Ok(())
}

/// The device id of this data dir: made once (random), then reused, because
/// the server binds tokens to devices.
pub fn device_id(paths: &Paths) -> Result<String> {
    let file = paths.device_file();
    if let Ok(id) = std::fs::read_to_string(&file) {
        let id = id.trim().to_owned();
        if sync_core::protocol::validate::device(&id).is_ok() {
            return Ok(id);
        }
    }
    create_private_dir(&paths.data)?;
    let host = std::env::var("HOSTNAME")
        .ok()
        .map(|h| {
            h.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .take(32)
                .collect::<String>()
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let id = format!("convo-{host}-{:08x}", rand::random::<u32>());
    std::fs::write(&file, &id).with_context(|| format!("writing {}", file.display()))?;
    Ok(id)
}

/// Turns an OS login name into a valid user name (1–32 of `a-z 0-9 _ . -`,
/// starting with a letter or digit): lowercased, other chars become `_`.
pub fn sanitize_user_name(raw: &str) -> String {
    let mapped: String = raw
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = mapped.trim_start_matches(['_', '.', '-']);
    let name: String = trimmed.chars().take(32).collect();
    if name.is_empty() {
        "user".to_owned()
    } else {
        name
    }
}

/// The user name to use when none is given: `$USER` (or `$LOGNAME`), sanitized.
pub fn default_user_name() -> String {
    let raw = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    sanitize_user_name(&raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_sanitized_to_the_protocol_rules() {
        assert_eq!(sanitize_user_name("Alice"), "alice");
        assert_eq!(sanitize_user_name("John Doe"), "john_doe");
        assert_eq!(sanitize_user_name("_root"), "root");
        assert_eq!(sanitize_user_name(""), "user");
        assert_eq!(sanitize_user_name("Zoë"), "zo_");
        assert_eq!(sanitize_user_name(&"x".repeat(40)).len(), 32);
        for n in ["Alice", "John Doe", "_root", "", "Zoë"] {
            assert!(sync_core::protocol::validate::user_name(&sanitize_user_name(n)).is_ok());
        }
    }

    #[test]
    fn config_parses_all_sections_and_rejects_typos() {
        let c: Config = toml::from_str(
            "server = \"ws://h:1/v1\"\nuser = \"bob\"\n[keys]\nquit = \"ctrl+q\"\n[notifications]\nosc9 = true\n",
        )
        .unwrap();
        assert_eq!(c.server.as_deref(), Some("ws://h:1/v1"));
        assert_eq!(c.keys.get("quit").map(String::as_str), Some("ctrl+q"));
        assert!(c.notifications.bell);
        assert!(c.notifications.osc9);
        assert!(c.colors);
        let off: Config = toml::from_str("colors = false").unwrap();
        assert!(!off.colors);
        assert!(toml::from_str::<Config>("sever = \"x\"").is_err());
    }

    #[test]
    fn store_paths_are_per_server_and_user() {
        let p = Paths::resolve(Some(Path::new("/d")), Some(Path::new("/c.toml"))).unwrap();
        let a = p.store("ws://a/v1", "alice");
        assert_eq!(a.parent(), p.store("ws://a/v1", "bob").parent());
        assert_ne!(a.parent(), p.store("ws://b/v1", "alice").parent());
        assert!(a.ends_with("alice.db"));
        assert_eq!(server_hash("ws://a/v1").len(), 16);
    }
}
