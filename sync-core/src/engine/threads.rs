//! §9.1 threads fetched on demand, §9.1/§9.2 totals of `messages` replies,
//! and §9.4 settings.

use super::{Engine, Pending, ReplyToken, ReplyValue, SettingsChange, server_error};
use crate::error::Error;
use crate::events::Event;
use crate::protocol::{ClientFrame, ConvId, Message, Seq, ServerFrame, features};
use crate::store::{TextTotals, Write};

impl Engine {
    /// `load_thread`: `thread` pages from where this run last completed
    /// the thread (from the root on the first call) until the thread's
    /// newest entry is held.
    pub(super) fn load_thread(&mut self, conv: ConvId, root: Seq, token: ReplyToken) {
        if self.features_known && !self.has_feature(features::REPLY) {
            self.reply(token, Err(Error::Unsupported(features::REPLY)));
            return;
        }
        if !self.authenticated() {
            self.reply(token, Err(Error::Offline));
            return;
        }
        if !self.convs.contains_key(&conv) {
            self.reply(token, Err(Error::UnknownConversation(conv.0)));
            return;
        }
        let after = self
            .fetch
            .threads
            .get(&(conv.clone(), root))
            .copied()
            .unwrap_or(0);
        self.send_thread(conv, root, after, token);
    }

    fn send_thread(&mut self, conv: ConvId, root: Seq, after: Seq, token: ReplyToken) {
        let id = self.track(Pending::Thread {
            conv: conv.clone(),
            root,
            after,
            token,
        });
        self.transmit(ClientFrame::Thread {
            id,
            conv,
            root,
            after,
            limit: Some(self.cfg.pull_page.into()),
        });
    }

    pub(super) fn on_thread_reply(
        &mut self,
        conv: ConvId,
        root: Seq,
        after: Seq,
        token: ReplyToken,
        frame: ServerFrame,
    ) {
        let ServerFrame::Messages {
            messages,
            last_seq,
            thread_last_seq,
            ..
        } = frame
        else {
            self.reply(token, Err(server_error("thread", frame)));
            return;
        };
        let newest = messages.iter().map(|m| m.seq).max();
        let thread_last = thread_last_seq.unwrap_or(newest.unwrap_or(root));
        let totals = self.totals(&conv, &messages, last_seq);
        self.apply_entries(&conv, messages, Some(last_seq));
        if let Some(w) = totals {
            self.write(w);
        }
        let reached = newest.unwrap_or(after);
        // The page holds every thread entry in (after, reached]; once it
        // reaches the thread's newest, nothing of the thread lies between
        // that and the conversation's last_seq either.
        let to = if reached >= thread_last {
            last_seq.max(reached)
        } else {
            reached
        };
        if to > after {
            self.write(Write::ThreadPage {
                conv: conv.clone(),
                root,
                from: after + 1,
                to,
                thread_last,
            });
        }
        self.emit(Event::TimelineChanged { conv: conv.clone() });
        if reached < thread_last && newest.is_some() {
            self.send_thread(conv, root, reached, token);
        } else {
            self.fetch.threads.insert((conv, root), to.max(after));
            self.reply(token, Ok(ReplyValue::Done));
        }
    }

    /// The §9.1/§9.2 totals write for the texts of a `messages` reply,
    /// when the server can send totals at all.
    pub(super) fn totals(&self, conv: &ConvId, messages: &[Message], as_of: Seq) -> Option<Write> {
        if !self.has_feature(features::REPLY) && !self.has_feature(features::REACTIONS) {
            return None;
        }
        let texts: Vec<TextTotals> = messages
            .iter()
            .filter(|m| m.kind == crate::protocol::EntryKind::Text)
            .map(TextTotals::of)
            .collect();
        (!texts.is_empty()).then(|| Write::Totals {
            conv: conv.clone(),
            as_of,
            texts,
        })
    }

    /// §9.4: applies settings (from the `settings` event or our own
    /// request's `ok`) to a conversation.
    pub(super) fn apply_settings(&mut self, conv: &ConvId, change: SettingsChange) {
        let Some(rec) = self.convs.get_mut(conv) else {
            return;
        };
        let before = (rec.notify, rec.pinned, rec.archived);
        rec.notify = change.notify.unwrap_or(rec.notify);
        rec.pinned = change.pinned.unwrap_or(rec.pinned);
        rec.archived = change.archived.unwrap_or(rec.archived);
        if before != (rec.notify, rec.pinned, rec.archived) {
            self.write_conv(conv);
            self.emit(Event::ConversationsChanged(vec![conv.clone()]));
        }
    }
}
