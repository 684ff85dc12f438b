//! Large member lists cross the bus once, then by name.
//!
//! A conversation's entry push carries its recipients, as the committing
//! node's member list had them. For a group of 10,000 that is some 200 KiB
//! per message, encoded, sent through NATS and decoded by every node, and
//! the cluster delivered a large group's messages at a sixth of the rate of
//! a small one's. So a list of [`NAMED_FROM`] members or more travels whole
//! in the first push that uses it, and again at least every
//! [`RESEND_EVERY`]; the pushes between carry only its id
//! ([`Members::id`], a digest of the list: it changes with the membership,
//! and nodes that read the same members agree on it). A node that has
//! not seen the list (it started following the conversation meanwhile)
//! treats such a push as lost: its order task reads the entry from the
//! database within [`super::order::GAP_WAIT`], to the conversation's
//! current members, as for any push the bus did not bring. Pushes other
//! than entries (receipts, typing) always carry their list: nothing reads
//! them again.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::batch::{Fanout, Route};
use crate::store::members::Members;

/// Lists at least this long are named by id between whole sends.
pub const NAMED_FROM: usize = 256;

/// How often a named list is sent whole again, for nodes that started
/// following its conversation since.
pub const RESEND_EVERY: Duration = Duration::from_secs(1);

/// Names a node keeps in named lists, newest lists first: some 20 MiB, 20
/// groups of 10,000 or 780 of 256. A list dropped for room comes again
/// whole within [`RESEND_EVERY`]; meanwhile its pushes are read from the
/// database.
const KEEP_NAMES: usize = 200_000;

/// Whether a fan-out's list can be named instead of sent.
pub fn nameable(f: &Fanout) -> bool {
    matches!(f.route, Route::Conv { seq: Some(_), .. }) && f.users.len() >= NAMED_FROM
}

/// The publishing side: which list each conversation's pushes last sent
/// whole, and when.
#[derive(Debug, Default)]
pub struct Sent {
    last: HashMap<i64, (u64, Instant)>,
}

impl Sent {
    /// Whether `f`'s list must travel whole (else its id is enough).
    pub fn whole(&mut self, f: &Fanout, now: Instant) -> bool {
        let Route::Conv { conv, .. } = f.route else {
            return true;
        };
        if !nameable(f) {
            return true;
        }
        let id = f.users.id();
        match self.last.get(&conv) {
            Some(&(last, at)) if last == id && now.duration_since(at) < RESEND_EVERY => false,
            _ => {
                self.last.insert(conv, (id, now));
                true
            }
        }
    }
}

/// The receiving side: the named lists seen whole, newest kept.
#[derive(Debug, Default)]
pub struct Known {
    lists: HashMap<u64, Arc<Members>>,
    order: VecDeque<u64>,
    /// Names in `lists`.
    names: usize,
}

impl Known {
    /// Keeps `users` (a list that came whole) under its id.
    pub fn learn(&mut self, users: &Arc<Members>) {
        if users.len() < NAMED_FROM || self.lists.contains_key(&users.id()) {
            return;
        }
        self.lists.insert(users.id(), users.clone());
        self.order.push_back(users.id());
        self.names += users.len();
        // The newest list stays, whatever its size.
        while self.names > KEEP_NAMES && self.order.len() > 1 {
            if let Some(old) = self.order.pop_front()
                && let Some(gone) = self.lists.remove(&old)
            {
                self.names -= gone.len();
            }
        }
    }

    /// The list named `id`, when it was seen.
    pub fn get(&self, id: u64) -> Option<Arc<Members>> {
        self.lists.get(&id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(users: &Arc<Members>, conv: i64, seq: Option<u64>) -> Fanout {
        Fanout {
            users: users.clone(),
            frame: "{}".to_owned().into(),
            except: None,
            route: Route::Conv { conv, seq },
        }
    }

    /// `n` members named `{tag}{i}`.
    fn group(n: usize, tag: &str) -> Arc<Members> {
        Arc::new(Members::new((0..n).map(|i| format!("{tag}{i}")).collect()))
    }

    #[test]
    fn a_large_list_goes_whole_once_per_interval_and_again_when_it_changes() {
        let mut sent = Sent::default();
        let big = group(NAMED_FROM, "u");
        let t = Instant::now();
        assert!(sent.whole(&push(&big, 1, Some(2)), t));
        assert!(!sent.whole(&push(&big, 1, Some(3)), t));
        assert!(!sent.whole(&push(&big, 1, Some(4)), t + RESEND_EVERY / 2));
        assert!(sent.whole(&push(&big, 1, Some(5)), t + RESEND_EVERY));
        assert!(!sent.whole(&push(&big, 1, Some(6)), t + RESEND_EVERY));
        // A join changes the list's id: the next push sends it whole.
        let mut joined = (*big).clone();
        joined.add("newcomer");
        let joined = Arc::new(joined);
        assert_ne!(joined.id(), big.id());
        assert_eq!(
            joined.id(),
            Members::new(joined.to_vec()).id(),
            "the same list read again has the same id"
        );
        assert!(sent.whole(&push(&joined, 1, Some(7)), t + RESEND_EVERY));
        // Another conversation, a small group, a receipt: always whole.
        assert!(sent.whole(&push(&big, 2, Some(2)), t));
        let small = group(NAMED_FROM - 1, "u");
        assert!(sent.whole(&push(&small, 3, Some(2)), t));
        assert!(sent.whole(&push(&small, 3, Some(3)), t));
        assert!(sent.whole(&push(&big, 1, None), t));
    }

    #[test]
    fn a_receiver_keeps_the_newest_large_lists_up_to_its_room_in_names() {
        let mut known = Known::default();
        let small = group(3, "u");
        known.learn(&small);
        assert!(known.get(small.id()).is_none());
        // Room for exactly `fit` lists of 1,000 names.
        let fit = KEEP_NAMES / 1_000;
        let lists: Vec<_> = (0..=fit).map(|k| group(1_000, &format!("g{k}u"))).collect();
        for l in &lists {
            known.learn(l);
        }
        assert!(known.get(lists[0].id()).is_none(), "the oldest is dropped");
        assert!(known.get(lists[1].id()).is_some(), "the next one stays");
        let newest = known.get(lists[fit].id()).unwrap();
        assert_eq!(newest.to_vec(), lists[fit].to_vec());
        // A list larger than the room is kept alone.
        let huge = group(KEEP_NAMES + 1, "h");
        known.learn(&huge);
        assert!(known.get(huge.id()).is_some());
        assert!(known.get(lists[fit].id()).is_none());
    }
}
