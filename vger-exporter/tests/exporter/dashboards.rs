//! The shipped Grafana dashboards and alert rules, checked against what
//! the exporter really emits: every metric they name must appear in a live
//! scrape of a server that has every kind of series.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::support::{ExporterUnderTest, Server, Watch, dashboards_dir};

fn dashboards() -> Vec<(PathBuf, Value)> {
    let dir = dashboards_dir().join("grafana");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    found.sort();
    assert!(
        found.len() >= 2,
        "dashboards in {}: {found:?}",
        dir.display()
    );
    found
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let v = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", p.display()));
            (p, v)
        })
        .collect()
}

/// Every panel, rows' nested panels included.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        out.push(p);
        if let Some(nested) = p["panels"].as_array() {
            out.extend(nested);
        }
    }
    out
}

/// Every PromQL query of the panels, with the panel's title.
fn queries(d: &Value) -> Vec<(String, String)> {
    panels(d)
        .into_iter()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or("?").to_owned();
            p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(move |t| t["expr"].as_str().map(|e| (title.clone(), e.to_owned())))
        })
        .collect()
}

/// The `vger_*` names in a PromQL text, skipping quoted label values; each
/// with the byte offset just after it.
fn metric_names(promql: &str) -> Vec<(String, usize)> {
    let b = promql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                i += 1;
            }
            let word = &promql[start..i];
            if word.starts_with("vger_") {
                out.push((word.to_owned(), i));
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The metric names of a live scrape of a server with a quota, a
/// completed backup, a lock and traffic, so every conditional series is
/// present.
async fn live_names() -> BTreeSet<String> {
    let s = Server::start().await;
    s.create_repo("r", json!({ "quota_bytes": 1_000_000 }))
        .await;
    s.back_up("r").await;
    s.lock("r").await;
    let e = ExporterUnderTest::start(&[Watch::server("b", &s)], "").await;
    let names = e.scrape().await.names();
    assert!(names.contains("vger_repo_quota_bytes"), "{names:?}");
    names
}

#[test]
fn every_dashboard_has_a_datasource_variable_and_no_inputs() {
    for (path, d) in dashboards() {
        assert!(d.get("__inputs").is_none(), "{}: __inputs", path.display());
        let vars = d["templating"]["list"].as_array().unwrap();
        let ds = vars.iter().find(|v| v["name"] == "datasource");
        let ds = ds.unwrap_or_else(|| panic!("{}: no datasource variable", path.display()));
        assert_eq!(ds["type"], "datasource", "{}", path.display());
        assert_eq!(ds["query"], "prometheus", "{}", path.display());
        for name in ["job", "instance"] {
            assert!(
                vars.iter().any(|v| v["name"] == name),
                "{}: no {name} variable",
                path.display()
            );
        }
        assert!(d["uid"].as_str().is_some_and(|u| u.starts_with("vger-")));
    }
}

#[test]
fn every_panel_query_and_variable_uses_the_datasource_variable() {
    let want = json!({ "type": "prometheus", "uid": "${datasource}" });
    for (path, d) in dashboards() {
        for p in panels(&d) {
            let title = &p["title"];
            assert_eq!(p["datasource"], want, "{}: panel {title}", path.display());
            for t in p["targets"].as_array().unwrap() {
                assert_eq!(
                    t["datasource"],
                    want,
                    "{}: query of {title}",
                    path.display()
                );
            }
        }
        for v in d["templating"]["list"].as_array().unwrap() {
            if v["type"] == "query" {
                assert_eq!(
                    v["datasource"],
                    want,
                    "{}: variable {}",
                    path.display(),
                    v["name"]
                );
            }
        }
    }
}

#[test]
fn every_panel_has_a_unit() {
    for (path, d) in dashboards() {
        for p in panels(&d) {
            let unit = p["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or("");
            assert!(
                !unit.is_empty(),
                "{}: panel {} has no unit",
                path.display(),
                p["title"]
            );
        }
    }
}

#[test]
fn every_rate_spans_the_rate_interval() {
    for (path, d) in dashboards() {
        for (title, q) in queries(&d) {
            for f in ["rate(", "increase(", "irate("] {
                if q.contains(f) {
                    assert!(
                        q.contains("[$__rate_interval]"),
                        "{}: {title}: {q}",
                        path.display()
                    );
                }
            }
        }
    }
}

#[test]
fn every_series_selector_filters_by_job_and_instance() {
    for (path, d) in dashboards() {
        for (title, q) in queries(&d) {
            for (name, end) in metric_names(&q) {
                let rest = &q[end..];
                let matchers = rest
                    .strip_prefix('{')
                    .and_then(|r| r.split_once('}'))
                    .map(|(m, _)| m)
                    .unwrap_or_else(|| {
                        panic!("{}: {title}: {name} has no matchers", path.display())
                    });
                for m in ["job=~\"$job\"", "instance=~\"$instance\""] {
                    assert!(
                        matchers.contains(m),
                        "{}: {title}: {name} lacks {m}",
                        path.display()
                    );
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_metric_the_dashboards_query_is_one_the_exporter_emits() {
    let live = live_names().await;
    for (path, d) in dashboards() {
        let mut used: Vec<(String, String)> = queries(&d);
        for v in d["templating"]["list"].as_array().unwrap() {
            if let Some(q) = v["definition"].as_str() {
                used.push((format!("variable {}", v["name"]), q.to_owned()));
            }
        }
        assert!(!used.is_empty());
        for (title, q) in used {
            for (name, _) in metric_names(&q) {
                assert!(
                    live.contains(&name),
                    "{}: {title}: {name} is not exported",
                    path.display()
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_metric_the_alert_rules_use_is_one_the_exporter_emits() {
    let live = live_names().await;
    let path = dashboards_dir().join("alerts/vger.rules.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let names: BTreeSet<String> = metric_names(&text).into_iter().map(|(n, _)| n).collect();
    assert!(names.len() >= 8, "{names:?}");
    for n in names {
        assert!(live.contains(&n), "{}: {n} is not exported", path.display());
    }
}

#[test]
fn the_provisioning_examples_load_the_shipped_dashboards() {
    let dir = dashboards_dir().join("grafana/provisioning");
    let provider = std::fs::read_to_string(dir.join("dashboards/vger.yml")).unwrap();
    let path_line = provider
        .lines()
        .find_map(|l| l.trim().strip_prefix("path:"))
        .expect("a dashboard provider path");
    let path = path_line.trim();
    assert!(path.starts_with('/'), "{path}");
    let docs = std::fs::read_to_string(dashboards_dir().join("../docs/monitoring.md")).unwrap();
    assert!(
        docs.contains(path),
        "docs/monitoring.md does not say to copy the dashboards to {path}"
    );
    let datasource = std::fs::read_to_string(dir.join("datasources/vger-prometheus.yml")).unwrap();
    assert!(datasource.contains("type: prometheus"));
    assert!(provider.contains("apiVersion: 1") && datasource.contains("apiVersion: 1"));
}

#[test]
fn metric_names_skip_label_values_and_functions() {
    let names: Vec<String> = metric_names(r#"sum(rate(vger_a{repo="vger_b"}[5m])) / vger_c"#)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["vger_a", "vger_c"]);
}

#[test]
fn every_alert_has_a_severity_summary_description_and_a_runbook_section() {
    let rules = std::fs::read_to_string(dashboards_dir().join("alerts/vger.rules.yml")).unwrap();
    let runbooks = std::fs::read_to_string(dashboards_dir().join("../docs/runbooks.md")).unwrap();
    let blocks: Vec<&str> = rules.split("- alert: ").skip(1).collect();
    let names: Vec<&str> = blocks
        .iter()
        .map(|b| b.lines().next().unwrap().trim())
        .collect();
    assert_eq!(
        names,
        [
            "VgerBackupStale",
            "VgerBackupNeverCompleted",
            "VgerQuotaNearlyFull",
            "VgerDiskFullSoon",
            "VgerServerDown",
            "VgerExporterDown",
            "VgerLockHeldTooLong"
        ]
    );
    for (name, block) in names.iter().zip(&blocks) {
        for key in ["severity: ", "summary: ", "description: "] {
            assert!(block.contains(key), "{name} has no {key}");
        }
        let anchor = format!("docs/runbooks.md#{}\"", name.to_lowercase());
        assert!(
            block.contains(&anchor),
            "{name}'s runbook_url is not {anchor}"
        );
        assert!(
            runbooks.contains(&format!("\n## {name}\n")),
            "docs/runbooks.md has no section {name}"
        );
    }
}
