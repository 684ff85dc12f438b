//! Timelines: pushes, pulls and history pages, gap filling, lazy groups,
//! read cursors.

use std::time::{Duration, Instant};

use super::{Engine, FetchReq, Pending, Phase, ReplyToken, ReplyValue, server_error};
use crate::error::Error;
use crate::events::Event;
use crate::protocol::{
    ClientFrame, ConvId, ConvKind, EntryKind, ErrorCode, Message, Seq, ServerFrame,
};
use crate::store::{ConvRecord, Write};

/// A fetch answered `rate_limited` or `internal` is asked again this many
/// times in a row at most (then it waits for the next sync, as after any
/// other error).
const FETCH_RETRIES: u32 = 5;

impl Engine {
    /// Direct conversations and the open one are kept complete; groups are
    /// lazy unless a message stream covers them.
    fn is_eager(&self, rec: &ConvRecord) -> bool {
        self.floor(rec).is_some() || self.fetch.open.as_ref() == Some(&rec.conv)
    }

    /// The seq above which this conversation is kept complete: 0 for direct
    /// conversations, a stream's starting position for groups it covers.
    fn floor(&self, rec: &ConvRecord) -> Option<Seq> {
        if rec.kind == ConvKind::Direct {
            return Some(0);
        }
        self.fetch
            .follow
            .get(&rec.conv)
            .copied()
            .or(self.fetch.follow_all.then_some(0))
    }

    /// A stream starts: its positions are stored (named consumers) and the
    /// conversations it covers are fetched above them from now on.
    pub(super) fn follow(
        &mut self,
        consumer: Option<String>,
        positions: Vec<(ConvId, Seq)>,
        reset: bool,
        all: bool,
    ) {
        if let Some(name) = consumer {
            self.write(Write::ConsumerStart {
                name,
                positions: positions.clone(),
                reset,
            });
        }
        for (conv, pos) in &positions {
            let floor = self.fetch.follow.entry(conv.clone()).or_insert(*pos);
            *floor = (*floor).min(*pos);
        }
        self.fetch.follow_all |= all;
        let covered: Vec<ConvId> = if all {
            self.convs.keys().cloned().collect()
        } else {
            positions.into_iter().map(|(c, _)| c).collect()
        };
        for conv in covered {
            self.fetch.stalled.remove(&conv);
            self.queue_fetch(conv);
        }
        self.plan_fetches();
    }

    /// Fetches whose retry time came (after `rate_limited` or `internal`).
    pub(super) fn retry_fetches(&mut self, now: Instant) {
        let due = super::take_due(&mut self.fetch.retry_at, now);
        if due.is_empty() {
            return;
        }
        for c in due {
            self.fetch.stalled.remove(&c);
            self.queue_fetch(c);
        }
        self.plan_fetches();
    }

    /// Whether what is being handled (a reply, or an event) may be a
    /// snapshot older than entries of `conv` held already: a reply to a
    /// request sent before the cursor last rose, or an event after it rose
    /// on this connection. Its `last_seq` below the cursor is then no sign
    /// of a server reset (PROTOCOL-NOTES).
    pub(super) fn older_snapshot(&self, conv: &ConvId) -> bool {
        let rose = self.fetch.rose_at.get(conv);
        match self.calls.answering {
            Some(re) => rose.is_some_and(|&at| re < at),
            None => rose.is_some(),
        }
    }

    /// Pulls of this conversation on the wire.
    fn in_flight(&self, conv: &ConvId) -> &[FetchReq] {
        self.fetch.fetching.get(conv).map_or(&[], Vec::as_slice)
    }

    /// Fetches on the wire, over all conversations.
    fn fetches_in_flight(&self) -> usize {
        self.fetch.fetching.values().map(Vec::len).sum()
    }

