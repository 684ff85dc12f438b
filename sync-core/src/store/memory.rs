//! In-memory implementation of [`Store`] for tests; behaves like
//! [`super::SqliteStore`] (the shared store suite checks both).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use super::{
    Batch, ConvRecord, ConvRow, HeldReaction, LocalMessage, MetaKey, OutboxItem, OutboxKind,
    RangeSet, SearchHit, SeqRange, Session, Snapshot, Store, StoreError, ThreadWindow,
    TimelineItem, TimelineQuery, Write, assemble_thread, assemble_window, display_mentions,
    display_unread, reaction_counts, window_bounds,
};
use crate::protocol::{ConvId, EntryKind, Message, Seq};

#[derive(Debug, Clone, Default)]
struct Data {
    meta: HashMap<MetaKey, String>,
    convs: BTreeMap<ConvId, (ConvRecord, i64)>,
    messages: BTreeMap<ConvId, BTreeMap<Seq, LocalMessage>>,
    outbox: Vec<OutboxItem>,
    receipts: BTreeMap<(ConvId, String), Seq>,
    consumers: BTreeMap<String, BTreeMap<ConvId, Seq>>,
    /// Per held text: what is not in its [`LocalMessage`] (snapshots, the
    /// union of mentions).
    extra: BTreeMap<ConvId, BTreeMap<Seq, Extra>>,
    /// Per thread: seqs covered by completed `thread` pages, and the
    /// latest `thread_last_seq`.
    threads: BTreeMap<(ConvId, Seq), (RangeSet, Seq)>,
}

/// A held text's totals snapshot (§9.1/§9.2) and mentions union (§9.3).
#[derive(Debug, Clone, Default)]
struct Extra {
    snap_seq: Seq,
    reactions: BTreeMap<String, u64>,
    replies: u64,
    last_reply: Option<Seq>,
    mentioned: BTreeSet<String>,
}

/// A [`Store`] kept in memory. Its [`Store::reader`]s (and clones) share
/// the data, as connections to one database would.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    shared: Arc<Mutex<Data>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn data(&self) -> std::sync::MutexGuard<'_, Data> {
        // Batches are swapped in whole: a panic cannot leave half of one.
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One member's receipt, for tests.
    pub fn receipt_of(&self, conv: &ConvId, user: &str) -> Option<Seq> {
        self.data()
            .receipts
            .get(&(conv.clone(), user.to_owned()))
            .copied()
    }
}

impl Data {
    fn insert(&mut self, conv: &ConvId, m: &Message) {
        let tl = self.messages.entry(conv.clone()).or_default();
        let extra = self.extra.entry(conv.clone()).or_default();
        if let Some(held) = tl.get_mut(&m.seq) {
            // A copy of an entry stored from our own `sent` reply carries
            // what that reply did not: the thread and the mentions.
            if held.kind == EntryKind::Text && held.thread.is_none() && m.thread.is_some() {
                held.thread = m.thread;
            }
            if held.kind == EntryKind::Text && !held.edited && held.mentions.is_empty() {
                held.mentions = m.mentions.clone();
                if let Some(x) = extra.get_mut(&m.seq) {
                    x.mentioned.extend(m.mentions.iter().cloned());
                }
            }
            return;
        }
        let mut local = LocalMessage::from_entry(m);
        if m.kind == EntryKind::Text && local.thread.is_none() {
            local.thread = m
                .reply_to
                .and_then(|r| tl.get(&r))
                .filter(|r| r.kind == EntryKind::Text)
                .filter(|r| r.thread.is_some() || r.reply_to.is_none())
                .map(|r| r.thread.unwrap_or(r.seq));
        }
        if m.kind == EntryKind::Text && (local.thread.is_some() || m.reply_to.is_none()) {
            // §9.1: replies held without a thread (stored from our own
            // `sent` before this text was held) take its thread, down the chain.
            let root = local.thread.unwrap_or(m.seq);
            let mut parents = vec![m.seq];
            while let Some(p) = parents.pop() {
                for r in tl.values_mut().filter(|r| {
                    r.kind == EntryKind::Text && r.thread.is_none() && r.reply_to == Some(p)
                }) {
                    r.thread = Some(root);
                    parents.push(r.seq);
                }
            }
        }
        if m.kind == EntryKind::Text {
            let mut x = Extra {
                snap_seq: m.seq,
                mentioned: m.mentions.iter().cloned().collect(),
                ..Extra::default()
            };
            for e in tl
                .values()
                .filter(|e| e.kind == EntryKind::Edit && e.target == Some(m.seq))
            {
                x.mentioned.extend(e.mentions.iter().cloned());
            }
            extra.insert(m.seq, x);
            let redacted = tl
                .values()
                .any(|e| e.kind == EntryKind::Redact && e.target == Some(m.seq));
            let edit = tl
                .values()
                .rev()
                .find(|e| e.kind == EntryKind::Edit && e.target == Some(m.seq));
            if redacted || m.redacted {
                local.body = None;
                local.redacted = true;
            } else if let Some(e) = edit {
                local.body = e.body.clone();
                local.mentions = e.mentions.clone();
                local.edited = true;
            }
        }
        if let Some(target) = m.target {
            let newer_edit = tl
                .values()
                .any(|e| e.kind == EntryKind::Edit && e.target == Some(target) && e.seq > m.seq);
            if let Some(t) = tl.get_mut(&target).filter(|t| t.kind == EntryKind::Text) {
                match m.kind {
                    EntryKind::Edit if !t.redacted && !newer_edit && m.body.is_some() => {
                        t.body = m.body.clone();
                        t.mentions = m.mentions.clone();
                        t.edited = true;
                    }
                    EntryKind::Redact => {
                        t.body = None;
                        t.redacted = true;
                    }
                    _ => {}
                }
                if m.kind == EntryKind::Edit
                    && let Some(x) = extra.get_mut(&target)
                {
                    x.mentioned.extend(m.mentions.iter().cloned());
                }
            }
        }
        tl.insert(m.seq, local);
        if super::moves_activity(m.kind)
            && let Some((_, activity)) = self.convs.get_mut(conv)
        {
            *activity = (*activity).max(m.ts);
        }
    }

