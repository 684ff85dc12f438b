//! In-memory implementation of [`Store`] for tests; behaves like
//! [`super::SqliteStore`] (the shared store suite checks both).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::{
    Batch, ConvRecord, ConvRow, LocalMessage, MetaKey, OutboxItem, SearchHit, SeqRange, Session,
    Snapshot, Store, StoreError, TimelineItem, TimelineQuery, Write, assemble_window,
    display_unread, window_bounds,
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

fn to_local(m: &Message) -> LocalMessage {
    LocalMessage {
        seq: m.seq,
        sender: m.sender.clone(),
        ts: m.ts,
        kind: m.kind,
        body: m.body.clone(),
        edited: false,
        redacted: false,
        client_id: m.client_id.clone(),
        user: m.user.clone(),
        title: m.title.clone(),
        members: m.members.clone(),
        target: m.target,
        live: false,
    }
}

impl Data {
    fn insert(&mut self, conv: &ConvId, m: &Message) {
        let tl = self.messages.entry(conv.clone()).or_default();
        if tl.contains_key(&m.seq) {
            return;
        }
        let mut local = to_local(m);
        if m.kind == EntryKind::Text {
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
                        t.edited = true;
                    }
                    EntryKind::Redact => {
                        t.body = None;
                        t.redacted = true;
                    }
                    _ => {}
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
                for positions in self.consumers.values_mut() {
                    positions.remove(conv);
                }
                if let Some((rec, _)) = self.convs.get_mut(conv) {
                    rec.held = Default::default();
                }
            }
            Write::RemoveConv(conv) => {
                self.messages.remove(conv);
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
        rows.sort_by(|a, b| {
            b.last_activity_ts
                .cmp(&a.last_activity_ts)
                .then_with(|| a.conv.cmp(&b.conv))
        });
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
        let msgs = below
            .into_iter()
            .chain(from_anchor.into_iter().filter(|m| m.seq <= hi))
            .cloned()
            .collect();
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
