//! Range reads, edge by edge.

use reqwest::{Method, StatusCode};

use crate::support::{TestServer, noise};

async fn server_with(len: usize) -> (TestServer, Vec<u8>) {
    let s = TestServer::start().await;
    let data = noise(7, len);
    s.put("r/index", data.clone()).await;
    (s, data)
}

async fn range(s: &TestServer, spec: &str) -> reqwest::Response {
    s.req(Method::GET, "r/index")
        .header("range", spec)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_closed_range_is_206_with_exact_headers_and_bytes() {
    let (s, data) = server_with(1000).await;
    let r = range(&s, "bytes=13-99").await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 13-99/1000");
    assert_eq!(r.headers()["content-length"], "87");
    assert_eq!(r.bytes().await.unwrap().to_vec(), &data[13..=99]);
}

#[tokio::test]
async fn an_end_past_the_object_is_clamped() {
    let (s, data) = server_with(1000).await;
    let r = range(&s, "bytes=990-5000").await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 990-999/1000");
    assert_eq!(r.headers()["content-length"], "10");
    assert_eq!(r.bytes().await.unwrap().to_vec(), &data[990..]);
}

#[tokio::test]
async fn the_last_byte_alone() {
    let (s, data) = server_with(1000).await;
    let r = range(&s, "bytes=999-999").await;
    assert_eq!(r.headers()["content-range"], "bytes 999-999/1000");
    assert_eq!(r.bytes().await.unwrap().to_vec(), &data[999..]);
}

#[tokio::test]
async fn a_start_at_the_end_is_416() {
    let (s, _) = server_with(1000).await;
    let r = range(&s, "bytes=1000-1001").await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.headers()["content-range"], "bytes */1000");
}

#[tokio::test]
async fn a_start_past_the_end_is_416() {
    let (s, _) = server_with(1000).await;
    assert_eq!(
        range(&s, "bytes=5000-6000").await.status(),
        StatusCode::RANGE_NOT_SATISFIABLE
    );
}

#[tokio::test]
async fn any_range_of_an_empty_object_is_416() {
    let (s, _) = server_with(0).await;
    assert_eq!(
        range(&s, "bytes=0-0").await.status(),
        StatusCode::RANGE_NOT_SATISFIABLE
    );
}

#[tokio::test]
async fn open_ended_and_suffix_ranges() {
    let (s, data) = server_with(1000).await;
    let r = range(&s, "bytes=900-").await;
    assert_eq!(r.headers()["content-range"], "bytes 900-999/1000");
    assert_eq!(r.bytes().await.unwrap().to_vec(), &data[900..]);
    let r = range(&s, "bytes=-100").await;
    assert_eq!(r.headers()["content-range"], "bytes 900-999/1000");
    assert_eq!(r.bytes().await.unwrap().to_vec(), &data[900..]);
}

#[tokio::test]
async fn malformed_ranges_are_400() {
    let (s, _) = server_with(1000).await;
    for spec in [
        "bytes=",
        "bytes=a-b",
        "bytes=50-10",
        "items=0-1",
        "bytes=0-1,5-9",
        "0-10",
        "bytes=--1",
    ] {
        assert_eq!(
            range(&s, spec).await.status(),
            StatusCode::BAD_REQUEST,
            "{spec}"
        );
    }
}

#[tokio::test]
async fn two_range_headers_are_400() {
    let (s, _) = server_with(1000).await;
    let r = s
        .req(Method::GET, "r/index")
        .header("range", "bytes=0-1")
        .header("range", "bytes=2-3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_range_of_a_missing_object_is_404() {
    let (s, _) = server_with(10).await;
    let r = s
        .req(Method::GET, "r/manifest")
        .header("range", "bytes=0-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_large_range_streams_every_byte() {
    let (s, data) = server_with(5 * 1024 * 1024 + 3).await;
    let r = range(&s, "bytes=1-5242880").await;
    assert_eq!(r.headers()["content-length"], "5242880");
    assert_eq!(r.bytes().await.unwrap().to_vec(), &data[1..=5_242_880]);
}