    fn apply(&mut self, w: &Write) {
        match w {
            Write::Meta(k, v) => match v {
                Some(v) => {
                    self.meta.insert(*k, v.clone());
                }
                None => {
                    self.meta.remove(k);
                }
            },
            Write::ResetAll => {
                self.convs.clear();
                self.messages.clear();
                self.extra.clear();
                self.threads.clear();
                self.receipts.clear();
                self.consumers.values_mut().for_each(BTreeMap::clear);
                self.meta.remove(&MetaKey::Since);
            }
            Write::Conv(rec) => {
                let last_ts = rec.last.as_ref().map_or(0, |m| m.ts);
                let entry = self
                    .convs
                    .entry(rec.conv.clone())
                    .or_insert_with(|| (rec.clone(), last_ts));
                let local_read = entry.0.local_read.max(rec.local_read);
                entry.0 = rec.clone();
                entry.0.local_read = local_read;
                entry.1 = entry.1.max(last_ts);
            }
            Write::ClearTimeline(conv) => {
                self.messages.remove(conv);
                self.extra.remove(conv);
                self.threads.retain(|(c, _), _| c != conv);
                for positions in self.consumers.values_mut() {
                    positions.remove(conv);
                }
                if let Some((rec, _)) = self.convs.get_mut(conv) {
                    rec.held = Default::default();
                }
            }
            Write::RemoveConv(conv) => {
                self.messages.remove(conv);
                self.extra.remove(conv);
                self.threads.retain(|(c, _), _| c != conv);
                self.convs.remove(conv);
                self.receipts.retain(|(c, _), _| c != conv);
            }
            Write::Messages(conv, msgs) => {
                for m in msgs {
                    self.insert(conv, m);
                }
            }
            Write::OutboxPut(item) => {
                match self
                    .outbox
                    .iter_mut()
                    .find(|o| o.client_id == item.client_id)
                {
                    Some(o) => o.state = item.state.clone(),
                    None => self.outbox.push(item.clone()),
                }
            }
            Write::OutboxRemove(id) => self.outbox.retain(|o| &o.client_id != id),
            Write::Receipt(conv, user, seq) => {
                let e = self
                    .receipts
                    .entry((conv.clone(), user.clone()))
                    .or_insert(0);
                *e = (*e).max(*seq);
            }
            Write::Totals { conv, as_of, texts } => {
                let Some(extra) = self.extra.get_mut(conv) else {
                    return;
                };
                for totals in texts {
                    if let Some(x) = extra.get_mut(&totals.seq)
                        && *as_of > x.snap_seq
                    {
                        x.snap_seq = *as_of;
                        x.reactions = totals.reactions.clone();
                        x.replies = totals.replies;
                        x.last_reply = totals.last_reply_seq;
                    }
                }
            }
            Write::ThreadPage {
                conv,
                root,
                from,
                to,
                thread_last,
            } => {
                let entry = self.threads.entry((conv.clone(), *root)).or_default();
                entry.0.insert_range(*from, *to);
                entry.1 = entry.1.max(*thread_last);
            }
            Write::Live(conv, seqs) => {
                if let Some(tl) = self.messages.get_mut(conv) {
                    for s in seqs {
                        if let Some(m) = tl.get_mut(s) {
                            m.live = true;
                        }
                    }
                }
            }
            Write::ConsumerStart {
                name,
                positions,
                reset,
            } => {
                let stored = self.consumers.entry(name.clone()).or_default();
                if *reset {
                    stored.clear();
                }
                for (conv, pos) in positions {
                    stored.entry(conv.clone()).or_insert(*pos);
                }
            }
            Write::ConsumerAck { name, conv, seq } => {
                let pos = self
                    .consumers
                    .entry(name.clone())
                    .or_default()
                    .entry(conv.clone())
                    .or_insert(0);
                *pos = (*pos).max(*seq);
            }
        }
    }

