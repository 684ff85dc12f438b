//! The model server's protocol 1.1 (§9.1–9.5): replies and threads,
//! reactions, mentions, settings, and redaction stripping, exactly as
//! PROTOCOL.md says, over the same plain collections.

use std::collections::BTreeMap;

use super::model::ModelServer;
use crate::protocol::{
    ClientFrame, ConvId, EntryKind, ErrorCode, Message, Notify, Seq, ServerFrame, Summary, features,
};

/// One member's §9.4 settings in one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelSettings {
    pub notify: Notify,
    pub pinned: bool,
    pub archived: bool,
}

fn name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
}

/// §9.3: who `body` mentions among `members` (sorted, no duplicates, never
/// the sender).
pub fn mentions_in(body: &str, members: &[String], sender: &str) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    let chars: Vec<(usize, char)> = body.char_indices().collect();
    for (k, (i, c)) in chars.iter().enumerate() {
        if *c != '@' || (k > 0 && name_char(chars[k - 1].1)) {
            continue;
        }
        let rest = &body[i + 1..];
        let Some(name) = members
            .iter()
            .filter(|m| rest.starts_with(m.as_str()))
            .max_by_key(|m| m.len())
        else {
            continue;
        };
        let next = rest[name.len()..].chars().next();
        let ends = next.is_none_or(|n| !name_char(n) || n == '.' || n == '-');
        if ends && name != sender {
            out.insert(name.clone());
        }
    }
    out.into_iter().collect()
}

impl ModelServer {
    /// A model server that lists every section 9 feature.
    pub fn v11() -> ModelServer {
        ModelServer {
            features: features::ALL.iter().map(|f| f.to_string()).collect(),
            ..ModelServer::default()
        }
    }

    pub fn has(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    fn entry(&self, conv: &ConvId, seq: Seq) -> Option<&Message> {
        self.convs
            .get(conv)
            .and_then(|c| c.timeline.get((seq as usize).checked_sub(1)?))
    }

    /// The seq of the `redact` of entry `seq`, if any.
    pub fn redacted_at(&self, conv: &ConvId, seq: Seq) -> Option<Seq> {
        self.convs[conv]
            .timeline
            .iter()
            .find(|m| m.kind == EntryKind::Redact && m.target == Some(seq))
            .map(|m| m.seq)
    }

    /// Fills in what the server adds to an entry when it is appended:
    /// mentions, and a reply's thread. Err: the refusal.
    pub fn prepare(&self, conv: &ConvId, m: &mut Message) -> Result<(), (ErrorCode, &'static str)> {
        if let Some(r) = m.reply_to {
            let Some(t) = self.entry(conv, r) else {
                return Err((ErrorCode::NotFound, "no such entry"));
            };
            if t.kind != EntryKind::Text {
                return Err((ErrorCode::BadRequest, "not a text"));
            }
            m.thread = Some(t.thread.unwrap_or(t.seq));
        }
        match m.kind {
            EntryKind::Text | EntryKind::Edit if self.has(features::MENTIONS) => {
                let members = &self.convs[conv].members;
                m.mentions = mentions_in(m.body.as_deref().unwrap_or(""), members, &m.sender);
            }
            _ => {}
        }
        let target = m.target.and_then(|t| self.entry(conv, t));
        match (m.kind, target) {
            (EntryKind::Reaction, None) | (EntryKind::Edit, None) | (EntryKind::Redact, None) => {
                Err((ErrorCode::NotFound, "no such entry"))
            }
            (EntryKind::Reaction, Some(t)) => {
                let key = m.key.as_deref().unwrap_or("");
                if key.is_empty()
                    || key.len() > 64
                    || key.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    return Err((ErrorCode::BadRequest, "bad key"));
                }
                if t.kind != EntryKind::Text {
                    return Err((ErrorCode::BadRequest, "not a text"));
                }
                if self.redacted_at(conv, t.seq).is_some() {
                    return Err((ErrorCode::Conflict, "redacted"));
                }
                let standing = self.convs[conv].timeline.iter().any(|r| {
                    r.kind == EntryKind::Reaction
                        && r.target == Some(t.seq)
                        && r.sender == m.sender
                        && r.key == m.key
                        && self.redacted_at(conv, r.seq).is_none()
                });
                if standing {
                    return Err((ErrorCode::Conflict, "already reacted"));
                }
                Ok(())
            }
            (EntryKind::Edit, Some(t)) if t.kind == EntryKind::Reaction => {
                Err((ErrorCode::BadRequest, "a reaction cannot be edited"))
            }
            (EntryKind::Edit | EntryKind::Redact, Some(t)) if t.sender != m.sender => {
                Err((ErrorCode::Forbidden, "not yours"))
            }
            (EntryKind::Edit, Some(t)) if self.redacted_at(conv, t.seq).is_some() => {
                Err((ErrorCode::Conflict, "redacted"))
            }
            _ => Ok(()),
        }
    }

