//! Log-in throttling across connections (`login`, `register`, and `auth`
//! with an unknown token), and the bounded pool password hashing runs on.
//!
//! Failures are kept per account, per (account, address) and per address,
//! each in a sliding window. An account that had `per_account` failures in
//! the window answers `rate_limited` without hashing — except at an address
//! it logged in from within `trust`, which has its own budget of the same
//! size, so a guesser cannot lock the owner out. An address with
//! `per_address` failures (any accounts) is throttled the same way. The
//! `retry_after_ms` doubles with each throttled attempt, up to
//! `max_backoff`. IPv6 addresses count by /64.
//!
//! The state is a map of keyed records ("failures of KEY at these times",
//! "USER logged in from ADDR at T"): the shape a shared table would hold
//! when several nodes share the database.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The throttling rules (`--login-*` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures per account (or per trusted account+address) in the window.
    pub per_account: u32,
    /// Failures per address in the window.
    pub per_address: u32,
    /// The sliding window.
    pub window: Duration,
    /// How long a successful log-in makes its address trusted for the account.
    pub trust: Duration,
    /// Largest `retry_after`.
    pub max_backoff: Duration,
    /// How long a throttled attempt waits before its answer (a tarpit: a
    /// guessing loop then costs the server a timer, not replies).
    pub tarpit: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            per_account: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
            trust: Duration::from_secs(30 * 86_400),
            max_backoff: Duration::from_secs(15 * 60),
            tarpit: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    AccountAt(String, IpAddr),
    Address(IpAddr),
}

#[derive(Debug, Default)]
struct Record {
    failures: VecDeque<Instant>,
    /// Throttled answers since the window last had room (the backoff exponent).
    throttled: u32,
}

#[derive(Debug, Default)]
struct State {
    records: HashMap<Key, Record>,
    trusted: HashMap<(String, IpAddr), Instant>,
}

/// The throttle: cheap to consult, held only for map updates.
#[derive(Debug, Default)]
pub struct Throttle {
    limits: LoginLimits,
    state: Mutex<State>,
}

impl Throttle {
    /// A throttle with these rules.
    pub fn new(limits: LoginLimits) -> Throttle {
        Throttle {
            limits,
            state: Mutex::default(),
        }
    }

    fn keys(
        state: &State,
        limits: &LoginLimits,
        user: Option<&str>,
        addr: IpAddr,
        now: Instant,
    ) -> Vec<(Key, u32)> {
        let mut keys = vec![(Key::Address(addr), limits.per_address)];
        if let Some(u) = user {
            let trusted = state
                .trusted
                .get(&(u.to_owned(), addr))
                .is_some_and(|t| now.duration_since(*t) < limits.trust);
            keys.push((
                if trusted {
                    Key::AccountAt(u.to_owned(), addr)
                } else {
                    Key::Account(u.to_owned())
                },
                limits.per_account,
            ));
        }
        keys
    }

    /// Before hashing: `Err(retry_after)` when the attempt is throttled.
    /// An admitted attempt counts as a failure at once (so concurrent
    /// guesses cannot all slip through while the first ones are being
    /// hashed); [`Throttle::succeeded`] takes it back.
    pub fn check(&self, user: Option<&str>, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let limits = self.limits;
        let mut worst: Option<Duration> = None;
        for (key, budget) in Self::keys(&state, &limits, user, addr, now) {
            let rec = state.records.entry(key).or_default();
            while rec
                .failures
                .front()
                .is_some_and(|t| now.duration_since(*t) >= limits.window)
            {
                rec.failures.pop_front();
            }
            if rec.failures.len() < budget as usize {
                rec.throttled = 0;
                continue;
            }
            let backoff = Duration::from_secs(1)
                .saturating_mul(1u32.checked_shl(rec.throttled.min(20)).unwrap_or(u32::MAX))
                .min(limits.max_backoff);
            rec.throttled += 1;
            worst = Some(worst.map_or(backoff, |w| w.max(backoff)));
        }
        if worst.is_none() {
            Self::push_failure(&mut state, &limits, user, addr, now);
        }
        worst.map_or(Ok(()), Err)
    }

