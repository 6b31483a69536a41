//! vger-exporter against real servers on 127.0.0.1:0, over real HTTP:
//! the series it exports, its time limits and cache, its start-up errors,
//! the shipped dashboards and alert rules against a live scrape, and a
//! real Prometheus evaluating those rules.

mod dashboards;
mod prometheus;
mod scrape;
mod startup;
mod support;
