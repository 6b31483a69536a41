//! Bearer authentication on every request but /health.

use reqwest::{Method, StatusCode};

use crate::support::{TOKEN, TestServer};

#[tokio::test]
async fn a_request_without_a_token_is_401_with_a_bearer_challenge() {
    let s = TestServer::start().await;
    let r = s.client.get(s.url("r/config")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn a_wrong_token_is_401() {
    let s = TestServer::start().await;
    let r = s
        .client
        .get(s.url("r/config"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn another_scheme_is_401() {
    let s = TestServer::start().await;
    let r = s
        .client
        .get(s.url("r/config"))
        .basic_auth("user", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = s
        .client
        .get(s.url("r/config"))
        .header("authorization", format!("Token {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_scheme_word_is_case_insensitive() {
    let s = TestServer::start().await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let r = s
            .client
            .get(s.url("r/config"))
            .header("authorization", format!("{scheme} {TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{scheme}");
    }
}

#[tokio::test]
async fn auth_is_decided_before_the_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start().await;
    // Announce a huge body and send none of it: the 401 must come at once
    // (the server then goes on reading the body to discard it).
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"PUT /r/config HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nContent-Length: 1000000000\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            c.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
    })
    .await
    .expect("401 without waiting for the body");
    let text = String::from_utf8_lossy(&head);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(!s.data().join("r").exists(), "nothing may be created");
}

#[tokio::test]
async fn health_needs_no_token_and_reports_details() {
    let s = TestServer::start().await;
    s.put("r/config", "x").await;
    let r = s.client.get(s.url("health")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["repos"], 1);
    assert!(v["uptime_seconds"].is_u64());
    assert!(v["disk_free_bytes"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn health_details_can_be_hidden_from_anonymous_callers() {
    let s = TestServer::start_with("public_health_details = false").await;
    let v: serde_json::Value = s
        .client
        .get(s.url("health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "ok");
    assert!(
        v.get("repos").is_none()
            && v.get("disk_free_bytes").is_none()
            && v.get("uptime_seconds").is_none()
    );
    let v: serde_json::Value = s.json(Method::GET, "health").await;
    assert!(v["repos"].is_u64(), "a valid token sees the details");
}

#[tokio::test]
async fn health_is_503_when_the_data_dir_is_gone() {
    let s = TestServer::start().await;
    std::fs::remove_dir_all(s.data()).unwrap();
    let r = s.client.get(s.url("health")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_ne!(v["status"], "ok");
}

#[tokio::test]
async fn health_is_503_naming_the_state_when_its_database_is_gone() {
    let outside = tempfile::tempdir().unwrap();
    let state_dir = outside.path().join("state");
    let s = TestServer::start_with(&format!("state_dir = {state_dir:?}")).await;
    std::fs::remove_dir_all(&state_dir).unwrap();
    let r = s.client.get(s.url("health")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["status"].as_str().unwrap().contains("state database"),
        "{v}"
    );
}

#[tokio::test]
async fn an_upload_with_a_wrong_token_is_read_to_its_end_and_answered_401() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start().await;
    // A proxy streams the body on after the headers; if the server closed
    // the connection instead of reading it, the proxy's write would fail
    // and its client would see a 502 rather than this 401.
    let body = vec![0u8; 64 << 20];
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "PUT /r/index HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).await.unwrap();
    c.write_all(&body)
        .await
        .expect("the server read the whole refused body");
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        c.read_to_end(&mut answer),
    )
    .await
    .expect("the server closes after answering")
    .unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(!s.data().join("r/index").exists());
}

#[tokio::test]
async fn a_client_waiting_for_100_continue_with_a_wrong_token_gets_401_and_is_closed() {
    let s = TestServer::start().await;
    let started = std::time::Instant::now();
    let (code, text) = s
        .raw(b"PUT /r/index HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n")
        .await;
    assert_eq!(code, 401, "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the connection was held open"
    );
}
