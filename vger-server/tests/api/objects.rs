//! PUT, GET, HEAD and DELETE of objects.

use reqwest::{Method, StatusCode};

use crate::support::{TestServer, b2, make_pack, noise};

#[tokio::test]
async fn the_first_put_creates_the_repository_and_answers_201() {
    let s = TestServer::start().await;
    assert_eq!(s.put("fresh/config", "cfg").await, StatusCode::CREATED);
    assert!(s.data().join("fresh/config").is_file());
}

#[tokio::test]
async fn an_overwrite_answers_204_and_replaces_the_bytes() {
    let s = TestServer::start().await;
    assert_eq!(s.put("r/index", "one").await, StatusCode::CREATED);
    assert_eq!(s.put("r/index", "second").await, StatusCode::NO_CONTENT);
    assert_eq!(
        s.get_bytes("r/index").await,
        (StatusCode::OK, b"second".to_vec())
    );
}

#[tokio::test]
async fn get_returns_the_exact_bytes_and_content_length() {
    let s = TestServer::start().await;
    let data = noise(1, 3 * 1024 * 1024 + 17);
    s.put("r/index", data.clone()).await;
    let r = s.req(Method::GET, "r/index").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-length"],
        data.len().to_string().as_str()
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);
}

#[tokio::test]
async fn head_reports_the_real_size_without_a_body() {
    let s = TestServer::start().await;
    s.put("r/keys/repokey", vec![7u8; 288]).await;
    let r = s.req(Method::HEAD, "r/keys/repokey").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-length"], "288");
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_valid_absent_key_is_404_not_400() {
    let s = TestServer::start().await;
    s.put("r/config", "c").await;
    for key in [
        "r/index.gen",
        "r/manifest",
        "r/snapshots/abc",
        "r/locks/x.json",
    ] {
        assert_eq!(
            s.status(Method::GET, key).await,
            StatusCode::NOT_FOUND,
            "{key}"
        );
        assert_eq!(
            s.status(Method::HEAD, key).await,
            StatusCode::NOT_FOUND,
            "{key}"
        );
    }
    assert_eq!(
        s.status(Method::GET, "norepo/config").await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn delete_answers_204_then_404() {
    let s = TestServer::start().await;
    s.put("r/snapshots/abc", "snap").await;
    assert_eq!(
        s.status(Method::DELETE, "r/snapshots/abc").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.status(Method::DELETE, "r/snapshots/abc").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.status(Method::GET, "r/snapshots/abc").await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn mkdir_creates_directories_and_is_idempotent() {
    let s = TestServer::start().await;
    for _ in 0..2 {
        assert_eq!(
            s.status(Method::POST, "r/keys/?mkdir").await,
            StatusCode::CREATED
        );
        assert_eq!(
            s.status(Method::POST, "r/packs/ab/?mkdir").await,
            StatusCode::CREATED
        );
    }
    assert!(s.data().join("r/packs/ab").is_dir());
    assert_eq!(
        s.status(Method::POST, "r/config?mkdir").await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_correct_checksum_header_is_accepted() {
    let s = TestServer::start().await;
    let r = s
        .req(Method::PUT, "r/index")
        .header("x-content-blake2b", b2(b"payload"))
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_checksum_mismatch_is_409_and_stores_nothing() {
    let s = TestServer::start().await;
    let r = s
        .req(Method::PUT, "r/index")
        .header("x-content-blake2b", b2(b"other"))
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        s.status(Method::GET, "r/index").await,
        StatusCode::NOT_FOUND
    );
    assert!(crate::support::files_below(&s.data().join("r")).is_empty());
}

#[tokio::test]
async fn a_malformed_checksum_header_is_400() {
    let s = TestServer::start().await;
    for bad in ["abc", "zz".repeat(32).as_str(), ""] {
        let r = s
            .req(Method::PUT, "r/index")
            .header("x-content-blake2b", bad)
            .body("payload")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad:?}");
    }
}

#[tokio::test]
async fn a_pack_must_hash_to_its_name_even_without_the_header() {
    let s = TestServer::start().await;
    let (key, body) = make_pack(&[b"blob"]);
    let mut tampered = body.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let r = s
        .req(Method::PUT, &format!("r/{key}"))
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("pack name"));
    assert_eq!(s.put(&format!("r/{key}"), body).await, StatusCode::CREATED);
}

#[tokio::test]
async fn an_upload_over_the_size_limit_is_413_naming_the_limit() {
    let s = TestServer::start_with("max_object_bytes = 1000").await;
    let r = s
        .req(Method::PUT, "r/index")
        .body(vec![0u8; 1001])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text().await.unwrap().contains("1000"));
    assert_eq!(s.put("r/index", vec![0u8; 1000]).await, StatusCode::CREATED);
}

#[tokio::test]
async fn a_streamed_upload_over_the_size_limit_is_413_and_leaves_no_file() {
    let s = TestServer::start_with("max_object_bytes = 100000").await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..50).map(|_| Ok(vec![1u8; 10_000])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let r = s
        .req(Method::PUT, "r/index")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text().await.unwrap().contains("100000"));
    assert!(crate::support::files_below(&s.data().join("r")).is_empty());
}

#[tokio::test]
async fn an_upload_that_stops_short_of_its_content_length_stores_nothing() {
    let s = TestServer::start().await;
    let req = format!(
        "PUT /r/index HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 100\r\n\r\nonly-ten-b",
        crate::support::TOKEN
    );
    let mut sock = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut sock, req.as_bytes())
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::shutdown(&mut sock).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut sock, &mut buf).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        s.status(Method::GET, "r/index").await,
        StatusCode::NOT_FOUND
    );
    assert!(
        crate::support::files_below(&s.data().join("r")).is_empty(),
        "no temp file may remain"
    );
}

