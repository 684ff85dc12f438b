//! The issue-13 comparison: the same four figures on set-ups loadgen starts
//! itself from the `server-mock` binary, printed next to each other:
//!
//! - `sqlite`: one node on a SQLite file;
//! - `pg`: one node on a throwaway PostgreSQL (`fsync` on);
//! - `pg2`: two nodes on one PostgreSQL database, pushes crossing through a
//!   throwaway NATS (`--cluster`), every scenario's connections split over
//!   both (connection i on node i mod 2).
//!
//! Figures: (1) fan-out to the members of one group from one sender:
//! pushes/s, p50/p99 send→push, missing/duplicated pushes, and server CPU
//! (utime+stime of the nodes, PostgreSQL's processes and NATS, from /proc)
//! per delivered push; (2) concurrent senders each in its own group, durable
//! appends/s; (3) RSS per idle authenticated connection on node 1; (4) one
//! hot group, many senders over the nodes, appends/s.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use conformance::cluster::{Cluster, Node, NodeSpec, Tuning, free_port};
use conformance::pg::PgCluster;

use super::RunNames;
use super::appends::{AppendShape, run_appends_spread};
use super::fanout::{FanoutShape, run_fanout_spread};
use super::group_size::{GroupShape, run_group_with};
use super::hot::{HotShape, run_hot};
use super::idle::run_idle;
use super::report::{count, mib, ms, secs};

/// Appends/s of one hot group across two nodes measured before this
/// benchmark existed (issue 13), printed as the reference.
pub const HOT_REFERENCE: f64 = 760.0;

/// One way to deploy server-mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// One node on SQLite.
    Sqlite,
    /// One node on PostgreSQL.
    Pg,
    /// Two nodes on one PostgreSQL database and NATS.
    Pg2,
}

impl Setup {
    /// Every set-up, in the order they are printed.
    pub const ALL: [Setup; 3] = [Setup::Sqlite, Setup::Pg, Setup::Pg2];

    /// The name `--setup` takes.
    pub fn name(self) -> &'static str {
        match self {
            Setup::Sqlite => "sqlite",
            Setup::Pg => "pg",
            Setup::Pg2 => "pg2",
        }
    }

    /// `sqlite`, `pg`, `pg2` or `all`.
    pub fn parse(s: &str) -> Result<Vec<Setup>, String> {
        match s {
            "all" => Ok(Setup::ALL.to_vec()),
            _ => Setup::ALL
                .into_iter()
                .find(|x| x.name() == s)
                .map(|x| vec![x])
                .ok_or_else(|| format!("{s:?}: expected sqlite, pg, pg2 or all")),
        }
    }
}

/// The counts of one comparison.
#[derive(Debug, Clone, Copy)]
pub struct SetupPlan {
    /// Figure 1.
    pub fanout: FanoutShape,
    /// Figure 2.
    pub appends: AppendShape,
    /// Figure 3: idle connections held on node 1.
    pub idle_connections: usize,
    /// Figure 4.
    pub hot: HotShape,
    /// Figure 5: the small and the large group's member counts.
    pub groups: [usize; 2],
    /// Figure 5: texts each of the 2 senders sends into each group.
    pub group_sends: usize,
}

/// Writes `users` (offline: no usable password) into the database `db`.
fn insert_users(db: &str, users: &[String]) -> Result<()> {
    if db.starts_with("postgres") {
        let mut c = postgres::Client::connect(db, postgres::NoTls)
            .context("connecting to the set-up's database")?;
        c.execute(
            "INSERT INTO users (name, pw_hash, created_ms)
             SELECT unnest($1::text[]), 'offline: no password', 0",
            &[&users],
        )
        .context("inserting offline users")?;
        Ok(())
    } else {
        super::group_size::insert_offline_users(Path::new(db), users)
    }
}

/// A running set-up: its nodes and what they stand on.
struct Deployment {
    nodes: Vec<Node>,
    pg: Option<PgCluster>,
    cluster: Option<Cluster>,
    /// The nodes' `--db`: a SQLite file or a PostgreSQL URL.
    db: String,
}

impl Deployment {
    fn start(setup: Setup, bin: &Path, dir: &Path) -> Result<Deployment> {
        let node = |db: String| {
            Node::start(NodeSpec {
                bin: bin.to_owned(),
                db,
                cluster: None,
                listen: format!("127.0.0.1:{}", free_port()?),
                unlimited_sends: true,
                failpoint: None,
            })
            .context("starting the server-mock node")
        };
        Ok(match setup {
            Setup::Sqlite => {
                let db = dir.join("setup-sqlite.db").to_string_lossy().into_owned();
                Deployment {
                    nodes: vec![node(db.clone())?],
                    pg: None,
                    cluster: None,
                    db,
                }
            }
            Setup::Pg => {
                let pg = PgCluster::start_durable()
                    .context("PostgreSQL is not installed (see the SKIPPED line)")?;
                let db = pg.database("loadgen");
                Deployment {
                    nodes: vec![node(db.clone())?],
                    pg: Some(pg),
                    cluster: None,
                    db,
                }
            }
            Setup::Pg2 => {
                let cluster = Cluster::start(bin, 2, Tuning::BENCH)
                    .context("starting two server-mock nodes on one database with --cluster")?
                    .context("PostgreSQL or nats-server is not installed (see the SKIPPED line)")?;
                Deployment {
                    nodes: Vec::new(),
                    pg: None,
                    db: cluster.db.clone(),
                    cluster: Some(cluster),
                }
            }
        })
    }

