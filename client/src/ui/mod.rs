//! The TUI: state, update(action), rendering, key handling.
