//! End to end: vger-server and the exporter on loopback ports, and a real
//! Prometheus scraping the exporter every second with the shipped alert
//! rules. Through Prometheus' HTTP API: the series exist, and
//! VgerBackupStale fires for the stale repository only. And the Prometheus
//! config that docs/monitoring.md shows, checked by promtool.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{
    ExporterUnderTest, Server, Watch, dashboards_dir, eventually, prometheus_tool,
};

/// A Prometheus child process, killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    http: reqwest::Client,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    async fn start(binary: &Path, exporter: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rules = dashboards_dir()
            .join("alerts/vger.rules.yml")
            .canonicalize()
            .unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {rules:?}\n\
             scrape_configs:\n  - job_name: vger\n    static_configs:\n      - targets: [{exporter:?}]\n"
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        // Prometheus takes no port 0; a port free a moment ago is free
        // enough on loopback.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.path().join("prometheus.log");
        let child = Command::new(binary)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let p = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            log,
            _dir: dir,
        };
        let ready = eventually(Duration::from_secs(30), || async {
            matches!(p.http.get(format!("{}/-/ready", p.url)).send().await, Ok(r) if r.status() == 200)
        })
        .await;
        assert!(ready, "Prometheus did not start:\n{}", p.log_text());
        p
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn api(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let r = self
            .http
            .get(format!("{}/api/v1/{path}", self.url))
            .query(query)
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["status"], "success", "{path}: {v}");
        v["data"].clone()
    }

    /// The alerts named `name` in state `state`, by their `repo` label.
    async fn alerts(&self, name: &str, state: &str) -> BTreeSet<String> {
        let data = self.api("alerts", &[]).await;
        data["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["labels"]["alertname"] == name && a["state"] == state)
            .map(|a| a["labels"]["repo"].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_with_the_shipped_rules_alerts_on_the_stale_repository_only() {
    let Some(binary) = prometheus_tool("prometheus") else {
        return;
    };
    let s = Server::start().await;
    // Both backed up now; "stale" allows 1 second, "fresh" a day.
    s.create_repo("fresh", json!({ "freshness_threshold_seconds": 86_400 }))
        .await;
    s.create_repo("stale", json!({ "freshness_threshold_seconds": 1 }))
        .await;
    s.create_repo("never", json!({ "freshness_threshold_seconds": 1 }))
        .await;
    s.create_repo("patient", json!({})).await;
    s.back_up("fresh").await;
    s.back_up("stale").await;
    let e = ExporterUnderTest::start(&[Watch::server("e2e", &s)], "cache_ttl_seconds = 0").await;
    let p = Prometheus::start(&binary, &e.addr.to_string()).await;

    let fired = eventually(Duration::from_secs(60), || async {
        p.alerts("VgerBackupStale", "firing")
            .await
            .contains("stale")
    })
    .await;
    assert!(
        fired,
        "VgerBackupStale never fired; Prometheus log:\n{}",
        p.log_text()
    );
    let never = eventually(Duration::from_secs(30), || async {
        p.alerts("VgerBackupNeverCompleted", "firing")
            .await
            .contains("never")
    })
    .await;
    assert!(
        never,
        "VgerBackupNeverCompleted never fired for the repo without a backup"
    );

    // Several evaluations later, still exactly those.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stale: Vec<String> = p
        .alerts("VgerBackupStale", "firing")
        .await
        .into_iter()
        .collect();
    assert_eq!(stale, ["stale"]);
    let pending = p.alerts("VgerBackupStale", "pending").await;
    assert!(pending.is_empty(), "{pending:?}");
    for quiet in ["VgerServerDown", "VgerExporterDown", "VgerQuotaNearlyFull"] {
        for state in ["pending", "firing"] {
            let got = p.alerts(quiet, state).await;
            assert!(got.is_empty(), "{quiet} is {state}: {got:?}");
        }
    }
    let never: Vec<String> = p
        .alerts("VgerBackupNeverCompleted", "firing")
        .await
        .into_iter()
        .collect();
    assert_eq!(never, ["never"]);

    let data = p.api("alerts", &[]).await;
    let alert = data["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "VgerBackupStale")
        .unwrap();
    assert_eq!(alert["labels"]["severity"], "warning");
    assert_eq!(alert["labels"]["server"], "e2e");
    assert_eq!(alert["labels"]["job"], "vger");
    let runbook = alert["annotations"]["runbook_url"].as_str().unwrap();
    assert!(
        runbook.ends_with("docs/runbooks.md#vgerbackupstale"),
        "{runbook}"
    );
    let summary = alert["annotations"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("No backup of stale on e2e for "),
        "{summary}"
    );

    let up = p.api("query", &[("query", "vger_up")]).await;
    assert_eq!(up["result"][0]["metric"]["server"], "e2e");
    assert_eq!(up["result"][0]["value"][1], "1");

    let names = p
        .api(
            "query",
            &[("query", r#"count by (__name__) ({__name__=~"vger_.+"})"#)],
        )
        .await;
    let names: BTreeSet<&str> = names["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["metric"]["__name__"].as_str().unwrap())
        .collect();
    for want in [
        "vger_up",
        "vger_build_info",
        "vger_exporter_scrape_duration_seconds",
        "vger_repo_last_backup_timestamp_seconds",
        "vger_repo_freshness_threshold_seconds",
        "vger_repo_used_bytes",
        "vger_repo_objects",
        "vger_repo_packs",
        "vger_repo_locks",
        "vger_repo_append_only",
        "vger_disk_free_bytes",
        "vger_disk_total_bytes",
        "vger_server_uptime_seconds",
        "vger_repos",
        "vger_http_requests_total",
        "vger_received_bytes_total",
        "vger_sent_bytes_total",
    ] {
        assert!(names.contains(want), "{want} not in Prometheus: {names:?}");
    }
    let per_repo = p
        .api(
            "query",
            &[(
                "query",
                "count(vger_repo_used_bytes{job=\"vger\",server=\"e2e\"})",
            )],
        )
        .await;
    assert_eq!(per_repo["result"][0]["value"][1], "4");
}

#[test]
fn the_prometheus_config_in_the_docs_is_valid_with_the_shipped_rules() {
    let Some(promtool) = prometheus_tool("promtool") else {
        return;
    };
    let docs = std::fs::read_to_string(dashboards_dir().join("../docs/monitoring.md")).unwrap();
    let snippet = docs
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.contains("scrape_configs:"))
        .expect("docs/monitoring.md shows a Prometheus config");
    let rules = dashboards_dir()
        .join("alerts/vger.rules.yml")
        .canonicalize()
        .unwrap();
    let config = snippet.replace(
        "/etc/prometheus/rules/vger.rules.yml",
        rules.to_str().unwrap(),
    );
    assert_ne!(
        config, snippet,
        "the snippet no longer names the rules file"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prometheus.yml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(promtool)
        .args(["check", "config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool check config: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
