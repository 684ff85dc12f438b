//! The order task's bookkeeping, without I/O: which conversations' entry
//! pushes are held for ordering, from which seq, which users' events wait
//! for the node to listen to a conversation they joined, and what is due
//! for delivery. Every method puts the fan-outs to deliver now, in order, in
//! `out`; reading from the database is the caller's ([`Sequencer::next`]
//! says from where, [`Sequencer::filled`] takes what was read).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use crate::store::batch::{Fanout, Route};

/// One ordered conversation.
#[derive(Debug, Default)]
struct Track {
    /// The next seq to deliver; `None` until its start is known.
    next: Option<u64>,
    /// Pushes that came ahead of `next`.
    held: BTreeMap<u64, Fanout>,
    /// Since when `held` has waited for `next`.
    waiting_since: Option<Instant>,
    /// `next` at the previous sweep, if the database was ahead of it then.
    stalled_at: Option<u64>,
    /// A local user follows it (the interest holds its subscription).
    followed: bool,
    /// `conversation` events delivered here whose interest refresh has not
    /// finished: until then its pushes are held, not delivered straight
    /// (a push sent straight would let a start after it skip the pushes
    /// before it that the bus had not brought yet).
    pending: u32,
}

/// The held pushes and delivery positions of a node's conversations.
#[derive(Debug, Default)]
pub struct Sequencer {
    tracks: HashMap<i64, Track>,
    /// The last seq delivered straight (untracked) per conversation, so a
    /// track that starts later does not push it again.
    direct: HashMap<i64, u64>,
    /// Per user, the events held behind a `conversation` event about a
    /// conversation this node does not listen to yet (tagged with it), in
    /// the order they came. Such an event goes out once the node listens:
    /// a client that saw it gets every typing event sent after (typing is
    /// in no database to read later), and the user's events keep their
    /// order.
    gates: HashMap<String, VecDeque<(Option<i64>, Fanout)>>,
}

/// Most conversations remembered in [`Sequencer::direct`].
const DIRECT_MAX: usize = 10_000;

impl Sequencer {
    /// Takes a fan-out to deliver here: an entry push of an ordered
    /// conversation waits for the seqs before it; anything else is due now.
    pub fn push(&mut self, f: Fanout, out: &mut Vec<Fanout>) {
        let (conv, seq) = match f.route {
            Route::Conv {
                conv,
                seq: Some(seq),
            } => (conv, seq),
            Route::User { joined } => return self.push_user(f, joined, out),
            Route::Conv { seq: None, .. } => return out.push(f),
        };
        let Some(t) = self.tracks.get_mut(&conv) else {
            self.sent_straight(conv, seq);
            return out.push(f);
        };
        match t.next {
            Some(next) if seq < next => {}
            _ => {
                t.held.insert(seq, f);
                self.drain(conv, out);
            }
        }
    }

    /// An event to one user: held while an earlier one is, or when it
    /// announces a conversation (`joined`) the node does not listen to yet.
    fn push_user(&mut self, f: Fanout, joined: Option<(i64, u64)>, out: &mut Vec<Fanout>) {
        let waits = joined
            .map(|(conv, _)| conv)
            .filter(|conv| self.tracks.get(conv).is_none_or(|t| t.next.is_none()));
        let Some(user) = f.users.first() else {
            return out.push(f);
        };
        match self.gates.get_mut(user) {
            // A join of a conversation listened to already: its pushes go
            // out from now on, so it cannot wait behind another one (that
            // one goes out early instead).
            Some(_) if joined.is_some() && waits.is_none() => {
                let gate = self.gates.remove(user).unwrap_or_default();
                out.extend(gate.into_iter().map(|(_, f)| f));
                out.push(f);
            }
            Some(gate) => gate.push_back((waits, f)),
            None if waits.is_some() => {
                self.gates
                    .insert(user.clone(), VecDeque::from([(waits, f)]));
            }
            None => out.push(f),
        }
    }

    /// The node listens to `conv` now, or will not: the events held behind
    /// a `conversation` event about it are due, up to the next event that
    /// still waits. (An earlier one that waits for another conversation
    /// goes out with them: the user's events keep their order, and `conv`'s
    /// pushes, due next, come after the event that announced it.)
    fn open_gates(&mut self, conv: i64, out: &mut Vec<Fanout>) {
        self.gates.retain(|_, gate| {
            let upto = gate.iter().rposition(|(waits, _)| *waits == Some(conv));
            if let Some(upto) = upto {
                out.extend(gate.drain(..=upto).map(|(_, f)| f));
            }
            while gate.front().is_some_and(|(waits, _)| waits.is_none()) {
                out.extend(gate.pop_front().map(|(_, f)| f));
            }
            !gate.is_empty()
        });
    }

