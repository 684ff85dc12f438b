//! Turns untrusted text (bodies, names, titles) into terminal-safe text.