    /// Another member acts: appends `m` (prepared as the server would);
    /// returns the push, or None if the server refuses it.
    pub fn act(&mut self, conv: &str, mut m: Message) -> Option<ServerFrame> {
        let id = ConvId::from(conv);
        self.prepare(&id, &mut m).ok()?;
        let m = self.append(conv, m);
        Some(ServerFrame::Message {
            conv: id,
            message: m,
        })
    }

    pub fn react_as(
        &mut self,
        conv: &str,
        user: &str,
        target: Seq,
        key: &str,
    ) -> Option<ServerFrame> {
        let mut m = Message::new(0, user, 0, EntryKind::Reaction);
        m.target = Some(target);
        m.key = Some(key.into());
        self.act(conv, m)
    }

    pub fn redact_as(&mut self, conv: &str, user: &str, target: Seq) -> Option<ServerFrame> {
        let mut m = Message::new(0, user, 0, EntryKind::Redact);
        m.target = Some(target);
        self.act(conv, m)
    }

    pub fn edit_as(
        &mut self,
        conv: &str,
        user: &str,
        target: Seq,
        body: &str,
    ) -> Option<ServerFrame> {
        let mut m = Message::new(0, user, 0, EntryKind::Edit);
        m.target = Some(target);
        m.body = Some(body.into());
        self.act(conv, m)
    }

    pub fn reply_as(
        &mut self,
        conv: &str,
        user: &str,
        reply_to: Seq,
        body: &str,
    ) -> Option<ServerFrame> {
        let mut m = Message::text(0, user, 0, body);
        m.reply_to = Some(reply_to);
        self.act(conv, m)
    }

