//! Integration tests: the real server on a real socket, driven over HTTP
//! the way vger clients drive it. One binary, one module per area.

mod support;

mod auth;
mod client_sessions;
mod disk_full;
mod hostile;
mod listing;
mod locks;
mod objects;
mod ranges;
mod repack;
mod repo_ops;
mod startup;
mod verify;
