//! The series of one scrape, built fresh from the servers' answers: a
//! repository deleted since the last scrape simply has no series, and a
//! server that cannot be read keeps only `vger_up 0` and its scrape
//! duration.

use prometheus::{Gauge, GaugeVec, IntCounterVec, Opts, Registry, TextEncoder};
use shared_proto::admin::{RepoInfo, ServerStatus};

use crate::collect::Report;

/// The exporter's version, for `vger_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Every metric family, registered in a registry of their own.
struct Families {
    registry: Registry,
    build_info: GaugeVec,
    up: GaugeVec,
    scrape_duration: GaugeVec,
    server_build_info: GaugeVec,
    uptime: GaugeVec,
    disk_free: GaugeVec,
    disk_total: GaugeVec,
    repos: GaugeVec,
    requests: IntCounterVec,
    received: IntCounterVec,
    sent: IntCounterVec,
    repo_created: GaugeVec,
    repo_last_backup: GaugeVec,
    repo_threshold: GaugeVec,
    repo_used: GaugeVec,
    repo_quota: GaugeVec,
    repo_objects: GaugeVec,
    repo_packs: GaugeVec,
    repo_locks: GaugeVec,
    repo_oldest_lock: GaugeVec,
    repo_append_only: GaugeVec,
}

const SERVER: &[&str] = &["server"];
const REPO: &[&str] = &["server", "repo"];