    /// The next request that fills this conversation, if it wants one.
    /// Direct conversations pull the oldest stretch that no pull on the
    /// wire covers yet, so a long catch-up can keep several pages in flight;
    /// the open group has at most one fetch on the wire.
    fn next_fetch(&self, rec: &ConvRecord) -> Option<FetchReq> {
        if rec.left || !self.is_eager(rec) {
            return None;
        }
        let page = self.cfg.pull_page as u64;
        let pull = |g: &crate::store::SeqRange| FetchReq::Pull {
            after: g.from - 1,
            limit: g.len().min(page) as u32,
        };
        let busy = self.in_flight(&rec.conv);
        if let Some(floor) = self.floor(rec) {
            // What is asked for already counts as held for this purpose, and
            // so does everything at or below the floor.
            let mut covered = rec.held.clone();
            if floor > 0 {
                covered.insert_range(1, floor);
            }
            for r in busy {
                if let FetchReq::Pull { after, limit } = *r {
                    covered.insert_range(after + 1, after + u64::from(limit));
                }
            }
            for (_, seq) in self.fetch.entries.iter().filter(|(c, _)| *c == rec.conv) {
                covered.insert_range(*seq, *seq);
            }
            let first = covered.gaps(rec.last_seq).first().map(pull);
            if first.is_some() || rec.kind == ConvKind::Direct {
                return first;
            }
            if self.fetch.open.as_ref() != Some(&rec.conv) {
                return None;
            }
        }
        if !busy.is_empty() {
            return None;
        }
        let gaps = rec.held.gaps(rec.last_seq);
        // The open group: fill the highest gap while fewer than a screen of
        // entries is held above it (one `history` page when it is big), and
        // small holes completely. Bigger old stretches load on demand
        // (`load_older`), so opening a group with 100 000 unread costs one
        // `history` page.
        let g = gaps.last()?;
        if g.len() <= page {
            return Some(pull(g));
        }
        let held_above: u64 = rec
            .held
            .ranges()
            .iter()
            .filter(|r| r.from > g.to)
            .map(|r| r.len())
            .sum();
        (held_above < self.cfg.history_page as u64).then_some(FetchReq::History {
            before: g.to + 1,
            limit: self.cfg.history_page,
        })
    }

    pub(super) fn queue_fetch(&mut self, conv: ConvId) {
        if !self.fetch.fetching.contains_key(&conv) && !self.fetch.queued.contains(&conv) {
            let wants = self
                .convs
                .get(&conv)
                .is_some_and(|r| self.next_fetch(r).is_some());
            if wants {
                self.fetch.queued.insert(conv.clone());
                self.fetch.fetch_queue.push_back(conv);
            }
        }
    }

    /// Starts queued fetches, at most `max_parallel_pulls` at a time.
    pub(super) fn plan_fetches(&mut self) {
        if !matches!(self.link.phase, Phase::Fetching | Phase::Live) {
            return;
        }
        while self.fetches_in_flight() < self.cfg.max_parallel_pulls {
            let Some(conv) = self.fetch.fetch_queue.pop_front() else {
                break;
            };
            self.fetch.queued.remove(&conv);
            if self.fetch.stalled.contains(&conv) {
                continue;
            }
            self.start_fetch(conv);
        }
        // Slots left and nothing queued: more pages of the conversations being
        // pulled, oldest first (a long catch-up keeps the pipe full).
        if self.fetch.fetch_queue.is_empty() {
            let mut busy: Vec<ConvId> = self.fetch.fetching.keys().cloned().collect();
            busy.sort();
            for conv in busy {
                while self.fetches_in_flight() < self.cfg.max_parallel_pulls
                    && !self.fetch.stalled.contains(&conv)
                    && self.start_fetch(conv.clone())
                {}
            }
        }
        self.maybe_finish_catchup(true);
    }

    fn start_fetch(&mut self, conv: ConvId) -> bool {
        let Some(req) = self.convs.get(&conv).and_then(|r| self.next_fetch(r)) else {
            return false;
        };
        self.fetch
            .fetching
            .entry(conv.clone())
            .or_default()
            .push(req);
        let id = self.track(Pending::Fetch {
            conv: conv.clone(),
            req,
        });
        self.transmit(match req {
            FetchReq::Pull { after, limit } => ClientFrame::Pull {
                id,
                conv,
                after,
                limit: Some(limit.into()),
            },
            FetchReq::History { before, limit } => ClientFrame::History {
                id,
                conv,
                before: Some(before),
                limit: Some(limit.into()),
            },
        });
        true
    }

