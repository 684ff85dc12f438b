//! sync-core's message stream against a real server-mock: catch-up and live
//! items, stored positions across a restart, replays, independent
//! consumers, gap fills, exactly-once replies, and a send burst that never
//! stalls the caller's executor.

#[path = "../src/syncbench/wire.rs"]
mod wire;

use std::path::Path;
use std::time::{Duration, Instant};

use server_mock::{Config, DbLocation, Features, RunningServer};
use sync_core::protocol::ConvId;
use sync_core::store::SqliteStore;
use sync_core::{
    Arrival, Client, ClientBuilder, Convs, Effect, Error, MessageStream, StartAt, StreamItem,
    StreamOptions,
};
use wire::RawConn;

const WAIT: Duration = Duration::from_secs(20);
const PASSWORD: &str = "stream-password";

async fn server() -> RunningServer {
    server_with(Features::ALL).await
}

async fn server_with(features: Features) -> RunningServer {
    server_mock::start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        db: DbLocation::Memory,
        features,
        send_rate_per_sec: 1e9,
        send_burst: 1_000_000_000,
        ..Config::default()
    })
    .await
    .unwrap()
}

/// A sync-core client for `user` on the store `db`: registered on first use,
/// resumed from the stored session afterwards.
async fn open(url: &str, db: &Path, user: &str) -> Client {
    let (client, _events) = ClientBuilder::new(url, db, format!("{user}-dev"))
        .open()
        .unwrap();
    if client.session().is_some() {
        client.resume(None).await.unwrap();
    } else {
        client.register(user, PASSWORD).await.unwrap();
    }
    client.wait_live(WAIT).await.unwrap();
    client
}

async fn next(stream: &mut MessageStream) -> StreamItem {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("a stream item in time")
        .unwrap()
}

/// The next `n` items.
async fn take(stream: &mut MessageStream, n: usize) -> Vec<StreamItem> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(next(stream).await);
    }
    out
}

/// Nothing more is stored for the stream right now.
async fn assert_drained(stream: &mut MessageStream) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let extra = stream.try_next().await.unwrap();
    assert!(extra.is_none(), "unexpected extra item {extra:?}");
}

fn bodies_in(items: &[StreamItem], conv: &ConvId) -> Vec<String> {
    items
        .iter()
        .filter(|i| &i.conv == conv)
        .map(|i| i.message.body.clone().unwrap_or_default())
        .collect()
}

fn arrivals_in(items: &[StreamItem], conv: &ConvId) -> Vec<Arrival> {
    items
        .iter()
        .filter(|i| &i.conv == conv)
        .map(|i| i.arrival)
        .collect()
}

