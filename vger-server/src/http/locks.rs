//! The 0.7 server lock API: `POST <repo>/locks/<id>`, `DELETE
//! <repo>/locks/<id>`, `GET <repo>/locks`. Later clients' lock objects
//! under `locks/` are ordinary objects and never come here, except that a
//! DELETE of one falls through to the object when no server lock has its id.

use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared_proto::api::LockRequest;
use shared_proto::{Key, RepoName};

use super::body::read_bounded;
use super::error::{ApiError, ApiResult};
use super::objects::{self, json_ok};
use crate::app::App;
use crate::policy::Grant;
use crate::service::locks as service_locks;

/// Largest lock request body: a host name and a pid.
const MAX_LOCK_BODY_BYTES: usize = 64 * 1024;

/// The id part of `locks/<id>`.
fn lock_id(key: &Key) -> &str {
    key.as_str().trim_start_matches("locks/")
}

/// `POST <repo>/locks/<id>` with `{"hostname","pid"}` (with or without a
/// JSON content type; an empty body means an anonymous holder).
pub async fn acquire(
    app: &Arc<App>,
    repo: &RepoName,
    key: &Key,
    body: Body,
) -> ApiResult<Response> {
    let bytes = read_bounded(body, MAX_LOCK_BODY_BYTES).await?;
    let who: LockRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
        LockRequest {
            hostname: String::new(),
            pid: 0,
        }
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!(
                "malformed lock request (expected {{\"hostname\":…,\"pid\":…}}): {e}"
            ))
        })?
    };
    service_locks::acquire(app, repo, lock_id(key), who).await?;
    Ok(StatusCode::CREATED.into_response())
}

/// `DELETE <repo>/locks/<id>`: releases the server lock, or deletes the
/// lock object of that name when no server lock is held.
pub async fn release_or_delete(
    app: &Arc<App>,
    grant: &Grant,
    repo: &RepoName,
    key: &Key,
) -> ApiResult<Response> {
    if service_locks::release(app, repo, lock_id(key)).await? {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    objects::delete(app, grant, repo, key).await
}

/// `GET <repo>/locks`: live server locks.
pub fn list(app: &App, repo: &RepoName) -> Response {
    json_ok(&service_locks::list(app, repo))
}
