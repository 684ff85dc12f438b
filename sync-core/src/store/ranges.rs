//! Held-range and gap arithmetic for one conversation's timeline.
//!
//! A timeline cache holds some seqs and lacks others. [`RangeSet`] keeps the
//! held seqs as sorted, disjoint, non-adjacent inclusive ranges; the gaps are
//! its complement within `1..=last_seq`. Both the engine (to decide what to
//! fetch) and the stores (to persist gaps as explicit rows) use this one
//! implementation, so they can never disagree about what is missing.

use crate::protocol::Seq;

/// An inclusive range of seqs `from..=to` (`from <= to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeqRange {
    /// First seq of the range.
    pub from: Seq,
    /// Last seq of the range (inclusive).
    pub to: Seq,
}

impl SeqRange {
    /// The range `from..=to`.
    pub fn new(from: Seq, to: Seq) -> SeqRange {
        SeqRange { from, to }
    }

    /// Number of seqs in the range.
    pub fn len(&self) -> u64 {
        self.to - self.from + 1
    }

    /// Always false: a range holds at least one seq.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// True if `seq` lies in the range.
    pub fn contains(&self, seq: Seq) -> bool {
        self.from <= seq && seq <= self.to
    }
}

/// Sorted, disjoint, non-adjacent held ranges.
///
/// ```
/// use sync_core::store::ranges::{RangeSet, SeqRange};
/// let mut held = RangeSet::default();
/// held.insert_range(1, 10);
/// held.insert(15);
/// assert_eq!(held.cursor(), 15);
/// assert_eq!(held.gaps(20), vec![SeqRange::new(11, 14), SeqRange::new(16, 20)]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<SeqRange>,
}

impl RangeSet {
    /// Builds a set from arbitrary ranges (merging overlaps; invalid ranges are skipped).
    pub fn from_ranges(ranges: impl IntoIterator<Item = SeqRange>) -> RangeSet {
        let mut set = RangeSet::default();
        for r in ranges {
            set.insert_range(r.from, r.to);
        }
        set
    }

    /// The held ranges, ascending.
    pub fn ranges(&self) -> &[SeqRange] {
        &self.ranges
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The newest held seq, or 0 when nothing is held. This is the
    /// conversation's cursor: pushes at `cursor + 1` append.
    pub fn cursor(&self) -> Seq {
        self.ranges.last().map_or(0, |r| r.to)
    }

    /// The oldest held seq, if any.
    pub fn first(&self) -> Option<Seq> {
        self.ranges.first().map(|r| r.from)
    }

    /// True if `seq` is held.
    pub fn contains(&self, seq: Seq) -> bool {
        // Ranges are sorted by `from`: the candidate is the last one starting at or before seq.
        let idx = self.ranges.partition_point(|r| r.from <= seq);
        idx > 0 && self.ranges[idx - 1].to >= seq
    }

    /// Marks one seq held. Returns false if it was already held. Seq 0 is not
    /// a valid position and is ignored.
    pub fn insert(&mut self, seq: Seq) -> bool {
        if seq == 0 || self.contains(seq) {
            return false;
        }
        self.insert_range(seq, seq);
        true
    }

    /// Marks `from..=to` held, merging with neighbours. Empty or zero-based
    /// ranges are clipped or ignored.
    pub fn insert_range(&mut self, from: Seq, to: Seq) {
        let from = from.max(1);
        if to < from {
            return;
        }
        // Find every range that overlaps or touches [from, to] and merge them.
        let start = self
            .ranges
            .partition_point(|r| r.to.saturating_add(1) < from);
        let mut end = start;
        let mut merged = SeqRange::new(from, to);
        while end < self.ranges.len() && self.ranges[end].from <= to.saturating_add(1) {
            merged.from = merged.from.min(self.ranges[end].from);
            merged.to = merged.to.max(self.ranges[end].to);
            end += 1;
        }
        self.ranges.splice(start..end, [merged]);
    }

    /// The missing ranges within `1..=max(last_seq, cursor)`, ascending.
    pub fn gaps(&self, last_seq: Seq) -> Vec<SeqRange> {
        let top = last_seq.max(self.cursor());
        let mut gaps = Vec::new();
        let mut next = 1;
        for r in &self.ranges {
            if r.from > next {
                gaps.push(SeqRange::new(next, r.from - 1));
            }
            next = r.to + 1;
        }
        if next <= top {
            gaps.push(SeqRange::new(next, top));
        }
        gaps
    }

    /// Number of held seqs.
    pub fn held(&self) -> u64 {
        self.ranges.iter().map(SeqRange::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_merge_adjacent_and_overlapping() {
        let mut s = RangeSet::default();
        assert!(s.insert(5));
        assert!(s.insert(7));
        assert!(!s.insert(5));
        assert_eq!(s.ranges(), &[SeqRange::new(5, 5), SeqRange::new(7, 7)]);
        assert!(s.insert(6));
        assert_eq!(s.ranges(), &[SeqRange::new(5, 7)]);
        s.insert_range(1, 3);
        s.insert_range(2, 4);
        assert_eq!(s.ranges(), &[SeqRange::new(1, 7)]);
        s.insert_range(20, 30);
        s.insert_range(9, 25);
        assert_eq!(s.ranges(), &[SeqRange::new(1, 7), SeqRange::new(9, 30)]);
        assert_eq!(s.held(), 29);
        assert!(!s.insert(0));
    }

    #[test]
    fn gaps_are_the_exact_complement() {
        let s = RangeSet::from_ranges([SeqRange::new(3, 4), SeqRange::new(8, 8)]);
        assert_eq!(
            s.gaps(10),
            vec![
                SeqRange::new(1, 2),
                SeqRange::new(5, 7),
                SeqRange::new(9, 10)
            ]
        );
        assert_eq!(s.gaps(0), vec![SeqRange::new(1, 2), SeqRange::new(5, 7)]);
        assert_eq!(
            RangeSet::default().gaps(100_000),
            vec![SeqRange::new(1, 100_000)]
        );
        assert!(RangeSet::default().gaps(0).is_empty());
    }
}
