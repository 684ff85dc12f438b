//! Seeds the bench server over the protocol, fast: the server runs with its send rate limit
//! raised, many connections work in parallel and each pipelines its sends.

use anyhow::Context;
use sync_core::protocol::ConvId;
use tokio::task::JoinSet;

use crate::wire::RawConn;

/// Password of every bench account.
pub const PASSWORD: &str = "bench-password";

/// Sizes of the seeded world (`--quick` shrinks them for a smoke run).
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Groups of the 1,000-conversation user.
    pub groups: usize,
    /// Messages in each of those groups.
    pub group_messages: usize,
    /// Direct conversations of the 1,000-conversation user.
    pub directs: usize,
    /// Messages in each direct conversation.
    pub direct_messages: usize,
    /// Direct conversations of the 100-conversation user.
    pub small_directs: usize,
    /// Missed messages of the catch-up bench.
    pub catch_up: usize,
    /// Unread messages of the big group.
    pub big_group: usize,
}

impl Scale {
    /// The figures the issue asks for.
    pub const FULL: Scale = Scale {
        groups: 10,
        group_messages: 10_000,
        directs: 990,
        direct_messages: 10,
        small_directs: 100,
        catch_up: 10_000,
        big_group: 100_000,
    };
    /// A quick smoke run.
    pub const QUICK: Scale = Scale {
        groups: 10,
        group_messages: 500,
        directs: 90,
        direct_messages: 10,
        small_directs: 10,
        catch_up: 2_000,
        big_group: 5_000,
    };

    /// Conversations of the big user.
    pub fn big_user_convs(&self) -> usize {
        self.groups + self.directs
    }
}

/// The seeded conversations the benches refer to.
#[derive(Debug)]
pub struct Layout {
    /// `big` (1,000 conversations): its groups.
    pub groups: Vec<ConvId>,
    /// `big`'s direct with peer `i`.
    pub directs: Vec<ConvId>,
    /// `small`'s direct with peer `i`.
    pub small_directs: Vec<ConvId>,
    /// `lurker`'s group with `big_group` unread.
    pub big_group: ConvId,
}

/// Registers `user` on a fresh connection and returns it, authenticated.
/// Registration hashes a password on a bounded pool: when many seed tasks
/// register at once (and the machine is busy) the server answers
/// `rate_limited`, and the task waits and tries again.
pub async fn register(url: &str, user: &str) -> anyhow::Result<RawConn> {
    let mut attempt = 0;
    loop {
        let mut c = RawConn::connect(url).await?;
        match c.register(user, PASSWORD, "seed").await {
            Ok(_) => return Ok(c),
            Err(e) if attempt < 100 && format!("{e:#}").contains("rate_limited") => {
                attempt += 1;
                c.close().await;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.context(format!("register {user}"))),
        }
    }
}

/// Logs `user` in on a fresh connection.
pub async fn login(url: &str, user: &str) -> anyhow::Result<RawConn> {
    let mut c = RawConn::connect(url).await?;
    c.login(user, PASSWORD, "seed")
        .await
        .with_context(|| format!("login {user}"))?;
    Ok(c)
}

/// The twin of `big` whose groups' texts mention it (sync_bench 1m).
pub const MENTIONED: &str = "mbig";

/// Texts of each `big` group that mention [`MENTIONED`]: one in 20.
pub fn mentions_per_group(scale: Scale) -> usize {
    scale.group_messages.div_ceil(20)
}

/// Group bodies: every 20th mentions [`MENTIONED`].
fn group_bodies(tag: String, n: usize) -> impl Iterator<Item = String> {
    (0..n).map(move |i| {
        let at = if i % 20 == 0 { "@mbig " } else { "" };
        format!("{at}{tag} message {i}: the quick brown fox jumps over the lazy dog")
    })
}

/// Peer names.
pub fn peer(i: usize) -> String {
    format!("p{i}")
}

