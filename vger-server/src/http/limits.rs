//! What one request may cost the server: a pause in a request body is
//! bounded, so a client that stops sending mid-upload is answered 408 and
//! its temp file removed, instead of holding a connection and an upload
//! open for ever.

use std::error::Error as _;

use axum::http::StatusCode;
use tower_http::timeout::TimeoutError;

use super::error::ApiError;

/// Whether a request-body error is the idle timeout having fired.
pub fn is_idle_timeout(e: &axum::Error) -> bool {
    let mut cause = e.source();
    while let Some(c) = cause {
        if c.is::<TimeoutError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// The answer to a body that stalled past `idle_timeout_seconds`.
pub fn stalled() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "the request body stalled: no data arrived for idle_timeout_seconds; nothing was stored, send the request again",
    )
}

/// Maps an error reading a request body to its answer: 408 for a stall,
/// 400 for a body that broke off.
pub fn body_error(e: &axum::Error) -> ApiError {
    if is_idle_timeout(e) {
        stalled()
    } else {
        ApiError::bad_request(format!("could not read the request body: {e}"))
    }
}
