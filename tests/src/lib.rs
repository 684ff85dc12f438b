//! conformance: scripted protocol scenarios, their runner, and the load generator.
//!
//! Module map (the scenario format is documented in `scenarios/README.md`):
//! - [`script`]: the parsed form of a scenario (steps with line numbers);
//! - [`parse`]: scenario text → [`script::Scenario`], errors as `file:line`;
//! - [`template`]: JSON sugar (`$var`, `?capture`, `*`, `absent`), variables,
//!   user-name aliases, filling frames before sending;
//! - [`matcher`]: partial matching of received frames against patterns;
//! - [`connection`]: one WebSocket connection driven by a background task;
//! - [`expect`]: which buffered frame an expectation checks, and waiting;
//! - [`runner`]: executes one scenario's steps;
//! - [`suite`]: loads a directory and schedules scenarios;
//! - [`report`]: `PASS`/`FAIL`/`SKIP` lines and the summary line;
//! - [`pg`], [`nats`]: throwaway PostgreSQL clusters and NATS servers for
//!   the PostgreSQL and multi-node tests; [`cluster`]: `server-mock` node
//!   processes, N of them on one database and one NATS; [`procfs`]: CPU
//!   time from `/proc`; [`pki`]: a throwaway CA;
//! - [`proxy`]: a WebSocket-aware fault proxy that can log every frame;
//!   [`wire_check`]: reads such a log against PROTOCOL.md.

pub mod cluster;
pub mod connection;
pub mod expect;
pub mod matcher;
pub mod nats;
pub mod parse;
pub mod pg;
pub mod pki;
pub mod procfs;
pub mod proxy;
pub mod report;
pub mod runner;
pub mod script;
pub mod suite;
pub mod template;
pub mod watchdog;
pub mod wire_check;
