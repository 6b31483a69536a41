//! The loopback HTTP ceiling: a trivial server in this process that
//! discards PUT bodies and answers GET and HEAD from memory. Whatever it
//! reaches is the most any HTTP server can reach on this machine with this
//! client, so server figures are judged as a fraction of it.
//!
//! Under [`COPY_PREFIX`] it first copies each answer into a fresh buffer:
//! the one copy a server serving files must make (page cache to its own
//! memory) and the ceiling does not. It shows how much of a gap to the
//! ceiling is that copy.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::BodyExt;

/// Path prefix under which answers are copied before they are sent.
pub const COPY_PREFIX: &str = "/copy";

/// Objects the ceiling serves, by request path.
pub type Objects = Arc<HashMap<String, Bytes>>;

/// Starts the ceiling server on 127.0.0.1 and returns its address. It
/// lives as long as the runtime.
pub async fn start(objects: Objects) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().fallback(move |m, u, h, b| answer(objects.clone(), m, u, h, b));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

async fn answer(
    objects: Objects,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method == Method::PUT {
        let mut body = body;
        while let Some(Ok(_)) = body.frame().await {}
        return StatusCode::CREATED.into_response();
    }
    let (path, copy) = match uri.path().strip_prefix(COPY_PREFIX) {
        Some(rest) => (rest, true),
        None => (uri.path(), false),
    };
    let Some(data) = objects.get(path).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let len = data.len() as u64;
    if method == Method::HEAD {
        return ([(header::CONTENT_LENGTH, len)], ()).into_response();
    }
    match headers.get(header::RANGE).and_then(|r| r.to_str().ok()) {
        Some(r) => match parse_range(r, len) {
            Some((a, b)) => (
                StatusCode::PARTIAL_CONTENT,
                [(header::CONTENT_RANGE, format!("bytes {a}-{b}/{len}"))],
                data.slice(a as usize..=b as usize),
            )
                .into_response(),
            None => StatusCode::RANGE_NOT_SATISFIABLE.into_response(),
        },
        None if copy => copied(data).into_response(),
        None => data.into_response(),
    }
}

/// `data` as a stream of 1 MiB blocks, each copied into its own buffer
/// just before it is sent, as a server reading a file block by block does.
fn copied(data: Bytes) -> Body {
    let blocks = (0..data.len().div_ceil(1 << 20)).map(move |i| {
        let block = &data[i << 20..((i + 1) << 20).min(data.len())];
        Ok::<_, std::convert::Infallible>(Bytes::copy_from_slice(block))
    });
    Body::from_stream(futures_util::stream::iter(blocks))
}

/// `bytes=a-b` (inclusive, clamped to the object); nothing fancier.
fn parse_range(r: &str, len: u64) -> Option<(u64, u64)> {
    let (a, b) = r.strip_prefix("bytes=")?.split_once('-')?;
    let a: u64 = a.parse().ok()?;
    let b: u64 = b.parse::<u64>().ok()?.min(len.checked_sub(1)?);
    (a <= b).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_clamped_to_the_object() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-199", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=100-199", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
