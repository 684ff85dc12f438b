//! Saying where a test waits when it waits too long.
//!
//! libtest captures what a test prints and shows it only when the test
//! ends, so a test that never ends shows nothing: CI sees a name "running
//! for over 60 seconds" and then its own time limit. These helpers write
//! straight to the process's stderr (not through `eprintln!`, which the
//! capture takes), so the CI log names the step still waiting.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Writes one line to the real stderr, past libtest's capture.
pub fn say(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
    let _ = err.flush();
}

/// Awaits `fut`; from `after` on, says every minute that `what` is still
/// waiting (the wait itself is not cut short).
pub async fn watch<F: Future>(what: &str, after: Duration, fut: F) -> F::Output {
    watch_with(what, after, Duration::from_secs(60), fut, say).await
}

/// [`watch`] with its repeat interval and its way of saying.
async fn watch_with<F: Future>(
    what: &str,
    after: Duration,
    every: Duration,
    fut: F,
    say: impl Fn(&str),
) -> F::Output {
    let started = Instant::now();
    tokio::pin!(fut);
    let mut next = after;
    loop {
        match tokio::time::timeout_at((started + next).into(), &mut fut).await {
            Ok(out) => return out,
            Err(_) => {
                say(&format!(
                    "WATCHDOG: {what} still waiting after {} s",
                    started.elapsed().as_secs()
                ));
                next += every;
            }
        }
    }
}

/// The steps running now, with when each began.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<Mutex<BTreeMap<String, Instant>>>);

impl InFlight {
    /// Notes `name` as running until the guard is dropped.
    pub fn begin(&self, name: &str) -> InFlightGuard {
        if let Ok(mut m) = self.0.lock() {
            m.insert(name.to_owned(), Instant::now());
        }
        InFlightGuard {
            set: self.clone(),
            name: name.to_owned(),
        }
    }

    /// `name (N s)` of the steps running for longer than `limit`, oldest
    /// first.
    pub fn older_than(&self, limit: Duration) -> Vec<String> {
        let Ok(m) = self.0.lock() else {
            return Vec::new();
        };
        let mut old: Vec<(&String, Duration)> = m
            .iter()
            .map(|(n, t)| (n, t.elapsed()))
            .filter(|(_, d)| *d > limit)
            .collect();
        old.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
        old.into_iter()
            .map(|(n, d)| format!("{n} ({} s)", d.as_secs()))
            .collect()
    }
}

/// Removes its step from the [`InFlight`] set when dropped.
#[derive(Debug)]
pub struct InFlightGuard {
    set: InFlight,
    name: String,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Ok(mut m) = self.set.0.lock() {
            m.remove(&self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_steps_past_the_limit_are_named_and_a_finished_one_goes() {
        let set = InFlight::default();
        let a = set.begin("slow");
        std::thread::sleep(Duration::from_millis(30));
        let b = set.begin("quick");
        assert_eq!(
            set.older_than(Duration::from_millis(20)),
            vec!["slow (0 s)".to_owned()]
        );
        drop(a);
        assert!(
            set.older_than(Duration::ZERO)
                .iter()
                .all(|n| n.starts_with("quick"))
        );
        drop(b);
        assert!(set.older_than(Duration::ZERO).is_empty());
    }

    #[tokio::test]
    async fn watch_names_a_late_step_each_interval_and_returns_its_output() {
        let said = Mutex::new(Vec::new());
        let out = watch_with(
            "a sleep",
            Duration::from_millis(100),
            Duration::from_millis(200),
            async {
                tokio::time::sleep(Duration::from_millis(450)).await;
                7
            },
            |l| said.lock().unwrap().push(l.to_owned()),
        )
        .await;
        assert_eq!(out, 7);
        assert_eq!(
            *said.lock().unwrap(),
            ["WATCHDOG: a sleep still waiting after 0 s"; 2]
        );
        let quick = watch_with(
            "a quick one",
            Duration::from_secs(1),
            Duration::from_secs(1),
            async { 1 },
            |l| panic!("said {l}"),
        )
        .await;
        assert_eq!(quick, 1);
    }
}
