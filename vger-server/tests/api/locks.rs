//! The 0.7 server lock API and lock objects of later clients.

use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::support::TestServer;

async fn lock(s: &TestServer, host: &str, pid: u64) -> StatusCode {
    s.lock("r", host, pid).await
}

#[tokio::test]
async fn a_lock_is_granted_then_refused_to_another_holder() {
    let s = TestServer::start().await;
    assert_eq!(lock(&s, "vm", 1).await, StatusCode::CREATED);
    assert_eq!(lock(&s, "other", 2).await, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_lock_body_without_a_json_content_type_is_accepted() {
    let s = TestServer::start().await;
    let r = s
        .req(Method::POST, "r/locks/repo-lock")
        .body(r#"{"hostname":"vm","pid":7}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_malformed_lock_body_is_400() {
    let s = TestServer::start().await;
    let r = s
        .req(Method::POST, "r/locks/repo-lock")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn release_is_204_then_404() {
    let s = TestServer::start().await;
    lock(&s, "vm", 1).await;
    assert_eq!(
        s.status(Method::DELETE, "r/locks/repo-lock").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.status(Method::DELETE, "r/locks/repo-lock").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(lock(&s, "other", 2).await, StatusCode::CREATED);
}

#[tokio::test]
async fn the_lock_list_shows_live_locks() {
    let s = TestServer::start_with("lock_ttl_seconds = 120").await;
    lock(&s, "vm", 42).await;
    let locks: serde_json::Value = s.json(Method::GET, "r/locks").await;
    assert_eq!(locks[0]["id"], "repo-lock");
    assert_eq!(locks[0]["hostname"], "vm");
    assert_eq!(locks[0]["pid"], 42);
    assert_eq!(locks[0]["ttl_seconds"], 120);
    assert!(locks[0]["acquired_at"].as_str().unwrap().ends_with('Z'));
    // Server locks are not objects.
    let objects: Vec<String> = s.json(Method::GET, "r/locks/?list").await;
    assert!(objects.is_empty());
}

#[tokio::test]
async fn an_idle_lock_expires_after_the_ttl() {
    let s = TestServer::start_with("lock_ttl_seconds = 1").await;
    lock(&s, "crashed", 1).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let locks: Vec<serde_json::Value> = s.json(Method::GET, "r/locks").await;
    assert!(locks.is_empty());
    assert_eq!(lock(&s, "next", 2).await, StatusCode::CREATED);
}

#[tokio::test]
async fn writes_to_the_repo_keep_a_lock_alive_past_the_ttl() {
    let s = TestServer::start_with("lock_ttl_seconds = 1").await;
    lock(&s, "vm", 1).await;
    for i in 0..6 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        s.put(&format!("r/snapshots/s{i}"), "x").await;
        assert_eq!(
            lock(&s, "other", 2).await,
            StatusCode::CONFLICT,
            "after {i}"
        );
    }
}

#[tokio::test]
async fn delete_of_a_lock_object_without_a_server_lock_deletes_the_object() {
    let s = TestServer::start().await;
    let key = "r/locks/00000001764279491000000-0123456789abcdef0123456789abcdef.json";
    s.put(key, "{}").await;
    assert_eq!(s.status(Method::HEAD, key).await, StatusCode::OK);
    assert_eq!(s.status(Method::DELETE, key).await, StatusCode::NO_CONTENT);
    assert_eq!(s.status(Method::HEAD, key).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_oversized_lock_body_is_413() {
    let s = TestServer::start().await;
    let body = format!(r#"{{"hostname":"{}","pid":1}}"#, "h".repeat(100_000));
    let r = s
        .req(Method::POST, "r/locks/repo-lock")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(lock(&s, "vm", 1).await, StatusCode::CREATED);
}

async fn lock_as(s: &TestServer, host: &str) -> StatusCode {
    lock(s, host, 1).await
}

#[tokio::test]
async fn a_backup_that_outlasts_the_ttl_keeps_its_lock_until_it_stops() {
    let s = TestServer::start_with("lock_ttl_seconds = 2").await;
    assert_eq!(lock_as(&s, "first").await, StatusCode::CREATED);
    // Five seconds of writes, well past the two-second lease.
    for i in 0..10 {
        s.put(&format!("r/snapshots/s{i}"), "x").await;
        assert_eq!(
            lock_as(&s, "second").await,
            StatusCode::CONFLICT,
            "write {i}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The first client crashed: no unlock. Still held within the lease...
    assert_eq!(lock_as(&s, "second").await, StatusCode::CONFLICT);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // ...gone from the list once it lapses, and free for the next client.
    let live: serde_json::Value = s.json(Method::GET, "r/locks").await;
    assert_eq!(live, serde_json::json!([]));
    assert_eq!(lock_as(&s, "second").await, StatusCode::CREATED);
}

#[tokio::test]
async fn a_refused_contender_does_not_extend_the_lease() {
    let s = TestServer::start_with("lock_ttl_seconds = 1").await;
    assert_eq!(lock_as(&s, "first").await, StatusCode::CREATED);
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if lock_as(&s, "second").await == StatusCode::CREATED {
            return;
        }
    }
    panic!("the lock never lapsed while only a contender was asking");
}
