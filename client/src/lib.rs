//! convo: the terminal chat client library (the `convo` binary is a thin shell over it).
//!
//! - [`sanitize`]: makes hostile text safe to put on a terminal.
//! - [`ui`]: the ratatui TUI (state, update, render, key handling).
pub mod sanitize;
pub mod ui;
