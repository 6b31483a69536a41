//! vger-server: a self-hosted REST server for vger backup repositories.
//!
//! Layers, from the wire inwards: `http` (routes, status codes),
//! `service` (each operation as one step over the layers below), `policy`
//! (who may do what: append-only, quota, freshness rules), `store` (objects
//! on disk), `state` (what the server remembers besides objects, in
//! SQLite). `server` wires them together at start-up; `connections`
//! accepts clients within their limits.

pub mod app;
pub mod config;
pub mod connections;
pub mod http;
pub mod logging;
pub mod maintenance;
pub mod panics;
pub mod policy;
pub mod server;
pub mod service;
pub mod state;
pub mod store;
pub mod traffic;
