//! convo: the terminal chat client library (the `convo` binary is a thin shell over it).
//!
//! - [`sanitize`]: makes hostile text safe to put on a terminal.
//! - [`ui`]: the ratatui TUI (state, update, render, key handling).
//! - [`config`]: data/config paths, `config.toml`, device id, user-name defaults.
//! - [`token`]: session secrets in the OS keyring, else a 0600 file.
//! - `cli`: clap definitions and the scriptable commands (`convo list`, …).
//! - `local`: `--local`, the bundled server run in-process.
//! - `output`: JSON shapes and sanitized human lines the commands print.
pub mod accounts;
pub mod config;
pub mod sanitize;
pub mod token;
pub mod ui;

#[cfg(feature = "wired")]
pub mod cli;
#[cfg(feature = "wired")]
pub mod local;
#[cfg(feature = "wired")]
pub mod output;
