//! The series of one scrape, built fresh from the servers' answers: a
//! repository deleted since the last scrape simply has no series, and a
//! server that cannot be read keeps only `vger_up 0` and its scrape
//! duration.

use prometheus::TextEncoder;
use prometheus::proto::{self, LabelPair, Metric, MetricFamily, MetricType};
use shared_proto::admin::{RepoInfo, ServerStatus};

use crate::collect::Report;

/// The exporter's version, for `vger_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// One metric family, filled sample by sample. The samples are built here
/// directly rather than through a registry of metric vectors: a scrape
/// writes each series once, so the vectors' hashing and locking bought
/// nothing and cost most of the render time (docs/benchmarks.md).
struct Family {
    family: MetricFamily,
    labels: &'static [&'static str],
}

impl Family {
    fn new(kind: MetricType, name: &str, help: &str, labels: &'static [&'static str]) -> Self {
        let mut family = MetricFamily::default();
        family.set_name(name.to_owned());
        family.set_help(help.to_owned());
        family.set_field_type(kind);
        Self { family, labels }
    }

    /// Adds one sample; `values` match the family's label names.
    fn add(&mut self, values: &[&str], value: f64) {
        debug_assert_eq!(values.len(), self.labels.len());
        let pairs = self
            .labels
            .iter()
            .zip(values)
            .map(|(name, v)| {
                let mut pair = LabelPair::default();
                pair.set_name((*name).to_owned());
                pair.set_value((*v).to_owned());
                pair
            })
            .collect();
        let mut metric = Metric::from_label(pairs);
        if self.family.get_field_type() == MetricType::COUNTER {
            let mut c = proto::Counter::default();
            c.set_value(value);
            metric.set_counter(c);
        } else {
            let mut g = proto::Gauge::default();
            g.set_value(value);
            metric.set_gauge(g);
        }
        self.family.mut_metric().push(metric);
    }
}

const SERVER: &[&str] = &["server"];
const REPO: &[&str] = &["server", "repo"];

/// Every metric family of a scrape.
struct Families {
    build_info: Family,
    up: Family,
    scrape_duration: Family,
    server_build_info: Family,
    uptime: Family,
    disk_free: Family,
    disk_total: Family,
    repos: Family,
    requests: Family,
    received: Family,
    sent: Family,
    repo_created: Family,
    repo_last_backup: Family,
    repo_threshold: Family,
    repo_used: Family,
    repo_quota: Family,
    repo_objects: Family,
    repo_packs: Family,
    repo_locks: Family,
    repo_oldest_lock: Family,
    repo_append_only: Family,
}

impl Families {
    fn new() -> Self {
        use MetricType::{COUNTER, GAUGE};
        Self {
            build_info: Family::new(
                GAUGE,
                "vger_build_info",
                "The exporter's version; always 1.",
                &["version"],
            ),
            up: Family::new(
                GAUGE,
                "vger_up",
                "1 when the server's admin API could be read in this scrape, else 0.",
                SERVER,
            ),
            scrape_duration: Family::new(
                GAUGE,
                "vger_exporter_scrape_duration_seconds",
                "How long reading the server's admin API took (the cached read when the answer came from the cache).",
                SERVER,
            ),
            server_build_info: Family::new(
                GAUGE,
                "vger_server_build_info",
                "The server's version; always 1.",
                &["server", "version"],
            ),
            uptime: Family::new(
                GAUGE,
                "vger_server_uptime_seconds",
                "Seconds since the server started.",
                SERVER,
            ),
            disk_free: Family::new(
                GAUGE,
                "vger_disk_free_bytes",
                "Bytes available to the server on its data directory's filesystem.",
                SERVER,
            ),
            disk_total: Family::new(
                GAUGE,
                "vger_disk_total_bytes",
                "Size of the data directory's filesystem.",
                SERVER,
            ),
            repos: Family::new(
                GAUGE,
                "vger_repos",
                "Number of repositories on the server.",
                SERVER,
            ),
            requests: Family::new(
                COUNTER,
                "vger_http_requests_total",
                "Client API requests since the server started, by method and status.",
                &["server", "method", "status"],
            ),
            received: Family::new(
                COUNTER,
                "vger_received_bytes_total",
                "Client API request body bytes read since the server started.",
                SERVER,
            ),
            sent: Family::new(
                COUNTER,
                "vger_sent_bytes_total",
                "Client API response body bytes sent since the server started.",
                SERVER,
            ),
            repo_created: Family::new(
                GAUGE,
                "vger_repo_created_timestamp_seconds",
                "When the server first saw the repository (Unix time).",
                REPO,
            ),
            repo_last_backup: Family::new(
                GAUGE,
                "vger_repo_last_backup_timestamp_seconds",
                "When a backup of the repository last completed (Unix time); absent when none ever did.",
                REPO,
            ),
            repo_threshold: Family::new(
                GAUGE,
                "vger_repo_freshness_threshold_seconds",
                "How old the repository's last backup may get before it is overdue.",
                REPO,
            ),
            repo_used: Family::new(
                GAUGE,
                "vger_repo_used_bytes",
                "Bytes stored in the repository.",
                REPO,
            ),
            repo_quota: Family::new(
                GAUGE,
                "vger_repo_quota_bytes",
                "The repository's quota; absent when unlimited.",
                REPO,
            ),
            repo_objects: Family::new(
                GAUGE,
                "vger_repo_objects",
                "Objects stored in the repository.",
                REPO,
            ),
            repo_packs: Family::new(
                GAUGE,
                "vger_repo_packs",
                "Pack files stored in the repository.",
                REPO,
            ),
            repo_locks: Family::new(
                GAUGE,
                "vger_repo_locks",
                "Locks on the repository: server locks, and lock objects (lapsed ones too, until removed).",
                REPO,
            ),
            repo_oldest_lock: Family::new(
                GAUGE,
                "vger_repo_oldest_lock_age_seconds",
                "Age of the repository's oldest lock (a server lock from when it was taken, a lock object from its last write); absent when it has none.",
                REPO,
            ),
            repo_append_only: Family::new(
                GAUGE,
                "vger_repo_append_only",
                "1 when append-only rules apply to the repository, else 0.",
                REPO,
            ),
        }
    }

