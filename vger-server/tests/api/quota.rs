//! Quotas: reserved before bytes are written, exact under concurrency,
//! overwrites counted by their difference, refusals a client can read.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};

use crate::support::{TOKEN, TestServer, files_below, noise};

const SIZE: usize = 256 * 1024;

fn temp_files(s: &TestServer) -> Vec<String> {
    files_below(&s.data())
        .into_iter()
        .filter(|f| f.contains(".vger-tmp-"))
        .collect()
}

#[tokio::test]
async fn sixteen_concurrent_uploads_into_room_for_four_admit_exactly_four() {
    let limit = 4 * SIZE as u64 + 1000;
    let s = TestServer::start_with(&format!("quota_bytes = {limit}")).await;
    let puts = (0..16).map(|i| {
        s.req(Method::PUT, &format!("r/snapshots/s{i:02}"))
            .body(noise(i, SIZE))
            .send()
    });
    let mut created = 0;
    for r in join_all(puts).await {
        let r = r.unwrap();
        match r.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::PAYLOAD_TOO_LARGE => {
                let msg = r.text().await.unwrap();
                assert!(msg.contains("quota exceeded for repository r"), "{msg}");
                assert!(msg.contains(&format!("limit {limit} bytes")), "{msg}");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 4);
    let stats = s.stats("r").await;
    assert_eq!(stats["quota_used_bytes"], 4 * SIZE as u64);
    assert_eq!(stats["total_objects"], 4);
    assert_eq!(stats["quota_bytes"], limit);
    assert!(temp_files(&s).is_empty(), "{:?}", temp_files(&s));
}

#[tokio::test]
async fn streamed_uploads_without_a_length_never_exceed_the_limit() {
    let limit = 2 * SIZE as u64;
    let s = TestServer::start_with(&format!("quota_bytes = {limit}")).await;
    let puts = (0..8u64).map(|i| {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = noise(i, SIZE)
            .chunks(16 * 1024)
            .map(|c| Ok(c.to_vec()))
            .collect();
        s.req(Method::PUT, &format!("r/snapshots/s{i}"))
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            )))
            .send()
    });
    let mut created = 0u64;
    for r in join_all(puts).await {
        match r.unwrap().status() {
            StatusCode::CREATED => created += 1,
            StatusCode::PAYLOAD_TOO_LARGE => {}
            other => panic!("unexpected {other}"),
        }
    }
    // Chunk-by-chunk reservations can leave every stream short (each holds
    // part of the room), so as few as none may finish; never more than fit.
    assert!(created <= 2, "{created} succeeded");
    let stats = s.stats("r").await;
    assert_eq!(stats["quota_used_bytes"], created * SIZE as u64);
    assert!(temp_files(&s).is_empty());
    // The room is whole again once they are gone.
    let fits = (limit - created * SIZE as u64) as usize;
    assert_eq!(s.put("r/index", vec![0u8; fits]).await, StatusCode::CREATED);
}

