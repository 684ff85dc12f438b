//! Several nodes on one database (`--cluster nats://HOST:PORT`): every node
//! publishes what its commits fan out, once, on NATS, and delivers what the
//! other nodes publish to its own connections.
//!
//! - **Subjects.** A conversation's pushes (entries, receipts, typing) go on
//!   `convo.<server_id>.c.<conv>`; a user's own events (`conversation`,
//!   `settings`, `read` for their other devices, session revocation) on
//!   `convo.<server_id>.u.<hex(user)>`. One publish per event, whatever the
//!   group's size; the recipients travel in the message, computed by the
//!   node that committed it (a large group's list once, then by its id:
//!   [`lists`]).
//! - **Interest.** A node subscribes to the user subject of each user with a
//!   connection on it, and to the subject of each conversation one of them
//!   belongs to, counted per conversation ([`Interest`]). The list is read
//!   at a user's first connection, and again when a `conversation` event
//!   reaches one of the user's connections (a join, a new group); it is
//!   dropped with the user's last connection.
//! - **Order.** Entry pushes of a subscribed conversation, local or remote,
//!   go through one [`order`] task per node that delivers them in seq order
//!   with none skipped ([`sequence`]): it holds back a push until the seqs
//!   before it have come (and every push of a conversation a
//!   `conversation` event just announced, until the user's interest is
//!   refreshed and the start known; the event itself, and the user's
//!   events after it, until the node listens), and reads from the database what has
//!   not come within [`order::GAP_WAIT`] (store then push: the bus is the
//!   fast path, the database the guarantee). A sweep every second and
//!   after each NATS reconnection reads what never came at all (a node
//!   killed between its commit and its publish, messages lost while NATS
//!   was down).
//! - **Typing** is best effort: it crosses nodes when NATS is up.

pub mod limits;
pub mod lists;
pub mod order;
mod sequence;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::{Reject, StoreError};
use crate::params;
use crate::registry::Registry;
use crate::store::Store;
use crate::store::batch::{Fanout, Route, sql};
use crate::store::members::Members;
use crate::store::sql::{Db, DbExt, Param, values_list};

/// What the order task is handed.
#[derive(Debug)]
pub enum Inbound {
    /// Fan-out of this node's committed batch (or a typing event): published,
    /// then delivered here.
    Local(Vec<Fanout>),
    /// A message from another node.
    Remote(async_nats::Message),
    /// Hold `conv`'s pushes until its [`Inbound::Start`] (a local user
    /// belongs to it now; sent before subscribing).
    Track(i64),
    /// Deliver `conv`'s pushes from seq `start` on; `head` is its last seq
    /// in the database once subscribed (what lies between is read from it).
    Start { conv: i64, start: u64, head: u64 },
    /// Stop ordering `conv`'s pushes.
    Untrack(i64),
    /// The interest refresh that a `conversation` event about `conv`
    /// started is over (the order task held `conv`'s pushes meanwhile).
    Settle(i64),
    /// Read what never came: `force` after a NATS reconnection.
    Sweep { force: bool },
}

/// The delivery task's and handlers' way into the order task.
pub type Inbox = mpsc::UnboundedSender<Inbound>;

/// How long a node waits for NATS to confirm its subscriptions before
/// answering a log-in anyway (the sweep covers what that misses).
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// The bus message header; the frame follows after a newline.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Header {
    /// Recipients (left out of an entry push to a large group whose list
    /// the other nodes have: [`lists`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub u: Vec<String>,
    /// The id of a large group's recipient list, sent with it or instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<u64>,
    /// Conversation, for a conversation's pushes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<i64>,
    /// Seq, for an entry's push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<u64>,
    /// A `conversation` event: the user's memberships may have changed;
    /// the conversation and the first seq pushed to the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<(i64, u64)>,
    /// Some of the user's sessions were revoked: re-check their tokens.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoke: bool,
}