#[tokio::test]
async fn an_upload_in_flight_is_invisible_to_listing_and_reads() {
    let s = TestServer::start().await;
    s.put("r/config", "c").await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tx.send(Ok(vec![1u8; 4096])).await.unwrap();
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let req = s.req(Method::PUT, "r/snapshots/pending").body(body).send();
    let upload = tokio::spawn(req);
    // Wait until the temp file exists on disk.
    let snaps = s.data().join("r/snapshots");
    for _ in 0..100 {
        if std::fs::read_dir(&snaps)
            .map(|d| d.count() > 0)
            .unwrap_or(false)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        crate::support::files_below(&snaps).len(),
        1,
        "a temp file is being written"
    );
    let listed: Vec<String> = s.json(Method::GET, "r?list").await;
    assert_eq!(listed, vec!["config"]);
    let listed: Vec<String> = s.json(Method::GET, "r/snapshots/?list").await;
    assert!(listed.is_empty());
    let stats: serde_json::Value = s.json(Method::GET, "r?stats").await;
    assert_eq!(stats["total_objects"], 1);
    assert_eq!(
        s.status(Method::GET, "r/snapshots/pending").await,
        StatusCode::NOT_FOUND
    );
    drop(tx);
    assert_eq!(upload.await.unwrap().unwrap().status(), StatusCode::CREATED);
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn wrong_methods_on_objects_are_405() {
    let s = TestServer::start().await;
    assert_eq!(
        s.status(Method::PATCH, "r/config").await,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        s.status(Method::POST, "r/config").await,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        s.status(Method::PUT, "").await,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

/// Writes a whole request, body included, before reading anything, as a
/// 0.7 client does; returns the response text.
async fn send_all_then_read(s: &TestServer, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    sock.write_all(head.as_bytes()).await.expect("head written");
    sock.write_all(body)
        .await
        .expect("the whole body is accepted, not cut off");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        sock.read_to_end(&mut buf),
    )
    .await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn a_client_that_writes_its_whole_body_first_sees_the_413_and_its_message() {
    let s = TestServer::start_with("max_object_bytes = 1048576").await;
    let body = vec![9u8; (1 << 20) + 10];
    let head = format!(
        "PUT /r/index HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        crate::support::TOKEN,
        body.len()
    );
    let text = send_all_then_read(&s, &head, &body).await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(
        text.contains("1048576"),
        "the message names the limit: {text}"
    );
}

#[tokio::test]
async fn a_client_that_writes_a_whole_mismatched_pack_first_sees_the_409() {
    let s = TestServer::start().await;
    let (key, mut body) = make_pack(&[&noise(3, 2 << 20)]);
    body[100] ^= 1;
    let head = format!(
        "PUT /r/{key} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        crate::support::TOKEN,
        body.len()
    );
    let text = send_all_then_read(&s, &head, &body).await;
    assert!(text.starts_with("HTTP/1.1 409"), "{text}");
}

#[tokio::test]
async fn a_refused_put_to_a_directory_key_drains_the_body_and_answers_400() {
    let s = TestServer::start().await;
    let body = vec![1u8; 512 * 1024];
    let head = format!(
        "PUT /r/snapshots/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        crate::support::TOKEN,
        body.len()
    );
    let text = send_all_then_read(&s, &head, &body).await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
}
