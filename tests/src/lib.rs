//! conformance: scripted protocol scenarios, their runner, and the load generator.
