//! vger-exporter: Prometheus metrics for vger-server, read from its admin
//! API when Prometheus scrapes.
//!
//! `config` reads what to watch; `source` reads one server's admin API;
//! `cache` shares an answer between scrapes; `collect` reads every server
//! for a scrape within its time limit; `metrics` turns the answers into
//! series; `http` serves them; `server` binds and runs.

pub mod cache;
pub mod collect;
pub mod config;
pub mod http;
pub mod metrics;
pub mod server;
pub mod source;