    pub(super) fn on_fetch_reply(
        &mut self,
        now: Instant,
        conv: ConvId,
        req: Option<FetchReq>,
        token: Option<ReplyToken>,
        frame: ServerFrame,
    ) {
        if let Some(done) = req
            && let Some(list) = self.fetch.fetching.get_mut(&conv)
        {
            if let Some(i) = list.iter().position(|r| *r == done) {
                list.remove(i);
            }
            if list.is_empty() {
                self.fetch.fetching.remove(&conv);
            }
        }
        match frame {
            ServerFrame::Messages {
                messages, last_seq, ..
            } => {
                self.fetch.failures.remove(&conv);
                let totals = self.totals(&conv, &messages, last_seq);
                self.apply_entries(&conv, messages, Some(last_seq));
                if let Some(w) = totals {
                    self.write(w);
                }
                if let Some(t) = token {
                    self.reply(t, Ok(ReplyValue::Done));
                }
            }
            ServerFrame::Error {
                code: code @ (ErrorCode::RateLimited | ErrorCode::Internal),
                retry_after_ms,
                ..
            } if req.is_some()
                && self.fetch.failures.get(&conv).copied().unwrap_or(0) < FETCH_RETRIES =>
            {
                // Transient (§2): ask again after the server's delay, or a
                // doubling one; the catch-up is not over meanwhile.
                let n = self.fetch.failures.entry(conv.clone()).or_default();
                let wait = match retry_after_ms {
                    Some(ms) if code == ErrorCode::RateLimited => Duration::from_millis(ms),
                    // As a send's transient failure waits, doubling with
                    // each failure in a row.
                    _ => super::outbox::TRANSIENT_RETRY * 2u32.pow(*n),
                };
                *n += 1;
                self.fetch.stalled.insert(conv.clone());
                self.fetch.retry_at.insert(conv.clone(), now + wait);
                self.plan_fetches();
                return;
            }
            other => {
                let err = server_error("pull", other.clone());
                self.emit(Event::Error(super::error_event(
                    format!("fetching {conv}"),
                    other,
                )));
                self.fetch.stalled.insert(conv.clone());
                self.settle_open_waiters(&conv, Some(&err));
                if let Some(t) = token {
                    self.reply(t, Err(err));
                }
            }
        }
        if let Some(prev) = req {
            // Asking the same question twice would loop forever on a server
            // that answers it with nothing new; wait for the next sync instead.
            let next = self.convs.get(&conv).and_then(|r| self.next_fetch(r));
            if next == Some(prev) {
                self.fetch.stalled.insert(conv.clone());
            } else if next.is_some()
                && !self.fetch.stalled.contains(&conv)
                && self.fetches_in_flight() < self.cfg.max_parallel_pulls
            {
                // Keep this conversation's slot: continue paging right away.
                self.start_fetch(conv.clone());
            }
        }
        self.plan_fetches();
        self.settle_open_waiters(&conv, None);
    }

    /// A pushed entry.
    pub(super) fn on_push(&mut self, conv: ConvId, message: Message) {
        if !self.convs.contains_key(&conv) {
            // No summary yet: its `conversation` event may still come, or
            // was missed (learn it by sync). Kept to apply then.
            let early = &mut self.fetch.early;
            if early.len() < super::EARLY_CONVS || early.contains_key(&conv) {
                let held = early.entry(conv).or_default();
                if held.len() < super::EARLY_PUSHES {
                    held.push(message);
                }
            }
            if self.catchup.sync_run.is_some() {
                self.fetch.early_resync = true;
            } else if self.link.phase == Phase::Live {
                self.start_sync(true);
            }
            return;
        }
        let before = self.convs.get(&conv).map_or(0, ConvRecord::cursor);
        // What the summary or earlier pushes said is the newest: a push right
        // after it missed nothing, even where nothing of it is held.
        let known = self.convs.get(&conv).map_or(0, |r| r.last_seq.max(before));
        let seq = message.seq;
        self.fetch_redact_target(&conv, &message);
        self.apply_entries(&conv, vec![message], None);
        if seq > before + 1 {
            // A gap: eager conversations fetch it; lazy ones keep it as a gap,
            // and a background sync makes their counts exact again.
            let lazy = self.convs.get(&conv).is_some_and(|r| !self.is_eager(r));
            let missed = seq > known + 1;
            if lazy && missed && self.link.phase == Phase::Live && self.catchup.sync_run.is_none() {
                self.start_sync(true);
            }
            self.fetch.stalled.remove(&conv);
            self.queue_fetch(conv);
            self.plan_fetches();
        }
    }

    /// §9.2: a pushed `redact` of an entry that is not held may withdraw a
    /// reaction that a held text's totals snapshot counts: without the
    /// reaction entry its key and text are unknown, so fetch that one entry
    /// (the withdrawal then subtracts when read).
    fn fetch_redact_target(&mut self, conv: &ConvId, m: &Message) {
        let Some(target) = m.target.filter(|_| m.kind == EntryKind::Redact) else {
            return;
        };
        let held = self.convs.get(conv).is_none_or(|r| r.held.contains(target));
        if held || !self.has_feature(crate::protocol::features::REACTIONS) || target == 0 {
            return;
        }
        self.fetch_entry(conv, target);
    }

