//! A conversation's current members as the writer caches them and the
//! fan-out reads them: the join order (replies, mention parsing, listings)
//! plus a set, so a push to a large group can visit only the users who are
//! online instead of hashing every member's name.

use std::collections::HashSet;
use std::ops::Deref;

/// Current members of one conversation, in join order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    list: Vec<String>,
    set: HashSet<String>,
}

impl Members {
    /// Members in join order (a name given twice counts once).
    pub fn new(list: Vec<String>) -> Members {
        let set: HashSet<String> = list.iter().cloned().collect();
        Members { list, set }
    }

    /// Adds `user` last, unless already a member.
    pub fn add(&mut self, user: &str) {
        if self.set.insert(user.to_owned()) {
            self.list.push(user.to_owned());
        }
    }

    /// Whether `user` is one of them.
    pub fn contains(&self, user: &str) -> bool {
        self.set.contains(user)
    }
}

impl Deref for Members {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.list
    }
}
