//! A model server: the protocol's rules over plain collections, answering
//! one client's frames. Other users act through method calls.

use std::collections::{BTreeMap, HashMap};

use crate::protocol::{
    ClientFrame, ConvId, ConvKind, EntryKind, ErrorCode, Message, Seq, ServerFrame, Summary,
};

#[derive(Debug, Clone)]
pub struct ModelConv {
    pub kind: ConvKind,
    pub title: String,
    pub members: Vec<String>,
    pub left: Vec<String>,
    pub timeline: Vec<Message>,
    pub read: HashMap<String, Seq>,
    pub changed_at: u64,
}

#[derive(Debug, Clone)]
pub struct ModelServer {
    pub server_id: String,
    pub convs: BTreeMap<ConvId, ModelConv>,
    pub counter: u64,
    pub clock: i64,
    pub dedup: HashMap<(String, ConvId, String), (Seq, i64)>,
    pub sync_page: usize,
    /// Client ids whose next send gets this error once.
    pub fail_next: HashMap<String, ErrorCode>,
    /// Replace pull/history `last_seq` (to simulate a reset server).
    pub connected_user: Option<String>,
    /// `hello.features`.
    pub features: Vec<String>,
    /// §9.4 settings per (user, conversation).
    pub settings: HashMap<(String, ConvId), super::model11::ModelSettings>,
    /// `hello.max_frame_bytes`.
    pub max_frame_bytes: u64,
    /// `hello.max_body_bytes`.
    pub max_body_bytes: u64,
}

impl Default for ModelServer {
    fn default() -> Self {
        ModelServer {
            server_id: "srv-1".into(),
            convs: BTreeMap::new(),
            counter: 1,
            clock: 1_700_000_000_000,
            dedup: HashMap::new(),
            sync_page: 200,
            fail_next: HashMap::new(),
            connected_user: None,
            features: vec!["account".into()],
            settings: HashMap::new(),
            max_frame_bytes: 65536,
            max_body_bytes: 16384,
        }
    }
}

impl ModelServer {
    pub fn hello(&self) -> ServerFrame {
        ServerFrame::Hello {
            protocol: 1,
            server: "model/1".into(),
            server_id: self.server_id.clone(),
            max_frame_bytes: self.max_frame_bytes,
            max_body_bytes: self.max_body_bytes,
            features: self.features.clone(),
            register: None,
        }
    }

