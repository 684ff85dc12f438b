//! server-mock: the reference timeline server.