    /// Pulls the one entry `seq` of `conv` (stored like any pulled entry).
    pub(super) fn fetch_entry(&mut self, conv: &ConvId, seq: Seq) {
        let held = self.convs.get(conv).is_none_or(|r| r.held.contains(seq));
        let asked = self.in_flight(conv).iter().any(|r| match *r {
            FetchReq::Pull { after, limit } => after < seq && seq <= after + u64::from(limit),
            FetchReq::History { .. } => false,
        });
        if held || asked || seq == 0 || !self.authenticated() {
            return;
        }
        if !self.fetch.entries.insert((conv.clone(), seq)) {
            return; // already on the wire
        }
        let id = self.track(Pending::Target {
            conv: conv.clone(),
            seq,
        });
        self.transmit(ClientFrame::Pull {
            id,
            conv: conv.clone(),
            after: seq - 1,
            limit: Some(1),
        });
    }

    /// Stores entries we do not hold yet (from a push, pull, history page or
    /// `sent` reply) together with the new held ranges, in one batch.
    pub(super) fn apply_entries(
        &mut self,
        conv: &ConvId,
        messages: Vec<Message>,
        server_last: Option<Seq>,
    ) {
        let me = self.me().to_owned();
        let Some(mut rec) = self.convs.get(conv).cloned() else {
            return;
        };
        if let Some(last) = server_last
            && last < rec.cursor()
            && !self.older_snapshot(conv)
        {
            self.reset_conv(&mut rec, last);
        }
        let cursor = rec.cursor();
        let mut fresh = Vec::new();
        // Copies of my texts held from their `sent` reply, which carries no
        // `thread` or `mentions` (§7, §9.1, §9.3): the store fills those in.
        let mut fills = Vec::new();
        for m in messages {
            if m.seq == 0 {
                continue;
            }
            if !rec.held.insert(m.seq) {
                let fills_in = m.kind == EntryKind::Text
                    && m.sender == me
                    && (m.thread.is_some() || !m.mentions.is_empty());
                if fills_in {
                    fills.push(m);
                }
                continue; // a duplicate (same `(conv, seq)`)
            }
            observe_entry(&mut rec, &m, &me);
            fresh.push(m);
        }
        if rec.cursor() > cursor {
            self.fetch.rose_at.insert(conv.clone(), self.calls.next_id);
        }
        let filled = !fills.is_empty();
        if filled {
            self.write(Write::Messages(conv.clone(), fills));
        }
        if let Some(last) = server_last {
            rec.last_seq = rec.last_seq.max(last);
        }
        let changed_row = self.convs.get(conv) != Some(&rec);
        if fresh.is_empty() && !changed_row {
            if filled {
                self.emit(Event::TimelineChanged { conv: conv.clone() });
            }
            return;
        }
        self.catchup.report.pulled_messages += if server_last.is_some() {
            fresh.len() as u64
        } else {
            0
        };
        let mine: Vec<(String, Seq)> = fresh
            .iter()
            .filter(|m| m.sender == me)
            .filter_map(|m| m.client_id.clone().map(|c| (c, m.seq)))
            .collect();
        // Pushed entries from others become `NewMessage` events; pulled pages do not.
        let others: Vec<Message> = if server_last.is_none() {
            fresh.iter().filter(|m| m.sender != me).cloned().collect()
        } else {
            Vec::new()
        };
        self.convs.insert(conv.clone(), rec.clone());
        if !fresh.is_empty() {
            let live: Vec<Seq> = if server_last.is_none() {
                fresh.iter().map(|m| m.seq).collect()
            } else {
                Vec::new()
            };
            self.write(Write::Messages(conv.clone(), fresh));
            if !live.is_empty() {
                self.write(Write::Live(conv.clone(), live));
            }
        }
        self.write(Write::Conv(rec));
        for (client_id, seq) in mine {
            self.acknowledge(conv, &client_id, seq);
        }
        self.emit(Event::TimelineChanged { conv: conv.clone() });
        self.emit(Event::ConversationsChanged(vec![conv.clone()]));
        for m in others {
            self.emit(Event::NewMessage {
                conv: conv.clone(),
                message: m,
            });
        }
    }

    pub(super) fn wait_opened(&mut self, conv: ConvId, token: ReplyToken) {
        if !self.authenticated() {
            self.reply(token, Err(Error::Offline));
        } else if !self.convs.contains_key(&conv) {
            self.reply(token, Err(Error::UnknownConversation(conv.0)));
        } else if self.fetch.fetching.contains_key(&conv) || self.fetch.queued.contains(&conv) {
            self.fetch.open_waiters.entry(conv).or_default().push(token);
        } else {
            self.reply(token, Ok(ReplyValue::Done));
        }
    }

