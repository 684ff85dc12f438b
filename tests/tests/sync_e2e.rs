//! End to end: two sync-core clients exchange messages through a real
//! server-mock started in-process on 127.0.0.1:0.

#[path = "support/events.rs"]
mod event_wait;

use std::time::Duration;

use server_mock::{Config, DbLocation};
use sync_core::protocol::{ConvId, EntryKind};
use sync_core::{Client, ClientBuilder, ConnState, Event, Events, TimelineItem, TimelineQuery};

const WAIT: Duration = Duration::from_secs(20);

async fn client(
    url: &str,
    dir: &tempfile::TempDir,
    name: &str,
) -> anyhow::Result<(Client, Events)> {
    let (c, e) = ClientBuilder::new(
        url,
        dir.path().join(format!("{name}.db")),
        format!("{name}-dev"),
    )
    .open()?;
    c.register(name, "password-123").await?;
    c.wait_live(WAIT).await?;
    Ok((c, e))
}

/// server-mock on 127.0.0.1:0 with a throwaway database.
async fn memory_server() -> anyhow::Result<server_mock::RunningServer> {
    Ok(server_mock::start(Config {
        db: DbLocation::Memory,
        listen: "127.0.0.1:0".parse()?,
        ..Default::default()
    })
    .await?)
}

/// Waits for an event matching `pred`, skipping others.
async fn wait_event(events: &mut Events, pred: impl Fn(&Event) -> bool) -> anyhow::Result<Event> {
    event_wait::wait_event_within(events, WAIT, pred).await
}

