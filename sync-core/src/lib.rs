//! sync-core: a local sync engine for the timeline protocol (`shared/PROTOCOL.md`).
//!
//! Modules:
//! - [`protocol`]: serde types for every frame, strict decoding, field rules.
//!   Always built; the `engine` feature (default) adds everything else.
//! - [`store`]: the local cache — the [`store::Store`] trait, SQLite and
//!   in-memory implementations, held-range/gap arithmetic.
//! - [`engine`]: the sans-IO state machine (`handle_*` in, `poll_*` out).
//! - `driver`: the tokio task owning the socket, timers and engine, plus the
//!   store thread that commits every write.
//! - [`client`]: the public handle ([`Client`], [`ClientBuilder`]).
//! - [`events`]: [`Event`], [`ConnState`], [`SyncReport`].
//!
//! Data flow: the app calls a [`Client`] method → a command goes to the
//! driver thread → [`engine::Engine::handle_command`] updates its in-memory
//! mirror and emits frames, a store batch and events → the driver writes the
//! frames to the WebSocket and hands the batch, then the events (and any
//! reply), to the store thread, which commits the batch in one `BEGIN
//! IMMEDIATE` transaction before delivering what follows it. Server frames
//! take the same path through [`engine::Engine::handle_frame`]. Queries
//! ([`Client::timeline`], [`Client::conversations`], …) read a separate
//! SQLite connection and never touch the network.
//!
//! Invariants and where they live: a cursor never ahead of its messages
//! (one batch per apply, `store::Write::Messages` + `store::Write::Conv`);
//! exact gaps (`store::ranges`); per-conversation send order and retries with
//! the same client id (`engine/outbox.rs`); lazy groups and bounded opens
//! (`engine/timeline.rs`); resets on a changed `server_id` or a backwards
//! `last_seq` (`engine/connect.rs`).
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
pub mod engine;
#[cfg(feature = "engine")]
pub mod error;
#[cfg(feature = "engine")]
pub mod events;
#[cfg(feature = "engine")]
pub mod store;
#[cfg(feature = "engine")]
pub mod stream;

#[cfg(feature = "engine")]
pub use client::{Client, ClientBuilder, Events};
#[cfg(feature = "engine")]
pub use committed::Committed;
#[cfg(feature = "engine")]
pub use error::{ConnectError, Error};
#[cfg(feature = "engine")]
pub use events::{ConnState, ErrorEvent, Event, SyncReport};
#[cfg(feature = "engine")]
pub use store::{
    ConvRow, FailCode, LocalMessage, OutboxItem, OutboxKind, OutboxState, SearchHit, Session,
    TimelineItem, TimelineQuery,
};
#[cfg(feature = "engine")]
pub use stream::{Arrival, Convs, MessageStream, StartAt, StreamItem, StreamOptions};