/// Encodes a fan-out for the bus; a large group's list only when `whole`
/// ([`lists::Sent::whole`]), its id always.
pub(crate) fn encode(f: &Fanout, whole: bool) -> bytes::Bytes {
    let nameable = lists::nameable(f);
    let mut h = Header {
        u: if whole || !nameable {
            f.users.to_vec()
        } else {
            Vec::new()
        },
        v: nameable.then(|| f.users.id()),
        ..Header::default()
    };
    match f.route {
        Route::Conv { conv, seq } => {
            h.c = Some(conv);
            h.s = seq;
        }
        Route::User { joined } => h.m = joined,
    }
    let mut out = serde_json::to_vec(&h).unwrap_or_default();
    out.push(b'\n');
    out.extend_from_slice(f.frame.as_bytes());
    out.into()
}

/// Decodes a bus message: its header and, unless it is a control message,
/// the fan-out it carries (no connection excepted: connection ids are per
/// node). The recipients move from the header into the fan-out. A push
/// that names its list without it has no recipients here: the order task
/// looks the list up ([`lists::Known`]).
pub(crate) fn decode(payload: &[u8]) -> Option<(Header, Option<Fanout>)> {
    let split = payload.iter().position(|&b| b == b'\n')?;
    let mut header: Header = serde_json::from_slice(&payload[..split]).ok()?;
    let frame = std::str::from_utf8(&payload[split + 1..]).ok()?;
    if header.revoke {
        return Some((header, None));
    }
    let route = match header.c {
        Some(conv) => Route::Conv {
            conv,
            seq: header.s,
        },
        None => Route::User { joined: header.m },
    };
    let f = Fanout {
        // Moved, not copied: a large group's list is thousands of names.
        users: Arc::new(match header.v {
            Some(id) => Members::with_id(std::mem::take(&mut header.u), id),
            None => Members::new(std::mem::take(&mut header.u)),
        }),
        frame: frame.to_owned().into(),
        except: None,
        route,
    };
    Some((header, Some(f)))
}

/// A task aborted when dropped (so its NATS subscription ends).
#[derive(Debug)]
struct Owned(JoinHandle<()>);

impl Drop for Owned {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Debug)]
struct UserSub {
    conns: usize,
    convs: HashSet<i64>,
    _sub: Owned,
}

#[derive(Debug)]
struct ConvSub {
    users: usize,
    _sub: Owned,
}

/// What this node is subscribed to and why.
#[derive(Debug, Default)]
struct Interest {
    users: HashMap<String, UserSub>,
    convs: HashMap<i64, ConvSub>,
}

/// This node's membership of the cluster.
#[derive(Debug)]
pub struct Cluster {
    nats: async_nats::Client,
    /// To the publisher task: the order task never waits for NATS.
    outgoing: mpsc::Sender<(String, bytes::Bytes)>,
    /// Sends spent here, not yet told to the other nodes.
    spent: limits::Spent,
    prefix: String,
    store: Store,
    inbox: Inbox,
    interest: tokio::sync::Mutex<Interest>,
}

/// Connects to NATS at `url` (with TLS for `tls://`, or whenever `ca`
/// names the CA of the server's certificate). Reconnections are retried
/// forever, quickly (0.1 s, then up to 1 s apart); each one asks for a
/// forced sweep.
pub async fn connect(
    url: &str,
    ca: Option<&std::path::Path>,
    inbox: Inbox,
) -> Result<async_nats::Client, String> {
    let events = inbox.clone();
    let (url, login) = split_login(url);
    let mut options = match login {
        Some(Login::Password(user, password)) => {
            async_nats::ConnectOptions::with_user_and_password(user, password)
        }
        Some(Login::Token(token)) => async_nats::ConnectOptions::with_token(token),
        None => async_nats::ConnectOptions::new(),
    };
    if let Some(ca) = ca {
        if let Err(e) = std::fs::metadata(ca) {
            return Err(format!("--cluster-ca {}: {e}", ca.display()));
        }
        options = options
            .add_root_certificates(ca.to_owned())
            .require_tls(true);
    }
    options
        .name("server-mock")
        .no_echo()
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis(100 * (attempts as u64).clamp(1, 10))
        })
        .event_callback(move |ev| {
            let events = events.clone();
            async move {
                match ev {
                    async_nats::Event::Connected => {
                        tracing::info!("cluster bus connected");
                        let _ = events.send(Inbound::Sweep { force: true });
                    }
                    async_nats::Event::Disconnected => {
                        tracing::warn!("cluster bus disconnected; reconnecting");
                    }
                    other => tracing::warn!(event = %other, "cluster bus"),
                }
            }
        })
        .connect(url.as_str())
        .await
        .map_err(|e| {
            let hint = if e.to_string().contains("certificate") {
                " (--cluster-ca names the CA that signed the NATS server's certificate)"
            } else {
                ""
            };
            format!("cannot reach NATS at {url}: {e}{hint}")
        })
}

