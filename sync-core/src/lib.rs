//! sync-core: a local sync engine for the convo timeline protocol
//! (`shared/PROTOCOL.md`). It keeps a SQLite copy of the user's
//! conversations, syncs it over WebSocket, and sends through a durable
//! outbox. The guide for app authors is `docs/SYNC-CORE-API.md`.
//!
//! Two public surfaces:
//!
//! - **The app's**, at the crate root: [`ClientBuilder`] (one server URL,
//!   or several of one service with failover: [`ClientBuilder::servers`])
//!   and [`Client`]
//!   (commands resolve with [`Committed`] once stored; [`blocking`] for
//!   synchronous callers), [`MessageStream`] (every entry exactly once per
//!   stored position, and exactly-once replies), [`Events`] (bounded,
//!   coalescing change notifications), the query types ([`ConvRow`],
//!   [`TimelineItem`], [`TimelineQuery`], …) and the errors ([`Error`],
//!   [`ConnectError`], [`ErrorEvent`]). [`protocol`] holds the wire types.
//!   Protocol 1.1 (§9.1–9.4): [`Client::send_reply`], [`Client::thread`]
//!   ([`ThreadWindow`]), [`Client::react`] / [`Client::unreact`]
//!   ([`ReactionCount`]), mentions on [`LocalMessage`] and [`ConvRow`],
//!   [`Client::set_settings`] ([`SettingsChange`], [`Notify`]), each used
//!   only when [`Client::supports`] the feature.
//! - **The store implementor's**: [`store`], with the [`store::Store`]
//!   trait, exactly the types an implementation reads and writes
//!   ([`store::Snapshot`], [`store::Batch`], [`store::Write`], …), the
//!   SQLite and in-memory implementations, and
//!   [`store_integration_tests!`], the suite a new store must pass.
//!
//! Inside: a sans-IO engine (frames, timer and commands in; frames, store
//! batches and events out), a driver thread that owns the socket, and a
//! store thread that commits every batch (group-committing what is queued)
//! before delivering the events and replies that follow it. Queries read
//! their own SQLite connections and never touch the network.
//!
//! Invariants: a cursor is never ahead of its messages (one batch per
//! apply); gaps are exact; per-conversation send order and retries with
//! the same client id; lazy groups and bounded opens; resets on a changed
//! `server_id` or a backwards `last_seq`. ARCHITECTURE.md says where each
//! lives.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod protocol;

#[cfg(feature = "engine")]
pub mod blocking;
#[cfg(feature = "engine")]
pub mod client;
#[cfg(feature = "engine")]
mod committed;
#[cfg(feature = "engine")]
mod driver;
#[cfg(feature = "engine")]
pub(crate) mod engine;
#[cfg(feature = "engine")]
pub mod error;
#[cfg(feature = "engine")]
pub mod events;
#[cfg(feature = "engine")]
pub mod store;
#[cfg(feature = "engine")]
pub mod stream;
#[cfg(feature = "tls")]
pub mod tls;

#[cfg(feature = "engine")]
pub use client::{Client, ClientBuilder, Events};
#[cfg(feature = "engine")]
pub use committed::Committed;
#[cfg(feature = "engine")]
pub use engine::{Config, ServerInfo, SettingsChange};
#[cfg(feature = "engine")]
pub use error::{ConnectError, Error};
#[cfg(feature = "engine")]
pub use events::{ConnState, ErrorEvent, Event, SyncReport};
pub use protocol::{Notify, ServerLimits};
#[cfg(feature = "engine")]
pub use store::{
    ConvRow, FailCode, LocalMessage, OutboxItem, OutboxKind, OutboxState, ReactionCount, SearchHit,
    Session, ThreadWindow, TimelineItem, TimelineQuery,
};
#[cfg(feature = "engine")]
pub use stream::{Arrival, Convs, Effect, MessageStream, StartAt, StreamItem, StreamOptions};
