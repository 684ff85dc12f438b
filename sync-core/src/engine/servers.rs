//! Several server URLs (failover): which URL the next connection uses, and
//! when a round over all of them is over. With one URL everything behaves
//! as it did before there could be several.
//!
//! The policy (docs/SYNC-CORE-API.md, "Several servers"):
//! - a connection attempt that fails, or a connection that ends, moves to
//!   the next usable URL, wrapping around; a connection that works stays on
//!   its URL until it fails;
//! - within a round (each usable URL tried once since the last connection
//!   that stayed up `stable_after`) the next URL is tried after the short
//!   first-retry delay (at most `backoff_min`, jittered so that the clients
//!   of a failed node do not all arrive at once) and the state stays
//!   `Connecting`; once the round is over the usual backoff applies and the
//!   state is `Reconnecting`;
//! - a URL that failed permanently (malformed, TLS rejected, HTTP 4xx, or a
//!   `hello.server_id` other than the one the store is bound to) is skipped
//!   from then on; when every URL has failed permanently the engine stops
//!   (`Failed`), and `start` or an account call tries them all again;
//! - `login`, `register` and `resume` fail with `Error::Connect` only when
//!   every attempt of a whole round failed before reaching a server.

use super::Engine;
use crate::error::ConnectError;

/// The URL list and the state of the current round.
#[derive(Debug, Default)]
pub(super) struct Servers {
    urls: Vec<String>,
    /// Index of the URL in use, or tried next.
    current: usize,
    /// Failed permanently in this run: skipped.
    unusable: Vec<bool>,
    /// Tried in the current round.
    tried: Vec<bool>,
    /// Every attempt of the current round failed before reaching a server.
    all_unreachable: bool,
}

/// What follows a failed attempt or an ended connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Another URL of this round is tried after the short delay.
    Hop,
    /// Every usable URL was tried: back off. `unreachable` is true when no
    /// attempt of the round reached a server.
    RoundOver { unreachable: bool },
    /// Every URL failed permanently: stop.
    Exhausted,
}

impl Servers {
    /// How many URLs (an engine without a list counts as one).
    fn len(&self) -> usize {
        self.urls.len().max(1)
    }

    fn new_round(&mut self) {
        self.tried = vec![false; self.len()];
        self.all_unreachable = true;
    }

    /// Forgets permanent failures and starts a fresh round at the URL in use.
    pub(super) fn retry_all(&mut self) {
        self.unusable = vec![false; self.len()];
        self.new_round();
    }

    /// The attempt on the current URL failed with `cause` (None: the
    /// connection ended without one, e.g. a close). `was_stable`: it had
    /// been up long enough that a new round begins with this failure.
    pub(super) fn failed(&mut self, was_stable: bool, cause: Option<&ConnectError>) -> Next {
        let n = self.len();
        if self.tried.len() != n || self.unusable.len() != n {
            self.retry_all();
        }
        if was_stable {
            self.new_round();
        }
        let i = self.current;
        self.tried[i] = true;
        self.all_unreachable &= cause.is_some_and(ConnectError::is_unreachable);
        if cause.is_some_and(ConnectError::is_permanent) {
            self.unusable[i] = true;
        }
        if self.unusable.iter().all(|u| *u) {
            // The engine stops; the next start tries every URL again.
            self.retry_all();
            return Next::Exhausted;
        }
        if let Some(j) = (1..=n).map(|s| (i + s) % n).find(|j| !self.unusable[*j]) {
            self.current = j;
        }
        let over = (0..n).all(|j| self.tried[j] || self.unusable[j]);
        if over {
            let unreachable = self.all_unreachable;
            self.new_round();
            Next::RoundOver { unreachable }
        } else {
            Next::Hop
        }
    }
}

impl Engine {
    /// The server URLs, tried in this order (the driver sets them once,
    /// before the first connection). An empty list is one unnamed server.
    pub fn set_servers(&mut self, urls: Vec<String>) {
        self.servers = Servers {
            urls,
            ..Servers::default()
        };
        self.servers.retry_all();
    }

