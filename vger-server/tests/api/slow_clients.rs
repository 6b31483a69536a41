//! Slow, stalled and idle clients cannot exhaust the server: headers and
//! bodies that trickle in are cut off, responses nobody reads are
//! dropped, and a bounded number of connections is served at once.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{TOKEN, TestServer, files_below};

const FAST: &str = "header_timeout_seconds = 1\nidle_timeout_seconds = 1\n";

/// Reads until the server closes the connection or `limit` passes;
/// returns what was read and whether the server closed it.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(limit, async {
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&buf).into_owned(), closed)
}

#[tokio::test]
async fn headers_sent_byte_by_byte_are_cut_off_at_the_header_timeout() {
    let s = TestServer::start_with(FAST).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    let started = Instant::now();
    let request =
        format!("GET /r/config HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    let mut cut_off = false;
    for byte in request.as_bytes() {
        if c.write_all(&[*byte]).await.is_err() {
            cut_off = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    let (_, closed) = read_until_closed(&mut c, Duration::from_secs(5)).await;
    assert!(cut_off || closed, "the connection stayed open");
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_header_timeout() {
    let s = TestServer::start_with(FAST).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (text, closed) = read_until_closed(&mut c, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(closed, "an idle connection was kept for more than 5 s");
}

#[tokio::test]
async fn a_stalled_upload_is_answered_408_and_leaves_no_temp_file() {
    let s = TestServer::start_with(FAST).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "PUT /r/index HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 1000\r\n\r\n"
    );
    c.write_all(head.as_bytes()).await.unwrap();
    c.write_all(&[7u8; 100]).await.unwrap();
    let (text, _) = read_until_closed(&mut c, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("idle_timeout_seconds"), "{text}");
    assert_eq!(
        s.status(reqwest::Method::GET, "r/index").await,
        StatusCode::NOT_FOUND
    );
    let temps: Vec<String> = files_below(&s.data())
        .into_iter()
        .filter(|f| f.contains(".vger-tmp-"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
}

#[tokio::test]
async fn a_slow_but_steady_upload_is_not_cut_off() {
    let s = TestServer::start_with("idle_timeout_seconds = 2\n").await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "PUT /r/index HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 6\r\nConnection: close\r\n\r\n"
    );
    c.write_all(head.as_bytes()).await.unwrap();
    // Three pauses, each shorter than the idle timeout, add up to more.
    for part in [b"ab", b"cd", b"ef"] {
        tokio::time::sleep(Duration::from_millis(900)).await;
        c.write_all(part).await.unwrap();
    }
    let (text, _) = read_until_closed(&mut c, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 201"), "{text}");
    assert_eq!(s.get_bytes("r/index").await.1, b"abcdef");
}

#[tokio::test]
async fn a_response_nobody_reads_frees_its_connection_after_the_idle_timeout() {
    let s = TestServer::start_with(&format!("{FAST}max_connections = 1\n")).await;
    let big = vec![1u8; 64 << 20];
    assert_eq!(s.put("r/index", big).await, StatusCode::CREATED);
    let mut reader = TcpStream::connect(s.addr).await.unwrap();
    let get = format!("GET /r/index HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    reader.write_all(get.as_bytes()).await.unwrap();
    // The reader never reads; the one slot is its. Another client is
    // served once the server gives up on it.
    let started = Instant::now();
    let (code, _) = s.raw_request("GET", "/r?stats").await;
    assert_eq!(code, 200);
    assert!(started.elapsed() < Duration::from_secs(8));
    drop(reader);
}

#[tokio::test]
async fn connections_over_the_limit_wait_and_are_served_when_a_slot_frees() {
    let s = TestServer::start_with("max_connections = 2\nheader_timeout_seconds = 2\n").await;
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(TcpStream::connect(s.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = tokio::spawn({
        let addr = s.addr;
        async move {
            let started = Instant::now();
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let (text, _) = read_until_closed(&mut c, Duration::from_secs(10)).await;
            (text, started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !client.is_finished(),
        "a third connection was served while two held the slots"
    );
    drop(idle);
    let (text, waited) = client.await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[tokio::test]
async fn many_slowloris_connections_do_not_keep_a_real_client_out_for_long() {
    let s = TestServer::start_with("max_connections = 8\nheader_timeout_seconds = 1\n").await;
    let mut attackers = Vec::new();
    for _ in 0..32 {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        let _ = c.write_all(b"GET /r/config HTTP/1.1\r\nX-Slow: ").await;
        attackers.push(c);
    }
    let started = Instant::now();
    let r = s
        .req(reqwest::Method::GET, "health")
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
