//! The engine's deterministic tests: every sync rule as plain function
//! calls against a model server, with no sockets and a fake clock. They
//! live inside the crate because the sans-IO engine is not public API.

mod common;
mod fetch_once;
mod outbox;
mod props;
mod props11;
mod rules;
mod server_freedoms;
mod v11;