#[tokio::test]
async fn an_overwrite_counts_only_the_difference() {
    let s = TestServer::start_with("quota_bytes = 1000").await;
    assert_eq!(s.put("r/index", vec![1u8; 600]).await, StatusCode::CREATED);
    assert_eq!(
        s.put("r/index", vec![2u8; 900]).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.stats("r").await["quota_used_bytes"], 900);
    assert_eq!(
        s.put("r/manifest", vec![3u8; 200]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        s.put("r/index", vec![4u8; 100]).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.put("r/manifest", vec![3u8; 200]).await,
        StatusCode::CREATED
    );
    assert_eq!(s.stats("r").await["quota_used_bytes"], 300);
}

#[tokio::test]
async fn deletes_give_their_bytes_back() {
    let s = TestServer::start_with("quota_bytes = 1000").await;
    s.put("r/snapshots/a", vec![0u8; 800]).await;
    assert_eq!(
        s.put("r/snapshots/b", vec![0u8; 800]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        s.status(Method::DELETE, "r/snapshots/a").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.put("r/snapshots/b", vec![0u8; 800]).await,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_client_that_sends_its_whole_body_first_reads_the_413_and_its_message() {
    let s = TestServer::start_with("quota_bytes = 100000").await;
    let body = noise(9, 4 << 20);
    let mut req = format!(
        "PUT /r/packs/00/{} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        "0".repeat(64),
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let (code, text) = s.raw(&req).await;
    assert_eq!(code, 413, "{text}");
    assert!(text.contains("quota exceeded for repository r"), "{text}");
    assert!(text.contains("limit 100000 bytes"), "{text}");
    assert!(temp_files(&s).is_empty());
}

#[tokio::test]
async fn a_stream_that_grows_past_the_limit_is_refused_and_read_to_its_end() {
    let s = TestServer::start_with("quota_bytes = 100000").await;
    let body = noise(3, 2 << 20);
    let mut req = format!(
        "PUT /r/index HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(64 * 1024) {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let (code, text) = s.raw(&req).await;
    assert_eq!(code, 413, "{text}");
    assert!(text.contains("quota exceeded"), "{text}");
    assert_eq!(
        s.status(Method::GET, "r/index").await,
        StatusCode::NOT_FOUND
    );
    assert!(temp_files(&s).is_empty());
}

#[tokio::test]
async fn a_repository_override_beats_the_server_default() {
    let s = TestServer::start_with("quota_bytes = 0").await;
    s.put("small/config", "c").await;
    s.set_policy("small", |r| r.quota_bytes = Some(100));
    assert_eq!(
        s.put("small/index", vec![0u8; 200]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(s.stats("small").await["quota_bytes"], 100);
    assert_eq!(
        s.put("big/index", vec![0u8; 200]).await,
        StatusCode::CREATED
    );
    assert_eq!(s.stats("big").await["quota_bytes"], 0);
}

#[tokio::test]
async fn an_override_of_zero_lifts_the_server_default() {
    let s = TestServer::start_with("quota_bytes = 10").await;
    s.put("r/config", "c").await;
    s.set_policy("r", |r| r.quota_bytes = Some(0));
    assert_eq!(s.put("r/index", vec![0u8; 200]).await, StatusCode::CREATED);
}

fn op(source: &str, blobs: &[(u64, u64)], delete_after: bool) -> serde_json::Value {
    let keep: Vec<serde_json::Value> = blobs
        .iter()
        .map(|(o, l)| serde_json::json!({"offset": o, "length": l}))
        .collect();
    serde_json::json!({"source_pack": source, "keep_blobs": keep, "delete_after": delete_after})
}

async fn refused_and_unchanged(s: &TestServer, plan: serde_json::Value) {
    let before = s.stats("r").await;
    let r = s.post_json("r?repack", &plan).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text().await.unwrap().contains("quota exceeded"));
    assert_eq!(s.stats("r").await, before, "nothing was written");
    assert!(temp_files(s).is_empty());
}

#[tokio::test]
async fn a_repack_that_would_grow_past_the_quota_is_refused_and_writes_nothing() {
    let s = TestServer::start_with("quota_bytes = 20000").await;
    let (k, p) = crate::support::make_pack(&[&noise(1, 4000)]);
    s.put(&format!("r/{k}"), p).await;
    // Copies of the one blob, two to six times over, deleting nothing.
    let ops: Vec<serde_json::Value> = (2..=6)
        .map(|n| op(&k, &vec![(13, 4000); n], false))
        .collect();
    refused_and_unchanged(&s, serde_json::json!({ "operations": ops })).await;
}

#[tokio::test]
async fn a_repack_that_reorders_a_whole_pack_is_charged_for_the_copy() {
    let s = TestServer::start_with("quota_bytes = 5000").await;
    let (k, p) = crate::support::make_pack(&[&noise(1, 1000), &noise(2, 1000), &noise(3, 1000)]);
    s.put(&format!("r/{k}"), p).await;
    // Same size as the source, other order: a new pack of 3021 bytes.
    let plan = serde_json::json!({"operations": [op(&k, &[(1017, 1000), (13, 1000), (2021, 1000)], false)]});
    refused_and_unchanged(&s, plan).await;
}

#[tokio::test]
async fn a_repack_gets_no_credit_for_a_source_another_op_keeps() {
    let s = TestServer::start_with("quota_bytes = 3500").await;
    let (k, p) = crate::support::make_pack(&[&noise(1, 1000), &noise(2, 1000), &noise(3, 1000)]);
    s.put(&format!("r/{k}"), p).await;
    // "Keep all and delete" keeps the pack; the subset is new bytes.
    let all = [(13, 1000), (1017, 1000), (2021, 1000)];
    let plan =
        serde_json::json!({"operations": [op(&k, &all, true), op(&k, &[(13, 1000)], false)]});
    refused_and_unchanged(&s, plan).await;
}

#[tokio::test]
async fn a_compaction_near_the_quota_succeeds_on_the_credit_of_what_it_deletes() {
    let s = TestServer::start_with("quota_bytes = 10000").await;
    let (k, p) = crate::support::make_pack(&[&noise(1, 4000), &noise(2, 4000)]);
    s.put(&format!("r/{k}"), p).await;
    let plan = serde_json::json!({"operations": [{
        "source_pack": k, "keep_blobs": [{"offset": 13, "length": 4000}], "delete_after": true
    }]});
    s.post_json_ok("r?repack", &plan).await;
    let stats = s.stats("r").await;
    assert_eq!(
        (stats["total_packs"].clone(), stats["total_bytes"].clone()),
        (1.into(), 4013.into())
    );
}