async fn send(bob: &mut RawConn, conv: &ConvId, prefix: &str, bodies: &[&str]) {
    let n = bob
        .send_many(
            conv,
            prefix,
            bodies.iter().map(|b| (*b).to_owned()),
            bodies.len(),
        )
        .await
        .unwrap();
    assert_eq!(n, bodies.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_and_live_items_arrive_once_in_order_and_positions_survive_a_restart() {
    let server = server().await;
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("alice.db");
    let alice = open(&url, &db, "alice").await;
    let mut bob = RawConn::connect(&url).await.unwrap();
    bob.register("bob", PASSWORD, "bob-dev").await.unwrap();
    let dm = bob.create_direct("alice").await.unwrap();
    let group = bob.create_group("news", &["alice"]).await.unwrap();
    alice.wait_live(WAIT).await.unwrap();

    let mut s1 = alice.stream("s1", StreamOptions::texts()).await.unwrap();
    send(&mut bob, &dm, "d", &["d1", "d2", "d3"]).await;
    send(&mut bob, &group, "g", &["g1", "g2", "g3"]).await;
    let live = take(&mut s1, 6).await;
    assert_eq!(bodies_in(&live, &dm), ["d1", "d2", "d3"]);
    assert_eq!(bodies_in(&live, &group), ["g1", "g2", "g3"]);
    assert!(live.iter().all(|i| i.arrival == Arrival::Live), "{live:?}");
    // Handled: the three direct texts and the first group text.
    let g1 = live.iter().find(|i| i.conv == group).unwrap();
    s1.ack(g1).await.unwrap();
    let d3 = live.iter().rfind(|i| i.conv == dm).unwrap();
    s1.ack(d3).await.unwrap();
    assert_drained(&mut s1).await;
    drop(s1);
    alice.stop().await;
    drop(alice);

    // While alice is away: two direct texts and five group texts.
    send(&mut bob, &dm, "e", &["d4", "d5"]).await;
    send(&mut bob, &group, "h", &["g4", "g5", "g6", "g7", "g8"]).await;

    // The restarted stream resumes after the acks: g2 and g3 again (handed
    // out, never acked: at-least-once), then what was missed, pulled even
    // though groups are otherwise fetched only when opened.
    let alice = open(&url, &db, "alice").await;
    let mut s1 = alice.stream("s1", StreamOptions::texts()).await.unwrap();
    let resumed = take(&mut s1, 2 + 7).await;
    assert_eq!(bodies_in(&resumed, &dm), ["d4", "d5"]);
    assert_eq!(arrivals_in(&resumed, &dm), [Arrival::CatchUp; 2]);
    assert_eq!(
        bodies_in(&resumed, &group),
        ["g2", "g3", "g4", "g5", "g6", "g7", "g8"]
    );
    assert_eq!(
        arrivals_in(&resumed, &group),
        [
            Arrival::Live,
            Arrival::Live,
            Arrival::CatchUp,
            Arrival::CatchUp,
            Arrival::CatchUp,
            Arrival::CatchUp,
            Arrival::CatchUp
        ]
    );
    assert_drained(&mut s1).await;

    // A replay from the beginning under another name sees everything once,
    // and does not move s1's stored positions.
    let mut s2 = alice
        .stream(
            "s2",
            StreamOptions {
                from: StartAt::Beginning,
                ..StreamOptions::texts()
            },
        )
        .await
        .unwrap();
    let all = take(&mut s2, 5 + 8).await;
    assert_eq!(bodies_in(&all, &dm), ["d1", "d2", "d3", "d4", "d5"]);
    assert_eq!(
        bodies_in(&all, &group),
        ["g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8"]
    );
    assert_drained(&mut s2).await;
    for item in [&dm, &group] {
        s2.ack_to(item, 1_000).await.unwrap();
    }
    let stored = SqliteStore::open(&db).unwrap();
    let s1_pos = sync_core::store::Store::consumer(&stored, "s1")
        .unwrap()
        .unwrap();
    assert_eq!(s1_pos.get(&dm), Some(&d3.seq()), "{s1_pos:?}");
    assert_eq!(s1_pos.get(&group), Some(&g1.seq()), "{s1_pos:?}");
    let s2_pos = sync_core::store::Store::consumer(&stored, "s2")
        .unwrap()
        .unwrap();
    assert_eq!(s2_pos.get(&dm), Some(&1_000), "{s2_pos:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_is_filled_and_streamed_once_and_older_history_is_never_streamed() {
    let server = server().await;
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let mut bob = RawConn::connect(&url).await.unwrap();
    bob.register("bob", PASSWORD, "bob-dev").await.unwrap();
    let alice = open(&url, &dir.path().join("alice.db"), "alice").await;
    // Posted while alice is offline: her catch-up stores the group's
    // summary only (groups are lazy).
    alice.stop().await;
    let group = bob.create_group("big", &["alice"]).await.unwrap();
    let bodies: Vec<String> = (1..=1_200).map(|i| format!("m{i}")).collect();
    bob.send_many(&group, "b", bodies.clone(), 64)
        .await
        .unwrap();
    alice.start();
    alice.wait_live(WAIT).await.unwrap();

    // Opening the group stores its newest page only: a hole below it.
    // `open` resolves once the newest page is stored.
    alice.open(&group).await.unwrap();
    let newest = alice
        .timeline(&group, sync_core::TimelineQuery::Latest { limit: 1 })
        .unwrap();
    assert!(
        matches!(&newest[..], [sync_core::TimelineItem::Message(m)] if m.body.as_deref() == Some("m1200")),
        "{newest:?}"
    );
    alice.load_older(&group).await.unwrap();
    let held_before = alice.timeline_len(&group).unwrap();
    assert!(held_before < 1_000, "{held_before}");

    // A replay must fill the hole, and while the app also loads older
    // pages, stream each entry exactly once, in order.
    let mut replay = alice
        .stream(
            "replay",
            StreamOptions {
                from: StartAt::Beginning,
                convs: Convs::Only(vec![group.clone()]),
                ..StreamOptions::texts()
            },
        )
        .await
        .unwrap();
    let (older, _) = tokio::join!(alice.load_older(&group), async {});
    older.unwrap();
    let got = take(&mut replay, 1_200).await;
    assert_eq!(bodies_in(&got, &group), bodies);
    assert_drained(&mut replay).await;

    // From now on: the newest position; older pages loaded later are never
    // streamed, a new text is.
    let dir2 = tempfile::tempdir().unwrap();
    let carol = open(&url, &dir2.path().join("carol.db"), "carol").await;
    bob.request(|id| sync_core::protocol::ClientFrame::Invite {
        id,
        conv: group.clone(),
        users: vec!["carol".into()],
    })
    .await
    .unwrap();
    carol.wait_live(WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut fresh = carol
        .stream_ephemeral(StreamOptions {
            from: StartAt::Now,
            ..StreamOptions::texts()
        })
        .await
        .unwrap();
    carol.open(&group).await.unwrap();
    for _ in 0..3 {
        carol.load_older(&group).await.unwrap();
    }
    assert!(carol.timeline_len(&group).unwrap() > 50);
    send(&mut bob, &group, "n", &["newest"]).await;
    let item = next(&mut fresh).await;
    assert_eq!(item.message.body.as_deref(), Some("newest"));
    assert_drained(&mut fresh).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_commits_with_its_ack_under_an_id_derived_from_the_item() {
    let server = server().await;
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bot.db");
    let bot = open(&url, &db, "bot").await;
    let mut bob = RawConn::connect(&url).await.unwrap();
    bob.register("bob", PASSWORD, "bob-dev").await.unwrap();
    let dm = bob.create_direct("bot").await.unwrap();
    bot.wait_live(WAIT).await.unwrap();
    let mut echo = bot.stream("echo", StreamOptions::texts()).await.unwrap();
    let mut other = bot.stream("other", StreamOptions::texts()).await.unwrap();
    send(&mut bob, &dm, "x", &["ping"]).await;
    let item = next(&mut echo).await;
    let same = next(&mut other).await;
    assert_eq!(item.seq(), same.seq());
    bot.stop().await; // the reply stays in the outbox, visible below
    let id = echo.reply(&item, "pong").await.unwrap();
    assert_eq!(id, sync_core::stream::reply_id("echo", &dm, item.seq()));
    assert_ne!(id, sync_core::stream::reply_id("other", &dm, item.seq()));
    let store = SqliteStore::open(&db).unwrap();
    let positions = sync_core::store::Store::consumer(&store, "echo")
        .unwrap()
        .unwrap();
    assert_eq!(positions.get(&dm), Some(&item.seq()));
    let outbox = bot.outbox().unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].client_id, id);
    // The other consumer has not acked anything.
    let others = sync_core::store::Store::consumer(&store, "other")
        .unwrap()
        .unwrap();
    assert!(
        others.get(&dm).is_none_or(|p| *p < item.seq()),
        "{others:?}"
    );
    // Sending the same id again while it is queued adds nothing.
    let again = bot.send_with_id(&dm, &id, "pong").await.unwrap_err();
    assert!(
        matches!(again, sync_core::Error::AlreadyQueued(_)),
        "{again}"
    );
    server.shutdown().await;
}

/// A bot's threaded reply and reaction through the stream: each commits
/// with the item's ack under an id derived from the item and the effect,
/// so the same effects sent again (here from the bot's second device,
/// replaying the stream from the start) are the same requests: the server
/// answers them with the first `sent`, and holds one reply and one
/// reaction. (With fresh ids, the reaction came back `conflict` and stayed
/// in the outbox as failed, and the reply was doubled.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threaded_reply_and_a_reaction_from_a_stream_happen_once() {
    let server = server().await;
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let bot = open(&url, &dir.path().join("bot.db"), "bot").await;
    let mut bob = RawConn::connect(&url).await.unwrap();
    bob.register("bob", PASSWORD, "bob-dev").await.unwrap();
    let dm = bob.create_direct("bot").await.unwrap();
    send(&mut bob, &dm, "x", &["ping"]).await;
    let mut ids = Vec::new();
    for db in ["bot.db", "bot-second-device.db"] {
        let bot = match db {
            "bot.db" => bot.clone(),
            _ => {
                let (second, _events) =
                    ClientBuilder::new(url.as_str(), dir.path().join(db), "bot-dev-2")
                        .open()
                        .unwrap();
                second.login("bot", PASSWORD).await.unwrap();
                second.wait_live(WAIT).await.unwrap();
                second
            }
        };
        let replay = StreamOptions {
            from: StartAt::Beginning,
            ..StreamOptions::texts()
        };
        let mut echo = bot.stream("echo", replay).await.unwrap();
        let item = next(&mut echo).await;
        assert_eq!(item.message.body.as_deref(), Some("ping"));
        let reply = echo.reply_in_thread(&item, "pong").await.unwrap();
        let react = echo.react(&item, "👍").await.unwrap();
        ids.push((item.seq(), reply, react));
        tokio::time::timeout(WAIT, async {
            while !bot.outbox().unwrap().is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the outbox empties: both effects delivered, none failed");
        assert_drained(&mut echo).await;
    }
    assert_eq!(ids[0], ids[1], "the same item and effects, the same ids");
    let (ping, reply, react) = &ids[0];
    let ping = *ping;
    assert_ne!(reply, react);
    assert_ne!(*reply, sync_core::stream::reply_id("echo", &dm, ping));
    let entries = bob.pull_all(&dm).await.unwrap();
    let replies: Vec<_> = entries
        .iter()
        .filter(|m| m.reply_to == Some(ping))
        .map(|m| (m.sender.as_str(), m.body.as_deref(), m.thread))
        .collect();
    assert_eq!(replies, [("bot", Some("pong"), Some(ping))]);
    let reactions: Vec<_> = entries
        .iter()
        .filter(|m| m.kind == sync_core::protocol::EntryKind::Reaction)
        .map(|m| (m.sender.as_str(), m.target, m.key.as_deref()))
        .collect();
    assert_eq!(reactions, [("bot", Some(ping), Some("👍"))]);
    server.shutdown().await;
}

/// A bot answers a command with a ✅ and a threaded reply: `answer` queues
/// both and acks the command in one transaction (two single calls ack
/// twice, and a crash between them lost the second effect). The ids are
/// those of the single calls, so a replay is the same requests: the server
/// holds one reply and one reaction. Against a server lacking one of the
/// features, nothing is queued and the command is not acked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_effects_of_one_item_are_queued_with_its_ack_at_once() {
    let effects = [Effect::React("✅"), Effect::ReplyInThread("noted")];

    let old = server_with(Features {
        reply: true,
        ..Features::NONE
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let bot = open(&old.url(), &dir.path().join("bot-old.db"), "bot").await;
    let mut bob = RawConn::connect(&old.url()).await.unwrap();
    bob.register("bob", PASSWORD, "bob-dev").await.unwrap();
    let dm = bob.create_direct("bot").await.unwrap();
    let mut standup = bot.stream("standup", StreamOptions::texts()).await.unwrap();
    send(&mut bob, &dm, "x", &["!standup"]).await;
    let item = next(&mut standup).await;
    match standup.answer(&item, &effects).await {
        Err(Error::Unsupported("reactions")) => {}
        other => panic!("expected Unsupported(reactions), got {other:?}"),
    }
    assert_eq!(bot.outbox().unwrap(), [], "nothing queued");
    drop(standup);
    let mut again = bot.stream("standup", StreamOptions::texts()).await.unwrap();
    assert_eq!(next(&mut again).await.seq(), item.seq(), "not acked");
    old.shutdown().await;

    let server = server().await;
    let url = server.url();
    let bot = open(&url, &dir.path().join("bot.db"), "bot").await;
    let mut bob = RawConn::connect(&url).await.unwrap();
    bob.register("bob", PASSWORD, "bob-dev").await.unwrap();
    let dm = bob.create_direct("bot").await.unwrap();
    let mut standup = bot.stream("standup", StreamOptions::texts()).await.unwrap();
    send(&mut bob, &dm, "x", &["!standup"]).await;
    let item = next(&mut standup).await;
    let ids = standup.answer(&item, &effects).await.unwrap();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    tokio::time::timeout(WAIT, async {
        while !bot.outbox().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the outbox empties: both effects delivered, none failed");
    drop(standup);
    let mut restarted = bot.stream("standup", StreamOptions::texts()).await.unwrap();
    assert_drained(&mut restarted).await;

    // A replay answers again: the same ids as the single calls, the same
    // requests, nothing doubled on the server.
    let replay = StreamOptions {
        from: StartAt::Beginning,
        ..StreamOptions::texts()
    };
    let mut replayed = bot.stream("standup", replay).await.unwrap();
    let item = next(&mut replayed).await;
    assert_eq!(replayed.react(&item, "✅").await.unwrap(), ids[0]);
    assert_eq!(
        replayed.reply_in_thread(&item, "noted").await.unwrap(),
        ids[1]
    );
    tokio::time::timeout(WAIT, async {
        while !bot.outbox().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the replayed effects are acknowledged, none failed");
    let entries = bob.pull_all(&dm).await.unwrap();
    let effects: Vec<_> = entries
        .iter()
        .filter(|m| m.sender == "bot")
        .map(|m| {
            (
                m.kind,
                m.reply_to.or(m.target),
                m.body.as_deref(),
                m.key.as_deref(),
            )
        })
        .collect();
    use sync_core::protocol::EntryKind::{Reaction, Text};
    assert_eq!(
        effects,
        [
            (Reaction, Some(item.seq()), None, Some("✅")),
            (Text, Some(item.seq()), Some("noted"), None),
        ]
    );
    server.shutdown().await;
}

/// A 1,000-send burst from one task on a one-thread runtime: every send
/// resolves once committed, and a 1 ms ticker on the same thread is never
/// held up for long (before, each `send` blocked the thread until its commit).
#[test]
fn a_send_burst_never_stalls_a_ticker_on_the_same_thread() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(server());
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let one = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    one.block_on(async {
        let alice = open(&url, &dir.path().join("alice.db"), "alice").await;
        let mut bob = RawConn::connect(&url).await.unwrap();
        bob.register("bob", PASSWORD, "bob-dev").await.unwrap();
        let dm = bob.create_direct("alice").await.unwrap();
        alice.wait_live(WAIT).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let ticker = tokio::spawn(async move {
            let mut late = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut due = Instant::now();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                late.push(Instant::now().saturating_duration_since(due));
                due = Instant::now() + Duration::from_millis(1);
            }
            late
        });
        let sends: Vec<_> = (0..1_000)
            .map(|i| alice.send(&dm, &format!("burst {i}")))
            .collect();
        let ids = futures_util::future::join_all(sends).await;
        assert_eq!(ids.iter().filter(|r| r.is_ok()).count(), 1_000);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let late = ticker.await.unwrap();
        // Counted, not timed: ticks held up by more than 100 ms (the old
        // blocking `send` held the thread for about a second).
        let stalled = late
            .iter()
            .filter(|d| **d > Duration::from_millis(100))
            .count();
        assert_eq!(stalled, 0, "ticks held up: {stalled} of {}", late.len());
    });
    rt.block_on(server.shutdown());
}

/// The second store: a client on the in-memory store (any `Store` that
/// passes `store_integration_tests!`) syncs, sends, queries and streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_runs_on_any_store() {
    let server = server().await;
    let url = server.url();
    let store = sync_core::store::MemoryStore::new();
    let (alice, _events) = ClientBuilder::with_store(&url, store.clone(), "alice-dev")
        .open()
        .unwrap();
    alice.register("alice", PASSWORD).await.unwrap();
    alice.wait_live(WAIT).await.unwrap();
    let mut bob = RawConn::connect(&url).await.unwrap();
    bob.register("bob", PASSWORD, "bob-dev").await.unwrap();
    let dm = bob.create_direct("alice").await.unwrap();
    let mut s = alice
        .stream_ephemeral(StreamOptions::texts())
        .await
        .unwrap();
    send(&mut bob, &dm, "m", &["one", "two"]).await;
    assert_eq!(bodies_in(&take(&mut s, 2).await, &dm), ["one", "two"]);
    let seq = alice
        .send_and_wait(&dm, "three", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(seq, 4);
    // The app's handle and the store it passed in see the same data.
    let held = sync_core::store::Store::timeline_len(&store, &dm).unwrap();
    assert_eq!(held, alice.timeline_len(&dm).unwrap());
    assert_eq!(held, 4);
    server.shutdown().await;
}

/// `since_joined`: a bot invited to a group streams what is said from its
/// invite on, not the history before it; without it, the history comes
/// first. A group it was in from the start streams whole either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_joined_skips_a_group_s_history_from_before_the_invite() {
    let server = server().await;
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let alice = open(&url, &dir.path().join("alice.db"), "alice").await;
    let bot = open(&url, &dir.path().join("bot.db"), "bot").await;
    let opts = |since_joined| StreamOptions {
        since_joined,
        ..StreamOptions::texts()
    };
    let mut joined = bot.stream("joined", opts(true)).await.unwrap();
    let mut whole = bot.stream("whole", opts(false)).await.unwrap();

    let old = alice.create_group("old talk", &[]).await.unwrap();
    for body in ["before 1", "before 2", "before 3"] {
        alice.send_and_wait(&old, body, WAIT).await.unwrap();
    }
    alice.invite(&old, &["bot"]).await.unwrap();
    alice.send_and_wait(&old, "after", WAIT).await.unwrap();
    let fresh = alice.create_group("with bot", &["bot"]).await.unwrap();
    alice
        .send_and_wait(&fresh, "hello bot", WAIT)
        .await
        .unwrap();

    let got = take(&mut joined, 2).await;
    assert_eq!(bodies_in(&got, &old), ["after"]);
    assert_eq!(bodies_in(&got, &fresh), ["hello bot"]);
    assert_drained(&mut joined).await;
    let got = take(&mut whole, 5).await;
    assert_eq!(
        bodies_in(&got, &old),
        ["before 1", "before 2", "before 3", "after"]
    );
    assert_eq!(bodies_in(&got, &fresh), ["hello bot"]);
    assert_drained(&mut whole).await;
    server.shutdown().await;
}
