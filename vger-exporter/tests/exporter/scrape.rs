//! What a scrape shows, and how it behaves when servers are slow, down or
//! refuse the token.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::support::{
    ExporterUnderTest, Server, Watch, closed_port, hung_server, now, prometheus_tool,
};

#[tokio::test(flavor = "multi_thread")]
async fn each_repository_reports_its_settings_and_usage_under_the_server_label() {
    let s = Server::start().await;
    s.create_repo(
        "laptop",
        json!({ "quota_bytes": 1_000_000, "freshness_threshold_seconds": 3600, "append_only": true }),
    )
    .await;
    s.back_up("laptop").await;
    let e = ExporterUnderTest::start(&[Watch::server("backup-1", &s)], "").await;
    let m = e.scrape().await;
    let repo = &[("server", "backup-1"), ("repo", "laptop")];
    assert_eq!(m.value("vger_up", &[("server", "backup-1")]), Some(1.0));
    assert_eq!(m.value("vger_repos", &[("server", "backup-1")]), Some(1.0));
    assert_eq!(m.value("vger_repo_quota_bytes", repo), Some(1_000_000.0));
    assert_eq!(
        m.value("vger_repo_freshness_threshold_seconds", repo),
        Some(3600.0)
    );
    assert_eq!(m.value("vger_repo_append_only", repo), Some(1.0));
    assert_eq!(m.value("vger_repo_objects", repo), Some(1.0));
    assert_eq!(m.value("vger_repo_used_bytes", repo), Some(18.0));
    assert_eq!(m.value("vger_repo_packs", repo), Some(0.0));
    assert_eq!(m.value("vger_repo_locks", repo), Some(0.0));
    let last = m
        .value("vger_repo_last_backup_timestamp_seconds", repo)
        .unwrap();
    assert!(
        (now() - last).abs() < 30.0,
        "last backup {last}, now {}",
        now()
    );
    let created = m
        .value("vger_repo_created_timestamp_seconds", repo)
        .unwrap();
    assert!(
        created <= last + 1.0,
        "created {created} after last backup {last}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unlimited_quota_no_backup_and_no_lock_leave_those_series_absent() {
    let s = Server::start().await;
    s.create_repo("fresh-install", json!({})).await;
    let e = ExporterUnderTest::start(&[Watch::server("b", &s)], "").await;
    let m = e.scrape().await;
    let repo = &[("server", "b"), ("repo", "fresh-install")];
    assert_eq!(m.value("vger_repo_used_bytes", repo), Some(0.0));
    assert_eq!(m.value("vger_repo_quota_bytes", repo), None);
    assert_eq!(
        m.value("vger_repo_last_backup_timestamp_seconds", repo),
        None
    );
    assert_eq!(m.value("vger_repo_oldest_lock_age_seconds", repo), None);
    assert_eq!(
        m.value("vger_repo_freshness_threshold_seconds", repo),
        Some(93_600.0),
        "the server default threshold applies"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_lock_is_counted_and_aged() {
    let s = Server::start().await;
    s.create_repo("r", json!({})).await;
    s.lock("r").await;
    let e = ExporterUnderTest::start(&[Watch::server("b", &s)], "").await;
    let m = e.scrape().await;
    let repo = &[("server", "b"), ("repo", "r")];
    assert_eq!(m.value("vger_repo_locks", repo), Some(1.0));
    let age = m.value("vger_repo_oldest_lock_age_seconds", repo).unwrap();
    assert!((0.0..30.0).contains(&age), "{age}");
}

#[tokio::test(flavor = "multi_thread")]
async fn server_figures_and_traffic_counters_come_from_the_admin_api() {
    let s = Server::start().await;
    s.create_repo("r", json!({})).await;
    s.back_up("r").await;
    s.back_up("r").await;
    let e = ExporterUnderTest::start(&[Watch::server("b", &s)], "").await;
    let m = e.scrape().await;
    let b = &[("server", "b")];
    let puts: f64 = m
        .find(
            "vger_http_requests_total",
            &[("server", "b"), ("method", "PUT")],
        )
        .iter()
        .map(|s| s.value)
        .sum();
    assert_eq!(puts, 2.0);
    assert!(m.value("vger_received_bytes_total", b).unwrap() >= 36.0);
    assert!(m.value("vger_sent_bytes_total", b).is_some());
    let free = m.value("vger_disk_free_bytes", b).unwrap();
    let total = m.value("vger_disk_total_bytes", b).unwrap();
    assert!(free > 0.0 && free <= total, "free {free} total {total}");
    assert!(m.value("vger_server_uptime_seconds", b).unwrap() < 600.0);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        m.value(
            "vger_server_build_info",
            &[("server", "b"), ("version", version)]
        ),
        Some(1.0)
    );
    assert_eq!(
        m.value("vger_build_info", &[("version", version)]),
        Some(1.0)
    );
    assert!(m.value("vger_exporter_scrape_duration_seconds", b).unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_repository_has_no_series_in_the_next_scrape() {
    let s = Server::start().await;
    s.create_repo("keep", json!({})).await;
    s.create_repo("gone", json!({ "quota_bytes": 5000 })).await;
    let e = ExporterUnderTest::start(&[Watch::server("b", &s)], "cache_ttl_seconds = 0").await;
    let before = e.scrape().await;
    assert!(
        !before
            .find("vger_repo_used_bytes", &[("repo", "gone")])
            .is_empty()
    );
    s.delete_repo("gone").await;
    let after = e.scrape().await;
    let left: Vec<_> = after
        .samples
        .iter()
        .filter(|x| x.labels.get("repo").map(String::as_str) == Some("gone"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(after.value("vger_repos", &[("server", "b")]), Some(1.0));
    assert!(
        !after
            .find("vger_repo_used_bytes", &[("repo", "keep")])
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scrapes_within_the_cache_ttl_reuse_one_answer() {
    let s = Server::start().await;
    s.create_repo("first", json!({})).await;
    let e = ExporterUnderTest::start(&[Watch::server("b", &s)], "cache_ttl_seconds = 60").await;
    assert_eq!(
        e.scrape().await.value("vger_repos", &[("server", "b")]),
        Some(1.0)
    );
    s.create_repo("second", json!({})).await;
    // Not asked again: the answer is the cached one.
    assert_eq!(
        e.scrape().await.value("vger_repos", &[("server", "b")]),
        Some(1.0)
    );
    let uncached =
        ExporterUnderTest::start(&[Watch::server("b", &s)], "cache_ttl_seconds = 0").await;
    assert_eq!(
        uncached
            .scrape()
            .await
            .value("vger_repos", &[("server", "b")]),
        Some(2.0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_reports_up_0_and_no_other_series() {
    let url = closed_port().await;
    let e = ExporterUnderTest::start(&[Watch::at("dead", &url)], "").await;
    let m = e.scrape().await;
    assert_eq!(m.value("vger_up", &[("server", "dead")]), Some(0.0));
    let names: std::collections::BTreeSet<String> = m
        .samples
        .iter()
        .filter(|s| s.labels.get("server").map(String::as_str) == Some("dead"))
        .map(|s| s.name.clone())
        .collect();
    let want = ["vger_exporter_scrape_duration_seconds", "vger_up"];
    assert_eq!(names, want.map(String::from).into());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_reports_up_0() {
    let s = Server::start().await;
    let e = ExporterUnderTest::start(
        &[Watch {
            name: "b",
            url: &s.admin_url,
            token: "not-a-token-of-this-server",
        }],
        "",
    )
    .await;
    let m = e.scrape().await;
    assert_eq!(m.value("vger_up", &[("server", "b")]), Some(0.0));
    assert_eq!(m.value("vger_repos", &[("server", "b")]), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_server_does_not_hold_the_scrape_past_the_timeout() {
    let (url, _hung) = hung_server().await;
    let e =
        ExporterUnderTest::start(&[Watch::at("hung", &url)], "scrape_timeout_seconds = 0.5").await;
    let t0 = Instant::now();
    let m = e.scrape().await;
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(3), "scrape took {took:?}");
    assert!(
        took >= Duration::from_millis(450),
        "gave up early: {took:?}"
    );
    assert_eq!(m.value("vger_up", &[("server", "hung")]), Some(0.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scrapers_own_timeout_header_shortens_the_wait() {
    let (url, _hung) = hung_server().await;
    let e =
        ExporterUnderTest::start(&[Watch::at("hung", &url)], "scrape_timeout_seconds = 30").await;
    let t0 = Instant::now();
    let text = e.scrape_with(Some("1")).await;
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(5), "scrape took {took:?}");
    assert!(text.contains("vger_up{server=\"hung\"} 0"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_server_down_does_not_hide_the_others() {
    let s = Server::start().await;
    s.create_repo("r", json!({})).await;
    let (hung, _h) = hung_server().await;
    let e = ExporterUnderTest::start(
        &[Watch::at("hung", &hung), Watch::server("ok", &s)],
        "scrape_timeout_seconds = 0.5",
    )
    .await;
    let m = e.scrape().await;
    assert_eq!(m.value("vger_up", &[("server", "hung")]), Some(0.0));
    assert_eq!(m.value("vger_up", &[("server", "ok")]), Some(1.0));
    assert_eq!(m.value("vger_repos", &[("server", "ok")]), Some(1.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_servers_with_the_same_repository_name_stay_apart() {
    let a = Server::start().await;
    let b = Server::start().await;
    a.create_repo("laptop", json!({ "quota_bytes": 111 })).await;
    b.create_repo("laptop", json!({ "quota_bytes": 222 })).await;
    let e = ExporterUnderTest::start(&[Watch::server("a", &a), Watch::server("b", &b)], "").await;
    let m = e.scrape().await;
    let q = |server| {
        m.value(
            "vger_repo_quota_bytes",
            &[("server", server), ("repo", "laptop")],
        )
    };
    assert_eq!((q("a"), q("b")), (Some(111.0), Some(222.0)));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_landing_page_links_the_metrics_and_names_the_servers() {
    let s = Server::start().await;
    let e = ExporterUnderTest::start(&[Watch::server("backup-<1>", &s)], "").await;
    let r = e.get("/").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("<a href=\"/metrics\">"), "{html}");
    assert!(html.contains("backup-&lt;1&gt;"), "{html}");
    assert_eq!(e.get("/nothing-here").await.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scrape_never_shows_the_token() {
    let s = Server::start().await;
    let e = ExporterUnderTest::start(&[Watch::server("b", &s)], "").await;
    let text = e.scrape_with(None).await;
    let page = e.get("/").await.text().await.unwrap();
    for t in [text, page] {
        assert!(!t.contains(crate::support::READ_TOKEN));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_exposition_passes_promtool_check_metrics() {
    let Some(promtool) = prometheus_tool("promtool") else {
        return;
    };
    let s = Server::start().await;
    s.create_repo("r", json!({ "quota_bytes": 1000 })).await;
    s.back_up("r").await;
    s.lock("r").await;
    s.admin(Method::GET, "/v1/status", None).await;
    let e = ExporterUnderTest::start(&[Watch::server("b", &s)], "").await;
    let text = e.scrape_with(None).await;
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
