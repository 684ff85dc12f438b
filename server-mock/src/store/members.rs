//! A conversation's current members as the writer caches them and the
//! fan-out reads them: the join order (replies, mention parsing, listings)
//! plus a set, so a push to a large group can visit only the users who are
//! online instead of hashing every member's name.

use std::collections::HashSet;
use std::ops::Deref;
use std::sync::OnceLock;

/// Current members of one conversation, in join order.
#[derive(Debug, Clone)]
pub struct Members {
    list: Vec<String>,
    set: HashSet<String>,
    /// Names this list: a digest of it, computed when first asked for. A
    /// node of a cluster sends a large group's list to the others once and
    /// then only this id (`cluster::lists`); nodes that read the same
    /// members give them the same id, whichever wrote last.
    id: OnceLock<u64>,
}

impl Members {
    /// Members in join order (a name given twice counts once).
    pub fn new(list: Vec<String>) -> Members {
        let set: HashSet<String> = list.iter().cloned().collect();
        Members {
            list,
            set,
            id: OnceLock::new(),
        }
    }

    /// [`Members::new`] under the id another node gave the list.
    pub fn with_id(list: Vec<String>, id: u64) -> Members {
        let m = Members::new(list);
        let _ = m.id.set(id);
        m
    }

    /// Adds `user` last, unless already a member (the id follows).
    pub fn add(&mut self, user: &str) {
        if self.set.insert(user.to_owned()) {
            self.list.push(user.to_owned());
            self.id = OnceLock::new();
        }
    }

    /// Whether `user` is one of them.
    pub fn contains(&self, user: &str) -> bool {
        self.set.contains(user)
    }

    /// The list's id: the first 8 bytes of the SHA-256 of its names in
    /// order, one per line (names hold no newline, §3).
    pub fn id(&self) -> u64 {
        *self.id.get_or_init(|| {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            for name in &self.list {
                h.update(name.as_bytes());
                h.update(b"\n");
            }
            let d = h.finalize();
            u64::from_be_bytes(d[..8].try_into().unwrap_or_default())
        })
    }
}

impl Default for Members {
    fn default() -> Members {
        Members::new(Vec::new())
    }
}

/// The same members in the same order, whatever the ids.
impl PartialEq for Members {
    fn eq(&self, other: &Members) -> bool {
        self.list == other.list
    }
}

impl Eq for Members {}

impl Deref for Members {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.list
    }
}