    /// Standing reactions on text `seq` now: key → count.
    pub fn reaction_totals(&self, conv: &ConvId, seq: Seq) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        if self.redacted_at(conv, seq).is_some() {
            return out;
        }
        for r in &self.convs[conv].timeline {
            if r.kind == EntryKind::Reaction
                && r.target == Some(seq)
                && self.redacted_at(conv, r.seq).is_none()
            {
                *out.entry(r.key.clone().unwrap_or_default()).or_insert(0) += 1;
            }
        }
        out
    }

    /// An entry as a `messages` reply carries it now (§9.1 counts, §9.2
    /// totals, §9.5 stripping).
    pub fn as_listed(&self, conv: &ConvId, m: &Message) -> Message {
        let mut m = m.clone();
        let tl = &self.convs[conv].timeline;
        let gone =
            |seq: Seq| self.has(features::REDACTION) && self.redacted_at(conv, seq).is_some();
        match m.kind {
            EntryKind::Text => {
                if self.has(features::REPLY) {
                    let replies: Vec<Seq> = tl
                        .iter()
                        .filter(|r| r.kind == EntryKind::Text && r.thread == Some(m.seq))
                        .map(|r| r.seq)
                        .collect();
                    if !replies.is_empty() {
                        m.replies = Some(replies.len() as u64);
                        m.last_reply_seq = replies.last().copied();
                    }
                }
                if gone(m.seq) {
                    m.redacted = true;
                    m.body = None;
                    m.mentions.clear();
                } else if self.has(features::REACTIONS) {
                    m.reactions = self.reaction_totals(conv, m.seq);
                }
            }
            EntryKind::Edit if m.target.is_some_and(gone) => {
                m.redacted = true;
                m.body = None;
                m.mentions.clear();
            }
            _ => {}
        }
        m
    }

    /// §9.3: unread texts of `user` that mention them (by the text or a
    /// later edit), redacted ones excluded.
    pub fn mention_count(&self, user: &str, id: &ConvId) -> u64 {
        let c = &self.convs[id];
        let read = c.read.get(user).copied().unwrap_or(0);
        c.timeline
            .iter()
            .filter(|m| m.kind == EntryKind::Text && m.seq > read && m.sender != user)
            .filter(|m| self.redacted_at(id, m.seq).is_none())
            .filter(|m| {
                c.timeline.iter().any(|e| {
                    (e.seq == m.seq || (e.kind == EntryKind::Edit && e.target == Some(m.seq)))
                        && e.mentions.iter().any(|u| u == user)
                })
            })
            .count() as u64
    }

    /// Adds the §9.3/§9.4 summary fields the server lists.
    pub fn summary11(&self, user: &str, id: &ConvId, mut s: Summary) -> Summary {
        if self.has(features::MENTIONS) {
            s.mentions = Some(self.mention_count(user, id));
        }
        if self.has(features::SETTINGS) {
            let set = self.settings_of(user, id);
            s.notify = Some(set.notify);
            s.pinned = Some(set.pinned);
            s.archived = Some(set.archived);
        }
        if let Some(last) = &s.last
            && self.has(features::REDACTION)
            && self.redacted_at(id, last.seq).is_some()
        {
            let mut l = last.clone();
            l.redacted = true;
            l.body = None;
            l.mentions.clear();
            s.last = Some(l);
        }
        s
    }

    pub fn settings_of(&self, user: &str, id: &ConvId) -> ModelSettings {
        self.settings
            .get(&(user.to_owned(), id.clone()))
            .copied()
            .unwrap_or_default()
    }

    /// `user` changes settings (from any device); returns the event the
    /// user's other connections get, or None when nothing changed.
    pub fn set_settings(
        &mut self,
        user: &str,
        id: &ConvId,
        notify: Option<Notify>,
        pinned: Option<bool>,
        archived: Option<bool>,
    ) -> Option<ServerFrame> {
        let before = self.settings_of(user, id);
        let after = ModelSettings {
            notify: notify.unwrap_or(before.notify),
            pinned: pinned.unwrap_or(before.pinned),
            archived: archived.unwrap_or(before.archived),
        };
        if after == before {
            return None;
        }
        self.settings.insert((user.to_owned(), id.clone()), after);
        self.counter += 1;
        let c = self.counter;
        if let Some(conv) = self.convs.get_mut(id) {
            conv.changed_at = c;
        }
        Some(ServerFrame::Settings {
            conv: id.clone(),
            notify: after.notify,
            pinned: after.pinned,
            archived: after.archived,
        })
    }

    /// The 1.1 requests; None for a frame this part does not answer.
    pub fn handle11(&mut self, user: &str, f: &ClientFrame) -> Option<Vec<ServerFrame>> {
        let refuse = |id, code, msg: &str| Some(vec![ServerFrame::error(Some(id), code, msg)]);
        match f {
            ClientFrame::Thread {
                id,
                conv,
                root,
                after,
                limit,
            } => {
                if !self.has(features::REPLY) {
                    return refuse(*id, ErrorCode::BadRequest, "unknown type");
                }
                if !self.member(user, conv) {
                    return refuse(*id, ErrorCode::NotFound, "no such conversation");
                }
                if self
                    .entry(conv, *root)
                    .is_none_or(|m| m.kind != EntryKind::Text)
                {
                    return refuse(*id, ErrorCode::NotFound, "no such root");
                }
                let limit = limit.unwrap_or(100).clamp(1, 500) as usize;
                let tl = &self.convs[conv].timeline;
                let thread: Vec<&Message> = tl
                    .iter()
                    .filter(|m| {
                        m.seq == *root || (m.kind == EntryKind::Text && m.thread == Some(*root))
                    })
                    .collect();
                let thread_last = thread.last().map_or(*root, |m| m.seq);
                let msgs = thread
                    .into_iter()
                    .filter(|m| m.seq > *after)
                    .take(limit)
                    .map(|m| self.as_listed(conv, m))
                    .collect();
                Some(vec![ServerFrame::Messages {
                    re: *id,
                    conv: conv.clone(),
                    messages: msgs,
                    last_seq: tl.len() as Seq,
                    root: Some(*root),
                    thread_last_seq: Some(thread_last),
                }])
            }
            ClientFrame::Settings {
                id,
                conv,
                notify,
                pinned,
                archived,
            } => {
                if !self.has(features::SETTINGS) {
                    return refuse(*id, ErrorCode::BadRequest, "unknown type");
                }
                if !self.member(user, conv) {
                    return refuse(*id, ErrorCode::NotFound, "no such conversation");
                }
                if notify.is_none() && pinned.is_none() && archived.is_none() {
                    return refuse(*id, ErrorCode::BadRequest, "nothing to set");
                }
                // The event goes to the user's other connections, not this one.
                let _ = self.set_settings(user, conv, *notify, *pinned, *archived);
                Some(vec![ServerFrame::Ok { re: *id }])
            }
            ClientFrame::React { id, .. } if !self.has(features::REACTIONS) => {
                refuse(*id, ErrorCode::BadRequest, "unknown type")
            }
            ClientFrame::React {
                id,
                conv,
                client_id,
                target,
                key,
            } => {
                let mut m = Message::new(0, user, 0, EntryKind::Reaction);
                m.target = Some(*target);
                m.key = Some(key.clone());
                Some(self.append_from(user, *id, conv.clone(), client_id.clone(), m))
            }
            _ => None,
        }
    }
}