impl Families {
    fn new() -> Self {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = GaugeVec::new(Opts::new(name, help), labels).expect("a valid metric name");
            registry
                .register(Box::new(g.clone()))
                .expect("each family is registered once");
            g
        };
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric name");
            registry
                .register(Box::new(c.clone()))
                .expect("each family is registered once");
            c
        };
        Self {
            build_info: gauge(
                "vger_build_info",
                "The exporter's version; always 1.",
                &["version"],
            ),
            up: gauge(
                "vger_up",
                "1 when the server's admin API could be read in this scrape, else 0.",
                SERVER,
            ),
            scrape_duration: gauge(
                "vger_exporter_scrape_duration_seconds",
                "How long reading the server's admin API took (the cached read when the answer came from the cache).",
                SERVER,
            ),
            server_build_info: gauge(
                "vger_server_build_info",
                "The server's version; always 1.",
                &["server", "version"],
            ),
            uptime: gauge(
                "vger_server_uptime_seconds",
                "Seconds since the server started.",
                SERVER,
            ),
            disk_free: gauge(
                "vger_disk_free_bytes",
                "Bytes available to the server on its data directory's filesystem.",
                SERVER,
            ),
            disk_total: gauge(
                "vger_disk_total_bytes",
                "Size of the data directory's filesystem.",
                SERVER,
            ),
            repos: gauge(
                "vger_repos",
                "Number of repositories on the server.",
                SERVER,
            ),
            requests: counter(
                "vger_http_requests_total",
                "Client API requests since the server started, by method and status.",
                &["server", "method", "status"],
            ),
            received: counter(
                "vger_received_bytes_total",
                "Client API request body bytes read since the server started.",
                SERVER,
            ),
            sent: counter(
                "vger_sent_bytes_total",
                "Client API response body bytes sent since the server started.",
                SERVER,
            ),
            repo_created: gauge(
                "vger_repo_created_timestamp_seconds",
                "When the server first saw the repository (Unix time).",
                REPO,
            ),
            repo_last_backup: gauge(
                "vger_repo_last_backup_timestamp_seconds",
                "When a backup of the repository last completed (Unix time); absent when none ever did.",
                REPO,
            ),
            repo_threshold: gauge(
                "vger_repo_freshness_threshold_seconds",
                "How old the repository's last backup may get before it is overdue.",
                REPO,
            ),
            repo_used: gauge(
                "vger_repo_used_bytes",
                "Bytes stored in the repository.",
                REPO,
            ),
            repo_quota: gauge(
                "vger_repo_quota_bytes",
                "The repository's quota; absent when unlimited.",
                REPO,
            ),
            repo_objects: gauge(
                "vger_repo_objects",
                "Objects stored in the repository.",
                REPO,
            ),
            repo_packs: gauge(
                "vger_repo_packs",
                "Pack files stored in the repository.",
                REPO,
            ),
            repo_locks: gauge(
                "vger_repo_locks",
                "Live locks on the repository (server locks and lock objects).",
                REPO,
            ),
            repo_oldest_lock: gauge(
                "vger_repo_oldest_lock_age_seconds",
                "Age of the repository's oldest live lock; absent when it has none.",
                REPO,
            ),
            repo_append_only: gauge(
                "vger_repo_append_only",
                "1 when append-only rules apply to the repository, else 0.",
                REPO,
            ),
            registry,
        }
    }

    fn server(&self, server: &str, s: &ServerStatus) {
        let one = &[server];
        self.server_build_info
            .with_label_values(&[server, &s.version])
            .set(1.0);
        self.uptime
            .with_label_values(one)
            .set(s.uptime_seconds as f64);
        self.disk_free
            .with_label_values(one)
            .set(s.disk_free_bytes as f64);
        self.disk_total
            .with_label_values(one)
            .set(s.disk_total_bytes as f64);
        self.repos.with_label_values(one).set(s.repos as f64);
        for r in &s.traffic.requests {
            self.requests
                .with_label_values(&[server, &r.method, &r.status.to_string()])
                .inc_by(r.count);
        }
        self.received
            .with_label_values(one)
            .inc_by(s.traffic.received_bytes);
        self.sent
            .with_label_values(one)
            .inc_by(s.traffic.sent_bytes);
    }

    fn repo(&self, server: &str, r: &RepoInfo) {
        let l = &[server, r.name.as_str()];
        if let Some(t) = unix_seconds(&r.created_at) {
            self.repo_created.with_label_values(l).set(t);
        }
        if let Some(t) = r.last_backup_at.as_deref().and_then(unix_seconds) {
            self.repo_last_backup.with_label_values(l).set(t);
        }
        self.repo_threshold
            .with_label_values(l)
            .set(r.freshness_threshold_seconds as f64);
        self.repo_used.with_label_values(l).set(r.used_bytes as f64);
        if let Some(q) = r.quota_bytes {
            self.repo_quota.with_label_values(l).set(q as f64);
        }
        self.repo_objects.with_label_values(l).set(r.objects as f64);
        self.repo_packs.with_label_values(l).set(r.packs as f64);
        self.repo_locks
            .with_label_values(l)
            .set(r.locks.len() as f64);
        if let Some(oldest) = r.locks.iter().map(|k| k.age_seconds).max() {
            self.repo_oldest_lock
                .with_label_values(l)
                .set(oldest as f64);
        }
        self.repo_append_only
            .with_label_values(l)
            .set(if r.append_only { 1.0 } else { 0.0 });
    }
}

/// The text exposition of one scrape.
pub fn render(reports: &[Report]) -> String {
    let f = Families::new();
    f.build_info.with_label_values(&[VERSION]).set(1.0);
    for r in reports {
        let server = r.server.as_str();
        f.scrape_duration
            .with_label_values(&[server])
            .set(r.fetched.took.as_secs_f64());
        let up: &Gauge = &f.up.with_label_values(&[server]);
        match &r.fetched.result {
            Err(_) => up.set(0.0),
            Ok(snap) => {
                up.set(1.0);
                f.server(server, &snap.status);
                for repo in &snap.repos.repos {
                    f.repo(server, repo);
                }
            }
        }
    }
    let mut text = String::new();
    TextEncoder::new()
        .encode_utf8(&f.registry.gather(), &mut text)
        .expect("families built here encode");
    text
}

/// An RFC 3339 time from the admin API as Unix seconds.
fn unix_seconds(t: &str) -> Option<f64> {
    let at = humantime::parse_rfc3339(t).ok()?;
    let since = at.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(since.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_api_times_become_unix_seconds_with_milliseconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:01.250Z"), Some(1.25));
        assert_eq!(unix_seconds("2026-11-28T07:01:18Z"), Some(1_795_849_278.0));
        assert_eq!(unix_seconds("yesterday"), None);
    }
}
