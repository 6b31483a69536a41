//! Integration tests: the real server on a real socket, driven over HTTP
//! the way vger clients drive it. One binary, one module per area.

mod support;

mod admin_api;
mod append_only_repo;
mod auth;
mod client_sessions;
mod disk_full;
mod freshness;
mod hostile;
mod hostile_requests;
mod listing;
mod locks;
mod objects;
mod persistence;
mod quota;
mod ranges;
mod repack;
mod repo_ops;
mod scoped_tokens;
mod security;
mod slow_clients;
mod startup;
mod verify;