    /// A `conversation` event about `conv` is being delivered to a local
    /// user: hold its pushes until [`Sequencer::settle`].
    pub fn pend(&mut self, conv: i64) {
        self.tracks.entry(conv).or_default().pending += 1;
    }

    /// The interest refresh that a [`Sequencer::pend`] started is over (it
    /// followed `conv`, or found nothing to follow).
    pub fn settle(&mut self, conv: i64, out: &mut Vec<Fanout>) {
        if let Some(t) = self.tracks.get_mut(&conv) {
            t.pending = t.pending.saturating_sub(1);
        }
        self.open_gates(conv, out);
        self.drop_unused(conv, out);
    }

    /// A local user follows `conv` now: hold its pushes until its start.
    pub fn follow(&mut self, conv: i64) {
        self.tracks.entry(conv).or_default().followed = true;
    }

    /// No local user follows `conv` any more.
    pub fn unfollow(&mut self, conv: i64, out: &mut Vec<Fanout>) {
        if let Some(t) = self.tracks.get_mut(&conv) {
            t.followed = false;
        }
        self.drop_unused(conv, out);
    }

    /// Forgets `conv` when neither followed nor pending; pushes held for a
    /// start that will not come are delivered as they are.
    fn drop_unused(&mut self, conv: i64, out: &mut Vec<Fanout>) {
        if self
            .tracks
            .get(&conv)
            .is_some_and(|t| !t.followed && t.pending == 0)
            && let Some(t) = self.tracks.remove(&conv)
            && t.next.is_none()
            && let Some((&last, _)) = t.held.last_key_value()
        {
            self.sent_straight(conv, last);
            out.extend(t.held.into_values());
        }
    }

    /// Remembers that `conv`'s pushes up to `seq` went out untracked.
    fn sent_straight(&mut self, conv: i64, seq: u64) {
        if self.direct.len() >= DIRECT_MAX {
            self.direct.clear();
        }
        let d = self.direct.entry(conv).or_default();
        *d = (*d).max(seq);
    }

    /// `conv`'s pushes are delivered from seq `start` on (or after the
    /// last one delivered straight). Returns the first seq to read from
    /// the database up to the head, or `None` when it had started already.
    pub fn start(&mut self, conv: i64, start: u64, out: &mut Vec<Fanout>) -> Option<u64> {
        let direct = self.direct.remove(&conv);
        let t = self.tracks.get_mut(&conv)?;
        if t.next.is_some() {
            return None;
        }
        let next = start.max(direct.map_or(0, |d| d + 1));
        t.held.retain(|&seq, _| seq >= next);
        t.next = Some(next);
        self.open_gates(conv, out);
        self.drain(conv, out);
        self.next(conv)
    }

    /// The next seq `conv` delivers, once started.
    pub fn next(&self, conv: i64) -> Option<u64> {
        self.tracks.get(&conv)?.next
    }

    /// `frames` are `conv`'s entries from [`Sequencer::next`] to `to`, read
    /// from the database: they are due, then what was held behind them.
    pub fn filled(&mut self, conv: i64, to: u64, frames: Vec<Fanout>, out: &mut Vec<Fanout>) {
        let Some(t) = self.tracks.get_mut(&conv) else {
            return;
        };
        let Some(next) = t.next else {
            return;
        };
        for f in frames {
            if let Route::Conv { seq: Some(seq), .. } = f.route {
                // Pushes that came while reading are in `held`, and
                // `next` has not moved: the read covers them.
                t.held.remove(&seq);
                if seq >= next {
                    out.push(f);
                }
            }
        }
        t.next = Some(next.max(to + 1));
        self.drain(conv, out);
    }

    /// Delivers the held pushes that are next in line.
    fn drain(&mut self, conv: i64, out: &mut Vec<Fanout>) {
        let Some(t) = self.tracks.get_mut(&conv) else {
            return;
        };
        let Some(mut next) = t.next else {
            return;
        };
        while let Some(entry) = t.held.first_entry() {
            if *entry.key() > next {
                break;
            }
            let seq = *entry.key();
            let f = entry.remove();
            if seq == next {
                out.push(f);
                next += 1;
            }
        }
        t.next = Some(next);
        t.waiting_since = if t.held.is_empty() {
            None
        } else {
            t.waiting_since.or(Some(Instant::now()))
        };
    }