    fn row(&self, rec: &ConvRecord, activity: i64) -> ConvRow {
        let me = self.meta.get(&MetaKey::User).cloned().unwrap_or_default();
        let others_between = self
            .messages
            .get(&rec.conv)
            .filter(|_| rec.local_read > rec.read_seq)
            .map_or(0, |tl| {
                tl.range(rec.read_seq + 1..=rec.local_read)
                    .filter(|(_, m)| m.kind == EntryKind::Text && m.sender != me)
                    .count() as u64
            });
        let pending: Vec<&OutboxItem> = self.outbox.iter().filter(|o| o.conv == rec.conv).collect();
        ConvRow {
            conv: rec.conv.clone(),
            kind: rec.kind,
            title: rec.title.clone(),
            member_count: rec.member_count,
            last_seq: rec.last_seq,
            read_seq: rec.local_read.max(rec.read_seq),
            unread: display_unread(rec, others_between),
            last: rec.last.clone(),
            left: rec.left,
            last_activity_ts: pending
                .iter()
                .map(|o| o.created_ts)
                .fold(activity, i64::max),
            pending: pending.len() as u32,
            mentions: display_mentions(rec),
            notify: rec.notify,
            pinned: rec.pinned,
            archived: rec.archived,
        }
    }

    /// Fills in what is computed when read: reactions, reply counts, and
    /// the mention flag, from the held entries of `conv`.
    fn decorate(&self, conv: &ConvId, msgs: &mut [LocalMessage]) {
        let me = self.meta.get(&MetaKey::User).cloned().unwrap_or_default();
        let empty = BTreeMap::new();
        let tl = self.messages.get(conv).unwrap_or(&empty);
        let no_extra = BTreeMap::new();
        let extra = self.extra.get(conv).unwrap_or(&no_extra);
        let mut withdrawn: HashMap<Seq, Seq> = HashMap::new();
        let mut reactions: HashMap<Seq, Vec<HeldReaction>> = HashMap::new();
        let mut replies: HashMap<Seq, Vec<Seq>> = HashMap::new();
        for e in tl.values() {
            match (e.kind, e.target, e.thread) {
                (EntryKind::Redact, Some(t), _) => {
                    withdrawn.entry(t).or_insert(e.seq);
                }
                (EntryKind::Text, _, Some(root)) => replies.entry(root).or_default().push(e.seq),
                _ => {}
            }
        }
        for e in tl.values().filter(|e| e.kind == EntryKind::Reaction) {
            if let (Some(t), Some(key)) = (e.target, &e.key) {
                reactions.entry(t).or_default().push(HeldReaction {
                    seq: e.seq,
                    sender: e.sender.clone(),
                    key: key.clone(),
                    withdrawn: withdrawn.get(&e.seq).copied(),
                });
            }
        }
        for m in msgs.iter_mut().filter(|m| m.kind == EntryKind::Text) {
            let x = extra.get(&m.seq).cloned().unwrap_or_default();
            let held_replies = replies.get(&m.seq).map_or(&[][..], Vec::as_slice);
            m.replies = x.replies + held_replies.iter().filter(|s| **s > x.snap_seq).count() as u64;
            m.last_reply_seq = held_replies.iter().copied().chain(x.last_reply).max();
            m.last_reply_ts = m.last_reply_seq.and_then(|s| tl.get(&s)).map(|r| r.ts);
            if m.redacted {
                m.mentions.clear();
                continue;
            }
            m.mentions_me = x.mentioned.contains(&me);
            m.reactions = reaction_counts(
                x.snap_seq,
                &x.reactions,
                reactions.get(&m.seq).map_or(&[][..], Vec::as_slice),
                &me,
            );
        }
    }
}

