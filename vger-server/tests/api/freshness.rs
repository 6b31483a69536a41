//! Backup freshness: `last_backup_at` moves when a backup commits, and
//! only then.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{TestServer, make_pack};

async fn last_backup(s: &TestServer) -> Value {
    s.stats("r").await["last_backup_at"].clone()
}

async fn lock(s: &TestServer) {
    assert_eq!(s.lock("r", "vm", 1).await, StatusCode::CREATED);
}

async fn unlock(s: &TestServer) {
    assert_eq!(
        s.status(Method::DELETE, "r/locks/repo-lock").await,
        StatusCode::NO_CONTENT
    );
}

/// A 0.7 client's init: config, repokey, manifest, index.
async fn init_07(s: &TestServer) {
    for k in ["config", "keys/repokey", "manifest", "index"] {
        assert_eq!(s.put(&format!("r/{k}"), "x").await, StatusCode::CREATED);
    }
}

/// A 0.7 client's backup: lock, snapshot, pack, manifest, index, unlock.
async fn backup_07(s: &TestServer, id: &str) {
    lock(s).await;
    s.put(&format!("r/snapshots/{id}"), id.to_owned()).await;
    let (k, p) = make_pack(&[id.as_bytes()]);
    s.put(&format!("r/{k}"), p).await;
    s.put("r/manifest", format!("with {id}")).await;
    s.put("r/index", format!("with {id}")).await;
    unlock(s).await;
}

/// Lets the clock pass a whole second, so a moved time would show.
async fn next_second() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

#[tokio::test]
async fn init_is_not_a_backup() {
    let s = TestServer::start().await;
    init_07(&s).await;
    assert_eq!(last_backup(&s).await, Value::Null);
}

#[tokio::test]
async fn a_07_backup_completes_when_its_manifest_is_written() {
    let s = TestServer::start().await;
    init_07(&s).await;
    lock(&s).await;
    s.put("r/snapshots/a", "a").await;
    assert_eq!(last_backup(&s).await, Value::Null, "the snapshot alone");
    s.put("r/manifest", "with a").await;
    let t = last_backup(&s).await;
    assert!(t.as_str().is_some_and(|t| t.ends_with('Z')), "{t}");
    unlock(&s).await;
}

#[tokio::test]
async fn a_failed_backup_then_a_prune_do_not_move_it() {
    let s = TestServer::start().await;
    init_07(&s).await;
    backup_07(&s, "a").await;
    let before = last_backup(&s).await;
    next_second().await;
    // The backup stores its snapshot, then fails: no manifest.
    lock(&s).await;
    s.put("r/snapshots/b", "b").await;
    unlock(&s).await;
    assert_eq!(last_backup(&s).await, before);
    // A prune rewrites manifest and index and deletes a snapshot.
    lock(&s).await;
    s.put("r/manifest", "pruned").await;
    s.put("r/index", "pruned").await;
    s.status(Method::DELETE, "r/snapshots/b").await;
    unlock(&s).await;
    assert_eq!(last_backup(&s).await, before);
}

#[tokio::test]
async fn a_crashed_backup_whose_lock_is_broken_does_not_make_the_next_manifest_a_backup() {
    let s = TestServer::start().await;
    init_07(&s).await;
    lock(&s).await;
    s.put("r/snapshots/a", "a").await;
    // break-lock by another client, then a prune.
    assert_eq!(s.lock("r", "", 0).await, StatusCode::CONFLICT);
    s.status(Method::DELETE, "r/locks/repo-lock").await;
    lock(&s).await;
    s.put("r/manifest", "pruned").await;
    unlock(&s).await;
    assert_eq!(last_backup(&s).await, Value::Null);
}

#[tokio::test]
async fn compact_does_not_move_it() {
    let s = TestServer::start().await;
    init_07(&s).await;
    backup_07(&s, "a").await;
    let before = last_backup(&s).await;
    next_second().await;
    let (k, p) = make_pack(&[b"one", b"two"]);
    s.put(&format!("r/{k}"), p).await;
    lock(&s).await;
    let plan = serde_json::json!({"operations":[{"source_pack":k,"keep_blobs":[{"offset":13,"length":3}],"delete_after":true}]});
    s.post_json_ok("r?repack", &plan).await;
    s.put("r/manifest", "compacted").await;
    s.put("r/index", "compacted").await;
    unlock(&s).await;
    assert_eq!(last_backup(&s).await, before);
}

#[tokio::test]
async fn a_new_snapshot_completes_a_backup_in_a_repository_without_a_manifest() {
    let s = TestServer::start().await;
    assert_eq!(s.status(Method::POST, "r?init").await, StatusCode::CREATED);
    for k in ["config", "keys/repokey", "index", "index.gen"] {
        s.put(&format!("r/{k}"), "x").await;
    }
    assert_eq!(last_backup(&s).await, Value::Null);
    s.put("r/snapshots/a", "a").await;
    let first = last_backup(&s).await;
    assert!(first.is_string());
    next_second().await;
    // Rewriting the same snapshot, or deleting one, is not a backup.
    s.put("r/snapshots/a", "a").await;
    s.status(Method::DELETE, "r/snapshots/a").await;
    s.put("r/index.gen", "y").await;
    assert_eq!(last_backup(&s).await, first);
    s.put("r/snapshots/b", "b").await;
    assert_ne!(last_backup(&s).await, first);
}