    fn nodes(&self) -> &[Node] {
        match &self.cluster {
            Some(c) => &c.nodes,
            None => &self.nodes,
        }
    }

    fn urls(&self) -> Vec<String> {
        self.nodes().iter().map(Node::url).collect()
    }

    /// Every server process: nodes, PostgreSQL's, NATS.
    fn pids(&self) -> Vec<u32> {
        match &self.cluster {
            Some(c) => c.pids(),
            None => {
                let mut pids: Vec<u32> = self.nodes.iter().filter_map(Node::pid).collect();
                pids.extend(self.pg.iter().flat_map(PgCluster::pids));
                pids
            }
        }
    }
}

/// The figures of one set-up.
#[derive(Debug, Default)]
struct Figures {
    fanout: Option<String>,
    latency: Option<String>,
    lost: Option<String>,
    cpu: Option<String>,
    appends: Option<String>,
    idle: Option<String>,
    hot: Option<String>,
    groups: Option<String>,
    failed: Option<String>,
}

/// Runs the figures on each set-up in turn (one at a time: they share the
/// machine) and prints them side by side; false when one failed or
/// miscounted.
pub async fn compare(
    setups: &[Setup],
    plan: SetupPlan,
    names: &RunNames,
    bin: &Path,
    limit: Duration,
) -> Result<bool> {
    let dir = tempfile::tempdir().context("creating a temp dir")?;
    let mut all = Vec::new();
    let mut ok = true;
    for (i, &setup) in setups.iter().enumerate() {
        let names = names.round(700 + i);
        let mut figures = Figures::default();
        let run = run_setup(setup, plan, &names, bin, dir.path(), &mut figures);
        let outcome = match tokio::time::timeout(limit, run).await {
            Ok(r) => r,
            Err(_) => Err(anyhow::anyhow!(
                "did not finish within {} (a push that never arrives stalls a member for 30 s; this is longer)",
                secs(limit)
            )),
        };
        match outcome {
            Ok(good) => ok &= good,
            Err(e) => {
                println!("setup    {} FAILED: {e:#}", setup.name());
                figures.failed = Some("FAILED".into());
                ok = false;
            }
        }
        all.push((setup, figures));
    }
    print_table(&all);
    Ok(ok)
}