impl Store for MemoryStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        let session = self.session()?;
        let data = self.data();
        Ok(Snapshot {
            server_id: data.meta.get(&MetaKey::ServerId).cloned(),
            since: data.meta.get(&MetaKey::Since).cloned(),
            session,
            convs: data.convs.values().map(|(r, _)| r.clone()).collect(),
            outbox: data.outbox.clone(),
            features: super::parse_features(data.meta.get(&MetaKey::Features).cloned()),
            limits: super::parse_limits(data.meta.get(&MetaKey::Limits).cloned()),
        })
    }

    fn apply(&mut self, batch: &Batch) -> Result<(), StoreError> {
        self.apply_all(std::slice::from_ref(batch))
    }

    fn apply_all(&mut self, batches: &[Batch]) -> Result<(), StoreError> {
        // Apply to a copy and swap, so the batches are all-or-nothing like a transaction.
        let mut data = self.data();
        let mut next = data.clone();
        for w in batches.iter().flat_map(|b| &b.writes) {
            next.apply(w);
        }
        *data = next;
        Ok(())
    }

    fn reader(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(self.clone()))
    }

    fn meta(&self, key: MetaKey) -> Result<Option<String>, StoreError> {
        Ok(self.data().meta.get(&key).cloned())
    }

    fn receipt(&self, conv: &ConvId) -> Result<Seq, StoreError> {
        Ok(self
            .data()
            .receipts
            .iter()
            .filter(|((c, _), _)| c == conv)
            .map(|(_, s)| *s)
            .max()
            .unwrap_or(0))
    }

    fn conversations(&self) -> Result<Vec<ConvRow>, StoreError> {
        let data = self.data();
        let mut rows: Vec<ConvRow> = data.convs.values().map(|(r, a)| data.row(r, *a)).collect();
        super::sort_rows(&mut rows);
        Ok(rows)
    }

    fn conversation(&self, conv: &ConvId) -> Result<Option<ConvRow>, StoreError> {
        let data = self.data();
        Ok(data.convs.get(conv).map(|(r, a)| data.row(r, *a)))
    }

    fn timeline(&self, conv: &ConvId, q: TimelineQuery) -> Result<Vec<TimelineItem>, StoreError> {
        let data = self.data();
        let Some((rec, _)) = data.convs.get(conv) else {
            return Ok(Vec::new());
        };
        let empty = BTreeMap::new();
        let tl = data.messages.get(conv).unwrap_or(&empty);
        let top = rec.last_seq.max(rec.cursor());
        let (below, from_anchor): (Vec<&LocalMessage>, Vec<&LocalMessage>) = match q {
            TimelineQuery::Latest { limit } => {
                (tl.values().rev().take(limit).collect(), Vec::new())
            }
            TimelineQuery::Around { seq, before, after } => (
                tl.range(..seq).rev().map(|(_, m)| m).take(before).collect(),
                tl.range(seq..)
                    .map(|(_, m)| m)
                    .take(after.saturating_add(1))
                    .collect(),
            ),
            TimelineQuery::After { seq, limit } => (
                Vec::new(),
                tl.range(seq.saturating_add(1)..)
                    .map(|(_, m)| m)
                    .take(limit.saturating_add(1))
                    .collect(),
            ),
        };
        let below_seqs: Vec<Seq> = below.iter().map(|m| m.seq).collect();
        let anchor_seqs: Vec<Seq> = from_anchor.iter().map(|m| m.seq).collect();
        let (lo, hi, reaches_top) = window_bounds(&below_seqs, &anchor_seqs, q, top);
        let mut msgs: Vec<LocalMessage> = below
            .into_iter()
            .chain(from_anchor.into_iter().filter(|m| m.seq <= hi))
            .cloned()
            .collect();
        data.decorate(conv, &mut msgs);
        let gaps = rec
            .held
            .gaps(rec.last_seq)
            .into_iter()
            .filter(|g| g.to >= lo && g.from <= hi)
            .collect();
        let pending = if reaches_top {
            data.outbox
                .iter()
                .filter(|o| &o.conv == conv)
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        Ok(assemble_window(msgs, gaps, pending))
    }

    fn timeline_len(&self, conv: &ConvId) -> Result<u64, StoreError> {
        let data = self.data();
        Ok(data.messages.get(conv).map_or(0, |t| t.len() as u64))
    }

    fn gaps(&self, conv: &ConvId) -> Result<Vec<SeqRange>, StoreError> {
        let data = self.data();
        Ok(data
            .convs
            .get(conv)
            .map(|(r, _)| r.held.gaps(r.last_seq))
            .unwrap_or_default())
    }

    fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
        let data = self.data();
        let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let mut hits: Vec<SearchHit> = Vec::new();
        for (conv, tl) in &data.messages {
            for m in tl.values().filter(|m| m.kind == EntryKind::Text) {
                let Some(body) = &m.body else { continue };
                let tokens: Vec<String> = body
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|t| !t.is_empty())
                    .map(str::to_lowercase)
                    .collect();
                let n = words.len();
                let ok = words.iter().enumerate().all(|(i, w)| {
                    tokens.iter().any(|t| {
                        if i + 1 == n {
                            t.starts_with(w.as_str())
                        } else {
                            t == w
                        }
                    })
                });
                if ok {
                    hits.push(SearchHit {
                        conv: conv.clone(),
                        seq: m.seq,
                        sender: m.sender.clone(),
                        ts: m.ts,
                        body: body.clone(),
                    });
                }
            }
        }
        hits.sort_by(|a, b| b.ts.cmp(&a.ts).then(b.seq.cmp(&a.seq)));
        hits.truncate(limit);
        Ok(hits)
    }

    fn outbox(&self) -> Result<Vec<OutboxItem>, StoreError> {
        let data = self.data();
        Ok(data.outbox.clone())
    }

    fn consumer(&self, name: &str) -> Result<Option<BTreeMap<ConvId, Seq>>, StoreError> {
        let data = self.data();
        Ok(data.consumers.get(name).cloned())
    }

    fn thread(&self, conv: &ConvId, root: Seq) -> Result<ThreadWindow, StoreError> {
        let (covered, thread_last) = self.thread_coverage(conv, root)?;
        let data = self.data();
        let empty = BTreeMap::new();
        let tl = data.messages.get(conv).unwrap_or(&empty);
        let mut root_msg: Vec<LocalMessage> = tl
            .get(&root)
            .filter(|m| m.kind == EntryKind::Text)
            .cloned()
            .into_iter()
            .collect();
        data.decorate(conv, &mut root_msg);
        let mut replies: Vec<LocalMessage> = tl
            .values()
            .filter(|m| m.kind == EntryKind::Text && m.thread == Some(root) && m.seq != root)
            .cloned()
            .collect();
        data.decorate(conv, &mut replies);
        let pending = data
            .outbox
            .iter()
            .filter(|o| &o.conv == conv)
            .filter(|o| match o.kind {
                OutboxKind::Reply { reply_to } => {
                    reply_to == root || tl.get(&reply_to).and_then(|m| m.thread) == Some(root)
                }
                _ => false,
            })
            .cloned()
            .collect();
        Ok(assemble_thread(
            root,
            root_msg.pop(),
            replies,
            &covered,
            thread_last,
            pending,
        ))
    }

    fn thread_coverage(&self, conv: &ConvId, root: Seq) -> Result<(RangeSet, Seq), StoreError> {
        let data = self.data();
        let mut covered = data
            .convs
            .get(conv)
            .map(|(r, _)| r.held.clone())
            .unwrap_or_default();
        let mut thread_last = 0;
        if let Some((pages, last)) = data.threads.get(&(conv.clone(), root)) {
            for r in pages.ranges() {
                covered.insert_range(r.from, r.to);
            }
            thread_last = *last;
        }
        Ok((covered, thread_last))
    }

    fn standing_reaction(
        &self,
        conv: &ConvId,
        target: Seq,
        key: &str,
        user: &str,
    ) -> Result<Option<Seq>, StoreError> {
        let data = self.data();
        let Some(tl) = data.messages.get(conv) else {
            return Ok(None);
        };
        Ok(tl
            .values()
            .filter(|e| {
                e.kind == EntryKind::Reaction
                    && e.target == Some(target)
                    && e.key.as_deref() == Some(key)
                    && e.sender == user
            })
            .find(|e| {
                !tl.values()
                    .any(|x| x.kind == EntryKind::Redact && x.target == Some(e.seq))
            })
            .map(|e| e.seq))
    }

    fn session(&self) -> Result<Option<Session>, StoreError> {
        let data = self.data();
        let m = &data.meta;
        match (
            m.get(&MetaKey::User),
            m.get(&MetaKey::Device),
            m.get(&MetaKey::Token),
        ) {
            (Some(user), Some(device), Some(token)) => Ok(Some(Session {
                user: user.clone(),
                device: device.clone(),
                token: token.clone(),
            })),
            _ => Ok(None),
        }
    }
}
