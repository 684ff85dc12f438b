//! Limits shared by the nodes: the per-user send bucket and the log-in
//! throttle. Each node counts locally, as on one node, and tells the others
//! on `convo.<server_id>.limits`: the sends each user spent (summed over
//! [`SPEND_EVERY`]) and every failed log-in. A node applies what it hears
//! to its own bucket and throttle, so a user's connections on two nodes
//! draw from one budget, and guesses spread over nodes count together, a
//! few milliseconds late.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::Cluster;
use crate::rate::TokenBucket;
use crate::state::Shared;

/// How often spent sends are told to the other nodes.
pub const SPEND_EVERY: Duration = Duration::from_millis(5);

/// How long a node keeps a bucket it only heard of (a full refill takes
/// `burst / rate`, 2 s by default).
const REMOTE_KEEP: Duration = Duration::from_secs(30);

/// One message on the limits subject.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct LimitsMsg {
    /// Sends spent per user since the last message.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub spend: HashMap<String, u32>,
    /// A failed log-in: the account (none for `register`) and address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail: Option<(Option<String>, IpAddr)>,
}

/// Spends not yet told.
#[derive(Debug, Default)]
pub(crate) struct Spent(Mutex<HashMap<String, u32>>);

impl Cluster {
    fn limits_subject(&self) -> String {
        format!("{}.limits", self.prefix)
    }

    /// `user` spent one send here.
    pub fn spent(&self, user: &str) {
        let mut m = self.spent.0.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(user.to_owned()).or_default() += 1;
    }

    /// A log-in for `user` (None: a `register`) from `addr` failed here.
    pub fn login_failed(&self, user: Option<&str>, addr: IpAddr) {
        let msg = LimitsMsg {
            fail: Some((user.map(str::to_owned), addr)),
            ..LimitsMsg::default()
        };
        if let Ok(payload) = serde_json::to_vec(&msg) {
            self.queue(self.limits_subject(), payload.into());
        }
    }

    /// Tells spends, and applies the other nodes' limits to `shared`, until
    /// the server stops.
    pub async fn share_limits(self: Arc<Self>, shared: Weak<Shared>) {
        let mut sub = match self.nats.subscribe(self.limits_subject()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cluster: limits are per node");
                return;
            }
        };
        let mut tick = tokio::time::interval(SPEND_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut held: HashMap<String, (Arc<Mutex<TokenBucket>>, Instant)> = HashMap::new();
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if shared.strong_count() == 0 {
                        return;
                    }
                    let spend = std::mem::take(
                        &mut *self.spent.0.lock().unwrap_or_else(|p| p.into_inner()),
                    );
                    if !spend.is_empty()
                        && let Ok(payload) = serde_json::to_vec(&LimitsMsg { spend, fail: None })
                    {
                        self.queue(self.limits_subject(), payload.into());
                    }
                }
                m = sub.next() => {
                    let Some(m) = m else { return };
                    let Some(shared) = shared.upgrade() else { return };
                    let Ok(msg) = serde_json::from_slice::<LimitsMsg>(&m.payload) else {
                        tracing::warn!("undecodable cluster limits message");
                        continue;
                    };
                    apply(&shared, msg, &mut held);
                }
            }
        }
    }
}

/// Applies another node's spends and failures here.
fn apply(
    shared: &Shared,
    msg: LimitsMsg,
    held: &mut HashMap<String, (Arc<Mutex<TokenBucket>>, Instant)>,
) {
    let now = Instant::now();
    held.retain(|_, (_, at)| now.duration_since(*at) < REMOTE_KEEP);
    for (user, n) in msg.spend {
        // Kept alive here for a while, so a connection that comes later
        // finds the budget already spent.
        let bucket = shared.send_bucket(&user);
        bucket
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .spend(n, now);
        held.insert(user, (bucket, now));
    }
    if let Some((user, addr)) = msg.fail {
        shared.throttle.record_failure(user.as_deref(), addr, now);
    }
}
