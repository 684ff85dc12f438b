//! Catch-up: `sync` paging, summaries, conversation resets and the end of
//! catch-up.

use std::time::Instant;

use super::{Engine, Pending, Phase, SyncRun, error_event};
use crate::events::{ConnState, Event};
use crate::protocol::{ClientFrame, Message, ServerFrame, Summary};
use crate::store::{MetaKey, Write};

impl Engine {
    pub(super) fn start_sync(&mut self, background: bool) {
        if !background {
            self.link.phase = Phase::Syncing;
            self.set_state(ConnState::CatchingUp { remaining: 0 });
        }
        self.catchup.sync_run = Some(SyncRun {
            background,
            ..SyncRun::default()
        });
        let id = self.track(Pending::Sync);
        let since = self.since.clone();
        self.transmit(ClientFrame::Sync { id, since });
    }

    pub(super) fn on_sync_reply(&mut self, now: Instant, frame: ServerFrame) {
        let ServerFrame::Sync {
            since,
            full,
            more,
            conversations,
            ..
        } = frame
        else {
            self.emit(Event::Error(error_event("sync", frame)));
            self.link.close_now = true;
            return;
        };
        let Some(mut run) = self.catchup.sync_run.take() else {
            return;
        };
        run.full |= full;
        let mut changed = Vec::new();
        for s in &conversations {
            if full {
                run.listed.insert(s.conv.clone());
            }
            if self.apply_summary(s) {
                changed.push(s.conv.clone());
            }
        }
        run.changed += conversations.len();
        if full && !more {
            let gone: Vec<_> = self
                .convs
                .values()
                .filter(|c| !c.left && !run.listed.contains(&c.conv))
                .map(|c| c.conv.clone())
                .collect();
            for c in gone {
                self.convs.remove(&c);
                self.write(Write::RemoveConv(c.clone()));
                changed.push(c);
            }
        }
        // Store the token with the summaries it covers. A token in the middle
        // of a full listing only asks for the next page: a crash or a lost
        // connection restarts the listing (from the token before it) rather
        // than ending it with the later pages alone, which would take the
        // earlier pages' conversations for gone.
        if !(full && more) {
            self.write_meta(MetaKey::Since, Some(since.clone()));
            self.since = Some(since.clone());
        }
        if !changed.is_empty() {
            self.emit(Event::ConversationsChanged(changed));
        }
        if more {
            self.catchup.sync_run = Some(run);
            let id = self.track(Pending::Sync);
            self.transmit(ClientFrame::Sync {
                id,
                since: Some(since),
            });
            return;
        }
        self.catchup.next_resync = Some(now + self.cfg.resync_every);
        if !run.background {
            self.catchup.report.changed = run.changed;
            self.catchup.report.full = run.full;
            self.link.phase = Phase::Fetching;
        }
        self.fetch.stalled.clear();
        if std::mem::take(&mut self.fetch.early_resync) {
            // Pushes of conversations this listing may predate: learn them.
            self.start_sync(true);
        }
        let all: Vec<_> = self.convs.keys().cloned().collect();
        for c in all {
            self.queue_fetch(c);
        }
        self.plan_fetches();
    }