    /// When the first held push will have waited too long.
    pub fn waiting_since(&self) -> Option<Instant> {
        self.tracks.values().filter_map(|t| t.waiting_since).min()
    }

    /// `(conv, last seq to read)` of the conversations whose held pushes
    /// have waited since before `since`.
    pub fn overdue(&self, since: Instant) -> Vec<(i64, u64)> {
        self.tracks
            .iter()
            .filter(|(_, t)| t.waiting_since.is_some_and(|at| at <= since))
            .filter_map(|(&conv, t)| Some((conv, *t.held.keys().next()? - 1)))
            .collect()
    }

    /// The started conversations.
    pub fn started(&self) -> Vec<i64> {
        self.tracks
            .iter()
            .filter(|(_, t)| t.next.is_some())
            .map(|(&c, _)| c)
            .collect()
    }

    /// The database's head of `conv` is `last`: whether to read up to it
    /// now, because it was already ahead at the previous sweep at the same
    /// position (or at once when `force`).
    pub fn sweep(&mut self, conv: i64, last: u64, force: bool) -> bool {
        let Some(t) = self.tracks.get_mut(&conv) else {
            return false;
        };
        let Some(next) = t.next else {
            return false;
        };
        if last < next {
            t.stalled_at = None;
            return false;
        }
        if force || t.stalled_at == Some(next) {
            t.stalled_at = None;
            true
        } else {
            t.stalled_at = Some(next);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::members::Members;

    const C: i64 = 7;

    fn push(seq: u64) -> Fanout {
        Fanout {
            users: Arc::new(Members::new(vec!["ann".into()])),
            frame: format!("m{seq}").into(),
            except: None,
            route: Route::Conv {
                conv: C,
                seq: Some(seq),
            },
        }
    }

    /// An event to ann: a `conversation` event when `joined`.
    fn event(frame: &str, joined: Option<i64>) -> Fanout {
        Fanout {
            users: Arc::new(Members::new(vec!["ann".into()])),
            frame: frame.to_owned().into(),
            except: None,
            route: Route::User {
                joined: joined.map(|c| (c, 2)),
            },
        }
    }

    /// What is due, as frames.
    fn frames(out: &mut Vec<Fanout>) -> Vec<String> {
        out.drain(..).map(|f| f.frame.to_string()).collect()
    }

    fn seqs(out: &mut Vec<Fanout>) -> Vec<u64> {
        out.drain(..)
            .map(|f| match f.route {
                Route::Conv { seq: Some(s), .. } => s,
                other => panic!("not an entry push: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn pushes_wait_for_the_seqs_before_them() {
        let mut s = Sequencer::default();
        let mut out = Vec::new();
        s.follow(C);
        s.push(push(3), &mut out);
        assert_eq!(s.start(C, 2, &mut out), Some(2));
        assert!(out.is_empty());
        s.push(push(2), &mut out);
        assert_eq!(seqs(&mut out), [2, 3]);
        s.push(push(3), &mut out);
        s.push(push(5), &mut out);
        assert!(out.is_empty());
        s.filled(C, 4, vec![push(4)], &mut out);
        assert_eq!(seqs(&mut out), [4, 5]);
        assert_eq!(s.next(C), Some(6));
    }

    /// The race behind a rare cluster failure: a node delivers a group's
    /// `conversation` event, other nodes' first pushes (2, 3) go out before
    /// it subscribes, and a local send (4) commits before the refresh's
    /// start. Pushing 4 straight made the start skip 2 and 3; held, it
    /// goes out after them.
    #[test]
    fn a_push_during_a_pending_join_waits_for_the_start() {
        let mut s = Sequencer::default();
        let mut out = Vec::new();
        s.pend(C);
        s.push(push(4), &mut out);
        assert!(out.is_empty(), "held until the start");
        s.follow(C);
        assert_eq!(s.start(C, 2, &mut out), Some(2));
        assert!(out.is_empty());
        s.settle(C, &mut out);
        s.filled(C, 3, vec![push(2), push(3)], &mut out);
        assert_eq!(seqs(&mut out), [2, 3, 4]);
        assert_eq!(s.next(C), Some(5));
    }

    #[test]
    fn a_join_that_follows_nothing_delivers_what_it_held() {
        let mut s = Sequencer::default();
        let mut out = Vec::new();
        s.pend(C);
        s.pend(C);
        s.push(push(9), &mut out);
        s.settle(C, &mut out);
        assert!(out.is_empty(), "one refresh still pending");
        s.settle(C, &mut out);
        assert_eq!(seqs(&mut out), [9]);
        assert_eq!(s.next(C), None);
        s.push(push(10), &mut out);
        assert_eq!(seqs(&mut out), [10], "untracked pushes go straight");
        s.follow(C);
        assert_eq!(
            s.start(C, 5, &mut out),
            Some(11),
            "after those sent straight"
        );
    }

    #[test]
    fn a_pending_join_keeps_a_followed_conversation_as_it_is() {
        let mut s = Sequencer::default();
        let mut out = Vec::new();
        s.follow(C);
        s.start(C, 1, &mut out);
        s.pend(C);
        s.push(push(1), &mut out);
        s.settle(C, &mut out);
        s.push(push(2), &mut out);
        assert_eq!(seqs(&mut out), [1, 2]);
        s.unfollow(C, &mut out);
        assert_eq!(s.next(C), None);
    }

    /// The race behind another rare cluster failure: a member saw a new
    /// group's `conversation` event, and the typing event sent right after
    /// never came, because this node did not listen to the group yet. The
    /// event now goes out at the start, before the group's pushes, and the
    /// user's later events wait behind it.
    #[test]
    fn a_join_event_waits_until_the_node_listens() {
        let mut s = Sequencer::default();
        let mut out = Vec::new();
        s.pend(C);
        s.push(event("joined", Some(C)), &mut out);
        s.push(event("settings", None), &mut out);
        s.push(push(2), &mut out);
        assert!(out.is_empty(), "all held until the node listens");
        s.follow(C);
        assert_eq!(s.start(C, 2, &mut out), Some(3));
        assert_eq!(frames(&mut out), ["joined", "settings", "m2"]);
        s.settle(C, &mut out);
        s.push(event("read", None), &mut out);
        assert_eq!(frames(&mut out), ["read"], "no gate left");
    }

    #[test]
    fn a_join_event_for_a_conversation_listened_to_goes_straight() {
        let mut s = Sequencer::default();
        let mut out = Vec::new();
        s.follow(C);
        s.start(C, 1, &mut out);
        s.pend(C);
        s.push(event("joined", Some(C)), &mut out);
        assert_eq!(frames(&mut out), ["joined"]);
    }

    /// Two joins in a row: the second conversation's start lets out the
    /// first's event too, so that its pushes do not overtake their own
    /// announcement; a refresh that failed lets out what waited for it.
    #[test]
    fn join_events_keep_their_order() {
        let mut s = Sequencer::default();
        let mut out = Vec::new();
        let (c1, c2, c3) = (1, 2, 3);
        for c in [c1, c2, c3] {
            s.pend(c);
            s.push(event(&format!("joined {c}"), Some(c)), &mut out);
        }
        s.push(event("settings", None), &mut out);
        s.follow(c2);
        s.start(c2, 1, &mut out);
        assert_eq!(frames(&mut out), ["joined 1", "joined 2"]);
        s.settle(c3, &mut out);
        assert_eq!(frames(&mut out), ["joined 3", "settings"]);
        s.push(event("read", None), &mut out);
        assert_eq!(frames(&mut out), ["read"]);
    }

    /// Joined to a group the node listens to already while another join
    /// waits: its pushes flow at once, so its event cannot wait behind the
    /// other one's; both go out, in order.
    #[test]
    fn a_join_of_a_listened_conversation_lets_out_the_waiting_ones() {
        let mut s = Sequencer::default();
        let mut out = Vec::new();
        let (c1, c2) = (1, 2);
        s.follow(c2);
        s.start(c2, 1, &mut out);
        s.pend(c1);
        s.push(event("joined 1", Some(c1)), &mut out);
        s.push(event("settings", None), &mut out);
        assert!(out.is_empty());
        s.pend(c2);
        s.push(event("joined 2", Some(c2)), &mut out);
        assert_eq!(frames(&mut out), ["joined 1", "settings", "joined 2"]);
        s.push(event("read", None), &mut out);
        assert_eq!(frames(&mut out), ["read"], "no gate left");
    }

    #[test]
    fn sweeps_read_a_head_that_stayed_ahead() {
        let mut s = Sequencer::default();
        let mut out = Vec::new();
        s.follow(C);
        s.start(C, 3, &mut out);
        assert!(!s.sweep(C, 2, false), "nothing missing");
        assert!(!s.sweep(C, 4, false), "first sight: the bus may bring it");
        assert!(s.sweep(C, 4, false), "still missing a second later");
        assert!(s.sweep(C, 3, true), "forced");
        assert!(!s.sweep(8, 10, true), "untracked");
    }
}
