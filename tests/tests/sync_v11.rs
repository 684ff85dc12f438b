//! Protocol 1.1 end to end: sync-core clients (several users, several
//! devices) against the real server-mock, in process on 127.0.0.1:0.
//! Replies and `load_thread`, reactions, mention counts, settings across
//! devices, list order, and `Unsupported` against a `Features::NONE` server.

use std::time::Duration;

use server_mock::{Config, DbLocation, Features};
use sync_core::protocol::{ConvId, EntryKind, Seq};
use sync_core::{
    Client, ClientBuilder, Error, Event, Events, LocalMessage, Notify, SettingsChange,
    TimelineItem, TimelineQuery,
};

const WAIT: Duration = Duration::from_secs(20);
const PASSWORD: &str = "password-123";

async fn server(features: Features) -> anyhow::Result<server_mock::RunningServer> {
    Ok(server_mock::start(Config {
        db: DbLocation::Memory,
        listen: "127.0.0.1:0".parse()?,
        features,
        ..Default::default()
    })
    .await?)
}

/// A device of `name`: its own store; registers the user when `new`.
async fn device(
    url: &str,
    dir: &tempfile::TempDir,
    name: &str,
    dev: &str,
    new: bool,
) -> anyhow::Result<(Client, Events)> {
    let (c, e) = ClientBuilder::new(
        url,
        dir.path().join(format!("{name}-{dev}.db")),
        format!("{name}-{dev}"),
    )
    .open()?;
    if new {
        c.register(name, PASSWORD).await?;
    } else {
        c.login(name, PASSWORD).await?;
    }
    c.wait_live(WAIT).await?;
    Ok((c, e))
}

/// A server serving `features` and one registered device per name.
async fn world<const N: usize>(
    features: Features,
    names: [&str; N],
) -> anyhow::Result<(
    server_mock::RunningServer,
    String,
    tempfile::TempDir,
    [(Client, Events); N],
)> {
    let server = server(features).await?;
    let url = server.url();
    let dir = tempfile::tempdir()?;
    let mut devices = Vec::new();
    for name in names {
        devices.push(device(&url, &dir, name, "a", true).await?);
    }
    let devices = devices
        .try_into()
        .map_err(|_| anyhow::anyhow!("device count"))?;
    Ok((server, url, dir, devices))
}

/// Polls `f` until it answers Some (every 20 ms, up to [`WAIT`]).
async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> anyhow::Result<T> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn held(c: &Client, conv: &ConvId, seq: Seq) -> Option<LocalMessage> {
    c.timeline(conv, TimelineQuery::Latest { limit: 1000 })
        .ok()?
        .into_iter()
        .find_map(|i| match i {
            TimelineItem::Message(m) if m.seq == seq => Some(m),
            _ => None,
        })
}

/// (key, count, mine) of a held text.
fn reactions(c: &Client, conv: &ConvId, seq: Seq) -> Vec<(String, u64, bool)> {
    held(c, conv, seq)
        .map(|m| {
            m.reactions
                .into_iter()
                .map(|r| (r.key, r.count, r.mine))
                .collect()
        })
        .unwrap_or_default()
}

fn unsupported<T: std::fmt::Debug>(e: Result<T, Error>, f: &str) {
    assert!(
        matches!(&e, Err(Error::Unsupported(g)) if *g == f),
        "{f}: {e:?}"
    );
}