/// How a node logs in to NATS, from the URL's `USER:PASSWORD@` (or
/// `TOKEN@`).
#[derive(Debug, PartialEq, Eq)]
enum Login {
    Password(String, String),
    Token(String),
}

/// `url` without its credentials (which are never logged or printed), and
/// the credentials, percent-decoded.
fn split_login(url: &str) -> (String, Option<Login>) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (url.to_owned(), None);
    };
    let decode = crate::store::pg_tls::percent_decode;
    let login = match rest[..at].split_once(':') {
        Some((user, password)) => Login::Password(decode(user), decode(password)),
        None => Login::Token(decode(&rest[..at])),
    };
    let bare = match scheme {
        "" => rest[at + 1..].to_owned(),
        _ => format!("{scheme}://{}", &rest[at + 1..]),
    };
    (bare, Some(login))
}

impl Cluster {
    /// Starts this node's order task. `rx` is the receiving end of the
    /// inbox the delivery task was given.
    pub fn start(
        nats: async_nats::Client,
        server_id: &str,
        store: Store,
        registry: Arc<Registry>,
        features: crate::Features,
        inbox: Inbox,
        rx: mpsc::UnboundedReceiver<Inbound>,
    ) -> (Arc<Cluster>, JoinHandle<()>) {
        let (outgoing, queue) = mpsc::channel(PUBLISH_QUEUE);
        tokio::spawn(publisher(nats.clone(), queue));
        let cluster = Arc::new(Cluster {
            nats,
            outgoing,
            spent: Default::default(),
            prefix: format!("convo.{server_id}"),
            store,
            inbox,
            interest: Default::default(),
        });
        let task = tokio::spawn(order::run(cluster.clone(), registry, features, rx));
        (cluster, task)
    }

    fn conv_subject(&self, conv: i64) -> String {
        format!("{}.c.{conv}", self.prefix)
    }

    fn user_subject(&self, user: &str) -> String {
        format!("{}.u.{}", self.prefix, hex::encode(user))
    }

    /// The subject a fan-out is published on.
    pub(crate) fn subject(&self, f: &Fanout) -> Option<String> {
        match f.route {
            Route::Conv { conv, .. } => Some(self.conv_subject(conv)),
            Route::User { .. } => f.users.first().map(|u| self.user_subject(u)),
        }
    }

    /// Queues `f` for the other nodes (after the commit that caused it).
    /// While NATS is away and the queue is full, it is dropped: the other
    /// nodes read what they missed from the database.
    pub(crate) fn publish(&self, f: &Fanout, whole: bool) {
        if let Some(subject) = self.subject(f) {
            self.queue(subject, encode(f, whole));
        }
    }

    fn queue(&self, subject: String, payload: bytes::Bytes) {
        if self.outgoing.try_send((subject, payload)).is_err() {
            tracing::warn!("cluster publish queue full; other nodes read from the database");
        }
    }

    /// Queues `f` (a typing event) for publishing and local delivery.
    pub fn fan_out(&self, f: Fanout) {
        let _ = self.inbox.send(Inbound::Local(vec![f]));
    }

    /// Tells the other nodes that some of `user`'s sessions were revoked.
    pub fn revoked(&self, user: &str) {
        let h = Header {
            u: vec![user.to_owned()],
            revoke: true,
            ..Header::default()
        };
        let mut payload = serde_json::to_vec(&h).unwrap_or_default();
        payload.push(b'\n');
        self.queue(self.user_subject(user), payload.into());
    }