    /// Answers the `open` calls waiting for `conv` once nothing of it is on
    /// the wire or queued any more (or with the error that stopped it).
    fn settle_open_waiters(&mut self, conv: &ConvId, failed: Option<&Error>) {
        let busy = self.fetch.fetching.contains_key(conv) || self.fetch.queued.contains(conv);
        if busy && failed.is_none() {
            return;
        }
        for t in self.fetch.open_waiters.remove(conv).unwrap_or_default() {
            let r = match failed {
                Some(Error::Server {
                    request,
                    code,
                    message,
                }) => Err(Error::Server {
                    request,
                    code: *code,
                    message: message.clone(),
                }),
                Some(_) => Err(Error::Disconnected),
                None => Ok(ReplyValue::Done),
            };
            self.reply(t, r);
        }
    }

    /// The connection dropped: every waiting `open` learns it.
    pub(super) fn fail_open_waiters(&mut self) {
        for (_, tokens) in std::mem::take(&mut self.fetch.open_waiters) {
            for t in tokens {
                self.reply(t, Err(Error::Disconnected));
            }
        }
    }

    pub(super) fn load_older(&mut self, conv: ConvId, token: ReplyToken) {
        if !self.authenticated() {
            self.reply(token, Err(Error::Offline));
            return;
        }
        let Some(rec) = self.convs.get(&conv) else {
            self.reply(token, Err(Error::UnknownConversation(conv.0)));
            return;
        };
        // The highest missing stretch: the newest page of a never-opened
        // group, or the page right below the oldest held entries.
        let Some(g) = rec.held.gaps(rec.last_seq).pop() else {
            self.reply(token, Ok(ReplyValue::Done));
            return;
        };
        // A fetch on the wire already fills (part of) that stretch, e.g. the
        // pull that opening the group started: wait for it rather than ask
        // for the same entries twice. The caller asks again if it wants more.
        let overlaps = self.in_flight(&conv).iter().any(|r| {
            let (from, to) = match *r {
                FetchReq::Pull { after, limit } => (after + 1, after + u64::from(limit)),
                FetchReq::History { before, limit } => (
                    before.saturating_sub(u64::from(limit)),
                    before.saturating_sub(1),
                ),
            };
            from <= g.to && g.from <= to
        });
        if overlaps {
            self.fetch.open_waiters.entry(conv).or_default().push(token);
            return;
        }
        let limit = g.len().min(self.cfg.history_page as u64) as i64;
        let id = self.track(Pending::Older {
            conv: conv.clone(),
            token,
        });
        self.transmit(ClientFrame::History {
            id,
            conv,
            before: Some(g.to + 1),
            limit: Some(limit),
        });
    }

    pub(super) fn mark_read(&mut self, conv: &ConvId, seq: Option<Seq>) -> Result<(), Error> {
        let Some(rec) = self.convs.get_mut(conv) else {
            return Err(Error::UnknownConversation(conv.0.clone()));
        };
        let top = rec.last_seq.max(rec.cursor());
        let target = seq.unwrap_or(top).min(top);
        if target <= rec.local_read {
            return Ok(()); // read cursors never move backwards
        }
        rec.local_read = target;
        self.write_conv(conv);
        self.emit(Event::ConversationsChanged(vec![conv.clone()]));
        if self.link.phase == Phase::Live {
            self.send_read(conv.clone(), target);
        }
        Ok(())
    }

    fn send_read(&mut self, conv: ConvId, seq: Seq) {
        let id = self.track(Pending::Read {
            conv: conv.clone(),
            seq,
        });
        self.transmit(ClientFrame::Read { id, conv, seq });
    }

    /// Sends the read cursors that moved while offline. Returns how many.
    pub(super) fn flush_reads(&mut self) -> usize {
        let due: Vec<(ConvId, Seq)> = self
            .convs
            .values()
            .filter(|r| r.local_read > r.read_seq && !r.left)
            .map(|r| (r.conv.clone(), r.local_read))
            .collect();
        let n = due.len();
        for (c, s) in due {
            self.send_read(c, s);
        }
        n
    }