    fn server(&mut self, server: &str, s: &ServerStatus) {
        let one = &[server];
        self.server_build_info.add(&[server, &s.version], 1.0);
        self.uptime.add(one, s.uptime_seconds as f64);
        self.disk_free.add(one, s.disk_free_bytes as f64);
        self.disk_total.add(one, s.disk_total_bytes as f64);
        self.repos.add(one, s.repos as f64);
        for r in &s.traffic.requests {
            let status = r.status.to_string();
            self.requests
                .add(&[server, &r.method, &status], r.count as f64);
        }
        self.received.add(one, s.traffic.received_bytes as f64);
        self.sent.add(one, s.traffic.sent_bytes as f64);
    }

    fn repo(&mut self, server: &str, r: &RepoInfo) {
        let l = &[server, r.name.as_str()];
        if let Some(t) = unix_seconds(&r.created_at) {
            self.repo_created.add(l, t);
        }
        if let Some(t) = r.last_backup_at.as_deref().and_then(unix_seconds) {
            self.repo_last_backup.add(l, t);
        }
        self.repo_threshold
            .add(l, r.freshness_threshold_seconds as f64);
        self.repo_used.add(l, r.used_bytes as f64);
        if let Some(q) = r.quota_bytes {
            self.repo_quota.add(l, q as f64);
        }
        self.repo_objects.add(l, r.objects as f64);
        self.repo_packs.add(l, r.packs as f64);
        self.repo_locks.add(l, r.locks.len() as f64);
        if let Some(oldest) = r.locks.iter().map(|k| k.age_seconds).max() {
            self.repo_oldest_lock.add(l, oldest as f64);
        }
        self.repo_append_only
            .add(l, if r.append_only { 1.0 } else { 0.0 });
    }

    /// The families with at least one sample, in a fixed order.
    fn into_families(self) -> Vec<MetricFamily> {
        [
            self.build_info,
            self.up,
            self.scrape_duration,
            self.server_build_info,
            self.uptime,
            self.disk_free,
            self.disk_total,
            self.repos,
            self.requests,
            self.received,
            self.sent,
            self.repo_created,
            self.repo_last_backup,
            self.repo_threshold,
            self.repo_used,
            self.repo_quota,
            self.repo_objects,
            self.repo_packs,
            self.repo_locks,
            self.repo_oldest_lock,
            self.repo_append_only,
        ]
        .into_iter()
        .map(|f| f.family)
        .filter(|f| !f.get_metric().is_empty())
        .collect()
    }
}

/// The text exposition of one scrape.
pub fn render(reports: &[Report]) -> String {
    let mut f = Families::new();
    f.build_info.add(&[VERSION], 1.0);
    for r in reports {
        let server = r.server.as_str();
        f.scrape_duration
            .add(&[server], r.fetched.took.as_secs_f64());
        match &r.fetched.result {
            Err(_) => f.up.add(&[server], 0.0),
            Ok(snap) => {
                f.up.add(&[server], 1.0);
                f.server(server, &snap.status);
                for repo in &snap.repos.repos {
                    f.repo(server, repo);
                }
            }
        }
    }
    let mut text = String::new();
    TextEncoder::new()
        .encode_utf8(&f.into_families(), &mut text)
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
    use crate::collect::Fetched;
    use crate::source::SourceError;
    use std::sync::Arc;
    use std::time::Duration;

    fn down(server: &str) -> Report {
        Report {
            server: server.into(),
            fetched: Arc::new(Fetched {
                result: Err(SourceError::Unreachable {
                    url: "http://h:1".into(),
                    reason: "refused".into(),
                }),
                took: Duration::from_millis(250),
            }),
        }
    }

    #[test]
    fn admin_api_times_become_unix_seconds() {
        assert_eq!(unix_seconds("2026-11-28T07:01:18Z"), Some(1_795_849_278.0));
        assert_eq!(unix_seconds("1970-01-01T00:00:01.250Z"), Some(1.25));
    }

    #[test]
    fn an_unreadable_time_gives_no_sample() {
        assert_eq!(unix_seconds("yesterday"), None);
    }

    #[test]
    fn a_server_that_cannot_be_read_has_only_up_and_its_read_time() {
        let text = render(&[down("b1")]);
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                format!("vger_build_info{{version=\"{VERSION}\"}} 1").as_str(),
                "vger_up{server=\"b1\"} 0",
                "vger_exporter_scrape_duration_seconds{server=\"b1\"} 0.25",
            ]
        );
    }

    #[test]
    fn every_family_has_help_and_type() {
        let text = render(&[down("b1")]);
        for family in [
            "vger_build_info",
            "vger_up",
            "vger_exporter_scrape_duration_seconds",
        ] {
            assert!(text.contains(&format!("# HELP {family} ")), "{text}");
            assert!(text.contains(&format!("# TYPE {family} gauge\n")), "{text}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        let text = render(&[down("a\"b\\c\nd")]);
        assert!(
            text.contains("vger_up{server=\"a\\\"b\\\\c\\nd\"} 0"),
            "{text}"
        );
    }
}