    async fn subscribe(&self, subject: String) -> Result<Owned, Reject> {
        let mut sub = self
            .nats
            .subscribe(subject)
            .await
            .map_err(|e| Reject::from(StoreError::Reader(format!("cluster subscribe: {e}"))))?;
        let inbox = self.inbox.clone();
        Ok(Owned(tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                if inbox.send(Inbound::Remote(m)).is_err() {
                    break;
                }
            }
        })))
    }

    /// A connection of `user` authenticated: subscribes to what it needs
    /// before the `session` reply, so that everything committed after that
    /// reply reaches it, from whichever node.
    pub async fn attach(&self, user: &str) -> Result<(), Reject> {
        let mut g = self.interest.lock().await;
        if let Some(u) = g.users.get_mut(user) {
            u.conns += 1;
            return Ok(());
        }
        let sub = self.subscribe(self.user_subject(user)).await?;
        g.users.insert(
            user.to_owned(),
            UserSub {
                conns: 1,
                convs: HashSet::new(),
                _sub: sub,
            },
        );
        self.reconcile(&mut g, user, None).await
    }

    /// The last connection of `user` may have closed.
    pub async fn detach(&self, user: &str) {
        let mut g = self.interest.lock().await;
        let Some(u) = g.users.get_mut(user) else {
            return;
        };
        u.conns -= 1;
        if u.conns > 0 {
            return;
        }
        if let Some(u) = g.users.remove(user) {
            for conv in u.convs {
                self.release(&mut g, conv);
            }
        }
    }

    /// `user` (connected here) may have joined or left conversations;
    /// `joined` is `(conv, first seq to push)` from the `conversation`
    /// event that said so.
    /// Always ends with [`Inbound::Settle`] for `joined`'s conversation.
    pub async fn refresh(&self, user: &str, joined: Option<(i64, u64)>) {
        if crate::failpoint("slow-interest-refresh") {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut g = self.interest.lock().await;
        if g.users.contains_key(user)
            && let Err(e) = self.reconcile(&mut g, user, joined).await
        {
            tracing::warn!(%user, error = %e.message, "cluster interest refresh failed");
        }
        if let Some((conv, _)) = joined {
            let _ = self.inbox.send(Inbound::Settle(conv));
        }
    }

    fn release(&self, g: &mut Interest, conv: i64) {
        if let Some(c) = g.convs.get_mut(&conv) {
            c.users -= 1;
            if c.users == 0 {
                g.convs.remove(&conv);
                let _ = self.inbox.send(Inbound::Untrack(conv));
            }
        }
    }

    /// Makes `user`'s subscribed conversations their current memberships.
    /// A newly subscribed conversation's pushes start after its head once
    /// subscribed (at log-in: the client syncs after the `session` reply,
    /// which comes later), or at `joined`'s seq for the conversation a
    /// `conversation` event announced (a live client expects the push of
    /// the entry that made it a member and every one after; what came
    /// before the subscription is read from the database).
    async fn reconcile(
        &self,
        g: &mut Interest,
        user: &str,
        joined: Option<(i64, u64)>,
    ) -> Result<(), Reject> {
        let name = user.to_owned();
        let now: HashSet<i64> = self
            .store
            .read(move |db| user_convs(db, &name))
            .await?
            .into_iter()
            .collect();
        let before = g
            .users
            .get(user)
            .map(|u| u.convs.clone())
            .unwrap_or_default();
        for &conv in before.difference(&now) {
            self.release(g, conv);
        }
        let mut added = Vec::new();
        for &conv in now.difference(&before) {
            if let Some(c) = g.convs.get_mut(&conv) {
                c.users += 1;
                continue;
            }
            // Tracked before subscribed: whatever the subscription brings
            // is held for ordering.
            let _ = self.inbox.send(Inbound::Track(conv));
            let sub = self.subscribe(self.conv_subject(conv)).await?;
            g.convs.insert(
                conv,
                ConvSub {
                    users: 1,
                    _sub: sub,
                },
            );
            added.push(conv);
        }
        if let Some(u) = g.users.get_mut(user) {
            u.convs = now;
        }
        match tokio::time::timeout(FLUSH_WAIT, self.nats.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cluster flush failed"),
            Err(_) => tracing::warn!("cluster bus slow to confirm subscriptions"),
        }
        if !added.is_empty() {
            let ids = added.clone();
            let heads = self.store.read(move |db| read_heads(db, &ids)).await?;
            for (conv, head) in heads {
                let start = match joined {
                    Some((c, start)) if c == conv => start,
                    _ => head + 1,
                };
                let _ = self.inbox.send(Inbound::Start { conv, start, head });
            }
        }
        Ok(())
    }
}

