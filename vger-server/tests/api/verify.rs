//! `?verify-structure` and `?verify-packs` on real repositories.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, copy_fixture};

async fn with_fixture(fixture: &str) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(fixture, &dir.path().join("data"), "r");
    TestServer::start_in(dir, "").await
}

#[tokio::test]
async fn both_client_generations_pass_the_structure_check() {
    for fixture in ["client-0.7", "client-0.16"] {
        let s = with_fixture(fixture).await;
        let v: Value = s.json(Method::GET, "r?verify-structure").await;
        assert_eq!(v["ok"], true, "{fixture}: {v}");
        assert_eq!(v["errors"], json!([]));
        assert_eq!(v["pack_count"], 6);
        assert!(v["total_size"].as_u64().unwrap() > 0);
        assert_eq!(v["stale_locks"], 0);
    }
}

#[tokio::test]
async fn structural_damage_is_reported() {
    let s = with_fixture("client-0.7").await;
    let repo = s.data().join("r");
    std::fs::remove_file(repo.join("keys/repokey")).unwrap();
    let packs: Vec<String> = s.json(Method::GET, "r/packs/?list").await;
    std::fs::write(repo.join(&packs[0]), b"VGERPACK").unwrap();
    std::fs::write(repo.join(&packs[1]), b"NOTAPACK\x01rest").unwrap();
    std::fs::create_dir_all(repo.join("packs/XY")).unwrap();
    std::fs::write(repo.join("packs/00-bad"), b"").unwrap();
    let v: Value = s.json(Method::GET, "r?verify-structure").await;
    assert_eq!(v["ok"], false);
    let errors: Vec<String> = serde_json::from_value(v["errors"].clone()).unwrap();
    let has = |needle: &str| errors.iter().any(|e| e.contains(needle));
    assert!(has("keys/repokey"), "{errors:?}");
    assert!(has("pack too small"), "{errors:?}");
    assert!(has("invalid pack header"), "{errors:?}");
    assert!(has("packs/XY"), "{errors:?}");
    assert!(has("packs/00-bad"), "{errors:?}");
}

#[tokio::test]
async fn a_missing_repo_has_no_structure() {
    let s = TestServer::start().await;
    assert_eq!(
        s.status(Method::GET, "none?verify-structure").await,
        StatusCode::NOT_FOUND
    );
}

async fn plan_for(s: &TestServer) -> (Vec<String>, Value) {
    let packs: Vec<String> = s.json(Method::GET, "r/packs/?list").await;
    let mut entries = Vec::new();
    for p in &packs {
        let (_, body) = s.get_bytes(&format!("r/{p}")).await;
        let len = u32::from_le_bytes(body[9..13].try_into().unwrap());
        entries.push(json!({"pack_key":p,"expected_size":body.len(),"expected_blobs":[{"offset":13,"length":len}]}));
    }
    (packs, json!({"packs":entries,"protocol_version":1}))
}

#[tokio::test]
async fn intact_packs_verify_valid() {
    let s = with_fixture("client-0.16").await;
    let (packs, plan) = plan_for(&s).await;
    let v: Value = s.post_json_ok("r?verify-packs", &plan).await;
    assert_eq!(v["truncated"], false);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), packs.len());
    for (r, p) in results.iter().zip(&packs) {
        assert_eq!(r["pack_key"], p.as_str());
        assert_eq!(r["hash_valid"], true);
        assert_eq!(r["header_valid"], true);
        assert_eq!(r["blobs_valid"], true);
        assert!(r["error"].is_null());
    }
}

#[tokio::test]
async fn a_corrupted_pack_fails_its_hash_and_a_missing_one_reports_an_error() {
    let s = with_fixture("client-0.7").await;
    let (packs, plan) = plan_for(&s).await;
    let path = s.data().join("r").join(&packs[0]);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    std::fs::remove_file(s.data().join("r").join(&packs[1])).unwrap();
    let v: Value = s.post_json_ok("r?verify-packs", &plan).await;
    let results = v["results"].as_array().unwrap();
    assert_eq!(results[0]["hash_valid"], false);
    assert!(
        results[0]["error"]
            .as_str()
            .unwrap()
            .contains("hash mismatch")
    );
    assert!(results[1]["error"].is_string());
    assert_eq!(results[2]["hash_valid"], true);
}

#[tokio::test]
async fn a_blob_not_on_a_record_boundary_fails_blobs_valid() {
    let s = with_fixture("client-0.7").await;
    let packs: Vec<String> = s.json(Method::GET, "r/packs/?list").await;
    let (_, body) = s.get_bytes(&format!("r/{}", packs[0])).await;
    let plan = json!({"packs":[{"pack_key":packs[0],"expected_size":body.len(),"expected_blobs":[{"offset":14,"length":3}]}]});
    let v: Value = s.post_json_ok("r?verify-packs", &plan).await;
    assert_eq!(v["results"][0]["hash_valid"], true);
    assert_eq!(v["results"][0]["blobs_valid"], false);
    assert_eq!(v["results"][0]["error"], "blob boundary mismatch");
}

#[tokio::test]
async fn verify_packs_limits_are_400() {
    let s = with_fixture("client-0.7").await;
    let packs: Vec<String> = s.json(Method::GET, "r/packs/?list").await;
    let many: Vec<Value> = (0..101)
        .map(|_| json!({"pack_key":packs[0],"expected_size":1}))
        .collect();
    let cases = [
        json!({"packs": many}),
        json!({"packs":[{"pack_key":packs[0],"expected_size":0}]}),
        json!({"packs":[{"pack_key":packs[0],"expected_size":3_000_000_000u64}]}),
        json!({"packs":[{"pack_key":"config","expected_size":5}]}),
        json!({"packs":[],"protocol_version":9}),
        json!({"nope":1}),
    ];
    for plan in cases {
        let r = s.post_json("r?verify-packs", &plan).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{plan}");
    }
}
