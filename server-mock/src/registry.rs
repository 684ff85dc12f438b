//! The in-memory registry of authenticated connections (user → connections)
//! and fan-out of pre-serialized frames to them.
//!
//! A std `Mutex` (not tokio's) guards the map: it is only held for
//! non-blocking `try_send`s, never across I/O or an `.await`, so a tokio
//! mutex would only add cost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::connection::Outbox;
use crate::store::members::Members;

/// One authenticated connection as the fan-out sees it.
#[derive(Debug)]
pub struct Peer {
    /// Unique per connection for the server's life.
    pub conn_id: u64,
    /// SHA-256 of the token the connection authenticated with.
    pub token_hash: [u8; 32],
    /// Its bounded outbound queue.
    pub outbox: Outbox,
}

/// user → authenticated connections.
#[derive(Debug, Default)]
pub struct Registry {
    by_user: Mutex<HashMap<String, Vec<Arc<Peer>>>>,
}

impl Registry {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Arc<Peer>>>> {
        // A panic elsewhere while holding the lock leaves the map usable.
        self.by_user.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts push delivery to `peer` for `user`.
    pub fn add(&self, user: &str, peer: Arc<Peer>) {
        self.map().entry(user.to_owned()).or_default().push(peer);
    }

    /// Stops push delivery to connection `conn_id` of `user`.
    pub fn remove(&self, user: &str, conn_id: u64) {
        let mut map = self.map();
        if let Some(list) = map.get_mut(user) {
            list.retain(|p| p.conn_id != conn_id);
            if list.is_empty() {
                map.remove(user);
            }
        }
    }

    /// Queues `frame` on every connection of every user in `users`, except
    /// connection `except`. A connection whose queue is full is closed with
    /// 1013 by [`Outbox::push`]; nobody waits for it.
    pub fn send_to<'a>(
        &self,
        users: impl IntoIterator<Item = &'a String>,
        frame: &Utf8Bytes,
        except: Option<u64>,
    ) {
        let map = self.map();
        for user in users {
            if let Some(peers) = map.get(user) {
                push_all(peers, frame, except);
            }
        }
    }

    /// [`Registry::send_to`] for a conversation's members: when fewer users
    /// are online than the group has members, it visits the online users
    /// and checks membership, so a push to a 10,000-member group with 20
    /// of them online costs 20 lookups, not 10,000. Each connection still
    /// gets the frame at most once, so per-connection order is unchanged.
    pub fn send_to_members(&self, members: &Members, frame: &Utf8Bytes, except: Option<u64>) {
        let map = self.map();
        if members.len() <= map.len() {
            for user in members.iter() {
                if let Some(peers) = map.get(user) {
                    push_all(peers, frame, except);
                }
            }
        } else {
            for (user, peers) in map.iter() {
                if members.contains(user) {
                    push_all(peers, frame, except);
                }
            }
        }
    }

    /// Closes every connection of `user` whose token `revoked` says is
    /// revoked, except connection `except`, with `code`.
    pub fn close_tokens(
        &self,
        user: &str,
        revoked: impl Fn(&[u8; 32]) -> bool,
        except: u64,
        code: u16,
    ) {
        let map = self.map();
        for peer in map.get(user).into_iter().flatten() {
            if peer.conn_id != except && revoked(&peer.token_hash) {
                peer.outbox.close(code);
            }
        }
    }

    /// Every authenticated connection: (user, connection id, token hash).
    pub fn snapshot(&self) -> Vec<(String, u64, [u8; 32])> {
        self.map()
            .iter()
            .flat_map(|(u, peers)| peers.iter().map(|p| (u.clone(), p.conn_id, p.token_hash)))
            .collect()
    }

    /// Closes connection `conn_id` of `user` with `code`.
    pub fn close_conn(&self, user: &str, conn_id: u64, code: u16) {
        let map = self.map();
        for peer in map.get(user).into_iter().flatten() {
            if peer.conn_id == conn_id {
                peer.outbox.close(code);
            }
        }
    }

    /// Number of authenticated connections (for logs and tests).
    pub fn len(&self) -> usize {
        self.map().values().map(Vec::len).sum()
    }

    /// True when no connection is authenticated.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Queues `frame` on each of one user's connections except `except`.
fn push_all(peers: &[Arc<Peer>], frame: &Utf8Bytes, except: Option<u64>) {
    for peer in peers {
        if Some(peer.conn_id) != except {
            peer.outbox.push(frame.clone());
        }
    }
}