    /// Applies a summary to the mirror and the store. Returns true when the
    /// conversation is new or changed.
    pub(super) fn apply_summary(&mut self, s: &Summary) -> bool {
        match self.convs.get(&s.conv).cloned() {
            None => {
                if s.left {
                    return false; // a conversation we never cached: nothing to keep
                }
                let rec = crate::store::ConvRecord::from_summary(s);
                self.write(Write::Conv(rec.clone()));
                self.convs.insert(s.conv.clone(), rec);
                // Pushes that came before it, as if they came now.
                for m in self.fetch.early.remove(&s.conv).unwrap_or_default() {
                    self.on_push(s.conv.clone(), m);
                }
            }
            Some(mut rec) => {
                let before = rec.clone();
                if s.last_seq < rec.cursor() && !self.older_snapshot(&s.conv) {
                    self.reset_conv(&mut rec, s.last_seq);
                }
                rec.kind = s.kind;
                rec.title = s.title.clone();
                if rec.cursor() > s.last_seq {
                    // Pushes newer than this summary were already counted (a
                    // summary computed before they were committed, arriving
                    // after them): its counts are older than ours. Read cursors
                    // only move forward; a newer one also arrives as a `read`
                    // event.
                    rec.read_seq = rec.read_seq.max(s.read_seq);
                } else {
                    let added = s.last_seq.saturating_sub(rec.last_seq);
                    rec.member_count = s.member_count;
                    rec.last_seq = s.last_seq.max(rec.cursor());
                    if s.read_seq < rec.read_seq {
                        // Computed before a `read` we have already applied (a
                        // `read` event or reply that overtook it): its counts
                        // include texts read since. Ours stand, plus at most
                        // every entry it adds.
                        rec.unread = s.unread.min(rec.unread + added);
                        rec.mentions = s.mentions.unwrap_or(0).min(rec.mentions + added);
                    } else {
                        rec.read_seq = s.read_seq;
                        rec.unread = s.unread;
                        rec.mentions = s.mentions.unwrap_or(0);
                    }
                }
                let read = rec.read_seq;
                rec.mention_seqs.retain(|m| *m > read);
                // §9.4: settings are not ordered by seq; the latest word wins.
                rec.notify = s.notify.unwrap_or(rec.notify);
                rec.pinned = s.pinned.unwrap_or(rec.pinned);
                rec.archived = s.archived.unwrap_or(rec.archived);
                rec.local_read = rec.local_read.max(s.read_seq);
                if s.last.as_ref().map(|m| m.seq) >= rec.last.as_ref().map(|m| m.seq) {
                    rec.last = merged_last(s.last.clone(), rec.last.take());
                }
                rec.left = s.left;
                if rec == before {
                    return false;
                }
                self.write(Write::Conv(rec.clone()));
                self.convs.insert(s.conv.clone(), rec);
            }
        }
        true
    }

    /// The server's timeline of this conversation is behind our cursor: it
    /// was reset. Drop what we hold and fetch again.
    pub(super) fn reset_conv(&mut self, rec: &mut crate::store::ConvRecord, server_last: u64) {
        self.emit(Event::CacheReset {
            reason: format!(
                "conversation {} was reset by the server (last_seq {} < local cursor {}): refetching",
                rec.conv,
                server_last,
                rec.cursor()
            ),
        });
        rec.held = Default::default();
        rec.last_seq = server_last;
        rec.local_read = rec.local_read.min(server_last);
        if rec.last.as_ref().is_some_and(|m| m.seq > server_last) {
            rec.last = None;
        }
        self.write(Write::ClearTimeline(rec.conv.clone()));
        self.emit(Event::TimelineChanged {
            conv: rec.conv.clone(),
        });
    }

    /// Called when fetch work may have finished: ends catch-up with the
    /// outbox flush and the switch to Live.
    pub(super) fn maybe_finish_catchup(&mut self, now_live: bool) {
        if self.link.phase != Phase::Fetching {
            return;
        }
        let remaining =
            self.fetch.fetch_queue.len() + self.fetch.fetching.len() + self.fetch.retry_at.len();
        if remaining > 0 || !now_live {
            self.set_state(ConnState::CatchingUp { remaining });
            return;
        }
        self.link.phase = Phase::Live;
        let flushed = self.dispatch_outbox() + self.flush_reads();
        self.catchup.report.flushed = flushed;
        self.catchup.report.conversations = self.convs.len();
        self.catchup.last_report = Some(self.catchup.report.clone());
        self.set_state(ConnState::Live);
    }

    pub(super) fn mark_live_since(&mut self, now: Instant) {
        if self.link.phase == Phase::Live && self.link.live_since.is_none() {
            self.link.live_since = Some(now);
        }
    }
}

/// A summary's `last` is the text as appended, so for the text the preview
/// shows already, the preview keeps what it learnt since (a newer edit's
/// body, or the redaction), unless the summary says it is redacted.
fn merged_last(server: Option<Message>, mine: Option<Message>) -> Option<Message> {
    match (server, mine) {
        (Some(s), Some(m)) if s.seq == m.seq && !s.redacted => Some(m),
        (server, _) => server,
    }
}