fn texts(c: &Client, conv: &ConvId) -> anyhow::Result<Vec<(u64, String, String)>> {
    Ok(c.timeline(conv, TimelineQuery::Latest { limit: 100 })?
        .into_iter()
        .filter_map(|i| match i {
            TimelineItem::Message(m) if m.kind == EntryKind::Text => {
                Some((m.seq, m.sender, m.body.unwrap_or_default()))
            }
            _ => None,
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_exchange_messages_through_server_mock() -> anyhow::Result<()> {
    let server = memory_server().await?;
    let url = server.url();
    let dir = tempfile::tempdir()?;
    let (alice, mut alice_events) = client(&url, &dir, "alice").await?;
    let (bob, mut bob_events) = client(&url, &dir, "bob").await?;

    let conv = alice.create_direct("bob").await?;
    alice.send(&conv, "hi bob").await?;
    let e = wait_event(&mut bob_events, |e| matches!(e, Event::NewMessage { .. })).await?;
    let Event::NewMessage { conv: got, message } = e else {
        unreachable!()
    };
    assert_eq!(
        (got, message.seq, message.body.as_deref()),
        (conv.clone(), 2, Some("hi bob"))
    );
    let row = bob
        .conversation(&conv)?
        .expect("bob knows the conversation");
    assert_eq!(
        (row.title.as_str(), row.unread, row.last_seq),
        ("alice", 1, 2)
    );

    let seq = bob.send_and_wait(&conv, "hi alice", WAIT).await?;
    assert_eq!(seq, 3);
    wait_event(
        &mut alice_events,
        |e| matches!(e, Event::NewMessage { message, .. } if message.seq == 3),
    )
    .await?;
    let want = vec![
        (2, "alice".to_string(), "hi bob".to_string()),
        (3, "bob".to_string(), "hi alice".to_string()),
    ];
    assert_eq!(texts(&alice, &conv)?, want);
    assert_eq!(texts(&bob, &conv)?, want);
    assert!(alice.outbox()?.is_empty() && bob.outbox()?.is_empty());

    // Read state and receipts.
    alice.send(&conv, "still there?").await?;
    wait_event(
        &mut bob_events,
        |e| matches!(e, Event::NewMessage { message, .. } if message.seq == 4),
    )
    .await?;
    assert_eq!(
        bob.conversation(&conv)?.map(|r| (r.unread, r.read_seq)),
        Some((1, 3))
    );
    bob.mark_all_read(&conv).await?;
    assert_eq!(
        bob.conversation(&conv)?.map(|r| (r.unread, r.read_seq)),
        Some((0, 4))
    );
    let e = wait_event(&mut alice_events, |e| matches!(e, Event::Receipt { .. })).await?;
    assert_eq!(
        e,
        Event::Receipt {
            conv: conv.clone(),
            user: "bob".into(),
            seq: 4
        }
    );
    let want = vec![
        (2, "alice".to_string(), "hi bob".to_string()),
        (3, "bob".to_string(), "hi alice".to_string()),
        (4, "alice".to_string(), "still there?".to_string()),
    ];
    assert_eq!(texts(&bob, &conv)?, want);

    // Local search.
    let hits = bob.search("alice", 10)?;
    assert_eq!(
        hits.iter()
            .map(|h| (h.seq, h.sender.as_str()))
            .collect::<Vec<_>>(),
        vec![(3, "bob")]
    );

    // A group is lazy for bob until he opens it.
    let group = alice.create_group("rust", &["bob"]).await?;
    for i in 0..60 {
        alice.send(&group, &format!("g{i}")).await?;
    }
    wait_event(&mut bob_events, |e| matches!(e, Event::NewMessage { message, .. } if message.body.as_deref() == Some("g59"))).await?;
    let row = bob.conversation(&group)?.expect("group row");
    assert_eq!((row.last_seq, row.unread), (61, 60));
    // The pushes are stored, and the create entry: the group came with no
    // text, so its newest entry was fetched to date it in the list.
    // That is every entry of it: nothing older is left to load.
    let deadline = std::time::Instant::now() + WAIT;
    while bob.timeline_len(&group)? < 61 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(bob.timeline_len(&group)?, 61);
    bob.load_older(&group).await?;
    assert_eq!(bob.timeline_len(&group)?, 61);

    // Restart alice from her database: the cache answers offline.
    alice.stop().await;
    drop(alice);
    drop(alice_events);
    let (alice2, _events2) =
        ClientBuilder::new(&url, dir.path().join("alice.db"), "alice-dev").open()?;
    assert_eq!(alice2.state(), ConnState::Offline);
    assert_eq!(texts(&alice2, &conv)?, want);
    assert_eq!(alice2.session().map(|s| s.user), Some("alice".into()));
    alice2.start();
    let report = alice2.wait_live(WAIT).await?;
    assert!(!report.full, "an incremental sync after a restart");
    assert_eq!(alice2.conversations()?.len(), 2);
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_survives_a_server_restart_and_reconnects() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = Config {
        db: DbLocation::Path(dir.path().join("server.db")),
        listen: "127.0.0.1:0".parse()?,
        ..Default::default()
    };
    let server = server_mock::start(config.clone()).await?;
    let addr = server.local_addr();
    let url = server.url();
    let (alice, mut events) = client(&url, &dir, "alice").await?;
    let group = alice.create_group("notes", &[]).await?;
    assert_eq!(alice.send_and_wait(&group, "before", WAIT).await?, 2);

    server.shutdown().await;
    wait_event(&mut events, |e| {
        matches!(e, Event::Connection(ConnState::Reconnecting { .. }))
    })
    .await?;
    // Written while the server is down: committed locally, shown as pending.
    let id = alice.send(&group, "while down").await?;
    let pending = alice.outbox()?;
    assert_eq!(
        pending
            .iter()
            .map(|o| o.client_id.as_str())
            .collect::<Vec<_>>(),
        vec![id.as_str()]
    );

    let server = server_mock::start(Config {
        listen: addr,
        ..config
    })
    .await?;
    wait_event(&mut events, |e| {
        matches!(e, Event::Connection(ConnState::Live))
    })
    .await?;
    wait_event(&mut events, |_| {
        alice.outbox().map(|o| o.is_empty()).unwrap_or(false)
    })
    .await?;
    assert_eq!(
        texts(&alice, &group)?,
        vec![
            (2, "alice".to_string(), "before".to_string()),
            (3, "alice".to_string(), "while down".to_string())
        ]
    );
    server.shutdown().await;
    Ok(())
}

/// Whether the file holds `needle` anywhere (the database and its WAL).
fn file_contains(path: &std::path::Path, needle: &str) -> bool {
    std::fs::read(path)
        .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_in_memory_keeps_the_token_out_of_the_store() -> anyhow::Result<()> {
    let server = memory_server().await?;
    let url = server.url();
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("carol.db");
    let wal = dir.path().join("carol.db-wal");

    // Default: the token is persisted, so a restart resumes without it.
    let (c, _e) = ClientBuilder::new(url.as_str(), &db, "carol-dev").open()?;
    let first = c.register("carol", "password-123").await?;
    c.wait_live(WAIT).await?;
    c.stop().await;
    drop(c);
    let (c, _e) = ClientBuilder::new(url.as_str(), &db, "carol-dev").open()?;
    assert_eq!(c.session().map(|s| s.token), Some(first.token.clone()));
    c.stop().await;
    drop(c);

    // token_in_memory: the stored copy is erased and a new one is never written.
    let (c, _e) = ClientBuilder::new(url.as_str(), &db, "carol-dev")
        .token_in_memory()
        .open()?;
    assert_eq!(c.session(), None);
    let second = c.login("carol", "password-123").await?;
    assert_ne!(second.token, first.token);
    c.wait_live(WAIT).await?;
    let conv = c.create_group("vault", &[]).await?;
    assert_eq!(c.send_and_wait(&conv, "secret-free", WAIT).await?, 2);
    c.stop().await;
    drop(c);
    let conn = rusqlite::Connection::open(&db)?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let stored: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'token'", [], |r| {
            r.get(0)
        })
        .ok();
    assert_eq!(stored, None);
    drop(conn);
    assert!(!file_contains(&db, &second.token));
    assert!(!file_contains(&wal, &second.token));

    // A restart has no session until the app hands the token back.
    let (c, _e) = ClientBuilder::new(url.as_str(), &db, "carol-dev")
        .token_in_memory()
        .open()?;
    assert_eq!(c.session(), None);
    let resumed = c.resume(Some(second.token.as_str())).await?;
    assert_eq!(resumed.user, "carol");
    c.wait_live(WAIT).await?;
    assert_eq!(
        texts(&c, &conv)?,
        vec![(2, "carol".to_string(), "secret-free".to_string())]
    );
    // Without a stored session the user is still known: a stream that
    // leaves out the user's own entries does (it let them all through).
    assert_eq!(c.user().as_deref(), Some("carol"));
    let mut stream = c
        .stream(
            "own-test",
            sync_core::StreamOptions {
                convs: sync_core::Convs::All,
                from: sync_core::StartAt::Beginning,
                include_own: false,
                kinds: Some(vec![EntryKind::Text]),
                since_joined: false,
            },
        )
        .await?;
    let (other, _oe) = client(&url, &dir, "dave").await?;
    let dm = other.create_direct("carol").await?;
    other.send_and_wait(&dm, "from dave", WAIT).await?;
    let item = tokio::time::timeout(WAIT, stream.next()).await??;
    assert_eq!(
        (item.message.sender.as_str(), item.message.body.as_deref()),
        ("dave", Some("from dave")),
        "carol's own text in `vault` is left out"
    );
    server.shutdown().await;
    Ok(())
}

/// §9.5: a text redacted before a client ever saw it arrives stripped
/// (`redacted`, no body) and is stored that way: not shown, not searchable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_redacted_before_the_pull_is_stored_without_its_content() -> anyhow::Result<()> {
    let server = memory_server().await?;
    let url = server.url();
    let dir = tempfile::tempdir()?;
    let (alice, _ae) = client(&url, &dir, "alice").await?;
    let (bob, _be) = client(&url, &dir, "bob").await?;
    bob.stop().await;
    let conv = alice.create_direct("bob").await?;
    let seq = alice.send_and_wait(&conv, "zebra secret", WAIT).await?;
    alice.redact(&conv, seq).await?;
    let t0 = std::time::Instant::now();
    while !alice.outbox()?.is_empty() {
        anyhow::ensure!(t0.elapsed() < WAIT, "redact never acknowledged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bob.start();
    bob.wait_live(WAIT).await?;
    let held = bob.timeline(&conv, TimelineQuery::Latest { limit: 10 })?;
    let text = held
        .iter()
        .find_map(|i| match i {
            TimelineItem::Message(m) if m.seq == seq => Some(m.clone()),
            _ => None,
        })
        .expect("the text is held");
    assert!(text.redacted, "{text:?}");
    assert_eq!(text.body, None);
    assert!(bob.search("zebra", 10)?.is_empty());
    Ok(())
}

/// A second process on the same store (`convo send --no-wait` beside a
/// running TUI) queues a text and exits without connecting: the running
/// client notices the store changed (it looks once a second) and sends
/// it, instead of at its next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_another_process_queued_is_sent_by_the_running_client() -> anyhow::Result<()> {
    let server = memory_server().await?;
    let url = server.url();
    let dir = tempfile::tempdir()?;
    let (alice, mut events) = client(&url, &dir, "alice").await?;
    let group = alice.create_group("notes", &[]).await?;
    {
        // The other process: the same store file, never started.
        let (cli, _events) =
            ClientBuilder::new(url.as_str(), dir.path().join("alice.db"), "alice-dev").open()?;
        cli.send(&group, "queued by the CLI").await?;
    }
    wait_event(&mut events, |_| {
        texts(&alice, &group).is_ok_and(|t| t.iter().any(|(_, _, b)| b == "queued by the CLI"))
            && alice.outbox().is_ok_and(|o| o.is_empty())
    })
    .await?;
    assert_eq!(
        texts(&alice, &group)?,
        vec![(2, "alice".to_string(), "queued by the CLI".to_string())]
    );
    server.shutdown().await;
    Ok(())
}
