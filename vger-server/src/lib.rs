//! vger-server: a self-hosted REST server for vger backup repositories.
//!
//! Layers, from the wire inwards: `http` (routes, status codes), `policy`
//! (who may do what), `store` (objects on disk), `state` (what the server
//! remembers besides objects). `server` wires them together at start-up.

pub mod app;
pub mod config;
pub mod http;
pub mod logging;
pub mod policy;
pub mod server;
pub mod state;
pub mod store;
