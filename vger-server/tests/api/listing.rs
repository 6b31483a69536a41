//! `?list` of prefixes and repositories, and `GET /`.

use reqwest::{Method, StatusCode};

use crate::support::{TestServer, make_pack};

#[tokio::test]
async fn a_prefix_lists_its_keys_relative_to_the_repo_sorted() {
    let s = TestServer::start().await;
    let (k1, p1) = make_pack(&[b"one"]);
    let (k2, p2) = make_pack(&[b"two"]);
    s.put(&format!("r/{k1}"), p1).await;
    s.put(&format!("r/{k2}"), p2).await;
    let mut expected = vec![k1.clone(), k2.clone()];
    expected.sort();
    let listed: Vec<String> = s.json(Method::GET, "r/packs/?list").await;
    assert_eq!(listed, expected);
    let shard = &k1[..8];
    let listed: Vec<String> = s.json(Method::GET, &format!("r/{shard}/?list")).await;
    assert!(listed.contains(&k1));
}

#[tokio::test]
async fn a_missing_prefix_lists_as_empty() {
    let s = TestServer::start().await;
    let listed: Vec<String> = s.json(Method::GET, "r/snapshots/?list").await;
    assert!(listed.is_empty());
    let listed: Vec<String> = s.json(Method::GET, "r/packs/00/?list").await;
    assert!(listed.is_empty());
}

#[tokio::test]
async fn the_whole_repo_lists_every_key_sorted() {
    let s = TestServer::start().await;
    for k in [
        "r/manifest",
        "r/config",
        "r/snapshots/b",
        "r/snapshots/a",
        "r/keys/repokey",
        "r/index",
    ] {
        s.put(k, "x").await;
    }
    s.status(Method::POST, "r/packs/00/?mkdir").await;
    let listed: Vec<String> = s.json(Method::GET, "r?list").await;
    assert_eq!(
        listed,
        vec![
            "config",
            "index",
            "keys/repokey",
            "manifest",
            "snapshots/a",
            "snapshots/b"
        ]
    );
}

#[tokio::test]
async fn listing_a_missing_repo_is_404() {
    let s = TestServer::start().await;
    assert_eq!(
        s.status(Method::GET, "nothing?list").await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn stray_and_temp_files_are_never_listed() {
    let s = TestServer::start().await;
    s.put("r/config", "c").await;
    let dir = s.data().join("r");
    std::fs::create_dir_all(dir.join("snapshots")).unwrap();
    std::fs::write(dir.join("snapshots/.vger-tmp-1-2-3"), "partial").unwrap();
    std::fs::write(dir.join(".hidden"), "x").unwrap();
    std::fs::write(dir.join("notakey"), "x").unwrap();
    let listed: Vec<String> = s.json(Method::GET, "r?list").await;
    assert_eq!(listed, vec!["config"]);
}

#[tokio::test]
async fn a_write_is_visible_to_the_next_list() {
    let s = TestServer::start().await;
    let key = "r/locks/00000001764279491000000-0123456789abcdef0123456789abcdef.json";
    assert_eq!(s.put(key, "{}").await, StatusCode::CREATED);
    let listed: Vec<String> = s.json(Method::GET, "r/locks/?list").await;
    assert_eq!(listed, vec![key.trim_start_matches("r/")]);
}

#[tokio::test]
async fn listing_below_an_object_is_empty_not_an_error() {
    let s = TestServer::start().await;
    s.put("r/pending_index", "x").await;
    let listed: Vec<String> = s.json(Method::GET, "r/pending_index/?list").await;
    assert!(listed.is_empty());
}

#[tokio::test]
async fn the_server_root_lists_repositories_but_not_its_own_state() {
    let s = TestServer::start().await;
    s.put("beta/config", "c").await;
    s.put("alpha/config", "c").await;
    std::fs::create_dir_all(s.data().join(".vger-server")).unwrap();
    let repos: Vec<String> = s.json(Method::GET, "/").await;
    assert_eq!(repos, vec!["alpha", "beta"]);
}