    /// The attempt [`Throttle::check`] admitted for `user` (None: an
    /// address-only check) succeeded: it no longer counts as a failure.
    pub fn release(&self, user: Option<&str>, addr: IpAddr, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let limits = self.limits;
        for (key, _) in Self::keys(&state, &limits, user, addr, now) {
            if let Some(rec) = state.records.get_mut(&key) {
                rec.failures.pop_back();
            }
        }
    }

    /// A failed attempt another node saw: counts here as if seen here.
    pub fn record_failure(&self, user: Option<&str>, addr: IpAddr, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let limits = self.limits;
        Self::push_failure(&mut state, &limits, user, addr, now);
    }

    fn push_failure(
        state: &mut State,
        limits: &LoginLimits,
        user: Option<&str>,
        addr: IpAddr,
        now: Instant,
    ) {
        for (key, _) in Self::keys(state, limits, user, addr, now) {
            state
                .records
                .entry(key)
                .or_default()
                .failures
                .push_back(now);
        }
    }

    /// The rules.
    pub fn limits(&self) -> &LoginLimits {
        &self.limits
    }

    /// `user` logged in or registered from `addr`: it is trusted for them.
    pub fn trust(&self, user: &str, addr: IpAddr, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.trusted.insert((user.to_owned(), addr), now);
    }
}

/// Password hashing off the async executor, at most one job per core at a
/// time; when `queue` jobs already wait, a new one is refused (the caller
/// answers `rate_limited`), so a flood of log-ins cannot starve the writer
/// or delay pushes.
#[derive(Debug)]
pub struct HashPool {
    slots: tokio::sync::Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
    queue: usize,
}

impl HashPool {
    /// `cores` jobs at once, `queue` waiting at most.
    pub fn new(cores: usize, queue: usize) -> HashPool {
        HashPool {
            slots: tokio::sync::Semaphore::new(cores.max(1)),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            queue,
        }
    }

    /// Runs `f` on the blocking pool when a slot is free; None when the
    /// queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<Result<T, tokio::task::JoinError>> {
        use std::sync::atomic::Ordering;
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let permit = self.slots.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let out = tokio::task::spawn_blocking(f).await;
        drop(permit);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn guesses_are_throttled_per_account_and_address_but_not_the_owner_at_home() {
        let t = Throttle::new(LoginLimits::default());
        let now = Instant::now();
        let home = ip("10.0.0.1");
        assert_eq!(t.check(None, home, now), Ok(()));
        t.release(None, home, now);
        t.trust("alice", home, now);
        // Five guesses for alice from five addresses (each counted when
        // admitted): the sixth is throttled.
        for i in 0..5 {
            let a = ip(&format!("10.1.0.{i}"));
            assert_eq!(t.check(Some("alice"), a, now), Ok(()));
        }
        let e1 = t.check(Some("alice"), ip("10.2.0.1"), now).unwrap_err();
        let e2 = t.check(Some("alice"), ip("10.2.0.2"), now).unwrap_err();
        assert_eq!((e1, e2), (Duration::from_secs(1), Duration::from_secs(2)));
        // The owner at home has their own budget.
        assert_eq!(t.check(Some("alice"), home, now), Ok(()));
        // After the window, guesses may resume.
        let later = now + Duration::from_secs(15 * 60);
        assert_eq!(t.check(Some("alice"), ip("10.2.0.1"), later), Ok(()));
        // Twenty failures from one address throttle it for every account.
        let bad = ip("10.9.9.9");
        for i in 0..20 {
            assert_eq!(t.check(Some(&format!("u{i}")), bad, later), Ok(()));
        }
        assert!(t.check(Some("bob"), bad, later).is_err());
        assert!(t.check(None, bad, later).is_err());
        assert_eq!(t.check(Some("bob"), ip("10.9.9.8"), later), Ok(()));
    }
}
