//! Append-only set on one repository (the per-repo override): the same
//! rules as the server-wide mode, for that repository only.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};

use crate::support::{TestServer, files_below};

async fn server_with_locked_down_repo() -> TestServer {
    let s = TestServer::start().await;
    s.put("safe/config", "c").await;
    s.put("open/config", "c").await;
    s.set_policy("safe", |r| r.append_only = Some(true));
    s
}

#[tokio::test]
async fn history_is_write_once_in_an_append_only_repository() {
    let s = server_with_locked_down_repo().await;
    for k in ["config", "keys/repokey", "snapshots/a"] {
        let path = format!("safe/{k}");
        if k != "config" {
            assert_eq!(s.put(&path, "one").await, StatusCode::CREATED, "{k}");
        }
        let r = s.req(Method::PUT, &path).body("two").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{k}");
        assert!(r.text().await.unwrap().contains("write-once"));
    }
    assert_eq!(s.put("open/config", "two").await, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn commit_and_coordination_objects_stay_writable_in_an_append_only_repository() {
    let s = server_with_locked_down_repo().await;
    for k in [
        "manifest",
        "index",
        "index.gen",
        "pending_index",
        "locks/l",
        "sessions/s",
    ] {
        let path = format!("safe/{k}");
        assert_eq!(s.put(&path, "one").await, StatusCode::CREATED, "{k}");
        assert_eq!(s.put(&path, "two").await, StatusCode::NO_CONTENT, "{k}");
    }
}

#[tokio::test]
async fn only_locks_and_sessions_may_be_deleted_in_an_append_only_repository() {
    let s = server_with_locked_down_repo().await;
    s.put("safe/snapshots/a", "x").await;
    s.put("safe/locks/l", "x").await;
    s.put("safe/sessions/s", "x").await;
    let r = s
        .req(Method::DELETE, "safe/snapshots/a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("only locks/* and sessions/*")
    );
    assert_eq!(
        s.status(Method::DELETE, "safe/locks/l").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.status(Method::DELETE, "safe/sessions/s").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.status(Method::DELETE, "open/config").await,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn batch_delete_is_refused_in_an_append_only_repository() {
    let s = server_with_locked_down_repo().await;
    let r = s
        .req(Method::POST, "safe?batch-delete")
        .body(r#"["config"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("batch-delete is refused"));
    assert_eq!(files_below(&s.data().join("safe")), vec!["config"]);
}

#[tokio::test]
async fn a_deleting_repack_is_refused_in_an_append_only_repository() {
    let s = server_with_locked_down_repo().await;
    let plan = serde_json::json!({"operations":[{"source_pack":format!("packs/ab/{}", "ab".repeat(32)),"keep_blobs":[],"delete_after":true}]});
    let r = s.post_json("safe?repack", &plan).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("delete_after"));
}

#[tokio::test]
async fn of_concurrent_puts_of_one_new_write_once_key_exactly_one_wins() {
    let s = server_with_locked_down_repo().await;
    for round in 0..5 {
        let key = format!("safe/snapshots/race{round}");
        let puts = (0..8).map(|i| s.req(Method::PUT, &key).body(format!("writer {i}")).send());
        let statuses: Vec<StatusCode> = join_all(puts)
            .await
            .into_iter()
            .map(|r| r.unwrap().status())
            .collect();
        let won = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        let refused = statuses
            .iter()
            .filter(|s| **s == StatusCode::FORBIDDEN)
            .count();
        assert_eq!((won, refused), (1, 7), "{statuses:?}");
    }
    assert_eq!(s.stats("safe").await["total_objects"], 6);
}