/// Most frames queued for NATS (about a second of a busy node's fan-out).
const PUBLISH_QUEUE: usize = 65_536;

/// Publishes queued frames in order.
async fn publisher(nats: async_nats::Client, mut queue: mpsc::Receiver<(String, bytes::Bytes)>) {
    while let Some((subject, payload)) = queue.recv().await {
        if let Err(e) = nats.publish(subject, payload).await {
            tracing::warn!(error = %e, "cluster publish failed; other nodes read it from the database");
        }
    }
}

/// The conversations `user` is an active member of.
fn user_convs(db: &dyn Db, user: &str) -> Result<Vec<i64>, Reject> {
    db.query_map(
        "SELECT conv FROM members WHERE \"user\" = ?1 AND active = 1",
        params![user],
        |r| r.get(0),
    )
    .map_err(sql("read memberships"))
}

/// `(conv, last_seq)` of each conversation (0 for one that is gone).
/// One query per [`HEADS_CHUNK`] conversations (the sweep reads every
/// tracked one each second).
pub(crate) fn read_heads(db: &dyn Db, ids: &[i64]) -> Result<Vec<(i64, u64)>, Reject> {
    let mut found: HashMap<i64, u64> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(HEADS_CHUNK) {
        let args: Vec<&dyn Param> = chunk.iter().map(|c| c as &dyn Param).collect();
        let rows = db
            .query_map(
                &format!(
                    "SELECT id, last_seq FROM convs WHERE id IN (VALUES {})",
                    values_list(chunk.len(), &["BIGINT"])
                ),
                &args,
                |r| Ok((r.get::<i64>(0)?, r.get::<u64>(1)?)),
            )
            .map_err(sql("read heads"))?;
        found.extend(rows);
    }
    Ok(ids
        .iter()
        .map(|&c| (c, found.get(&c).copied().unwrap_or(0)))
        .collect())
}

/// Conversations per [`read_heads`] query.
const HEADS_CHUNK: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_url_that_is_printed() {
        let (url, login) = split_login("nats://u:p%40ss@nats.internal:4222");
        assert_eq!(url, "nats://nats.internal:4222");
        assert_eq!(login, Some(Login::Password("u".into(), "p@ss".into())));
        let (url, login) = split_login("tls://s3cret@10.0.0.5:4222");
        assert_eq!(url, "tls://10.0.0.5:4222");
        assert_eq!(login, Some(Login::Token("s3cret".into())));
        let (url, login) = split_login("nats://127.0.0.1:4222");
        assert_eq!((url.as_str(), login), ("nats://127.0.0.1:4222", None));
    }

    #[test]
    fn a_fanout_survives_the_bus_encoding() {
        let f = Fanout {
            users: Arc::new(Members::new(vec!["ann".into(), "bo b".into()])),
            frame: r#"{"type":"message"}"#.to_owned().into(),
            except: Some(7),
            route: Route::Conv {
                conv: 12,
                seq: Some(40),
            },
        };
        let (h, back) = decode(&encode(&f, true)).unwrap();
        let back = back.unwrap();
        assert_eq!((h.c, h.s, h.m, h.revoke), (Some(12), Some(40), None, false));
        assert_eq!(
            back.users.to_vec(),
            vec!["ann".to_owned(), "bo b".to_owned()]
        );
        assert_eq!(back.frame.as_str(), r#"{"type":"message"}"#);
        assert_eq!(back.except, None);
        assert_eq!(back.route, f.route);
    }

    #[test]
    fn a_membership_event_keeps_its_flag_and_garbage_is_refused() {
        let f = Fanout {
            users: Arc::new(Members::new(vec!["ann".into()])),
            frame: "{}".to_owned().into(),
            except: None,
            route: Route::User {
                joined: Some((3, 9)),
            },
        };
        let (_, back) = decode(&encode(&f, true)).unwrap();
        assert_eq!(
            back.unwrap().route,
            Route::User {
                joined: Some((3, 9))
            }
        );
        assert!(decode(b"no header here").is_none());
        assert!(decode(b"{\"c\":\"x\"}\n{}").is_none());
    }
}
