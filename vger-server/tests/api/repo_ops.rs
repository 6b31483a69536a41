//! `?init`, `?stats`, `?batch-delete` and append-only refusals.

use reqwest::{Method, StatusCode};

use crate::support::{TestServer, files_below, make_pack};

#[tokio::test]
async fn init_creates_the_layout_and_answers_201() {
    let s = TestServer::start().await;
    assert_eq!(s.status(Method::POST, "r?init").await, StatusCode::CREATED);
    let d = s.data().join("r");
    for sub in [
        "keys",
        "snapshots",
        "locks",
        "packs/00",
        "packs/7f",
        "packs/ff",
    ] {
        assert!(d.join(sub).is_dir(), "{sub}");
    }
}

#[tokio::test]
async fn init_of_a_live_repository_is_409() {
    let s = TestServer::start().await;
    s.put("r/config", "c").await;
    assert_eq!(s.status(Method::POST, "r?init").await, StatusCode::CONFLICT);
}

#[tokio::test]
async fn init_twice_without_a_config_is_allowed() {
    let s = TestServer::start().await;
    assert_eq!(s.status(Method::POST, "r?init").await, StatusCode::CREATED);
    assert_eq!(s.status(Method::POST, "r?init").await, StatusCode::CREATED);
}

#[tokio::test]
async fn stats_count_bytes_objects_and_packs() {
    let s = TestServer::start_with("quota_bytes = 5000").await;
    let (k, p) = make_pack(&[b"hello"]);
    s.put("r/config", vec![0u8; 100]).await;
    s.put(&format!("r/{k}"), p.clone()).await;
    let st: serde_json::Value = s.json(Method::GET, "r?stats").await;
    assert_eq!(st["total_bytes"], 100 + p.len() as u64);
    assert_eq!(st["total_objects"], 2);
    assert_eq!(st["total_packs"], 1);
    assert_eq!(st["quota_bytes"], 5000);
    assert_eq!(st["quota_used_bytes"], 100 + p.len() as u64);
    assert!(st["last_backup_at"].is_null());
}

#[tokio::test]
async fn stats_of_a_missing_repo_is_404() {
    let s = TestServer::start().await;
    assert_eq!(
        s.status(Method::GET, "none?stats").await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn batch_delete_removes_listed_keys_and_skips_the_rest() {
    let s = TestServer::start().await;
    for k in ["r/config", "r/index", "r/snapshots/a"] {
        s.put(k, "x").await;
    }
    let body =
        r#"["config","../escape","snapshots/a","snapshots/absent",42,"packs/zz/bad","index"]"#;
    let r = s
        .req(Method::POST, "r?batch-delete")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let listed: Vec<String> = s.json(Method::GET, "r?list").await;
    assert!(listed.is_empty(), "{listed:?}");
}

#[tokio::test]
async fn batch_delete_with_malformed_json_is_400_and_deletes_nothing() {
    let s = TestServer::start().await;
    s.put("r/config", "x").await;
    for body in ["[\"config\"", "{\"config\":1}", ""] {
        let r = s
            .req(Method::POST, "r?batch-delete")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body:?}");
    }
    assert_eq!(s.status(Method::HEAD, "r/config").await, StatusCode::OK);
}

#[tokio::test]
async fn cleanup_dirs_removes_emptied_directories_but_keeps_the_repo() {
    let s = TestServer::start().await;
    s.status(Method::POST, "r?init").await;
    s.put("r/config", "x").await;
    s.put("r/snapshots/a", "x").await;
    let r = s
        .req(Method::POST, "r?batch-delete&cleanup-dirs")
        .body(r#"["config","snapshots/a"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let d = s.data().join("r");
    assert!(d.is_dir(), "the repo directory stays");
    assert_eq!(
        std::fs::read_dir(&d).unwrap().count(),
        0,
        "empty directories are gone"
    );
    assert!(s.data().is_dir());
    assert_eq!(s.status(Method::POST, "r?init").await, StatusCode::CREATED);
}

#[tokio::test]
async fn unknown_repo_operations_are_400() {
    let s = TestServer::start().await;
    assert_eq!(s.status(Method::GET, "r").await, StatusCode::BAD_REQUEST);
    assert_eq!(
        s.status(Method::POST, "r?stats").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.status(Method::GET, "r/config?stats").await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn append_only_refuses_overwrites_of_history() {
    let s = TestServer::start_with("append_only = true").await;
    for k in ["r/config", "r/keys/repokey", "r/snapshots/a"] {
        assert_eq!(s.put(k, "one").await, StatusCode::CREATED);
        let r = s.req(Method::PUT, k).body("two").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{k}");
        assert!(r.text().await.unwrap().contains("append-only"));
        assert_eq!(s.get_bytes(k).await.1, b"one");
    }
}

#[tokio::test]
async fn append_only_accepts_a_retried_write_of_identical_bytes() {
    let s = TestServer::start_with("append_only = true").await;
    let (k, p) = make_pack(&[b"blob"]);
    assert_eq!(
        s.put(&format!("r/{k}"), p.clone()).await,
        StatusCode::CREATED
    );
    assert_eq!(s.put(&format!("r/{k}"), p).await, StatusCode::NO_CONTENT);
    assert_eq!(s.put("r/snapshots/a", "same").await, StatusCode::CREATED);
    assert_eq!(s.put("r/snapshots/a", "same").await, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn append_only_keeps_commit_and_coordination_objects_writable() {
    let s = TestServer::start_with("append_only = true").await;
    for k in [
        "r/manifest",
        "r/index",
        "r/index.gen",
        "r/locks/l.json",
        "r/sessions/s.json",
        "r/pending_index",
    ] {
        assert_eq!(s.put(k, "one").await, StatusCode::CREATED, "{k}");
        assert_eq!(s.put(k, "two").await, StatusCode::NO_CONTENT, "{k}");
    }
    assert_eq!(
        s.status(Method::DELETE, "r/locks/l.json").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.status(Method::DELETE, "r/sessions/s.json").await,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn append_only_refuses_deletes_and_batch_delete() {
    let s = TestServer::start_with("append_only = true").await;
    s.put("r/snapshots/a", "x").await;
    s.put("r/index", "x").await;
    assert_eq!(
        s.status(Method::DELETE, "r/snapshots/a").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.status(Method::DELETE, "r/index").await,
        StatusCode::FORBIDDEN
    );
    let r = s
        .req(Method::POST, "r?batch-delete")
        .body(r#"["snapshots/a"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        files_below(&s.data().join("r")),
        vec!["index", "snapshots/a"]
    );
}

#[tokio::test]
async fn mkdir_where_an_object_stands_is_409_not_a_server_error() {
    let s = TestServer::start().await;
    s.put("r/pending_index", "x").await;
    assert_eq!(
        s.status(Method::POST, "r/pending_index/?mkdir").await,
        StatusCode::CONFLICT
    );
    assert_eq!(s.put("r/pending_index/a", "x").await, StatusCode::CONFLICT);
}
