//! Waiting on a client's `Events` in integration tests (shared by the test
//! crates that include it with `#[path]`).

use std::time::Duration;

use sync_core::{Event, Events};

/// Waits up to `wait` for an event matching `pred`, skipping others.
pub async fn wait_event_within(
    events: &mut Events,
    wait: Duration,
    pred: impl Fn(&Event) -> bool,
) -> anyhow::Result<Event> {
    let found = tokio::time::timeout(wait, async {
        while let Some(e) = events.recv().await {
            if pred(&e) {
                return Some(e);
            }
        }
        None
    })
    .await?;
    found.ok_or_else(|| anyhow::anyhow!("event stream ended"))
}
