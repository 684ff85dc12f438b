//! Unsent drafts per conversation, kept in a small JSON file next to the
//! account's store so that they survive a restart. The UI state holds the
//! map; the driver writes it whenever the user switches conversations or quits.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use super::model::{ConvId, Seq};
use super::state::AppState;

/// Drafts by conversation id.
pub type DraftMap = BTreeMap<String, String>;

/// Reads the drafts file; a missing file holds no drafts. A malformed one is
/// an error that names it (the user's text is not silently dropped).
pub fn load(path: &Path) -> Result<DraftMap> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("parsing the drafts file {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DraftMap::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes the drafts atomically (temp file, then rename); no file when empty.
pub fn save(path: &Path, drafts: &DraftMap) -> Result<()> {
    if drafts.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("removing {}", path.display()))
            }
            _ => Ok(()),
        };
    }
    let tmp = path.with_extension("tmp");
    let text = serde_json::to_string(drafts).context("encoding drafts")?;
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// The key a thread's draft is kept under, next to its conversation's.
pub fn thread_key(conv: &ConvId, root: Seq) -> String {
    format!("{}/thread/{root}", conv.as_str())
}

/// Keeps `text` under `key`, or forgets the key when `text` is blank.
/// Returns whether the map changed.
pub fn keep(drafts: &mut DraftMap, key: String, text: String) -> bool {
    if text.trim().is_empty() {
        drafts.remove(&key).is_some()
    } else {
        drafts.insert(key, text.clone()).as_deref() != Some(text.as_str())
    }
}

/// Moves the compose text of the open conversation into `drafts` (an edit
/// in progress is not a draft); with the thread panel open, that text is
/// the thread's draft and the panel is closed first, so both are kept.
/// Returns whether the map changed.
pub fn stash_draft(state: &mut AppState) -> bool {
    let Some(conv) = state.open.as_ref().map(|o| o.conv.as_str().to_owned()) else {
        return false;
    };
    let thread_changed = match state.thread.as_ref() {
        Some(panel) => {
            let key = thread_key(&panel.conv, panel.root);
            let before = state.drafts.get(&key).cloned();
            super::thread_panel::close_thread(state);
            state.drafts.get(&key) != before.as_ref()
        }
        None => false,
    };
    if state.compose.editing.is_some() {
        return thread_changed;
    }
    let text = std::mem::take(&mut state.compose.text);
    state.compose.cursor = 0;
    keep(&mut state.drafts, conv, text) || thread_changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_round_trip_and_an_empty_map_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alice.drafts.json");
        assert!(load(&path).unwrap().is_empty());
        let mut d = DraftMap::new();
        d.insert("c1".into(), "half a thought\nsecond line".into());
        save(&path, &d).unwrap();
        assert_eq!(load(&path).unwrap(), d);
        save(&path, &DraftMap::new()).unwrap();
        assert!(!path.exists());
        std::fs::write(&path, "{not json").unwrap();
        assert!(load(&path).is_err());
    }
}