    fn bump(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Creates a conversation with `members` (first is the creator).
    pub fn create(&mut self, id: &str, kind: ConvKind, title: &str, members: &[&str]) {
        let c = self.bump();
        self.clock += 1;
        let mut create = Message::new(1, members[0], self.clock, EntryKind::Create);
        create.members = Some(members.iter().map(|m| m.to_string()).collect());
        if kind == ConvKind::Group {
            create.title = Some(title.into());
        }
        self.convs.insert(
            ConvId::from(id),
            ModelConv {
                kind,
                title: title.into(),
                members: members.iter().map(|m| m.to_string()).collect(),
                left: Vec::new(),
                timeline: vec![create],
                read: members.iter().map(|m| (m.to_string(), 1)).collect(),
                changed_at: c,
            },
        );
    }

    /// Appends an entry; returns the push frame for `me` if a member.
    pub fn append(&mut self, conv: &str, mut m: Message) -> Message {
        let c = self.bump();
        self.clock += 1;
        let conv = self.convs.get_mut(&ConvId::from(conv)).expect("conv");
        m.seq = conv.timeline.len() as Seq + 1;
        m.ts = self.clock;
        if m.kind == EntryKind::Text {
            conv.read.insert(m.sender.clone(), m.seq);
        }
        conv.timeline.push(m.clone());
        conv.changed_at = c;
        m
    }

    /// Another user posts a text; returns the push frame.
    pub fn post(&mut self, conv: &str, sender: &str, body: &str) -> ServerFrame {
        let m = self.append(conv, Message::text(0, sender, 0, body));
        ServerFrame::Message {
            conv: ConvId::from(conv),
            message: m,
        }
    }

    pub fn last_seq(&self, conv: &str) -> Seq {
        self.convs[&ConvId::from(conv)].timeline.len() as Seq
    }

    pub fn summary(&self, user: &str, id: &ConvId) -> Summary {
        let c = &self.convs[id];
        let last_seq = c.timeline.len() as Seq;
        let read_seq = c.read.get(user).copied().unwrap_or(0);
        let unread = c
            .timeline
            .iter()
            .filter(|m| m.kind == EntryKind::Text && m.seq > read_seq && m.sender != user)
            .count() as u64;
        let title = match c.kind {
            ConvKind::Group => c.title.clone(),
            ConvKind::Direct => c
                .members
                .iter()
                .find(|m| *m != user)
                .cloned()
                .unwrap_or_default(),
        };
        let s = Summary {
            conv: id.clone(),
            kind: c.kind,
            title,
            member_count: c.members.len() as u32,
            last_seq,
            read_seq,
            unread,
            last: c
                .timeline
                .iter()
                .rev()
                .find(|m| m.kind == EntryKind::Text)
                .cloned(),
            left: c.left.iter().any(|u| u == user),
            mentions: None,
            notify: None,
            pinned: None,
            archived: None,
        };
        self.summary11(user, id, s)
    }

    fn messages(&self, re: u64, conv: &ConvId, msgs: Vec<Message>) -> ServerFrame {
        ServerFrame::Messages {
            re,
            conv: conv.clone(),
            messages: msgs.iter().map(|m| self.as_listed(conv, m)).collect(),
            last_seq: self.convs[conv].timeline.len() as Seq,
            root: None,
            thread_last_seq: None,
        }
    }

    fn not_found(re: u64) -> ServerFrame {
        ServerFrame::error(Some(re), ErrorCode::NotFound, "no such conversation")
    }

    pub fn member(&self, user: &str, conv: &ConvId) -> bool {
        self.convs
            .get(conv)
            .is_some_and(|c| c.members.iter().any(|m| m == user))
    }

    /// Answers one client frame; returns the frames the client receives
    /// (the reply, plus the push of its own appended entry).
    pub fn handle(&mut self, user: &str, f: ClientFrame) -> Vec<ServerFrame> {
        if let Some(out) = self.handle11(user, &f) {
            return out;
        }
        match f {
            ClientFrame::Auth { id, token, device } => {
                if token == format!("tok-{user}") {
                    vec![ServerFrame::Session {
                        re: id,
                        user: user.into(),
                        device,
                        token,
                    }]
                } else {
                    vec![ServerFrame::error(
                        Some(id),
                        ErrorCode::Unauthorized,
                        "bad token",
                    )]
                }
            }
            ClientFrame::Register {
                id, user, device, ..
            }
            | ClientFrame::Login {
                id, user, device, ..
            } => {
                let token = format!("tok-{user}");
                vec![ServerFrame::Session {
                    re: id,
                    user,
                    device,
                    token,
                }]
            }
            ClientFrame::Ping { id } => vec![ServerFrame::Pong { re: id }],
            ClientFrame::Sync { id, since } => vec![self.sync(user, id, since)],
            ClientFrame::Pull {
                id,
                conv,
                after,
                limit,
            } => {
                if !self.member(user, &conv) {
                    return vec![Self::not_found(id)];
                }
                let limit = limit.unwrap_or(100).clamp(1, 500) as usize;
                let msgs = self.convs[&conv]
                    .timeline
                    .iter()
                    .filter(|m| m.seq > after)
                    .take(limit)
                    .cloned()
                    .collect();
                vec![self.messages(id, &conv, msgs)]
            }
            ClientFrame::History {
                id,
                conv,
                before,
                limit,
            } => {
                if !self.member(user, &conv) {
                    return vec![Self::not_found(id)];
                }
                let limit = limit.unwrap_or(100).clamp(1, 500) as usize;
                let before = before.unwrap_or(Seq::MAX);
                let older: Vec<Message> = self.convs[&conv]
                    .timeline
                    .iter()
                    .filter(|m| m.seq < before)
                    .cloned()
                    .collect();
                let start = older.len().saturating_sub(limit);
                vec![self.messages(id, &conv, older[start..].to_vec())]
            }
            ClientFrame::Send {
                id,
                conv,
                client_id,
                body,
                reply_to,
            } => {
                let mut m = Message::text(0, user, 0, body);
                m.reply_to = reply_to.filter(|_| self.has(crate::protocol::features::REPLY));
                self.append_from(user, id, conv, client_id, m)
            }
            ClientFrame::Edit {
                id,
                conv,
                client_id,
                target,
                body,
            } => {
                let mut m = Message::new(0, user, 0, EntryKind::Edit);
                m.target = Some(target);
                m.body = Some(body);
                self.append_from(user, id, conv, client_id, m)
            }
            ClientFrame::Redact {
                id,
                conv,
                client_id,
                target,
            } => {
                let mut m = Message::new(0, user, 0, EntryKind::Redact);
                m.target = Some(target);
                self.append_from(user, id, conv, client_id, m)
            }
            ClientFrame::Read { id, conv, seq } => {
                if !self.member(user, &conv) {
                    return vec![Self::not_found(id)];
                }
                let c = self.counter + 1;
                let cv = self.convs.get_mut(&conv).expect("member");
                let last = cv.timeline.len() as Seq;
                let r = cv.read.entry(user.into()).or_insert(0);
                if seq.min(last) > *r {
                    *r = seq.min(last);
                    cv.changed_at = c;
                    self.counter = c;
                }
                vec![ServerFrame::Ok { re: id }]
            }
            ClientFrame::Typing { id, .. } => vec![ServerFrame::Ok { re: id }],
            other => vec![ServerFrame::error(
                Some(other.id()),
                ErrorCode::BadRequest,
                "unsupported by model",
            )],
        }
    }

    pub fn append_from(
        &mut self,
        user: &str,
        id: u64,
        conv: ConvId,
        client_id: String,
        mut m: Message,
    ) -> Vec<ServerFrame> {
        if !self.member(user, &conv) {
            return vec![Self::not_found(id)];
        }
        if let Some(code) = self.fail_next.remove(&client_id) {
            let mut e = ServerFrame::error(Some(id), code, "refused by the model");
            if let ServerFrame::Error { retry_after_ms, .. } = &mut e
                && code == ErrorCode::RateLimited
            {
                *retry_after_ms = Some(250);
            }
            return vec![e];
        }
        let key = (user.to_string(), conv.clone(), client_id.clone());
        if let Some((seq, ts)) = self.dedup.get(&key) {
            return vec![ServerFrame::Sent {
                re: id,
                conv,
                client_id,
                seq: *seq,
                ts: *ts,
            }];
        }
        if let Err((code, message)) = self.prepare(&conv, &mut m) {
            return vec![ServerFrame::error(Some(id), code, message)];
        }
        m.client_id = Some(client_id.clone());
        let m = self.append(conv.as_str(), m);
        self.dedup.insert(key, (m.seq, m.ts));
        vec![
            ServerFrame::Sent {
                re: id,
                conv: conv.clone(),
                client_id,
                seq: m.seq,
                ts: m.ts,
            },
            ServerFrame::Message { conv, message: m },
        ]
    }

    fn sync(&self, user: &str, id: u64, since: Option<String>) -> ServerFrame {
        let incremental = since
            .as_deref()
            .and_then(|s| s.strip_prefix('s'))
            .and_then(|n| n.parse::<u64>().ok());
        let offset = since
            .as_deref()
            .and_then(|s| s.strip_prefix('f'))
            .and_then(|n| n.parse::<usize>().ok());
        let (full, list): (bool, Vec<Summary>) = match incremental {
            Some(n) => (
                false,
                self.convs
                    .iter()
                    .filter(|(_, c)| c.changed_at > n)
                    .filter(|(_, c)| c.members.iter().chain(c.left.iter()).any(|m| m == user))
                    .map(|(id, _)| self.summary(user, id))
                    .collect(),
            ),
            None => (
                true,
                self.convs
                    .iter()
                    .filter(|(_, c)| c.members.iter().any(|m| m == user))
                    .map(|(id, _)| self.summary(user, id))
                    .collect(),
            ),
        };
        let start = if full { offset.unwrap_or(0) } else { 0 };
        let page: Vec<Summary> = list
            .iter()
            .skip(start)
            .take(self.sync_page)
            .cloned()
            .collect();
        let more = start + page.len() < list.len();
        let since = if more {
            format!("f{}", start + page.len())
        } else {
            format!("s{}", self.counter)
        };
        ServerFrame::Sync {
            re: id,
            since,
            full,
            more,
            conversations: page,
        }
    }
}
