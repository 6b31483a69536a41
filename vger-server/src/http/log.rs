//! One log line per request: method, repo, key, operation, status, bytes
//! and duration. Headers are never logged, so tokens cannot leak here.

use std::time::Instant;

use axum::body::HttpBody as _;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::Response;

fn content_length(h: &HeaderMap) -> u64 {
    h.get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Middleware that logs each request once its response is ready.
pub async fn log_request(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let op = req.uri().query().unwrap_or_default().to_owned();
    let bytes_in = content_length(req.headers());
    let res = next.run(req).await;
    let rest = path.trim_start_matches('/');
    let (repo, key) = rest.split_once('/').unwrap_or((rest, ""));
    tracing::info!(
        method = %method,
        repo,
        key,
        op,
        status = res.status().as_u16(),
        bytes_in,
        bytes_out = res.body().size_hint().exact().unwrap_or_else(|| content_length(res.headers())),
        duration_ms = start.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    res
}
