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
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod protocol;

#[cfg(feature = "engine")]
pub mod client;
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
pub use client::{Client, ClientBuilder, Events};
#[cfg(feature = "engine")]
pub use error::Error;
#[cfg(feature = "engine")]
pub use events::{ConnState, Event, SyncReport};
#[cfg(feature = "engine")]
pub use store::{
    ConvRow, LocalMessage, OutboxItem, OutboxKind, OutboxState, SearchHit, Session, TimelineItem,
    TimelineQuery,
};
