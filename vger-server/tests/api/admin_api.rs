//! The admin API: every operation and every auth case, on its own
//! listener, against the real server.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, READ_TOKEN, TOKEN, TestServer};

/// Every route of the admin API, with a body that would be valid.
fn routes() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/v1/status", None),
        (Method::GET, "/v1/repos", None),
        (Method::POST, "/v1/repos", Some(json!({"name": "n"}))),
        (Method::GET, "/v1/repos/r", None),
        (Method::DELETE, "/v1/repos/r", Some(json!({"confirm": "r"}))),
        (
            Method::PUT,
            "/v1/repos/r/quota",
            Some(json!({"quota_bytes": 5})),
        ),
        (Method::DELETE, "/v1/repos/r/quota", None),
        (
            Method::PATCH,
            "/v1/repos/r/policy",
            Some(json!({"append_only": true})),
        ),
        (Method::DELETE, "/v1/repos/r/locks/repo-lock", None),
        (Method::GET, "/v1/locks", None),
        (Method::GET, "/v1/tokens", None),
        (
            Method::POST,
            "/v1/tokens",
            Some(json!({"label": "l", "mode": "full"})),
        ),
        (Method::DELETE, "/v1/tokens/1", None),
        (Method::GET, "/v1/jobs", None),
        (Method::POST, "/v1/jobs", Some(json!({"kind": "check"}))),
        (Method::GET, "/v1/jobs/1", None),
        (Method::GET, "/v1/audit", None),
        (Method::GET, "/v1/no-such-route", None),
    ]
}

async fn error_of(r: reqwest::Response) -> (StatusCode, String, String) {
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    (
        status,
        v["error"].as_str().unwrap().to_owned(),
        v["message"].as_str().unwrap().to_owned(),
    )
}

