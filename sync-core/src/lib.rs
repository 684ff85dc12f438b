//! sync-core: a local sync engine for the timeline protocol (`shared/PROTOCOL.md`).
//!
//! Modules:
//! - [`protocol`]: serde types for every frame, strict decoding, field rules.
//!   Always built; the `engine` feature adds everything else.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod protocol;
