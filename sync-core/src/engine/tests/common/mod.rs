//! Test support: a small model server that speaks protocol frames, and a
//! harness that wires it to a sans-IO [`Engine`] and a [`Store`] with no
//! sockets and a fake clock.
#![allow(dead_code)]

pub mod model;
pub mod model11;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::engine::{Command, Config, Engine, Reply};
use crate::protocol::{ClientFrame, ConvId, ServerFrame};
use crate::store::{MemoryStore, OutboxItem, OutboxKind, OutboxState, Store};
use crate::{ConnState, Event};

pub use model::ModelServer;

pub const ME: &str = "me";

/// Engine + store + model server + a fake clock.
pub struct Harness<S: Store> {
    pub engine: Engine,
    pub store: S,
    pub server: ModelServer,
    pub now: Instant,
    /// Frames on their way from the server to the engine.
    pub to_client: VecDeque<ServerFrame>,
    /// Frames the engine sent (all of them, for assertions).
    pub sent: Vec<ClientFrame>,
    pub events: Vec<Event>,
    pub replies: Vec<Reply>,
    pub connected: bool,
    next_client_id: u64,
}

pub fn test_config() -> Config {
    Config {
        device: "dev-1".into(),
        ..Config::default()
    }
}

impl Harness<MemoryStore> {
    pub fn memory(server: ModelServer) -> Self {
        Harness::new(server, MemoryStore::new(), test_config())
    }
}

impl<S: Store> Harness<S> {
    pub fn new(server: ModelServer, store: S, cfg: Config) -> Self {
        let engine = Engine::new(cfg, store.load().expect("load"));
        Harness {
            engine,
            store,
            server,
            now: Instant::now(),
            to_client: VecDeque::new(),
            sent: Vec::new(),
            events: Vec::new(),
            replies: Vec::new(),
            connected: false,
            next_client_id: 1,
        }
    }

    /// Rebuilds the engine from what the store holds (a restart).
    pub fn restart(&mut self, cfg: Config) {
        self.engine = Engine::new(cfg, self.store.load().expect("load"));
        self.connected = false;
        self.to_client.clear();
    }

    /// Moves engine outputs: frames to the server (replies queue back),
    /// batches into the store, events and replies into the logs.
    pub fn pump_outputs(&mut self) {
        while let Some(b) = self.engine.poll_batch() {
            self.store.apply(&b).expect("apply");
        }
        while let Some(f) = self.engine.poll_transmit() {
            self.sent.push(f.clone());
            if self.connected {
                let out = self.server.handle(ME, f);
                self.to_client.extend(out);
            }
        }
        while let Some(e) = self.engine.poll_event() {
            self.events.push(e);
        }
        while let Some(r) = self.engine.poll_reply() {
            self.replies.push(r);
        }
        if self.engine.poll_close() {
            self.disconnect();
        }
        if self.engine.poll_connect() {
            self.connect();
        }
    }

    pub fn connect(&mut self) {
        self.connected = true;
        self.to_client.clear();
        self.engine.handle_connected(self.now);
        self.to_client.push_back(self.server.hello());
        self.pump_outputs();
    }

    pub fn disconnect(&mut self) {
        self.connected = false;
        self.to_client.clear();
        self.engine.handle_disconnected(self.now, None);
        self.pump_outputs();
    }

    /// Delivers one queued server frame.
    pub fn deliver_one(&mut self) -> bool {
        let Some(f) = self.to_client.pop_front() else {
            return false;
        };
        self.engine.handle_frame(self.now, &f.to_json());
        self.pump_outputs();
        true
    }

    /// Delivers frames until nothing is queued.
    pub fn run(&mut self) {
        let mut guard = 0;
        while self.deliver_one() {
            guard += 1;
            assert!(guard < 100_000, "engine does not quiesce");
        }
    }

    /// Injects a raw text frame.
    pub fn inject(&mut self, text: &str) {
        self.engine.handle_frame(self.now, text);
        self.pump_outputs();
    }

