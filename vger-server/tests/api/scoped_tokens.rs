//! Client tokens created through the admin API, enforced on the client
//! API: bound to a repository, full, append-only or read-only, revoked,
//! expired; and the audit of destructive client actions.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, make_pack};

/// Creates a client token and returns its secret.
async fn token(s: &TestServer, repo: Option<&str>, mode: &str) -> String {
    let v = s
        .admin_ok(
            Method::POST,
            "/v1/tokens",
            Some(json!({"label": format!("{mode}-token"), "repo": repo, "mode": mode})),
        )
        .await;
    v["secret"].as_str().unwrap().to_owned()
}

async fn send(s: &TestServer, token: &str, method: Method, path: &str, body: &str) -> StatusCode {
    s.req_as(token, method, path)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_repo_bound_token_cannot_reach_another_repository() {
    let s = TestServer::start().await;
    assert_eq!(s.put("other/config", "c").await, StatusCode::CREATED);
    let t = token(&s, Some("mine"), "full").await;
    assert_eq!(
        send(&s, &t, Method::PUT, "mine/config", "c").await,
        StatusCode::CREATED
    );
    for (method, path) in [
        (Method::GET, "other/config"),
        (Method::PUT, "other/index"),
        (Method::GET, "other?stats"),
        (Method::POST, "other/locks/repo-lock"),
    ] {
        assert_eq!(
            send(&s, &t, method.clone(), path, "").await,
            StatusCode::FORBIDDEN,
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_repo_bound_token_lists_only_its_repository() {
    let s = TestServer::start().await;
    assert_eq!(s.put("other/config", "c").await, StatusCode::CREATED);
    assert_eq!(s.put("mine/config", "c").await, StatusCode::CREATED);
    let t = token(&s, Some("mine"), "read-only").await;
    let names: Vec<String> = s
        .req_as(&t, Method::GET, "/")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(names, ["mine"]);
}

#[tokio::test]
async fn a_read_only_token_reads_and_writes_only_coordination_objects() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/snapshots/a", "s").await, StatusCode::CREATED);
    let t = token(&s, Some("r"), "read-only").await;
    for path in ["r/snapshots/a", "r/?list", "r?stats"] {
        assert_eq!(
            send(&s, &t, Method::GET, path, "").await,
            StatusCode::OK,
            "{path}"
        );
    }
    for path in ["r/locks/1-a.json", "r/sessions/b.json", "r/index.gen"] {
        assert_eq!(
            send(&s, &t, Method::PUT, path, "x").await,
            StatusCode::CREATED,
            "{path}"
        );
    }
    assert_eq!(
        send(&s, &t, Method::DELETE, "r/locks/1-a.json", "").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(
            &s,
            &t,
            Method::POST,
            "r/locks/repo-lock",
            r#"{"hostname":"h","pid":1}"#
        )
        .await,
        StatusCode::CREATED
    );
    assert_eq!(
        send(&s, &t, Method::DELETE, "r/locks/repo-lock", "").await,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn a_read_only_token_cannot_write_history() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/snapshots/a", "s").await, StatusCode::CREATED);
    let t = token(&s, None, "read-only").await;
    for (method, path, body) in [
        (Method::PUT, "r/index", "x"),
        (Method::PUT, "r/manifest", "x"),
        (Method::PUT, "r/snapshots/b", "x"),
        (Method::DELETE, "r/snapshots/a", ""),
        (Method::POST, "r?init", ""),
        (Method::POST, "r?batch-delete", r#"["snapshots/a"]"#),
        (Method::POST, "r?repack", r#"{"operations":[]}"#),
        (Method::POST, "r/packs/?mkdir", ""),
    ] {
        let r = s
            .req_as(&t, method.clone(), path)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        assert!(text.contains("read-only"), "{method} {path}: {text}");
    }
    assert!(s.data().join("r/snapshots/a").is_file());
}

#[tokio::test]
async fn an_append_only_token_gets_the_append_only_rules_in_any_repository() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/snapshots/a", "s").await, StatusCode::CREATED);
    assert_eq!(s.put("r/index", "i").await, StatusCode::CREATED);
    let t = token(&s, Some("r"), "append-only").await;
    assert_eq!(
        send(&s, &t, Method::DELETE, "r/snapshots/a", "").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&s, &t, Method::PUT, "r/snapshots/a", "new").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&s, &t, Method::POST, "r?batch-delete", r#"["index"]"#).await,
        StatusCode::FORBIDDEN
    );
    assert!(
        send(&s, &t, Method::PUT, "r/index", "i2")
            .await
            .is_success(),
        "commit objects stay writable"
    );
    assert_eq!(
        send(&s, &t, Method::PUT, "r/snapshots/b", "s").await,
        StatusCode::CREATED,
        "new history is welcome"
    );
    // The config token, in the same repository, still may.
    assert_eq!(
        s.status(Method::DELETE, "r/snapshots/a").await,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn a_full_token_for_all_repositories_may_do_everything() {
    let s = TestServer::start().await;
    let t = token(&s, None, "full").await;
    assert_eq!(
        send(&s, &t, Method::PUT, "a/snapshots/x", "s").await,
        StatusCode::CREATED
    );
    assert_eq!(
        send(&s, &t, Method::DELETE, "a/snapshots/x", "").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(&s, &t, Method::PUT, "b/config", "c").await,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once() {
    let s = TestServer::start().await;
    let t = token(&s, None, "full").await;
    assert_eq!(
        send(&s, &t, Method::PUT, "r/config", "c").await,
        StatusCode::CREATED
    );
    s.admin_ok(Method::DELETE, "/v1/tokens/1", None).await;
    assert_eq!(
        send(&s, &t, Method::GET, "r/config", "").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let s = TestServer::start().await;
    let v = s
        .admin_ok(
            Method::POST,
            "/v1/tokens",
            Some(json!({"label": "brief", "mode": "full", "expires_in_seconds": 1})),
        )
        .await;
    let t = v["secret"].as_str().unwrap();
    assert_eq!(
        send(&s, t, Method::PUT, "r/config", "c").await,
        StatusCode::CREATED
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        send(&s, t, Method::GET, "r/config", "").await,
        StatusCode::UNAUTHORIZED
    );
    let list = s.admin_ok(Method::GET, "/v1/tokens", None).await;
    assert_eq!(list["tokens"][0]["active"], false);
}

/// The audit entries of client actions on repository `r`, newest first.
async fn audit_of(s: &TestServer) -> Vec<Value> {
    let v = s.admin_ok(Method::GET, "/v1/audit?repo=r", None).await;
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("client."))
        .cloned()
        .collect()
}

#[tokio::test]
async fn destructive_client_actions_are_audited_with_the_token_label() {
    let s = TestServer::start().await;
    let t = token(&s, Some("r"), "full").await;
    let (pack, bytes) = make_pack(&[b"blob"]);
    assert_eq!(
        send(&s, &t, Method::PUT, "r/snapshots/a", "s").await,
        StatusCode::CREATED
    );
    assert_eq!(
        send(&s, &t, Method::PUT, "r/snapshots/b", "s").await,
        StatusCode::CREATED
    );
    assert_eq!(
        s.put(&format!("r/{pack}"), bytes).await,
        StatusCode::CREATED
    );
    assert_eq!(
        send(&s, &t, Method::DELETE, "r/snapshots/a", "").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(&s, &t, Method::POST, "r?batch-delete", r#"["snapshots/b"]"#).await,
        StatusCode::NO_CONTENT
    );
    let plan =
        json!({"operations": [{"source_pack": pack, "keep_blobs": [], "delete_after": true}]});
    assert_eq!(
        send(&s, &t, Method::POST, "r?repack", &plan.to_string()).await,
        StatusCode::OK
    );
    let entries = audit_of(&s).await;
    let seen: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    let actor = "client:full-token (token 1)";
    assert_eq!(
        seen,
        [
            ("client.repack", actor, "ok"),
            ("client.batch-delete", actor, "ok"),
            ("client.delete", actor, "ok")
        ]
    );
    assert_eq!(entries[2]["detail"], "snapshots/a");
}

#[tokio::test]
async fn a_refused_client_delete_is_audited_too() {
    let s = TestServer::start_with("append_only = true").await;
    assert_eq!(s.put("r/snapshots/a", "s").await, StatusCode::CREATED);
    assert_eq!(
        s.status(Method::DELETE, "r/snapshots/a").await,
        StatusCode::FORBIDDEN
    );
    let entries = audit_of(&s).await;
    assert_eq!(entries[0]["actor"], "client:config-token");
    assert!(
        entries[0]["outcome"]
            .as_str()
            .unwrap()
            .starts_with("append-only"),
        "{}",
        entries[0]
    );
}

#[tokio::test]
async fn coordination_object_deletes_are_not_audited() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/locks/1-a.json", "{}").await, StatusCode::CREATED);
    assert_eq!(
        s.status(Method::DELETE, "r/locks/1-a.json").await,
        StatusCode::NO_CONTENT
    );
    assert!(audit_of(&s).await.is_empty());
}

#[tokio::test]
async fn a_read_only_token_cannot_create_a_repository() {
    let s = TestServer::start().await;
    let t = token(&s, None, "read-only").await;
    for (method, path) in [
        (Method::PUT, "new/locks/1-a.json"),
        (Method::PUT, "new/index.gen"),
        (Method::POST, "new/locks/?mkdir"),
        (Method::POST, "new/locks/repo-lock"),
    ] {
        assert_eq!(
            send(&s, &t, method.clone(), path, "{}").await,
            StatusCode::FORBIDDEN,
            "{method} {path}"
        );
    }
    assert!(!s.data().join("new").exists());
}

#[tokio::test]
async fn replacing_history_is_audited_and_so_is_a_refused_attempt() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/snapshots/a", "s").await, StatusCode::CREATED);
    let full = token(&s, Some("r"), "full").await;
    assert!(
        send(&s, &full, Method::PUT, "r/snapshots/a", "t")
            .await
            .is_success()
    );
    let append = token(&s, Some("r"), "append-only").await;
    assert_eq!(
        send(&s, &append, Method::PUT, "r/snapshots/a", "u").await,
        StatusCode::FORBIDDEN
    );
    assert!(
        send(&s, &append, Method::PUT, "r/index", "i")
            .await
            .is_success()
    );
    let seen: Vec<(String, bool)> = audit_of(&s)
        .await
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["outcome"] == "ok",
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("client:append-only-token (token 2)".to_owned(), false),
            ("client:full-token (token 1)".to_owned(), true)
        ],
        "index rewrites are not history"
    );
}