    /// The URL of the connection in use, or, while not connected, the one
    /// the next attempt uses. None when no list was set.
    pub fn current_url(&self) -> Option<&str> {
        self.servers
            .urls
            .get(self.servers.current)
            .map(String::as_str)
    }

    /// Some cause when the server that said `hello` with `server_id` must
    /// not be used: with several URLs, a `server_id` other than the one the
    /// store is bound to is a server of another database (a wrong URL in
    /// the list), not a reset of ours. With one URL a new `server_id` is a
    /// replaced server and resets the cache, as it always did.
    pub(super) fn wrong_server(&self, server_id: &str) -> Option<ConnectError> {
        match &self.server_id {
            Some(bound) if self.servers.urls.len() > 1 && bound != server_id => {
                Some(ConnectError::WrongServer {
                    expected: bound.clone(),
                    found: server_id.to_owned(),
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(n: usize) -> Servers {
        let mut s = Servers {
            urls: (0..n).map(|i| format!("ws://h{i}/v1")).collect(),
            ..Servers::default()
        };
        s.retry_all();
        s
    }

    fn refused() -> ConnectError {
        ConnectError::Refused("refused".into())
    }

    #[test]
    fn one_url_ends_a_round_at_every_failure() {
        let mut s = list(1);
        assert_eq!(
            s.failed(false, Some(&refused())),
            Next::RoundOver { unreachable: true }
        );
        assert_eq!(s.current, 0);
        assert_eq!(
            s.failed(false, Some(&ConnectError::Lost("cut".into()))),
            Next::RoundOver { unreachable: false }
        );
        // A load balancer's "too many requests" is retried, a 404 is not.
        assert_eq!(
            s.failed(false, Some(&ConnectError::Http(429))),
            Next::RoundOver { unreachable: false }
        );
        assert_eq!(
            s.failed(false, Some(&ConnectError::Http(404))),
            Next::Exhausted
        );
    }

    #[test]
    fn three_urls_hop_twice_then_back_off_and_wrap_around() {
        let mut s = list(3);
        assert_eq!(s.failed(false, Some(&refused())), Next::Hop);
        assert_eq!(s.current, 1);
        assert_eq!(s.failed(false, Some(&ConnectError::Timeout)), Next::Hop);
        assert_eq!(s.current, 2);
        assert_eq!(
            s.failed(false, Some(&refused())),
            Next::RoundOver { unreachable: true }
        );
        assert_eq!(s.current, 0);
        // A round where one attempt reached a server does not fail logins.
        assert_eq!(s.failed(false, None), Next::Hop);
        assert_eq!(s.failed(false, Some(&refused())), Next::Hop);
        assert_eq!(
            s.failed(false, Some(&refused())),
            Next::RoundOver { unreachable: false }
        );
    }

    #[test]
    fn a_permanent_failure_skips_that_url_until_all_failed() {
        let mut s = list(3);
        let tls = ConnectError::Tls("bad certificate".into());
        assert_eq!(s.failed(false, Some(&tls)), Next::Hop);
        assert_eq!(s.current, 1);
        assert_eq!(s.failed(false, Some(&refused())), Next::Hop);
        assert_eq!(
            s.failed(false, Some(&refused())),
            Next::RoundOver { unreachable: true }
        );
        // URL 0 is skipped: the next round is 1, 2.
        assert_eq!(s.current, 1);
        assert_eq!(s.failed(false, Some(&ConnectError::Http(404))), Next::Hop);
        assert_eq!(s.current, 2);
        assert_eq!(s.failed(false, Some(&tls)), Next::Exhausted);
        // Stopped: every URL is usable again for the next start.
        assert!(s.unusable.iter().all(|u| !u));
    }

    #[test]
    fn a_stable_connection_starts_a_new_round() {
        let mut s = list(2);
        assert_eq!(s.failed(false, Some(&refused())), Next::Hop);
        // Connected to URL 1 and stayed up: its loss starts a round.
        assert_eq!(s.failed(true, None), Next::Hop);
        assert_eq!(s.current, 0);
        assert_eq!(
            s.failed(false, Some(&refused())),
            Next::RoundOver { unreachable: false }
        );
    }
}