async fn create(s: &TestServer, body: Value) -> reqwest::Response {
    s.admin(Method::POST, "/v1/repos")
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_route_refuses_a_request_without_an_admin_token() {
    let s = TestServer::start().await;
    for (method, path, body) in routes() {
        let mut req = s
            .client
            .request(method.clone(), format!("http://{}{path}", s.admin_addr));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let (status, code, _) = error_of(req.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(code, "unauthorized", "{method} {path}");
    }
}

#[tokio::test]
async fn a_client_token_is_not_an_admin_token() {
    let s = TestServer::start().await;
    for (method, path, _) in routes() {
        let r = s
            .admin_as(TOKEN, method.clone(), path)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}

#[tokio::test]
async fn an_admin_token_is_not_a_client_token() {
    let s = TestServer::start().await;
    let r = s
        .req_as(ADMIN_TOKEN, Method::GET, "/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_read_token_may_read_and_never_write() {
    let s = TestServer::start().await;
    for (method, path, body) in routes() {
        let mut req = s.admin_as(READ_TOKEN, method.clone(), path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let status = req.send().await.unwrap().status();
        if method == Method::GET {
            assert_ne!(status, StatusCode::FORBIDDEN, "{method} {path}");
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        }
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let s = TestServer::start().await;
    let (status, code, message) =
        error_of(s.admin(Method::GET, "/v2/x").send().await.unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert!(message.contains("/v1/"), "{message}");
    let (status, code, _) =
        error_of(s.admin(Method::POST, "/v1/status").send().await.unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
}

#[tokio::test]
async fn a_malformed_body_is_a_json_400() {
    let s = TestServer::start().await;
    let r = s
        .admin(Method::POST, "/v1/repos")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, code, message) = error_of(r).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    assert!(message.contains("malformed"), "{message}");
}

#[tokio::test]
async fn status_reports_disk_totals_config_and_traffic() {
    let s = TestServer::start_with("quota_bytes = 1000").await;
    assert_eq!(s.put("r/config", "cfg").await, StatusCode::CREATED);
    assert_eq!(s.get_bytes("r/config").await.0, StatusCode::OK);
    let v = s.admin_ok(Method::GET, "/v1/status", None).await;
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["repos"], 1);
    assert_eq!(v["used_bytes"], 3);
    assert!(v["disk_total_bytes"].as_u64().unwrap() >= v["disk_free_bytes"].as_u64().unwrap());
    assert_eq!(v["config"]["quota_bytes"], 1000);
    assert_eq!(v["traffic"]["received_bytes"], 3);
    assert_eq!(v["traffic"]["sent_bytes"], 3);
    let requests = v["traffic"]["requests"].as_array().unwrap();
    assert!(requests.contains(&json!({"method": "PUT", "status": 201, "count": 1})));
    let text = v.to_string();
    for secret in [TOKEN, ADMIN_TOKEN, READ_TOKEN] {
        assert!(!text.contains(secret), "status shows a secret");
    }
}

#[tokio::test]
async fn a_created_repository_is_listed_with_its_policies() {
    let s = TestServer::start_with("quota_bytes = 1000").await;
    let r = create(
        &s,
        json!({"name": "laptop", "quota_bytes": 500, "freshness_threshold_seconds": 3600}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(
        s.data().join("laptop/keys").is_dir(),
        "created as ?init does"
    );
    let v = s.admin_ok(Method::GET, "/v1/repos", None).await;
    let repo = &v["repos"][0];
    assert_eq!(repo["name"], "laptop");
    assert_eq!(repo["quota_bytes"], 500);
    assert_eq!(repo["quota_source"], "repo");
    assert_eq!(repo["freshness_threshold_seconds"], 3600);
    assert_eq!(repo["last_backup_at"], Value::Null);
    assert_eq!(repo["overdue"], false);
}

#[tokio::test]
async fn creating_an_existing_repository_is_a_conflict() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/config", "c").await, StatusCode::CREATED);
    let (status, code, _) = error_of(create(&s, json!({"name": "r"})).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "conflict"));
}

#[tokio::test]
async fn an_invalid_repository_name_is_a_400() {
    let s = TestServer::start().await;
    for name in ["..", ".hidden", "a/b", ""] {
        let r = create(&s, json!({"name": name})).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name:?}");
    }
}

#[tokio::test]
async fn an_unknown_repository_is_a_404() {
    let s = TestServer::start().await;
    for (method, path, body) in [
        (Method::GET, "/v1/repos/nope", None),
        (
            Method::PUT,
            "/v1/repos/nope/quota",
            Some(json!({"quota_bytes": 1})),
        ),
        (
            Method::PATCH,
            "/v1/repos/nope/policy",
            Some(json!({"append_only": true})),
        ),
        (
            Method::DELETE,
            "/v1/repos/nope",
            Some(json!({"confirm": "nope"})),
        ),
    ] {
        let mut req = s.admin(method.clone(), path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let (status, code, _) = error_of(req.send().await.unwrap()).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_quota_set_through_the_api_is_enforced_and_cleared() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/config", "c").await, StatusCode::CREATED);
    let v = s
        .admin_ok(
            Method::PUT,
            "/v1/repos/r/quota",
            Some(json!({"quota_bytes": 10})),
        )
        .await;
    assert_eq!(v["quota_bytes"], 10);
    assert_eq!(
        s.put("r/index", vec![0u8; 20]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let v = s.admin_ok(Method::DELETE, "/v1/repos/r/quota", None).await;
    assert_eq!(v["quota_bytes"], Value::Null);
    assert_eq!(v["quota_source"], "server_default");
    assert_eq!(s.put("r/index", vec![0u8; 20]).await, StatusCode::CREATED);
}

#[tokio::test]
async fn append_only_set_through_the_api_protects_history() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/snapshots/a", "s").await, StatusCode::CREATED);
    let v = s
        .admin_ok(
            Method::PATCH,
            "/v1/repos/r/policy",
            Some(json!({"append_only": true})),
        )
        .await;
    assert_eq!(v["append_only"], true);
    assert_eq!(
        s.status(Method::DELETE, "r/snapshots/a").await,
        StatusCode::FORBIDDEN
    );
    s.admin_ok(
        Method::PATCH,
        "/v1/repos/r/policy",
        Some(json!({"append_only": false})),
    )
    .await;
    assert_eq!(
        s.status(Method::DELETE, "r/snapshots/a").await,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn a_freshness_threshold_is_set_and_returned_to_the_default() {
    let s = TestServer::start_with("freshness_threshold_seconds = 7200").await;
    assert_eq!(s.put("r/config", "c").await, StatusCode::CREATED);
    let path = "/v1/repos/r/policy";
    let v = s
        .admin_ok(
            Method::PATCH,
            path,
            Some(json!({"freshness_threshold_seconds": 60})),
        )
        .await;
    assert_eq!(
        (
            v["freshness_threshold_seconds"].as_u64(),
            v["freshness_source"].as_str()
        ),
        (Some(60), Some("repo"))
    );
    let v = s
        .admin_ok(
            Method::PATCH,
            path,
            Some(json!({"freshness_threshold_seconds": 0})),
        )
        .await;
    assert_eq!(
        (
            v["freshness_threshold_seconds"].as_u64(),
            v["freshness_source"].as_str()
        ),
        (Some(7200), Some("server_default"))
    );
}

#[tokio::test]
async fn a_repository_with_no_backup_within_its_threshold_is_overdue() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/config", "c").await, StatusCode::CREATED);
    s.set_policy("r", |r| r.freshness_threshold_seconds = Some(1));
    let repo = shared_proto::RepoName::parse("r").unwrap();
    s.app
        .state
        .repos
        .record(&repo, |e| e.record.created_at -= 5_000)
        .unwrap();
    let v = s.admin_ok(Method::GET, "/v1/repos/r", None).await;
    assert_eq!(v["overdue"], true);
    assert_eq!(s.put("r/snapshots/a", "s").await, StatusCode::CREATED);
    let v = s.admin_ok(Method::GET, "/v1/repos/r", None).await;
    assert_eq!(v["overdue"], false, "a backup just completed");
}

#[tokio::test]
async fn deleting_a_repository_needs_its_name_as_confirmation() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/config", "c").await, StatusCode::CREATED);
    for body in [json!({}), json!({"confirm": "other"})] {
        let r = s
            .admin(Method::DELETE, "/v1/repos/r")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    assert!(s.data().join("r/config").is_file());
}

#[tokio::test]
async fn deleting_a_locked_repository_is_refused_unless_forced() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/config", "c").await, StatusCode::CREATED);
    assert_eq!(s.lock("r", "vm", 1).await, StatusCode::CREATED);
    let r = s
        .admin(Method::DELETE, "/v1/repos/r")
        .json(&json!({"confirm": "r"}))
        .send()
        .await
        .unwrap();
    let (status, _, message) = error_of(r).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message.contains("repo-lock"), "{message}");
    s.admin_ok(
        Method::DELETE,
        "/v1/repos/r",
        Some(json!({"confirm": "r", "force": true})),
    )
    .await;
    assert!(!s.data().join("r").exists());
}

#[tokio::test]
async fn a_deleted_repository_leaves_no_files_and_no_state() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/config", "cfg").await, StatusCode::CREATED);
    s.set_policy("r", |r| r.quota_bytes = Some(99));
    let v = s
        .admin_ok(Method::DELETE, "/v1/repos/r", Some(json!({"confirm": "r"})))
        .await;
    assert_eq!(
        (v["freed_bytes"].as_u64(), v["objects"].as_u64()),
        (Some(3), Some(1))
    );
    assert!(!s.data().join("r").exists());
    assert!(
        s.app
            .state
            .repos
            .get(&shared_proto::RepoName::parse("r").unwrap())
            .is_none()
    );
    assert_eq!(
        s.status(Method::GET, "r?stats").await,
        StatusCode::NOT_FOUND
    );
    // A new repository of that name starts afresh, without the old quota.
    assert_eq!(s.put("r/config", "c2").await, StatusCode::CREATED);
    assert_eq!(s.record("r").quota_bytes, None);
}

#[tokio::test]
async fn locks_of_both_kinds_are_listed_and_broken() {
    let s = TestServer::start().await;
    assert_eq!(s.lock("r", "vm", 42).await, StatusCode::CREATED);
    assert_eq!(s.put("r/locks/1-abc.json", "{}").await, StatusCode::CREATED);
    let v = s.admin_ok(Method::GET, "/v1/locks", None).await;
    let locks = v["locks"].as_array().unwrap();
    assert_eq!(locks.len(), 2, "{v}");
    let server = locks.iter().find(|l| l["kind"] == "server").unwrap();
    assert_eq!(
        (server["hostname"].as_str(), server["pid"].as_u64()),
        (Some("vm"), Some(42))
    );
    s.admin_ok(Method::DELETE, "/v1/repos/r/locks/repo-lock", None)
        .await;
    assert_eq!(
        s.lock("r", "other", 2).await,
        StatusCode::CREATED,
        "the lock is free again"
    );
    s.admin_ok(Method::DELETE, "/v1/repos/r/locks/1-abc.json", None)
        .await;
    assert!(!s.data().join("r/locks/1-abc.json").exists());
    assert_eq!(s.stats("r").await["total_objects"], 0);
}

#[tokio::test]
async fn breaking_a_lock_nobody_holds_is_a_404() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/config", "c").await, StatusCode::CREATED);
    let r = s
        .admin(Method::DELETE, "/v1/repos/r/locks/repo-lock")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_token_secret_is_shown_once_and_never_listed() {
    let s = TestServer::start().await;
    let v = s
        .admin_ok(
            Method::POST,
            "/v1/tokens",
            Some(json!({"label": "laptop", "mode": "read-only"})),
        )
        .await;
    let secret = v["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("vger_"));
    let list = s.admin_ok(Method::GET, "/v1/tokens", None).await;
    assert_eq!(list["tokens"][0]["label"], "laptop");
    assert_eq!(list["tokens"][0]["active"], true);
    assert!(!list.to_string().contains(&secret));
    let db = std::fs::read(s.data().join(".vger-server/state.sqlite3")).unwrap();
    let wal = std::fs::read(s.data().join(".vger-server/state.sqlite3-wal")).unwrap_or_default();
    for file in [db, wal] {
        assert!(
            !file.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is stored"
        );
    }
}

#[tokio::test]
async fn a_token_request_with_a_bad_label_mode_or_expiry_is_a_400() {
    let s = TestServer::start().await;
    for body in [
        json!({"label": "", "mode": "full"}),
        json!({"label": "x".repeat(101), "mode": "full"}),
        json!({"label": "l", "mode": "root"}),
        json!({"label": "l", "mode": "full", "expires_in_seconds": 0}),
        json!({"label": "l", "mode": "full", "repo": "../x"}),
    ] {
        let r = s
            .admin(Method::POST, "/v1/tokens")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
    }
}

#[tokio::test]
async fn revoking_an_unknown_token_is_a_404() {
    let s = TestServer::start().await;
    let r = s
        .admin(Method::DELETE, "/v1/tokens/77")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = s
        .admin(Method::DELETE, "/v1/tokens/x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

async fn finished_job(s: &TestServer, kind: &str, repo: Option<&str>) -> Value {
    let r = s
        .admin(Method::POST, "/v1/jobs")
        .json(&json!({"kind": kind, "repo": repo}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    for _ in 0..200 {
        let job = s
            .admin_ok(Method::GET, &format!("/v1/jobs/{id}"), None)
            .await;
        if job["state"] != "running" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("job {id} did not finish");
}

#[tokio::test]
async fn a_check_job_reports_each_repository() {
    let s = TestServer::start().await;
    crate::support::copy_fixture("client-0.7", &s.data(), "good");
    assert_eq!(s.put("bad/config", "c").await, StatusCode::CREATED);
    let job = finished_job(&s, "check", None).await;
    assert_eq!(job["state"], "done");
    assert_eq!(
        (job["done"].as_u64(), job["total"].as_u64()),
        (Some(2), Some(2))
    );
    let ok: Vec<(String, bool)> = job["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["repo"].as_str().unwrap().to_owned(),
                r["ok"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(ok, [("bad".to_owned(), false), ("good".to_owned(), true)]);
}

#[tokio::test]
async fn a_reconcile_job_corrects_counters_that_drifted() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/config", "12345").await, StatusCode::CREATED);
    std::fs::write(s.data().join("r/index"), b"behind the server's back").unwrap();
    let job = finished_job(&s, "reconcile", Some("r")).await;
    let message = job["results"][0]["messages"][0].as_str().unwrap();
    assert!(message.starts_with("corrected"), "{message}");
    assert_eq!(s.stats("r").await["total_objects"], 2);
}

#[tokio::test]
async fn an_unknown_job_is_a_404() {
    let s = TestServer::start().await;
    let r = s.admin(Method::GET, "/v1/jobs/9").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_admin_write_is_audited_with_its_actor() {
    let s = TestServer::start().await;
    create(&s, json!({"name": "r"})).await;
    s.admin_ok(
        Method::PUT,
        "/v1/repos/r/quota",
        Some(json!({"quota_bytes": 7})),
    )
    .await;
    s.admin_ok(Method::DELETE, "/v1/repos/r/quota", None).await;
    s.admin_ok(
        Method::PATCH,
        "/v1/repos/r/policy",
        Some(json!({"append_only": true})),
    )
    .await;
    let t = s
        .admin_ok(
            Method::POST,
            "/v1/tokens",
            Some(json!({"label": "l", "mode": "full"})),
        )
        .await;
    let id = t["token"]["id"].as_u64().unwrap();
    s.admin_ok(Method::DELETE, &format!("/v1/tokens/{id}"), None)
        .await;
    finished_job(&s, "check", Some("r")).await;
    s.admin_ok(Method::DELETE, "/v1/repos/r", Some(json!({"confirm": "r"})))
        .await;
    let v = s.admin_ok(Method::GET, "/v1/audit?limit=100", None).await;
    let actions: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|e| assert_eq!(e["actor"], "admin:admin", "{e}"))
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "repo.delete",
            "job.check",
            "token.revoke",
            "token.create",
            "policy.set",
            "quota.clear",
            "quota.set",
            "repo.create"
        ]
    );
}

#[tokio::test]
async fn a_refused_admin_write_is_audited_with_why() {
    let s = TestServer::start().await;
    create(&s, json!({"name": "r"})).await;
    create(&s, json!({"name": "r"})).await;
    let v = s.admin_ok(Method::GET, "/v1/audit?limit=1", None).await;
    let e = &v["entries"][0];
    assert_eq!(e["action"], "repo.create");
    assert!(
        e["outcome"].as_str().unwrap().contains("already exists"),
        "{e}"
    );
}

#[tokio::test]
async fn the_audit_log_is_queried_by_repository_and_time() {
    let s = TestServer::start().await;
    create(&s, json!({"name": "a"})).await;
    create(&s, json!({"name": "b"})).await;
    let v = s.admin_ok(Method::GET, "/v1/audit?repo=b", None).await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 1);
    let v = s
        .admin_ok(Method::GET, "/v1/audit?since=2999-01-01T00:00:00Z", None)
        .await;
    assert!(v["entries"].as_array().unwrap().is_empty());
    let v = s
        .admin_ok(
            Method::GET,
            "/v1/audit?until=2999-01-01T00:00:00Z&limit=1",
            None,
        )
        .await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 1);
    for bad in ["since=yesterday", "limit=0", "limit=x"] {
        let r = s
            .admin(Method::GET, &format!("/v1/audit?{bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn a_restart_keeps_tokens_policies_and_the_audit_log() {
    let s = TestServer::start().await;
    create(
        &s,
        json!({"name": "r", "quota_bytes": 123, "append_only": true}),
    )
    .await;
    let t = s
        .admin_ok(
            Method::POST,
            "/v1/tokens",
            Some(json!({"label": "l", "mode": "read-only"})),
        )
        .await;
    let secret = t["secret"].as_str().unwrap().to_owned();
    let s = s.restart("").await;
    let repo = s.admin_ok(Method::GET, "/v1/repos/r", None).await;
    assert_eq!(
        (repo["quota_bytes"].as_u64(), repo["append_only"].as_bool()),
        (Some(123), Some(true))
    );
    let r = s
        .req_as(&secret, Method::GET, "r/?list")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the token still works");
    let v = s.admin_ok(Method::GET, "/v1/audit", None).await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_repository_deleted_and_created_again_takes_writes_everywhere() {
    let s = TestServer::start().await;
    let (pack, bytes) = crate::support::make_pack(&[b"blob"]);
    assert_eq!(
        s.put(&format!("r/{pack}"), bytes.clone()).await,
        StatusCode::CREATED
    );
    assert_eq!(s.put("r/snapshots/a", "s").await, StatusCode::CREATED);
    s.admin_ok(Method::DELETE, "/v1/repos/r", Some(json!({"confirm": "r"})))
        .await;
    assert_eq!(
        create(&s, json!({"name": "r"})).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        s.put(&format!("r/{pack}"), bytes).await,
        StatusCode::CREATED
    );
    assert_eq!(s.put("r/snapshots/a", "s").await, StatusCode::CREATED);
    assert_eq!(s.stats("r").await["total_objects"], 2);
}

#[tokio::test]
async fn a_delete_interrupted_by_a_crash_is_finished_at_start() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/config", "c").await, StatusCode::CREATED);
    s.set_policy("r", |r| r.append_only = Some(true));
    let dir = s.stop().await;
    // What a crash right after the move to the trash leaves.
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join(".vger-server/trash")).unwrap();
    std::fs::rename(data.join("r"), data.join(".vger-server/trash/r.17")).unwrap();
    let s = TestServer::start_in(dir, "").await;
    assert!(!s.data().join(".vger-server/trash/r.17").exists());
    assert_eq!(s.put("r/snapshots/a", "s").await, StatusCode::CREATED);
    assert_eq!(
        s.status(Method::DELETE, "r/snapshots/a").await,
        StatusCode::NO_CONTENT,
        "the deleted repository's append-only setting is gone with it"
    );
}

#[tokio::test]
async fn requests_with_invented_methods_are_counted_together() {
    let s = TestServer::start().await;
    for m in ["BREW", "WHEN", "FOO1"] {
        s.raw(format!("{m} /r/config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
            .await;
    }
    let v = s.admin_ok(Method::GET, "/v1/status", None).await;
    let methods: Vec<&str> = v["traffic"]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["OTHER"], "{v}");
}

#[tokio::test]
async fn a_malformed_path_parameter_is_a_json_400() {
    let s = TestServer::start().await;
    let (status, code, _) = error_of(
        s.admin(Method::GET, "/v1/repos/%FF%FE")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
}

#[tokio::test]
async fn a_delete_waits_for_an_upload_in_flight_and_refuses_new_changes() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/config", "c").await, StatusCode::CREATED);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tx.send(Ok(vec![1u8; 4096])).await.unwrap();
    let body =
        reqwest::Body::wrap_stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let upload = tokio::spawn(s.req(Method::PUT, "r/snapshots/slow").body(body).send());
    // The upload is in flight once its temp file exists.
    let snaps = s.data().join("r/snapshots");
    for _ in 0..100 {
        if std::fs::read_dir(&snaps).is_ok_and(|d| d.count() > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delete = tokio::spawn(
        s.admin(Method::DELETE, "/v1/repos/r")
            .json(&json!({"confirm": "r"}))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!delete.is_finished(), "the delete waits for the upload");
    assert_eq!(
        s.put("r/index", "i").await,
        StatusCode::CONFLICT,
        "no new change starts while the delete waits"
    );
    drop(tx);
    assert_eq!(upload.await.unwrap().unwrap().status(), StatusCode::CREATED);
    assert_eq!(delete.await.unwrap().unwrap().status(), StatusCode::OK);
    assert!(!s.data().join("r").exists());
    let gone = shared_proto::RepoName::parse("r").unwrap();
    assert!(s.app.state.repos.get(&gone).is_none());
}

#[tokio::test]
async fn deleting_a_repository_revokes_the_tokens_bound_to_it() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/config", "c").await, StatusCode::CREATED);
    let bound = s
        .admin_ok(
            Method::POST,
            "/v1/tokens",
            Some(json!({"label": "b", "repo": "r", "mode": "full"})),
        )
        .await;
    let other = s
        .admin_ok(
            Method::POST,
            "/v1/tokens",
            Some(json!({"label": "o", "mode": "full"})),
        )
        .await;
    let v = s
        .admin_ok(Method::DELETE, "/v1/repos/r", Some(json!({"confirm": "r"})))
        .await;
    assert_eq!(v["revoked_tokens"], json!([bound["token"]["id"]]));
    let secret = bound["secret"].as_str().unwrap();
    let r = s
        .req_as(secret, Method::PUT, "r/config")
        .body("c")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "it cannot open a new r"
    );
    let r = s
        .req_as(other["secret"].as_str().unwrap(), Method::PUT, "r/config")
        .body("c")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "tokens for all repositories stay"
    );
}
