//! Server-side repack: correctness, failure atomicity, replay.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, b2, make_pack, noise};

/// Stores a pack of `blobs` in repo `r` and returns its key.
async fn store_pack(s: &TestServer, blobs: &[&[u8]]) -> String {
    let (key, body) = make_pack(blobs);
    assert_eq!(s.put(&format!("r/{key}"), body).await, StatusCode::CREATED);
    key
}

async fn repack(s: &TestServer, plan: Value) -> reqwest::Response {
    s.post_json("r?repack", &plan).await
}

#[tokio::test]
async fn kept_blobs_move_into_a_new_pack_named_by_its_hash() {
    let s = TestServer::start().await;
    let (a, b, c) = (noise(1, 100), noise(2, 5000), noise(3, 7));
    let src = store_pack(&s, &[&a, &b, &c]).await;
    // Offsets point past each record's 4-byte prefix.
    let plan = json!({"operations":[{"source_pack":src,"keep_blobs":[
        {"offset":13,"length":100},{"offset":13+100+4+5000+4,"length":7}],"delete_after":true}]});
    let r = repack(&s, plan).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let done = &v["completed"][0];
    assert_eq!(done["source_pack"], src.as_str());
    assert_eq!(done["deleted"], true);
    assert_eq!(done["new_offsets"], json!([13, 13 + 100 + 4]));
    let new_key = done["new_pack"].as_str().unwrap().to_owned();
    let (expected_key, expected_body) = make_pack(&[&a, &c]);
    assert_eq!(new_key, expected_key);
    let (st, body) = s.get_bytes(&format!("r/{new_key}")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, expected_body);
    assert_eq!(b2(&body), new_key.rsplit('/').next().unwrap());
    assert_eq!(
        s.status(Method::HEAD, &format!("r/{src}")).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_empty_keep_list_deletes_the_source_and_names_no_pack() {
    let s = TestServer::start().await;
    let src = store_pack(&s, &[b"garbage"]).await;
    let v: Value = repack(
        &s,
        json!({"operations":[{"source_pack":src,"keep_blobs":[],"delete_after":true}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        v,
        json!({"completed":[{"source_pack":src,"new_pack":null,"new_offsets":[],"deleted":true}]})
    );
    assert_eq!(
        s.status(Method::HEAD, &format!("r/{src}")).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_pack_whose_kept_blobs_are_all_of_it_is_kept() {
    let s = TestServer::start().await;
    let src = store_pack(&s, &[b"aaaa", b"bb"]).await;
    let plan = json!({"operations":[{"source_pack":src,"keep_blobs":[
        {"offset":13,"length":4},{"offset":21,"length":2}],"delete_after":true}],"protocol_version":1});
    let v: Value = repack(&s, plan).await.json().await.unwrap();
    assert_eq!(v["completed"][0]["new_pack"], src.as_str());
    assert_eq!(v["completed"][0]["deleted"], false);
    assert_eq!(v["completed"][0]["new_offsets"], json!([13, 21]));
    assert_eq!(
        s.status(Method::HEAD, &format!("r/{src}")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_plan_failing_in_the_middle_deletes_no_source() {
    let s = TestServer::start().await;
    let good = store_pack(&s, &[b"keep-me", b"drop-me"]).await;
    let bad = store_pack(&s, &[b"xyz"]).await;
    let plan = json!({"operations":[
        {"source_pack":good,"keep_blobs":[{"offset":13,"length":7}],"delete_after":true},
        // Not on a record boundary: the prefix at offset-4 is not 2.
        {"source_pack":bad,"keep_blobs":[{"offset":14,"length":2}],"delete_after":true}]});
    let r = repack(&s, plan).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("record boundary"));
    assert_eq!(
        s.status(Method::HEAD, &format!("r/{good}")).await,
        StatusCode::OK
    );
    assert_eq!(
        s.status(Method::HEAD, &format!("r/{bad}")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_plan_naming_a_missing_source_deletes_nothing() {
    let s = TestServer::start().await;
    let good = store_pack(&s, &[b"a"]).await;
    let (missing, _) = make_pack(&[b"never stored"]);
    let plan = json!({"operations":[
        {"source_pack":good,"keep_blobs":[],"delete_after":true},
        {"source_pack":missing,"keep_blobs":[{"offset":13,"length":12}],"delete_after":true}]});
    assert_eq!(repack(&s, plan).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        s.status(Method::HEAD, &format!("r/{good}")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_same_plan_twice_gives_the_same_answer() {
    let s = TestServer::start().await;
    let src = store_pack(&s, &[b"one", b"two", b"three"]).await;
    let other = store_pack(&s, &[b"gone"]).await;
    let plan = json!({"operations":[
        {"source_pack":src,"keep_blobs":[{"offset":13 + 3 + 4,"length":3}],"delete_after":true},
        {"source_pack":other,"keep_blobs":[],"delete_after":true}]});
    let first: Value = repack(&s, plan.clone()).await.json().await.unwrap();
    let r = repack(&s, plan).await;
    assert_eq!(r.status(), StatusCode::OK);
    let second: Value = r.json().await.unwrap();
    assert_eq!(first, second);
}

#[tokio::test]
async fn a_blob_outside_the_file_is_400() {
    let s = TestServer::start().await;
    let src = store_pack(&s, &[b"abc"]).await;
    let plan = json!({"operations":[{"source_pack":src,"keep_blobs":[{"offset":13,"length":300}],"delete_after":false}]});
    assert_eq!(repack(&s, plan).await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn plan_limits_are_enforced() {
    let s = TestServer::start().await;
    let src = store_pack(&s, &[b"abc"]).await;
    let cases = [
        json!({"operations":[],"protocol_version":2}),
        json!({"operations":[{"source_pack":src,"keep_blobs":[{"offset":13,"length":0}],"delete_after":false}]}),
        json!({"operations":[{"source_pack":src,"keep_blobs":[{"offset":13,"length":4294967296u64}],"delete_after":false}]}),
        json!({"operations":[{"source_pack":"config","keep_blobs":[],"delete_after":true}]}),
        json!({"operations":[{"source_pack":"packs/zz/x","keep_blobs":[],"delete_after":true}]}),
        json!({"operations":"nope"}),
        json!({"operations":[{"source_pack":src,"keep_blobs":[{"offset":-1,"length":3}]}]}),
    ];
    for plan in cases {
        assert_eq!(
            repack(&s, plan.clone()).await.status(),
            StatusCode::BAD_REQUEST,
            "{plan}"
        );
    }
    let too_many: Vec<Value> = (0..10_001)
        .map(|_| json!({"source_pack":src,"keep_blobs":[]}))
        .collect();
    let r = repack(&s, json!({"operations": too_many})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        s.status(Method::HEAD, &format!("r/{src}")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn append_only_refuses_a_deleting_repack_but_allows_copying() {
    let s = TestServer::start_with("append_only = true").await;
    let src = store_pack(&s, &[b"one", b"two"]).await;
    let deleting = json!({"operations":[{"source_pack":src,"keep_blobs":[{"offset":13,"length":3}],"delete_after":true}]});
    assert_eq!(repack(&s, deleting).await.status(), StatusCode::FORBIDDEN);
    let copying = json!({"operations":[{"source_pack":src,"keep_blobs":[{"offset":13,"length":3}],"delete_after":false}]});
    assert_eq!(repack(&s, copying).await.status(), StatusCode::OK);
    assert_eq!(
        s.status(Method::HEAD, &format!("r/{src}")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn fixture_packs_repack_into_valid_packs() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::copy_fixture("client-0.16", &dir.path().join("data"), "r");
    let s = TestServer::start_in(dir, "").await;
    let packs: Vec<String> = s.json(Method::GET, "r/packs/?list").await;
    // Keep the first record of every pack.
    let mut ops = Vec::new();
    for p in &packs {
        let (_, body) = s.get_bytes(&format!("r/{p}")).await;
        let len = u32::from_le_bytes(body[9..13].try_into().unwrap());
        ops.push(
            json!({"source_pack":p,"keep_blobs":[{"offset":13,"length":len}],"delete_after":true}),
        );
    }
    let v: Value = repack(&s, json!({"operations":ops,"protocol_version":1}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["completed"].as_array().unwrap().len(), packs.len());
    let report: Value = s.json(Method::GET, "r?verify-structure").await;
    assert_eq!(report["ok"], true, "{report}");
}

#[tokio::test]
async fn a_plan_naming_one_source_twice_replays_to_the_same_answer() {
    let s = TestServer::start().await;
    let src = store_pack(&s, &[b"first", b"second"]).await;
    let plan = json!({"operations":[
        {"source_pack":src,"keep_blobs":[{"offset":13,"length":5}],"delete_after":true},
        {"source_pack":src,"keep_blobs":[{"offset":13 + 5 + 4,"length":6}],"delete_after":true}]});
    let first: Value = repack(&s, plan.clone()).await.json().await.unwrap();
    let again = repack(&s, plan).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(first, again.json::<Value>().await.unwrap());
}

#[tokio::test]
async fn a_plan_resent_while_the_first_run_is_working_gets_the_same_answer() {
    let s = TestServer::start().await;
    let mut ops = Vec::new();
    for i in 0..6 {
        let (a, b) = (noise(100 + i, 3 << 20), noise(200 + i, 1 << 20));
        let src = store_pack(&s, &[&a, &b]).await;
        ops.push(json!({"source_pack":src,"keep_blobs":[{"offset":13,"length":a.len()}],"delete_after":true}));
    }
    let plan = json!({"operations": ops});
    // Copies of the plan arrive while earlier ones are still working, as a
    // client retrying after a read timeout would send them; staggered so
    // that some land in every phase of the first run.
    let sends = (0..8u64).map(|i| {
        let (s, plan) = (&s, plan.clone());
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(i * 50)).await;
            let r = repack(s, plan).await;
            assert_eq!(r.status(), StatusCode::OK, "copy {i}");
            r.json::<Value>().await.unwrap()
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    for a in &answers[1..] {
        assert_eq!(a, &answers[0]);
    }
    for done in answers[0]["completed"].as_array().unwrap() {
        let key = done["new_pack"].as_str().unwrap();
        assert_eq!(
            s.status(Method::HEAD, &format!("r/{key}")).await,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn a_replay_whose_new_pack_is_gone_is_refused_not_answered() {
    let s = TestServer::start().await;
    let src = store_pack(&s, &[b"keep", b"drop"]).await;
    let plan = json!({"operations":[{"source_pack":src,"keep_blobs":[{"offset":13,"length":4}],"delete_after":true}]});
    let first: Value = repack(&s, plan.clone()).await.json().await.unwrap();
    let new_key = first["completed"][0]["new_pack"].as_str().unwrap();
    std::fs::remove_file(s.data().join("r").join(new_key)).unwrap();
    assert_eq!(repack(&s, plan).await.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_damaged_pack_under_the_new_name_is_replaced_before_the_source_goes() {
    let s = TestServer::start().await;
    let src = store_pack(&s, &[b"keep", b"drop"]).await;
    let (new_key, new_body) = make_pack(&[b"keep"]);
    // A truncated file already sits where the new pack will be published.
    let path = s.data().join("r").join(&new_key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &new_body[..5]).unwrap();
    let plan = json!({"operations":[{"source_pack":src,"keep_blobs":[{"offset":13,"length":4}],"delete_after":true}]});
    let v: Value = repack(&s, plan).await.json().await.unwrap();
    assert_eq!(v["completed"][0]["new_pack"], new_key.as_str());
    assert_eq!(std::fs::read(&path).unwrap(), new_body);
}
