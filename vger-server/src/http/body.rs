//! Reading request bodies: streaming uploads, bounded JSON, and draining a
//! refused body so the client sees the answer instead of a broken pipe.

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use super::error::{ApiError, ApiResult};
use super::limits;
use crate::service::objects::PutObject;

/// Largest JSON request body (batch-delete lists, repack plans).
pub const MAX_JSON_BYTES: usize = 64 << 20;

/// Streams `body` into `upload`. On a refusal (quota, size) or a store
/// error, up to `drain_limit` more bytes of the body are read and
/// discarded before the error is returned, so a client that writes its
/// whole body before reading sees the error rather than a broken pipe.
pub async fn stream_into(body: Body, upload: &mut PutObject, drain_limit: u64) -> ApiResult<()> {
    let mut body = body;
    loop {
        match body.frame().await {
            None => return Ok(()),
            Some(Err(e)) => return Err(limits::body_error(&e)),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if let Err(e) = upload.push(data).await {
                        drain(body, drain_limit).await;
                        return Err(e.into());
                    }
                }
            }
        }
    }
}

/// Reads and discards up to `limit` bytes of `body`.
pub async fn drain(mut body: Body, limit: u64) {
    let mut seen: u64 = 0;
    while seen <= limit {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(d) = frame.data_ref() {
                    seen += d.len() as u64;
                }
            }
            _ => return,
        }
    }
}

/// Reads a whole body of at most `limit` bytes.
pub async fn read_bounded(body: Body, limit: usize) -> ApiResult<Bytes> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than the {limit}-byte limit for JSON requests"),
        )),
        Err(e) => match e.downcast::<axum::Error>() {
            Ok(e) => Err(limits::body_error(&e)),
            Err(e) => Err(ApiError::bad_request(format!(
                "could not read the request body: {e}"
            ))),
        },
    }
}

/// Reads a JSON body of at most [`MAX_JSON_BYTES`], with or without a
/// JSON content type.
pub async fn read_json<T: DeserializeOwned + Send + 'static>(
    body: Body,
    what: &str,
) -> ApiResult<T> {
    let bytes = read_bounded(body, MAX_JSON_BYTES).await?;
    // Parsing tens of MB is CPU work: keep it off the request threads.
    let parsed = tokio::task::spawn_blocking(move || serde_json::from_slice::<T>(&bytes))
        .await
        .map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("JSON parser failed: {e}"),
            )
        })?;
    parsed.map_err(|e| ApiError::bad_request(format!("malformed {what}: {e}")))
}