fn bodies(tag: String, n: usize) -> impl Iterator<Item = String> {
    (0..n).map(move |i| format!("{tag} message {i}: the quick brown fox jumps over the lazy dog"))
}

/// A peer's index, its direct with `big` and (for the first ones) with `small`.
type PeerConvs = (usize, ConvId, Option<ConvId>);

/// Seeds the users `big`, `small`, `lurker`, the peers and the groups.
pub async fn seed(url: &str, scale: Scale) -> anyhow::Result<Layout> {
    for u in ["big", MENTIONED, "small", "lurker"] {
        register(url, u).await?.close().await;
    }
    let mut tasks: JoinSet<anyhow::Result<Vec<PeerConvs>>> = JoinSet::new();
    // Peers: registration hashes a password, so spread it over parallel tasks.
    const WORKERS: usize = 8;
    for w in 0..WORKERS {
        let url = url.to_owned();
        tasks.spawn(async move {
            let mut out = Vec::new();
            for i in (w..scale.directs).step_by(WORKERS) {
                let mut c = register(&url, &peer(i)).await?;
                let d = c.create_direct("big").await?;
                c.send_many(
                    &d,
                    "s",
                    bodies(format!("p{i}->big"), scale.direct_messages),
                    64,
                )
                .await?;
                // `mbig`'s twin of the same direct.
                let m = c.create_direct(MENTIONED).await?;
                c.send_many(
                    &m,
                    "m",
                    bodies(format!("p{i}->big"), scale.direct_messages),
                    64,
                )
                .await?;
                let small = if i < scale.small_directs {
                    let d2 = c.create_direct("small").await?;
                    c.send_many(
                        &d2,
                        "t",
                        bodies(format!("p{i}->small"), scale.direct_messages),
                        64,
                    )
                    .await?;
                    Some(d2)
                } else {
                    None
                };
                c.close().await;
                out.push((i, d, small));
            }
            Ok(out)
        });
    }
    let mut groups = JoinSet::new();
    for g in 0..scale.groups {
        let url = url.to_owned();
        groups.spawn(async move {
            // One owner per group: every connection of a user gets the pushes of all its
            // conversations, and a seeding connection must only read its own.
            let mut c = register(&url, &format!("owner{g}")).await?;
            // `big` and its twin `mbig` see the same group; one text in
            // 20 mentions `mbig`.
            let conv = c
                .create_group(&format!("group {g}"), &["big", MENTIONED])
                .await?;
            c.send_many(
                &conv,
                "g",
                group_bodies(format!("group {g}"), scale.group_messages),
                256,
            )
            .await?;
            c.close().await;
            anyhow::Ok((g, conv))
        });
    }
    let big_group = {
        let url = url.to_owned();
        tokio::spawn(async move {
            let mut c = register(&url, "big-owner").await?;
            let conv = c.create_group("the big one", &["lurker"]).await?;
            c.send_many(&conv, "b", bodies("big".into(), scale.big_group), 256)
                .await?;
            c.close().await;
            anyhow::Ok(conv)
        })
    };
    let mut directs = vec![None; scale.directs];
    let mut small_directs = vec![None; scale.small_directs];
    while let Some(r) = tasks.join_next().await {
        for (i, d, s) in r.context("seed task")?? {
            directs[i] = Some(d);
            if let Some(s) = s {
                small_directs[i] = Some(s);
            }
        }
    }
    let mut group_ids = vec![None; scale.groups];
    while let Some(r) = groups.join_next().await {
        let (g, conv) = r.context("group task")??;
        group_ids[g] = Some(conv);
    }
    let collect = |v: Vec<Option<ConvId>>| {
        v.into_iter()
            .collect::<Option<Vec<_>>>()
            .context("a seed task left a hole")
    };
    Ok(Layout {
        groups: collect(group_ids)?,
        directs: collect(directs)?,
        small_directs: collect(small_directs)?,
        big_group: big_group.await.context("big group task")??,
    })
}
