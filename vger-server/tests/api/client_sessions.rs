//! Whole client lifecycles, replayed request by request as the traces in
//! shared/traces show them, checking every status and every byte.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, b2, make_pack, noise};

const SNAP1: &str = "bd80300cb82dfe95642cbdc1d0c472311bc9ef7be1a86d4f878ac89b8314cdad";
const SNAP2: &str = "c160d886334d8a7eee54bc561e473c65e904f8377c40ac0a5ebc6c2b7bfdba78";

async fn expect(
    s: &TestServer,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    status: StatusCode,
) -> Vec<u8> {
    let mut rb = s.req(method.clone(), path);
    if let Some(b) = body {
        rb = rb.body(b);
    }
    let r = rb.send().await.unwrap();
    assert_eq!(r.status(), status, "{method} {path}");
    r.bytes().await.unwrap().to_vec()
}

async fn lock07(s: &TestServer, pid: u32) -> StatusCode {
    s.req(Method::POST, "appxrepo/locks/repo-lock")
        .header("content-type", "application/json")
        .body(format!(r#"{{"hostname":"vm","pid":{pid}}}"#))
        .send()
        .await
        .unwrap()
        .status()
}

/// A commit-time rewrite of `manifest` or `index`: 204, as it exists.
async fn rewrite(s: &TestServer, path: &str, body: &[u8]) {
    expect(
        s,
        Method::PUT,
        path,
        Some(body.to_vec()),
        StatusCode::NO_CONTENT,
    )
    .await;
}

async fn unlock07(s: &TestServer) {
    expect(
        s,
        Method::DELETE,
        "appxrepo/locks/repo-lock",
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
}

async fn open07(s: &TestServer, config: &[u8], manifest: &[u8], index: &[u8]) {
    assert_eq!(
        expect(s, Method::GET, "appxrepo/config", None, StatusCode::OK).await,
        config
    );
    expect(
        s,
        Method::GET,
        "appxrepo/keys/repokey",
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        expect(s, Method::GET, "appxrepo/manifest", None, StatusCode::OK).await,
        manifest
    );
    assert_eq!(
        expect(s, Method::GET, "appxrepo/index", None, StatusCode::OK).await,
        index
    );
}

async fn init07(s: &TestServer, config: &[u8], manifest: &[u8], index: &[u8]) {
    use StatusCode as S;
    expect(s, Method::HEAD, "appxrepo/config", None, S::NOT_FOUND).await;
    expect(
        s,
        Method::PUT,
        "appxrepo/config",
        Some(config.to_vec()),
        S::CREATED,
    )
    .await;
    expect(s, Method::POST, "appxrepo/keys/?mkdir", None, S::CREATED).await;
    expect(
        s,
        Method::PUT,
        "appxrepo/keys/repokey",
        Some(noise(2, 288)),
        S::CREATED,
    )
    .await;
    expect(
        s,
        Method::PUT,
        "appxrepo/manifest",
        Some(manifest.to_vec()),
        S::CREATED,
    )
    .await;
    expect(
        s,
        Method::PUT,
        "appxrepo/index",
        Some(index.to_vec()),
        S::CREATED,
    )
    .await;
    expect(
        s,
        Method::POST,
        "appxrepo/snapshots/?mkdir",
        None,
        S::CREATED,
    )
    .await;
    expect(s, Method::POST, "appxrepo/locks/?mkdir", None, S::CREATED).await;
    for b in 0..=255u8 {
        expect(
            s,
            Method::POST,
            &format!("appxrepo/packs/{b:02x}/?mkdir"),
            None,
            S::CREATED,
        )
        .await;
    }
}

#[tokio::test]
async fn a_07_client_lifecycle() {
    use StatusCode as S;
    let s = TestServer::start().await;
    let config = noise(1, 116);
    let (manifest0, index0) = (noise(3, 64), noise(4, 31));

    // init
    init07(&s, &config, &manifest0, &index0).await;

    // backup: lock, snapshot first, packs on two connections, then commit.
    open07(&s, &config, &manifest0, &index0).await;
    assert_eq!(lock07(&s, 8368).await, S::CREATED);
    expect(
        &s,
        Method::PUT,
        &format!("appxrepo/snapshots/{SNAP1}"),
        Some(noise(5, 233)),
        S::CREATED,
    )
    .await;
    let blobs: Vec<Vec<u8>> = (0..6)
        .map(|i| noise(10 + i, 3000 + i as usize * 1000))
        .collect();
    let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
    let (big_key, big) = make_pack(&refs);
    let (small_key, small) = make_pack(&[&noise(20, 500)]);
    let (big_path, small_path) = (
        format!("appxrepo/{big_key}"),
        format!("appxrepo/{small_key}"),
    );
    let (a, b) = tokio::join!(
        s.put(&big_path, big.clone()),
        s.put(&small_path, small.clone())
    );
    assert_eq!((a, b), (S::CREATED, S::CREATED));
    let (manifest1, index1) = (noise(6, 203), noise(7, 34861));
    rewrite(&s, "appxrepo/manifest", &manifest1).await;
    rewrite(&s, "appxrepo/index", &index1).await;
    unlock07(&s).await;

    // restore: ranged reads of the packs, exact bytes.
    open07(&s, &config, &manifest1, &index1).await;
    expect(
        &s,
        Method::GET,
        &format!("appxrepo/snapshots/{SNAP1}"),
        None,
        S::OK,
    )
    .await;
    for (start, end) in [(13u64, 2000u64), (13, big.len() as u64 - 1), (5000, 9000)] {
        let r = s
            .req(Method::GET, &format!("appxrepo/{big_key}"))
            .header("range", format!("bytes={start}-{end}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), S::PARTIAL_CONTENT);
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes {start}-{end}/{}", big.len()).as_str()
        );
        assert_eq!(
            r.bytes().await.unwrap().to_vec(),
            &big[start as usize..=end as usize]
        );
    }

    // second backup
    assert_eq!(lock07(&s, 8796).await, S::CREATED);
    expect(
        &s,
        Method::PUT,
        &format!("appxrepo/snapshots/{SNAP2}"),
        Some(noise(8, 234)),
        S::CREATED,
    )
    .await;
    let (p3_key, p3) = make_pack(&[&noise(30, 700), &noise(31, 900)]);
    assert_eq!(
        s.put(&format!("appxrepo/{p3_key}"), p3.clone()).await,
        S::CREATED
    );
    let (manifest2, index2) = (noise(9, 326), noise(11, 35291));
    rewrite(&s, "appxrepo/index", &index2).await;
    rewrite(&s, "appxrepo/manifest", &manifest2).await;
    unlock07(&s).await;

    // check: HEAD of every pack with its real size.
    for (k, body) in [(&big_key, &big), (&small_key, &small), (&p3_key, &p3)] {
        let r = s
            .req(Method::HEAD, &format!("appxrepo/{k}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), S::OK);
        assert_eq!(
            r.headers()["content-length"],
            body.len().to_string().as_str()
        );
    }

    // prune
    assert_eq!(lock07(&s, 9175).await, S::CREATED);
    let (manifest3, index3) = (noise(12, 195), noise(13, 34964));
    rewrite(&s, "appxrepo/manifest", &manifest3).await;
    rewrite(&s, "appxrepo/index", &index3).await;
    expect(
        &s,
        Method::DELETE,
        &format!("appxrepo/snapshots/{SNAP1}"),
        None,
        S::NO_CONTENT,
    )
    .await;
    unlock07(&s).await;

    // compact: list all 256 shards, download each pack, repack.
    assert_eq!(lock07(&s, 9183).await, S::CREATED);
    let mut listed = Vec::new();
    for b in 0..=255u8 {
        let keys: Vec<String> = s
            .json(Method::GET, &format!("appxrepo/packs/{b:02x}/?list"))
            .await;
        for k in keys {
            let (st, body) = s.get_bytes(&format!("appxrepo/{k}")).await;
            assert_eq!(st, S::OK);
            assert_eq!(b2(&body), k.rsplit('/').next().unwrap());
            listed.push(k);
        }
    }
    let mut all = vec![big_key.clone(), small_key.clone(), p3_key.clone()];
    all.sort();
    assert_eq!(listed, all);
    // Keep blobs 1 and 4 of the big pack; drop the small pack entirely.
    let offsets = shared_proto::pack::offsets_for(blobs.iter().map(|b| b.len() as u64));
    let plan = json!({"operations":[
        {"source_pack":big_key,"keep_blobs":[
            {"offset":offsets[1],"length":blobs[1].len()},
            {"offset":offsets[4],"length":blobs[4].len()}],"delete_after":true},
        {"source_pack":small_key,"keep_blobs":[],"delete_after":true}]});
    let r = s.post_json("appxrepo?repack", &plan).await;
    assert_eq!(r.status(), S::OK);
    let v: Value = r.json().await.unwrap();
    let (new_key, new_body) = make_pack(&[&blobs[1], &blobs[4]]);
    assert_eq!(v["completed"][0]["new_pack"], new_key.as_str());
    assert_eq!(v["completed"][1]["new_pack"], Value::Null);
    assert_eq!(
        s.get_bytes(&format!("appxrepo/{new_key}")).await.1,
        new_body
    );
    expect(
        &s,
        Method::HEAD,
        &format!("appxrepo/{big_key}"),
        None,
        S::NOT_FOUND,
    )
    .await;
    expect(
        &s,
        Method::HEAD,
        &format!("appxrepo/{small_key}"),
        None,
        S::NOT_FOUND,
    )
    .await;
    unlock07(&s).await;

    // break-lock
    let r = s
        .req(Method::POST, "appxrepo/locks/repo-lock")
        .body(r#"{"hostname":"","pid":0}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), S::CREATED);
    unlock07(&s).await;
    assert_eq!(
        expect(&s, Method::GET, "appxrepo/locks/?list", None, S::OK).await,
        b"[]"
    );

    // delete repo
    expect(&s, Method::HEAD, "appxrepo/config", None, S::OK).await;
    let keys: Vec<String> = s.json(Method::GET, "appxrepo?list").await;
    let mut expected = vec![
        "config".to_owned(),
        "index".into(),
        "keys/repokey".into(),
        "manifest".into(),
        new_key.clone(),
        p3_key.clone(),
        format!("snapshots/{SNAP2}"),
    ];
    expected.sort();
    assert_eq!(keys, expected);
    let r = s
        .req(Method::POST, "appxrepo?batch-delete")
        .json(&keys)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), S::NO_CONTENT);
    let left: Vec<String> = s.json(Method::GET, "appxrepo?list").await;
    assert!(left.is_empty());

    // init again under the same name
    init07(&s, &noise(40, 118), &noise(41, 64), &noise(42, 31)).await;
}

async fn put_b2(s: &TestServer, path: &str, body: Vec<u8>, status: StatusCode) {
    let r = s
        .req(Method::PUT, path)
        .header("x-content-blake2b", b2(&body))
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), status, "PUT {path}");
}

#[tokio::test]
async fn a_016_client_lifecycle() {
    use StatusCode as S;
    let s = TestServer::start().await;
    assert_eq!(
        s.client.get(s.url("health")).send().await.unwrap().status(),
        S::OK
    );
    let r = "R";
    // init
    expect(&s, Method::HEAD, &format!("{r}/config"), None, S::NOT_FOUND).await;
    expect(&s, Method::POST, &format!("{r}?init"), None, S::CREATED).await;
    put_b2(&s, &format!("{r}/config"), noise(1, 117), S::CREATED).await;
    put_b2(&s, &format!("{r}/keys/repokey"), noise(2, 267), S::CREATED).await;
    put_b2(&s, &format!("{r}/index"), noise(3, 40), S::CREATED).await;
    put_b2(
        &s,
        &format!("{r}/index.gen"),
        1u64.to_le_bytes().to_vec(),
        S::CREATED,
    )
    .await;

    // backup: session, lock object visible to the next list, packs, commit.
    let session = format!("{r}/sessions/0123456789abcdef0123456789abcdef.json");
    put_b2(
        &s,
        &session,
        b"{\n  \"host\": \"vm\"\n}".to_vec(),
        S::CREATED,
    )
    .await;
    let lock = "locks/00000001764279491000000-fedcba9876543210fedcba9876543210.json";
    put_b2(
        &s,
        &format!("{r}/{lock}"),
        b"{\"hostname\":\"vm\"}".to_vec(),
        S::CREATED,
    )
    .await;
    let locks: Vec<String> = s.json(Method::GET, &format!("{r}/locks/?list")).await;
    assert_eq!(locks, vec![lock.to_owned()]);
    expect(&s, Method::GET, &format!("{r}/index.gen"), None, S::OK).await;
    let mut packs = Vec::new();
    for i in 0..3 {
        let (k, body) = make_pack(&[&noise(100 + i, 2000), &noise(200 + i, 1000)]);
        put_b2(&s, &format!("{r}/{k}"), body.clone(), S::CREATED).await;
        packs.push((k, body));
    }
    for (k, body) in &packs {
        let h = s
            .req(Method::HEAD, &format!("{r}/{k}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            h.headers()["content-length"],
            body.len().to_string().as_str()
        );
    }
    expect(&s, Method::HEAD, &format!("{r}/{lock}"), None, S::OK).await;
    put_b2(&s, &format!("{r}/index"), noise(4, 90), S::NO_CONTENT).await;
    put_b2(
        &s,
        &format!("{r}/index.gen"),
        2u64.to_le_bytes().to_vec(),
        S::NO_CONTENT,
    )
    .await;
    put_b2(
        &s,
        &format!("{r}/snapshots/{SNAP1}"),
        noise(5, 300),
        S::CREATED,
    )
    .await;
    expect(&s, Method::DELETE, &session, None, S::NO_CONTENT).await;
    expect(
        &s,
        Method::DELETE,
        &format!("{r}/{lock}"),
        None,
        S::NO_CONTENT,
    )
    .await;
    let snaps: Vec<String> = s.json(Method::GET, &format!("{r}/snapshots/?list")).await;
    assert_eq!(snaps, vec![format!("snapshots/{SNAP1}")]);

    // check: server-side pack verification.
    let plan = json!({"packs": packs.iter().map(|(k, b)| json!({
        "pack_key": k, "expected_size": b.len(),
        "expected_blobs": [{"offset": 13, "length": 2000}, {"offset": 13 + 2000 + 4, "length": 1000}]
    })).collect::<Vec<_>>(), "protocol_version": 1});
    let v: Value = s.post_json_ok(&format!("{r}?verify-packs"), &plan).await;
    for res in v["results"].as_array().unwrap() {
        assert_eq!(
            (res["hash_valid"].clone(), res["blobs_valid"].clone()),
            (json!(true), json!(true))
        );
    }

    // compact with protocol_version 1: keep the second blob of pack 0.
    let plan = json!({"operations":[{"source_pack":packs[0].0,"keep_blobs":[{"offset":2017,"length":1000}],"delete_after":true}],"protocol_version":1});
    let v: Value = s.post_json_ok(&format!("{r}?repack"), &plan).await;
    let (nk, nb) = make_pack(&[&noise(200, 1000)]);
    assert_eq!(v["completed"][0]["new_pack"], nk.as_str());
    assert_eq!(v["completed"][0]["new_offsets"], json!([13]));
    assert_eq!(s.get_bytes(&format!("{r}/{nk}")).await.1, nb);

    // delete repo with cleanup-dirs, then the next open sees no config.
    let keys: Vec<String> = s.json(Method::GET, &format!("{r}?list")).await;
    let resp = s
        .req(Method::POST, &format!("{r}?batch-delete&cleanup-dirs"))
        .json(&keys)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), S::NO_CONTENT);
    expect(&s, Method::GET, &format!("{r}/config"), None, S::NOT_FOUND).await;
    assert!(
        std::fs::read_dir(s.data().join(r))
            .unwrap()
            .next()
            .is_none()
    );
}
