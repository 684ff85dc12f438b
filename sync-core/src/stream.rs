//! Message streams: every entry of the covered conversations, in seq order,
//! exactly once per stored position, however it reached the store (live
//! push, catch-up pull, gap fill).
//!
//! A stream reads the store by position with a bounded buffer; it never
//! depends on [`crate::Events`], and a consumer that stops reading costs no
//! memory. Named consumers keep their positions in the store: after a crash
//! or restart a stream resumes after the last [`MessageStream::ack`]
//! (at-least-once). [`MessageStream::reply`] commits a reply together with
//! the ack of what it answers (exactly-once effects).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use tokio::sync::watch;

use crate::client::Client;
use crate::committed::Committed;
use crate::engine::{Command, ConsumerAck};
use crate::error::Error;
use crate::events::ConnState;
use crate::protocol::{ConvId, EntryKind, Seq};
use crate::store::{
    LocalMessage, MetaKey, OutboxKind, Store, StoreError, TimelineItem, TimelineQuery,
};

/// Entries read from the store per conversation per refill (a catch-up
/// commits pages of 500; reading a few of them at once keeps up with it).
const PAGE: usize = 2_000;
/// Entries buffered at most (over all conversations): about 1 MiB.
const BUFFER: usize = 4_000;

/// Which conversations a stream covers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Convs {
    /// Every conversation, including ones that appear later.
    #[default]
    All,
    /// Only these.
    Only(Vec<ConvId>),
}

/// Where a stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// After each conversation's current newest entry. Positions stored
    /// earlier under the same name are replaced.
    Now,
    /// After the consumer's stored positions. A consumer started for the
    /// first time starts like `Now`; a conversation it has no position for
    /// appeared after it was first started, and is read from its beginning.
    #[default]
    Stored,
    /// From each conversation's first entry (a replay); stored positions
    /// are replaced.
    Beginning,
}

/// What a stream delivers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamOptions {
    /// The conversations covered.
    pub convs: Convs,
    /// Where it starts.
    pub from: StartAt,
    /// Also deliver the user's own entries (a bot leaves this off, so it
    /// does not answer itself).
    pub include_own: bool,
    /// Only these entry kinds; None for every kind (texts, edits,
    /// redactions, joins, …).
    pub kinds: Option<Vec<EntryKind>>,
    /// A conversation read from its beginning (one that appeared after the
    /// consumer was first started, such as a group the user was invited to,
    /// or every one with [`StartAt::Beginning`]) starts at the user's
    /// joining it instead: entries before the `join` entry naming the user,
    /// or the `create` entry listing them, are skipped. A bot added to a
    /// group then answers nothing said before it came. A user who left and
    /// came back gets what was said while they were away.
    pub since_joined: bool,
}

impl StreamOptions {
    /// Texts by others in every conversation, from the stored positions:
    /// what a bot reads.
    pub fn texts() -> StreamOptions {
        StreamOptions {
            kinds: Some(vec![EntryKind::Text]),
            ..StreamOptions::default()
        }
    }
}

/// How an entry reached the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Pushed by the server while connected.
    Live,
    /// Pulled: catch-up after a (re)connect, a gap fill or a history page.
    CatchUp,
}

/// One entry of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamItem {
    /// The conversation.
    pub conv: ConvId,
    /// The entry (edits and redactions that arrived earlier are applied to
    /// a text's body; the edit and redact entries are items of their own).
    pub message: LocalMessage,
    /// How it arrived.
    pub arrival: Arrival,
}

impl StreamItem {
    /// The entry's seq.
    pub fn seq(&self) -> Seq {
        self.message.seq
    }
}