    pub(super) fn on_read_reply(&mut self, conv: &ConvId, seq: Seq, frame: ServerFrame) {
        if !matches!(frame, ServerFrame::Ok { .. }) {
            return; // e.g. not_found after leaving; the next sync corrects counts
        }
        if let Some(rec) = self.convs.get_mut(conv)
            && seq >= rec.last_seq
            && seq > rec.read_seq
        {
            // Everything is read: the server's counts are exactly zero now.
            rec.read_seq = seq;
            rec.unread = 0;
            rec.mentions = 0;
            rec.mention_seqs.clear();
            self.write_conv(conv);
        }
    }

    /// Another device of the user moved the read cursor.
    pub(super) fn on_read_event(&mut self, conv: &ConvId, seq: Seq) {
        let Some(rec) = self.convs.get_mut(conv) else {
            return;
        };
        if seq <= rec.local_read {
            return;
        }
        rec.local_read = seq;
        if seq >= rec.last_seq {
            rec.read_seq = seq;
            rec.unread = 0;
            rec.mentions = 0;
            rec.mention_seqs.clear();
        }
        self.write_conv(conv);
        self.emit(Event::ConversationsChanged(vec![conv.clone()]));
    }
}

/// Updates counts and preview for an entry not held before. Only entries
/// past the known `last_seq` change the server-side counts.
fn observe_entry(rec: &mut ConvRecord, m: &Message, me: &str) {
    if m.kind == EntryKind::Text && rec.last.as_ref().is_none_or(|l| l.seq < m.seq) {
        rec.last = Some(m.clone());
    }
    // The preview follows the text it shows: a redaction erases it (in
    // any order: it is final), a new edit replaces its body.
    if let (Some(last), Some(target)) = (rec.last.as_mut(), m.target)
        && last.seq == target
    {
        match m.kind {
            EntryKind::Redact => {
                last.body = None;
                last.redacted = true;
                last.mentions.clear();
            }
            EntryKind::Edit if !last.redacted && m.seq > rec.last_seq => {
                if let Some(body) = &m.body {
                    last.body = Some(body.clone());
                    last.mentions = m.mentions.clone();
                }
            }
            _ => {}
        }
    }
    observe_mentions(rec, m, me);
    if m.seq <= rec.last_seq {
        return;
    }
    rec.last_seq = m.seq;
    match m.kind {
        EntryKind::Text if m.sender == me => {
            // Sending moves the sender's read cursor to the new seq.
            rec.read_seq = m.seq;
            rec.unread = 0;
            rec.mentions = 0;
            rec.mention_seqs.clear();
            rec.local_read = rec.local_read.max(m.seq);
        }
        // A `read` event may come before the pushes it covers (§2).
        EntryKind::Text if m.seq > rec.read_seq => rec.unread += 1,
        EntryKind::Join => rec.member_count += 1,
        EntryKind::Leave => rec.member_count = rec.member_count.saturating_sub(1),
        EntryKind::Title if rec.kind == ConvKind::Group => {
            if let Some(t) = &m.body {
                rec.title = t.clone();
            }
        }
        _ => {}
    }
}

/// §9.3: keeps the mention count and the unread texts known to mention the
/// user. Entries past the known `last_seq` change the count (the server's
/// summary already covers older ones); older ones only teach which seqs it
/// counted, so that a local read can subtract them exactly.
fn observe_mentions(rec: &mut ConvRecord, m: &Message, me: &str) {
    let past = m.seq > rec.last_seq;
    let mentions_me = m.sender != me && m.mentions.iter().any(|u| u == me);
    let known = |rec: &ConvRecord, s: Seq| rec.mention_seqs.binary_search(&s);
    match (m.kind, m.target) {
        (EntryKind::Text, _) if mentions_me && m.seq > rec.read_seq => {
            if let Err(i) = known(rec, m.seq) {
                rec.mention_seqs.insert(i, m.seq);
                rec.mentions += u64::from(past);
            }
        }
        // An edit that adds a mention of the user to an unread text not
        // counted yet. When that text is not held, whether the server
        // counted it is unknown: left to the next summary.
        (EntryKind::Edit, Some(t)) if mentions_me && t > rec.read_seq => {
            if let Err(i) = known(rec, t)
                && (!past || rec.held.contains(t))
            {
                rec.mention_seqs.insert(i, t);
                rec.mentions += u64::from(past);
            }
        }
        (EntryKind::Redact, Some(t)) => {
            if let Ok(i) = known(rec, t) {
                rec.mention_seqs.remove(i);
                if past {
                    rec.mentions = rec.mentions.saturating_sub(1);
                }
            }
        }
        _ => {}
    }
}