fn r(key: &str, count: u64, mine: bool) -> (String, u64, bool) {
    (key.to_owned(), count, mine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_and_load_thread_on_the_real_server() -> anyhow::Result<()> {
    let (_server, url, dir, [(alice, _ea), (bob, _eb), (carol, _ec)]) =
        world(Features::ALL, ["alice", "bob", "carol"]).await?;
    let conv = alice.create_group("g", &["bob", "carol"]).await?;
    let root = alice.send_and_wait(&conv, "root", WAIT).await?;
    eventually("bob holds the root", || held(&bob, &conv, root)).await?;
    let r1 = bob.send_reply_and_wait(&conv, root, "r1", WAIT).await?;
    eventually("carol holds r1", || held(&carol, &conv, r1)).await?;
    // A reply to a reply: same thread.
    let r2 = carol.send_reply_and_wait(&conv, r1, "r2", WAIT).await?;
    let other = alice.send_and_wait(&conv, "other", WAIT).await?;
    assert_eq!((root, r1, r2, other), (2, 3, 4, 5));
    let m = eventually("carol's own reply is stored", || held(&carol, &conv, r2)).await?;
    assert_eq!((m.reply_to, m.thread), (Some(3), Some(2)));

    // A fresh device of dave's? No: of carol's, with nothing held.
    let (carol2, _e) = device(&url, &dir, "carol", "b", false).await?;
    carol2.load_thread(&conv, root).await?;
    let w = carol2.thread(&conv, root)?;
    assert!(w.complete);
    let root_msg = w.root.expect("the root is held");
    assert_eq!(
        (
            root_msg.seq,
            root_msg.body.as_deref(),
            root_msg.replies,
            root_msg.last_reply_seq
        ),
        (2, Some("root"), 2, Some(4))
    );
    let replies: Vec<_> = w
        .items
        .iter()
        .map(|i| match i {
            TimelineItem::Message(m) => (
                m.seq,
                m.sender.clone(),
                m.reply_to,
                m.thread,
                m.body.clone(),
            ),
            other => panic!("not a held reply: {other:?}"),
        })
        .collect();
    assert_eq!(
        replies,
        [
            (3, "bob".into(), Some(2), Some(2), Some("r1".into())),
            (4, "carol".into(), Some(3), Some(2), Some("r2".into()))
        ]
    );
    // A reply that is not a text's: the server's not_found.
    let err = bob.send_reply_and_wait(&conv, 99, "x", WAIT).await;
    assert!(
        matches!(
            err,
            Err(Error::Server {
                code: sync_core::protocol::ErrorCode::NotFound,
                ..
            })
        ),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_counts_mine_and_other_devices() -> anyhow::Result<()> {
    let (_server, url, dir, [(alice, _ea), (bob, _eb), (carol, _ec)]) =
        world(Features::ALL, ["alice", "bob", "carol"]).await?;
    let conv = alice.create_group("g", &["bob", "carol"]).await?;
    let t = alice.send_and_wait(&conv, "react to me", WAIT).await?;
    eventually("bob holds t", || held(&bob, &conv, t)).await?;
    eventually("carol holds t", || held(&carol, &conv, t)).await?;
    bob.react_and_wait(&conv, t, "👍", WAIT).await?;
    carol.react_and_wait(&conv, t, "👍", WAIT).await?;
    alice.react_and_wait(&conv, t, "🎉", WAIT).await?;
    // The same reaction twice: conflict.
    let again = bob.react_and_wait(&conv, t, "👍", WAIT).await;
    assert!(
        matches!(
            again,
            Err(Error::Server {
                code: sync_core::protocol::ErrorCode::Conflict,
                ..
            })
        ),
        "{again:?}"
    );
    let want_alice = vec![r("👍", 2, false), r("🎉", 1, true)];
    eventually("alice's counts", || {
        (reactions(&alice, &conv, t) == want_alice).then_some(())
    })
    .await?;
    let want_bob = vec![r("👍", 2, true), r("🎉", 1, false)];
    eventually("bob's counts", || {
        (reactions(&bob, &conv, t) == want_bob).then_some(())
    })
    .await?;

    // bob withdraws his; everyone's counts drop.
    bob.unreact_and_wait(&conv, t, "👍", WAIT).await?;
    let want = vec![r("🎉", 1, true), r("👍", 1, false)];
    eventually("alice sees the withdrawal", || {
        (reactions(&alice, &conv, t) == want).then_some(())
    })
    .await?;
    assert!(matches!(
        bob.unreact_and_wait(&conv, t, "👍", WAIT).await,
        Err(Error::Invalid { field: "key", .. })
    ));

    // carol's second device: totals from the server's page; her own 👍 is
    // "mine" once its entry is held (the page holds it), so she can withdraw
    // it from there.
    let (carol2, _e) = device(&url, &dir, "carol", "b", false).await?;
    carol2.open(&conv).await?;
    let want = vec![r("🎉", 1, false), r("👍", 1, true)];
    eventually("carol2's counts", || {
        (reactions(&carol2, &conv, t) == want).then_some(())
    })
    .await?;
    carol2.unreact_and_wait(&conv, t, "👍", WAIT).await?;
    let want = vec![r("🎉", 1, false)];
    eventually("carol's first device follows", || {
        (reactions(&carol, &conv, t) == want).then_some(())
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mention_counts_across_pushes_reads_and_devices() -> anyhow::Result<()> {
    let (_server, url, dir, [(alice, _ea), (bob, _eb)]) =
        world(Features::ALL, ["alice", "bob"]).await?;
    let conv = alice.create_group("g", &["bob"]).await?;
    alice.send_and_wait(&conv, "hi @bob", WAIT).await?;
    alice.send_and_wait(&conv, "plain", WAIT).await?;
    let last = alice.send_and_wait(&conv, "@bob. again", WAIT).await?;
    let counts = |c: &Client| {
        c.conversation(&conv)
            .ok()
            .flatten()
            .map(|r| (r.unread, r.mentions))
    };
    eventually("bob's pushed counts", || {
        (counts(&bob) == Some((3, 2))).then_some(())
    })
    .await?;
    let m = held(&bob, &conv, last).expect("held");
    assert_eq!(
        (m.mentions.clone(), m.mentions_me),
        (vec!["bob".to_owned()], true)
    );

    // A second device learns the count from its summary.
    let (bob2, _e2) = device(&url, &dir, "bob", "b", false).await?;
    assert_eq!(counts(&bob2), Some((3, 2)));
    // A read on one device clears both.
    bob.mark_all_read(&conv).await?;
    assert_eq!(counts(&bob), Some((0, 0)));
    eventually("bob2 follows the read", || {
        (counts(&bob2) == Some((0, 0))).then_some(())
    })
    .await?;
    // A new mention after the read counts on both.
    alice.send_and_wait(&conv, "@bob once more", WAIT).await?;
    eventually("both count the new mention", || {
        (counts(&bob) == Some((1, 1)) && counts(&bob2) == Some((1, 1))).then_some(())
    })
    .await?;
    // alice never mentions herself.
    assert_eq!(counts(&alice).map(|c| c.1), Some(0));
    // Her own copy, stored from the `sent` reply (which carries no list),
    // gets the mentions from the push that follows it.
    eventually("alice's own copy names bob", || {
        held(&alice, &conv, last)
            .filter(|m| m.mentions == ["bob"] && !m.mentions_me)
            .map(drop)
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_reach_the_other_device_and_order_the_list() -> anyhow::Result<()> {
    let (_server, url, dir, [(alice, _ea), (bob, _eb)]) =
        world(Features::ALL, ["alice", "bob"]).await?;
    let older = alice.create_group("older", &["bob"]).await?;
    alice.send_and_wait(&older, "1", WAIT).await?;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let newer = alice.create_group("newer", &["bob"]).await?;
    alice.send_and_wait(&newer, "2", WAIT).await?;
    let (bob2, mut bob2_events) = device(&url, &dir, "bob", "b", false).await?;
    let ids = |rows: Vec<sync_core::ConvRow>| rows.into_iter().map(|r| r.conv).collect::<Vec<_>>();
    eventually("bob lists both", || {
        (ids(bob.conversations().ok()?) == [newer.clone(), older.clone()]).then_some(())
    })
    .await?;

    bob.set_settings(
        &older,
        SettingsChange {
            notify: Some(Notify::Mentions),
            pinned: Some(true),
            archived: None,
        },
    )
    .await?;
    // bob2 hears it as an event, without a restart: some
    // `ConversationsChanged` naming `older` (earlier ones, from its catch-up,
    // may still be queued) is followed by the new values in its store.
    let changed = |b: &Client| {
        b.conversation(&older)
            .ok()
            .flatten()
            .is_some_and(|r| r.pinned && r.notify == Notify::Mentions)
    };
    let e = tokio::time::timeout(WAIT, async {
        loop {
            match bob2_events.recv().await {
                Some(Event::ConversationsChanged(convs))
                    if convs.contains(&older) && changed(&bob2) =>
                {
                    break Some(());
                }
                Some(_) => {}
                None => break None,
            }
        }
    })
    .await?;
    assert!(e.is_some(), "bob2's events ended");
    let row = bob2.conversation(&older)?.expect("held");
    assert_eq!(
        (row.notify, row.pinned, row.archived),
        (Notify::Mentions, true, false)
    );
    assert_eq!(ids(bob2.conversations()?), [older.clone(), newer.clone()]);
    assert_eq!(ids(bob.conversations()?), [older.clone(), newer.clone()]);
    // alice's own settings are untouched.
    let row = alice.conversation(&older)?.expect("held");
    assert_eq!((row.notify, row.pinned), (Notify::All, false));

    bob2.set_settings(
        &newer,
        SettingsChange {
            archived: Some(true),
            ..Default::default()
        },
    )
    .await?;
    eventually("bob sees the archive", || {
        (ids(bob.conversations().ok()?) == [older.clone()]).then_some(())
    })
    .await?;
    assert_eq!(
        ids(bob.archived_conversations()?),
        std::slice::from_ref(&newer)
    );
    assert_eq!(
        ids(bob2.archived_conversations()?),
        std::slice::from_ref(&newer)
    );
    // An archived conversation is still found.
    assert_eq!(
        bob.find_conversation("newer")?.map(|r| r.conv),
        Some(newer.clone())
    );
    // Nothing to change is the caller's mistake.
    assert!(matches!(
        bob.set_settings(&older, SettingsChange::default()).await,
        Err(Error::Invalid { .. })
    ));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_server_answers_unsupported_and_the_rest_works() -> anyhow::Result<()> {
    let (_server, _url, _dir, [(alice, _ea), (bob, _eb)]) =
        world(Features::NONE, ["alice", "bob"]).await?;
    for f in [
        "reply",
        "reactions",
        "mentions",
        "settings",
        "redaction",
        "account",
    ] {
        assert!(!alice.supports(f), "{f}");
    }
    let conv = alice.create_group("g", &["bob"]).await?;
    let t = alice.send_and_wait(&conv, "hello @bob", WAIT).await?;
    unsupported(alice.send_reply(&conv, t, "r").await, "reply");
    unsupported(
        alice.send_reply_and_wait(&conv, t, "r", WAIT).await,
        "reply",
    );
    unsupported(alice.thread(&conv, t), "reply");
    unsupported(alice.load_thread(&conv, t).await, "reply");
    unsupported(alice.react(&conv, t, "👍").await, "reactions");
    unsupported(
        alice.react_and_wait(&conv, t, "👍", WAIT).await,
        "reactions",
    );
    unsupported(alice.unreact(&conv, t, "👍").await, "reactions");
    unsupported(
        alice
            .set_settings(
                &conv,
                SettingsChange {
                    pinned: Some(true),
                    ..Default::default()
                },
            )
            .await,
        "settings",
    );
    assert!(alice.outbox()?.is_empty(), "nothing was queued");

    // send, edit, redact and read still work, and no §9 value appears.
    let e = alice.send_and_wait(&conv, "to edit", WAIT).await?;
    alice.edit(&conv, e, "edited").await?;
    alice.redact(&conv, t).await?;
    eventually("bob sees the edit and the redaction", || {
        let edited = held(&bob, &conv, e)?;
        let gone = held(&bob, &conv, t)?;
        (edited.body.as_deref() == Some("edited") && edited.edited && gone.redacted).then_some(())
    })
    .await?;
    let row = bob.conversation(&conv)?.expect("held");
    assert_eq!(
        (
            row.unread,
            row.mentions,
            row.notify,
            row.pinned,
            row.archived
        ),
        (2, 0, Notify::All, false, false)
    );
    let texts: Vec<_> = bob
        .timeline(&conv, TimelineQuery::Latest { limit: 100 })?
        .into_iter()
        .filter_map(|i| match i {
            TimelineItem::Message(m) if m.kind == EntryKind::Text => {
                Some((m.seq, m.body, m.mentions, m.reactions.len(), m.thread))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        [
            (2, None, vec![], 0, None),
            (3, Some("edited".into()), vec![], 0, None)
        ]
    );
    bob.mark_all_read(&conv).await?;
    assert_eq!(bob.conversation(&conv)?.map(|r| r.unread), Some(0));
    Ok(())
}