    pub fn cmd(&mut self, c: Command) -> Result<(), crate::Error> {
        let r = self.engine.handle_command(self.now, c);
        self.pump_outputs();
        r
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.engine.handle_timeout(self.now);
        self.pump_outputs();
    }

    /// Connect, sync, catch up.
    pub fn go_live(&mut self) {
        self.cmd(Command::Connect).expect("connect");
        if let ConnState::Reconnecting { in_ms, .. } = self.engine.state().clone() {
            self.advance(Duration::from_millis(in_ms));
        }
        self.run();
        assert_eq!(
            self.engine.state(),
            &ConnState::Live,
            "events: {:?}",
            self.events
        );
    }

    pub fn send_text(&mut self, conv: &str, body: &str) -> String {
        self.enqueue(conv, OutboxKind::Send, Some(body))
    }

    /// Puts a send, edit or redaction in the outbox; returns its client id.
    pub fn enqueue(&mut self, conv: &str, kind: OutboxKind, body: Option<&str>) -> String {
        let id = format!("cid-{}", self.next_client_id);
        self.next_client_id += 1;
        let item = OutboxItem {
            client_id: id.clone(),
            conv: ConvId::from(conv),
            kind,
            body: body.map(Into::into),
            state: OutboxState::Pending,
            created_ts: 1,
        };
        self.cmd(Command::Enqueue {
            item,
            wait: None,
            ack: None,
        })
        .expect("enqueue");
        id
    }

    /// Frames of a given type the engine sent.
    pub fn sent_of(&self, ty: &str) -> Vec<&ClientFrame> {
        self.sent.iter().filter(|f| f.type_name() == ty).collect()
    }

    pub fn count_events(&self, pred: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|e| pred(e)).count()
    }
}

/// Sets up a harness that is logged in (the store has a session).
pub fn logged_in(server: ModelServer) -> Harness<MemoryStore> {
    let mut store = MemoryStore::new();
    seed_session(&mut store);
    Harness::new(server, store, test_config())
}

pub fn seed_session(store: &mut impl Store) {
    use crate::store::{Batch, MetaKey, Write};
    store
        .apply(&Batch {
            writes: vec![
                Write::Meta(MetaKey::User, Some(ME.into())),
                Write::Meta(MetaKey::Device, Some("dev-1".into())),
                Write::Meta(MetaKey::Token, Some(format!("tok-{ME}"))),
            ],
            durable: false,
        })
        .expect("seed");
}

// ---- small helpers shared by the engine tests ----

use crate::protocol::ConvKind;
use crate::store::{TimelineItem, TimelineQuery};

pub fn c(s: &str) -> ConvId {
    ConvId::from(s)
}

pub fn seqs(h: &Harness<MemoryStore>, conv: &str) -> Vec<u64> {
    h.store
        .timeline(
            &c(conv),
            TimelineQuery::Latest {
                limit: usize::MAX >> 1,
            },
        )
        .unwrap()
        .into_iter()
        .filter_map(|i| match i {
            TimelineItem::Message(m) => Some(m.seq),
            _ => None,
        })
        .collect()
}

pub fn server_with_direct(n: usize) -> ModelServer {
    let mut s = ModelServer::default();
    s.create("d1", ConvKind::Direct, "", &["bob", ME]);
    for i in 0..n {
        s.post("d1", "bob", &format!("hello {i}"));
    }
    s
}

/// A group "g1" ("big") of carol's and mine holding `n` of carol's texts
/// after its create entry.
pub fn server_with_group(n: usize) -> ModelServer {
    let mut s = ModelServer::default();
    s.create("g1", ConvKind::Group, "big", &["carol", ME]);
    for i in 0..n {
        s.post("g1", "carol", &format!("m{i}"));
    }
    s
}

pub fn last_id(h: &Harness<MemoryStore>) -> u64 {
    h.sent.last().map(|f| f.id()).unwrap()
}