/// One effect of handling a stream item, for [`MessageStream::answer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect<'a> {
    /// A text in the item's conversation, as [`MessageStream::reply`].
    Reply(&'a str),
    /// A §9.1 reply filed in the item's thread, as
    /// [`MessageStream::reply_in_thread`] (feature `reply`).
    ReplyInThread(&'a str),
    /// A §9.2 reaction to the item with this key, as
    /// [`MessageStream::react`] (feature `reactions`).
    React(&'a str),
}

/// A stream of entries with per-conversation positions. See the module
/// docs; created by [`Client::stream`] or [`Client::stream_ephemeral`].
#[derive(Debug)]
pub struct MessageStream {
    client: Client,
    name: Option<String>,
    opts: StreamOptions,
    /// Delivered (or skipped by the filters) up to here, per conversation;
    /// a conversation missing here is read from its beginning.
    next: BTreeMap<ConvId, Seq>,
    /// With [`StreamOptions::since_joined`]: conversations read from their
    /// beginning whose joining entry has not been passed yet.
    awaiting_join: BTreeSet<ConvId>,
    buffer: VecDeque<StreamItem>,
    commits: watch::Receiver<u64>,
}

impl Client {
    /// A stream for the consumer `name`, whose positions are stored: the
    /// shape of a bot, a bridge or a logger. A stream that covers groups
    /// makes the engine fetch each group's entries after the stream's
    /// position (groups are otherwise fetched only when opened).
    pub async fn stream(&self, name: &str, opts: StreamOptions) -> Result<MessageStream, Error> {
        if name.is_empty() || name.len() > 64 {
            return Err(Error::Invalid {
                field: "name",
                message: "a consumer name is 1-64 bytes".into(),
            });
        }
        MessageStream::start(self.clone(), Some(name.to_owned()), opts).await
    }

    /// A stream whose positions live only in memory (like `convo tail`):
    /// [`StartAt::Stored`] means [`StartAt::Now`], and acks do nothing.
    pub async fn stream_ephemeral(&self, opts: StreamOptions) -> Result<MessageStream, Error> {
        MessageStream::start(self.clone(), None, opts).await
    }
}

impl MessageStream {
    async fn start(
        client: Client,
        name: Option<String>,
        opts: StreamOptions,
    ) -> Result<MessageStream, Error> {
        // "Now" needs the current heads: a store that never finished a
        // catch-up does not know them, so wait for the first one.
        if client.read(|r| r.meta(MetaKey::Since))?.is_none()
            && !matches!(opts.from, StartAt::Beginning)
        {
            client.wait_state(|s| matches!(s, ConnState::Live)).await?;
        }
        let (rows, stored) = client.read(|r| {
            let stored = match &name {
                Some(n) => r.consumer(n)?,
                None => None,
            };
            Ok((r.conversations()?, stored))
        })?;
        let heads: Vec<(ConvId, Seq)> = rows
            .into_iter()
            .filter(|r| covers(&opts.convs, &r.conv))
            .map(|r| (r.conv, r.last_seq))
            .collect();
        let (positions, reset): (Vec<(ConvId, Seq)>, bool) = match (opts.from, &stored) {
            (StartAt::Beginning, _) => (heads.into_iter().map(|(c, _)| (c, 0)).collect(), true),
            (StartAt::Now, _) | (StartAt::Stored, None) => (heads, opts.from == StartAt::Now),
            (StartAt::Stored, Some(map)) => (
                heads
                    .into_iter()
                    .map(|(c, _)| {
                        let p = map.get(&c).copied().unwrap_or(0);
                        (c, p)
                    })
                    .collect(),
                false,
            ),
        };
        let mut next: BTreeMap<ConvId, Seq> = match (&stored, reset) {
            (Some(map), false) => map.clone(),
            _ => BTreeMap::new(),
        };
        for (c, p) in &positions {
            next.entry(c.clone()).or_insert(*p);
        }
        let follow: Vec<(ConvId, Seq)> = next
            .iter()
            .filter(|(c, _)| covers(&opts.convs, c))
            .map(|(c, p)| (c.clone(), *p))
            .collect();
        let commits = client.commits();
        let started = client.submit(
            Command::Follow {
                consumer: name.clone(),
                positions: follow,
                reset,
                all: opts.convs == Convs::All,
            },
            (),
        );
        // Starting positions that replace stored ones (or are the first)
        // must be stored before anything is handed out; resuming stored
        // ones only adds zeros for new conversations, which a lost write
        // would add again, so it does not wait behind a busy store thread.
        if reset || stored.is_none() {
            started.await?;
        } else {
            drop(started);
        }
        Ok(MessageStream {
            client,
            name,
            opts,
            next,
            awaiting_join: BTreeSet::new(),
            buffer: VecDeque::new(),
            commits,
        })
    }

    /// The next entry. Waits while there is none, and while the entry after
    /// a position is not stored yet (the engine fetches it: nothing is
    /// skipped and nothing comes out of order). Fails only when the store
    /// cannot be read or the client is gone.
    pub async fn next(&mut self) -> Result<StreamItem, Error> {
        loop {
            if let Some(item) = self.buffer.pop_front() {
                return Ok(item);
            }
            self.commits.borrow_and_update();
            self.refill().await?;
            if self.buffer.is_empty() {
                self.commits
                    .changed()
                    .await
                    .map_err(|_| Error::DriverGone)?;
            }
        }
    }

    /// The next entry if one is stored already (never waits for the network).
    pub async fn try_next(&mut self) -> Result<Option<StreamItem>, Error> {
        if self.buffer.is_empty() {
            self.refill().await?;
        }
        Ok(self.buffer.pop_front())
    }

    /// Records that `item` and everything before it in its conversation
    /// are handled. Resolves once stored (group-committed); does nothing
    /// for an ephemeral stream.
    pub fn ack(&self, item: &StreamItem) -> Committed<()> {
        self.ack_to(&item.conv, item.seq())
    }

    /// Records that `conv` is handled up to `seq`.
    pub fn ack_to(&self, conv: &ConvId, seq: Seq) -> Committed<()> {
        match &self.name {
            Some(name) => self.client.submit(
                Command::Ack(ConsumerAck {
                    name: name.clone(),
                    conv: conv.clone(),
                    seq,
                }),
                (),
            ),
            None => Committed::done(Ok(())),
        }
    }

    /// Queues `body` as the answer to `item` and acks `item`, in one store
    /// transaction: after a crash either both happened or neither did, so
    /// a consumer that answers through `reply` answers each entry exactly
    /// once. The reply's client id is derived from the consumer's name and
    /// the item's `(conv, seq)` ([`reply_id`]), so sending it again (after
    /// an ack was lost) never makes a second copy on the server, while two
    /// consumers' replies to one entry stay distinct.
    pub fn reply(&self, item: &StreamItem, body: &str) -> Committed<String> {
        self.answer_one(item, Effect::Reply(body))
    }

    /// [`MessageStream::reply`] as a §9.1 reply to `item`, filed in its
    /// thread: exactly once, and acked in the same transaction. Needs the
    /// server's `reply` feature: [`Error::Unsupported`] (nothing queued,
    /// nothing acked) against a server known not to list it, so a bot can
    /// fall back to [`MessageStream::reply`]. Other effects of the same
    /// item go with it through [`MessageStream::answer`]: once this acks,
    /// the item is not handed out again.
    pub fn reply_in_thread(&self, item: &StreamItem, body: &str) -> Committed<String> {
        self.answer_one(item, Effect::ReplyInThread(body))
    }

    /// §9.2: reacts to `item` with `key` and acks it, in one transaction,
    /// exactly once (a reaction retried after a crash is the same request,
    /// not a second one the server refuses with `conflict`). Needs the
    /// server's `reactions` feature, with the same [`Error::Unsupported`]
    /// rule as [`MessageStream::reply_in_thread`]; several effects of one
    /// item: [`MessageStream::answer`].
    pub fn react(&self, item: &StreamItem, key: &str) -> Committed<String> {
        self.answer_one(item, Effect::React(key))
    }

    /// Queues several effects of handling `item` and acks it, all in one
    /// store transaction: after a crash either all happened or none did, so
    /// a bot that answers a command with a reply *and* a reaction does
    /// each exactly once (two calls of [`MessageStream::reply_in_thread`]
    /// and [`MessageStream::react`] ack twice, and a crash between them
    /// loses the second effect). Each effect gets the id the single call
    /// would give it. Resolves with the client ids, in the order given.
    ///
    /// When one effect is refused (its feature is missing on a server known
    /// not to list it: [`Error::Unsupported`]; an invalid key or body),
    /// nothing is queued and nothing acked. An empty list only acks.
    ///
    /// ```no_run
    /// # async fn demo(stream: sync_core::MessageStream, item: sync_core::StreamItem) -> Result<(), sync_core::Error> {
    /// use sync_core::stream::Effect;
    /// stream.answer(&item, &[Effect::React("✅"), Effect::ReplyInThread("noted")]).await?;
    /// # Ok(()) }
    /// ```
    pub fn answer(&self, item: &StreamItem, effects: &[Effect<'_>]) -> Committed<Vec<String>> {
        let mut items = Vec::with_capacity(effects.len());
        for effect in effects {
            let row = self
                .effect_row(item, *effect)
                .and_then(|(id, kind, body)| self.client.outbox_item(&item.conv, id, kind, body));
            match row {
                Ok(row) => items.push(row),
                Err(e) => return Committed::done(Err(e)),
            }
        }
        let ids = items.iter().map(|row| row.client_id.clone()).collect();
        let ack = self.ack_of(item);
        self.client.submit(Command::EnqueueAll { items, ack }, ids)
    }

    /// Queues one effect of handling `item` and acks `item` in the same
    /// transaction.
    fn answer_one(&self, item: &StreamItem, effect: Effect<'_>) -> Committed<String> {
        match self.effect_row(item, effect) {
            Ok((id, kind, body)) => {
                self.client
                    .enqueue(&item.conv, id, kind, body, self.ack_of(item))
            }
            Err(e) => Committed::done(Err(e)),
        }
    }

    /// What `effect` on `item` queues: a client id derived from the
    /// consumer, the item and the effect (distinct effects of one item get
    /// distinct ids), the row's kind and body. A reaction's key is checked.
    fn effect_row<'a>(
        &self,
        item: &StreamItem,
        effect: Effect<'a>,
    ) -> Result<(String, OutboxKind, Option<&'a str>), Error> {
        let (label, kind, body) = match effect {
            Effect::Reply(body) => (String::new(), OutboxKind::Send, Some(body)),
            Effect::ReplyInThread(body) => (
                "thread".to_owned(),
                OutboxKind::Reply {
                    reply_to: item.seq(),
                },
                Some(body),
            ),
            Effect::React(key) => {
                crate::client::validate_key(key)?;
                let kind = OutboxKind::React {
                    target: item.seq(),
                    key: key.to_owned(),
                };
                (format!("react {key}"), kind, None)
            }
        };
        let name = self.name.as_deref().unwrap_or_default();
        let id = effect_id(name, &item.conv, item.seq(), &label);
        Ok((id, kind, body))
    }

    /// The ack of `item` that goes with its effects (none for an ephemeral
    /// stream).
    fn ack_of(&self, item: &StreamItem) -> Option<ConsumerAck> {
        self.name.as_ref().map(|n| ConsumerAck {
            name: n.clone(),
            conv: item.conv.clone(),
            seq: item.seq(),
        })
    }

    /// How far this stream has delivered `conv` (its acked position after
    /// a restart).
    pub fn position(&self, conv: &ConvId) -> Seq {
        self.next.get(conv).copied().unwrap_or(0)
    }

    /// The consumer name (None for an ephemeral stream).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Reads the entries after the positions into the buffer, off the
    /// async executor (a blocking-pool thread with its own connection).
    async fn refill(&mut self) -> Result<(), Error> {
        let reader = self.client.take_reader()?;
        let next = self.next.clone();
        let mut awaiting = self.awaiting_join.clone();
        let opts = self.opts.clone();
        let me = self.client.user().unwrap_or_default();
        let (reader, read) = tokio::task::spawn_blocking(move || {
            let read = collect(&*reader, &next, &mut awaiting, &opts, &me);
            (reader, read.map(|r| (r, awaiting)))
        })
        .await
        .map_err(|_| Error::DriverGone)?;
        self.client.put_reader(reader);
        let ((items, moved), awaiting) = read?;
        self.next.extend(moved);
        self.awaiting_join = awaiting;
        self.buffer.extend(items);
        Ok(())
    }
}

fn covers(convs: &Convs, conv: &ConvId) -> bool {
    match convs {
        Convs::All => true,
        Convs::Only(list) => list.contains(conv),
    }
}

/// The contiguous entries after each position, filtered; and the positions
/// moved past them (filtered-out entries included).
type Collected = (Vec<StreamItem>, Vec<(ConvId, Seq)>);

/// `awaiting` holds the conversations (with `since_joined`) whose joining
/// entry is still ahead; one read from its beginning joins it here.
fn collect(
    reader: &dyn Store,
    next: &BTreeMap<ConvId, Seq>,
    awaiting: &mut BTreeSet<ConvId>,
    opts: &StreamOptions,
    me: &str,
) -> Result<Collected, StoreError> {
    let mut rows = reader.conversations()?;
    rows.sort_by(|a, b| a.conv.cmp(&b.conv));
    let (mut items, mut moved) = (Vec::new(), Vec::new());
    for row in rows.iter().filter(|r| covers(&opts.convs, &r.conv)) {
        if items.len() >= BUFFER {
            break;
        }
        let pos = next.get(&row.conv).copied().unwrap_or(0);
        if opts.since_joined && pos == 0 {
            awaiting.insert(row.conv.clone());
        }
        if row.last_seq <= pos {
            continue;
        }
        let window = reader.timeline(
            &row.conv,
            TimelineQuery::After {
                seq: pos,
                limit: PAGE,
            },
        )?;
        let mut at = pos;
        for item in window {
            // Stop at the first hole: the engine is fetching it.
            let TimelineItem::Message(m) = item else {
                break;
            };
            if m.seq != at + 1 {
                break;
            }
            at = m.seq;
            if awaiting.contains(&row.conv) {
                if !m.adds_member(me) {
                    continue; // said before the user came
                }
                awaiting.remove(&row.conv);
            }
            let own = m.sender == me;
            let kind_ok = opts.kinds.as_ref().is_none_or(|k| k.contains(&m.kind));
            if (opts.include_own || !own) && kind_ok {
                items.push(StreamItem {
                    conv: row.conv.clone(),
                    arrival: if m.live {
                        Arrival::Live
                    } else {
                        Arrival::CatchUp
                    },
                    message: m,
                });
            }
        }
        if at > pos {
            moved.push((row.conv.clone(), at));
        }
    }
    Ok((items, moved))
}

/// The client id of a stream reply: `r` and 32 hex digits of a 128-bit
/// FNV-1a hash of the consumer name and the item's `(conv, seq)`. The same
/// inputs give the same id in every run and on every platform.
pub fn reply_id(consumer: &str, conv: &ConvId, seq: Seq) -> String {
    effect_id(consumer, conv, seq, "")
}

/// [`reply_id`] for another effect of handling the item (`""` is the
/// plain reply): the effect's name is hashed after the rest.
fn effect_id(consumer: &str, conv: &ConvId, seq: Seq, effect: &str) -> String {
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    let prime: u128 = 0x0000000001000000000000000000013b;
    for b in consumer
        .bytes()
        .chain([0])
        .chain(conv.as_str().bytes())
        .chain([0])
        .chain(seq.to_be_bytes())
        .chain((!effect.is_empty()).then_some(0))
        .chain(effect.bytes())
    {
        h ^= u128::from(b);
        h = h.wrapping_mul(prime);
    }
    format!("r{h:032x}")
}
