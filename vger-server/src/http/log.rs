//! One log line per request: method, repo, key, operation, status, bytes
//! and duration. Headers are never logged, so tokens cannot leak here.

use std::time::Instant;

use axum::body::HttpBody as _;
use axum::extract::{Request, State};
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

/// The parameter names of a query, without their values: operations have
/// no values, and a value is where a misconfigured client would put a
/// secret.
fn query_names(query: &str) -> String {
    let mut names: Vec<&str> = query
        .split('&')
        .map(|p| p.split_once('=').map_or(p, |(name, _)| name))
        .filter(|n| !n.is_empty())
        .collect();
    names.truncate(4);
    let mut out = names.join("&");
    out.truncate(64);
    out
}

/// Which API a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// The client API: logged by repository and key.
    Client,
    /// The admin API: logged by path.
    Admin,
}

/// Middleware that logs each request once its response is ready.
pub async fn log_request(State(api): State<Api>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let op = query_names(req.uri().query().unwrap_or_default());
    let bytes_in = content_length(req.headers());
    let res = next.run(req).await;
    let bytes_out = res
        .body()
        .size_hint()
        .exact()
        .unwrap_or_else(|| content_length(res.headers()));
    let duration_ms = start.elapsed().as_secs_f64() * 1000.0;
    if api == Api::Admin {
        tracing::info!(
            method = %method,
            path,
            status = res.status().as_u16(),
            bytes_in,
            bytes_out,
            duration_ms,
            "admin request"
        );
        return res;
    }
    let rest = path.trim_start_matches('/');
    let (repo, key) = rest.split_once('/').unwrap_or((rest, ""));
    tracing::info!(
        method = %method,
        repo,
        key,
        op,
        status = res.status().as_u16(),
        bytes_in,
        bytes_out,
        duration_ms,
        "request"
    );
    res
}

#[cfg(test)]
mod tests {
    use super::query_names;

    #[test]
    fn query_values_are_never_logged() {
        assert_eq!(query_names("list"), "list");
        assert_eq!(
            query_names("batch-delete&cleanup-dirs"),
            "batch-delete&cleanup-dirs"
        );
        assert_eq!(query_names("token=s3cret&list"), "token&list");
        assert_eq!(query_names(""), "");
    }
}
