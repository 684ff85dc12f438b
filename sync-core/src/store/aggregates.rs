//! Protocol 1.1 values a store keeps or computes when read: §9.1/§9.2
//! totals snapshots, reaction aggregates, thread windows, and the §9.3
//! mention count shown.

use std::collections::BTreeMap;

use super::{
    ConvRecord, LocalMessage, OutboxItem, RangeSet, SeqRange, TimelineItem, assemble_window,
};
use crate::protocol::{Message, Seq};

/// The §9.1/§9.2 totals a `messages` reply carries for one text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextTotals {
    /// The text.
    pub seq: Seq,
    /// Standing reactions per key.
    pub reactions: BTreeMap<String, u64>,
    /// Replies in its thread.
    pub replies: u64,
    /// Its thread's newest reply.
    pub last_reply_seq: Option<Seq>,
}

impl TextTotals {
    /// The totals a text of a `messages` reply carries.
    pub fn of(m: &Message) -> TextTotals {
        TextTotals {
            seq: m.seq,
            reactions: m.reactions.clone(),
            replies: m.replies.unwrap_or(0),
            last_reply_seq: m.last_reply_seq,
        }
    }
}

/// §9.2: the standing reactions of one key on a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionCount {
    /// The reaction (an emoji or `:shortcode:`).
    pub key: String,
    /// How many members stand by it.
    pub count: u64,
    /// The user is one of them (known once the user's reaction entry is
    /// held: from this device's `sent` reply, a push or a pull).
    pub mine: bool,
}

/// §9.1: a thread as held locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadWindow {
    /// The root text; None until held.
    pub root: Option<LocalMessage>,
    /// Replies ascending, with [`TimelineItem::Gap`]s where replies may be
    /// missing (seq ranges not known to be complete, not exact counts),
    /// then pending reply echoes.
    pub items: Vec<TimelineItem>,
    /// Everything up to the thread's newest known entry is held.
    pub complete: bool,
}

/// §9.3: the mention count shown: the server's count minus texts known to
/// mention the user that were read locally since (0 once all is read).
pub fn display_mentions(rec: &ConvRecord) -> u64 {
    if rec.local_read >= rec.last_seq {
        0
    } else if rec.local_read <= rec.read_seq {
        rec.mentions
    } else {
        let read = rec
            .mention_seqs
            .iter()
            .filter(|s| **s > rec.read_seq && **s <= rec.local_read)
            .count() as u64;
        rec.mentions.saturating_sub(read)
    }
}

/// A held `reaction` entry on a text, for [`reaction_counts`].
#[derive(Debug, Clone)]
pub(crate) struct HeldReaction {
    pub seq: Seq,
    pub sender: String,
    pub key: String,
    /// Seq of a held `redact` withdrawing it.
    pub withdrawn: Option<Seq>,
}

/// §9.2: a text's standing reactions: the snapshot taken at `snap_seq`
/// (from a `messages` reply, or empty at the text's own seq), plus held
/// reaction entries above it, minus held withdrawals above it of reactions
/// the snapshot counted. Entries at or below the snapshot are in it already,
/// so an entry is never counted twice whatever order pages and pushes come
/// in.
pub(crate) fn reaction_counts(
    snap_seq: Seq,
    snap: &BTreeMap<String, u64>,
    held: &[HeldReaction],
    me: &str,
) -> Vec<ReactionCount> {
    let mut counts: BTreeMap<&str, i64> = snap
        .iter()
        .map(|(k, n)| (k.as_str(), i64::try_from(*n).unwrap_or(i64::MAX)))
        .collect();
    let mut mine = std::collections::BTreeSet::new();
    for r in held {
        let delta = match (r.seq > snap_seq, r.withdrawn) {
            (true, None) => 1,
            (false, Some(x)) if x > snap_seq => -1,
            _ => 0,
        };
        *counts.entry(r.key.as_str()).or_insert(0) += delta;
        if r.sender == me && r.withdrawn.is_none() {
            mine.insert(r.key.as_str());
        }
    }
    let mut out: Vec<ReactionCount> = counts
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| ReactionCount {
            key: k.to_owned(),
            count: n as u64,
            mine: mine.contains(k),
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out
}

/// §9.1: builds a thread window from the decorated root (if held), the
/// held replies (ascending), what is known complete, the latest
/// `thread_last_seq` (0: never loaded) and the pending reply echoes.
pub(crate) fn assemble_thread(
    root_seq: Seq,
    root: Option<LocalMessage>,
    replies: Vec<LocalMessage>,
    covered: &RangeSet,
    thread_last: Seq,
    pending: Vec<OutboxItem>,
) -> ThreadWindow {
    let newest = replies
        .iter()
        .map(|m| m.seq)
        .chain(root.as_ref().and_then(|r| r.last_reply_seq))
        .fold(thread_last.max(root_seq), Seq::max);
    let gaps = thread_gaps(root_seq, newest, covered);
    let complete = gaps.is_empty() && root.is_some();
    ThreadWindow {
        root,
        items: assemble_window(replies, gaps, pending),
        complete,
    }
}

/// §9.1: the thread window's gaps: the seqs in `(root, newest]` that
/// `covered` does not include.
pub(crate) fn thread_gaps(root: Seq, newest: Seq, covered: &RangeSet) -> Vec<SeqRange> {
    let mut c = covered.clone();
    c.insert_range(1, root);
    c.gaps(newest)
        .into_iter()
        .filter(|g| g.from <= newest)
        .map(|g| SeqRange::new(g.from, g.to.min(newest)))
        .collect()
}