async fn run_setup(
    setup: Setup,
    plan: SetupPlan,
    names: &RunNames,
    bin: &Path,
    dir: &Path,
    figures: &mut Figures,
) -> Result<bool> {
    let name = setup.name();
    let (bin, dir_owned): (PathBuf, PathBuf) = (bin.to_owned(), dir.join(name));
    std::fs::create_dir_all(&dir_owned)?;
    let deployment =
        tokio::task::spawn_blocking(move || Deployment::start(setup, &bin, &dir_owned))
            .await
            .context("set-up start panicked")??;
    let urls = deployment.urls();
    println!("setup    {name}: {}", urls.join(", "));
    let mut ok = true;

    // 1. Fan-out.
    let f = plan.fanout;
    let pids = || deployment.pids();
    let r = run_fanout_spread(&urls, &names.round(1), f, Some(&pids))
        .await
        .context("fan-out")?;
    let expected = (f.members * f.messages) as u64;
    let cpu_us = r.cpu_us_per_push().unwrap_or(f64::NAN);
    println!(
        "setup    {name} fan-out {} members × {} msgs: {} pushes/s, p50 {} p99 {}, {} missing, {} duplicated, {} out of order, server CPU {:.1} µs/push ({:.2} s)",
        f.members,
        count(f.messages as f64),
        count(r.pushes_per_sec()),
        ms(r.latency_us.value_at_quantile(0.50)),
        ms(r.latency_us.value_at_quantile(0.99)),
        r.missing,
        r.duplicates,
        r.out_of_order,
        cpu_us,
        r.cpu_seconds.unwrap_or(f64::NAN)
    );
    ok &= r.delivered == expected && r.missing == 0 && r.duplicates == 0 && r.out_of_order == 0;
    figures.fanout = Some(count(r.pushes_per_sec()));
    figures.latency = Some(format!(
        "{} / {}",
        ms(r.latency_us.value_at_quantile(0.50)),
        ms(r.latency_us.value_at_quantile(0.99))
    ));
    figures.lost = Some(format!("{} / {}", r.missing, r.duplicates));
    figures.cpu = Some(format!("{cpu_us:.1}"));

    // 2. Concurrent senders, own group each.
    let a = run_appends_spread(&urls, &names.round(2), plan.appends)
        .await
        .context("appends")?;
    let expected = (plan.appends.senders * plan.appends.per_sender) as u64;
    println!(
        "setup    {name} appends {} senders × {}: {} appends/s ({}), {} of {expected} acked, {} senders with seq gaps",
        plan.appends.senders,
        plan.appends.per_sender,
        count(a.appends_per_sec()),
        secs(a.elapsed),
        a.acked,
        a.seq_gaps
    );
    ok &= a.acked == expected && a.seq_gaps == 0;
    figures.appends = Some(count(a.appends_per_sec()));

    // 3. Idle connections on node 1.
    let pid = deployment.nodes()[0]
        .pid()
        .context("node 1 is not running")?;
    let idle = run_idle(&urls[0], &names.round(3), plan.idle_connections, pid)
        .await
        .context("idle")?;
    println!(
        "setup    {name} idle {} authenticated connections on node 1: RSS {} → {}, {:.1} KiB/conn",
        count(idle.connections as f64),
        mib(idle.rss_before_kib),
        mib(idle.rss_after_kib),
        idle.kib_per_conn()
    );
    ok &= idle.connections == plan.idle_connections;
    figures.idle = Some(format!("{:.1}", idle.kib_per_conn()));

    // 4. One hot group.
    let h = run_hot(&urls, &names.round(4), plan.hot)
        .await
        .context("hot group")?;
    let expected = (plan.hot.senders * plan.hot.per_sender) as u64;
    println!(
        "setup    {name} hot group {} senders × {} into one group: {} appends/s, ack p50 {} p99 {} ({}), {} of {expected} acked, dense seqs: {} (reference {} appends/s)",
        plan.hot.senders,
        plan.hot.per_sender,
        count(h.appends_per_sec()),
        ms(h.ack_us.value_at_quantile(0.50)),
        ms(h.ack_us.value_at_quantile(0.99)),
        secs(h.elapsed),
        h.acked,
        h.dense,
        count(HOT_REFERENCE)
    );
    ok &= h.acked == expected && h.dense;
    figures.hot = Some(count(h.appends_per_sec()));

    // 5. Appends into a 10,000-member group next to a 2-member one.
    let mut rates = [0.0; 2];
    let [small, big] = plan.groups;
    for (i, members) in [small, big].into_iter().enumerate() {
        let shape = GroupShape {
            members,
            senders: 2,
            per_sender: plan.group_sends,
        };
        let db = deployment.db.clone();
        let r = run_group_with(&urls, &names.round(10 + i), shape, move |users| {
            insert_users(&db, &users)
        })
        .await
        .with_context(|| format!("group of {members}"))?;
        let expected = (shape.senders * shape.per_sender) as u64;
        println!(
            "setup    {name} group of {} members, 2 senders × {}: {} appends/s, ack p50 {} p99 {} ({}), {} of {expected} acked, dense seqs: {}",
            count(members as f64),
            shape.per_sender,
            count(r.appends_per_sec()),
            ms(r.ack_us.value_at_quantile(0.50)),
            ms(r.ack_us.value_at_quantile(0.99)),
            secs(r.elapsed),
            r.acked,
            r.dense
        );
        ok &= r.acked == expected && r.dense;
        rates[i] = r.appends_per_sec();
    }
    figures.groups = Some(format!(
        "{:.2} ({}/{})",
        rates[1] / rates[0].max(1e-9),
        count(rates[1]),
        count(rates[0])
    ));

    tokio::task::spawn_blocking(move || drop(deployment))
        .await
        .context("stopping the set-up")?;
    if !ok {
        bail!("a figure miscounted (see its line)");
    }
    Ok(ok)
}

fn print_table(all: &[(Setup, Figures)]) {
    let head: Vec<String> = all.iter().map(|(s, _)| s.name().to_owned()).collect();
    let row = |label: &str, pick: &dyn Fn(&Figures) -> Option<String>| {
        let cells: Vec<String> = all
            .iter()
            .map(|(_, f)| {
                pick(f)
                    .or_else(|| f.failed.clone())
                    .unwrap_or_else(|| "—".into())
            })
            .map(|c| format!("{c:>20}"))
            .collect();
        println!("setups   {label:<38}{}", cells.join(""));
    };
    let cells: Vec<String> = head.iter().map(|h| format!("{h:>20}")).collect();
    println!("setups   {:<38}{}", "figure", cells.join(""));
    row("fan-out pushes/s", &|f| f.fanout.clone());
    row("fan-out send→push p50 / p99", &|f| f.latency.clone());
    row("fan-out missing / duplicated", &|f| f.lost.clone());
    row("server CPU µs per delivered push", &|f| f.cpu.clone());
    row("concurrent senders appends/s", &|f| f.appends.clone());
    row("RSS KiB per idle connection", &|f| f.idle.clone());
    row(
        &format!("hot group appends/s (ref {HOT_REFERENCE:.0})"),
        &|f| f.hot.clone(),
    );
    row("large vs 2-member group appends/s", &|f| f.groups.clone());
}
