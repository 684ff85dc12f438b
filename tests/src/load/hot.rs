//! One hot group: many senders, all in one conversation, spread over the
//! nodes of one service (sender k on node k mod n), one send in flight
//! each. Measures durable appends/s into that one conversation; every seq
//! is handed out by whichever node stores the entry, so the acked seqs
//! must be exactly 2..=N+1 (seq 1 is `create`).

use anyhow::{Context, Result};

use super::group_size::{GroupResult, run_senders};
use super::{RunNames, register_spread};

/// The shape of a hot-group run.
#[derive(Debug, Clone, Copy)]
pub struct HotShape {
    /// Senders, every one a member, one connection each.
    pub senders: usize,
    /// Messages each sender sends, one at a time.
    pub per_sender: usize,
}

/// Registers the senders over `urls`, creates the group of all of them and
/// runs the sends.
pub async fn run_hot(urls: &[String], names: &RunNames, shape: HotShape) -> Result<GroupResult> {
    let users: Vec<String> = (0..shape.senders).map(|i| names.user("h", i)).collect();
    let mut conns = register_spread(urls, &users, 8)
        .await
        .context("hot group setup: registering senders")?;
    let first = conns.first_mut().context("a hot group needs a sender")?;
    let conv = first
        .create_group(&format!("loadgen hot {}", names.tag()), &users[1..])
        .await
        .context("hot group setup: creating the group")?;
    run_senders(
        conns,
        &conv,
        &format!("lg{}h", names.tag()),
        shape.per_sender,
    )
    .await
}
