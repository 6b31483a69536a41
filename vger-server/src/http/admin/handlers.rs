//! Admin API handlers: parse the request, call `service::admin`, answer
//! with its JSON.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared_proto::admin::{
    AuditQuery, CreateRepo, CreateToken, DeleteRepo, SetPolicy, SetQuota, StartJob,
};

use super::error::{AdminError, AdminResult};
use crate::app::App;
use crate::http::body::read_bounded;
use crate::http::error::ApiError;
use crate::policy::AdminGrant;
use crate::service::admin::{jobs, locks, repos, status as server_status, tokens};
use crate::service::audit;

/// Largest admin request body: every request is a few small fields.
const MAX_BODY_BYTES: usize = 64 * 1024;

type Shared = State<Arc<App>>;
type Who = Extension<AdminGrant>;

/// Path parameters; a malformed one (bad percent-encoding, a token id
/// that is not a number) is answered as a JSON 400 like every other error.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Params<T> {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AdminError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Params(p.0))
            .map_err(|e| ApiError::bad_request(format!("bad path: {}", e.body_text())).into())
    }
}

fn ok<T: Serialize>(value: T) -> Response {
    Json(value).into_response()
}

fn created<T: Serialize>(value: T) -> Response {
    (StatusCode::CREATED, Json(value)).into_response()
}

async fn body<T: DeserializeOwned>(body: Body, what: &str) -> Result<T, ApiError> {
    let bytes = read_bounded(body, MAX_BODY_BYTES).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("malformed {what} (JSON): {e}")))
}

/// `GET /v1/status`
pub async fn status(State(app): Shared) -> AdminResult<Response> {
    Ok(ok(server_status::status(&app).await?))
}

/// `GET /v1/repos`
pub async fn list_repos(State(app): Shared) -> AdminResult<Response> {
    Ok(ok(repos::list(&app).await?))
}

/// `GET /v1/repos/{name}`
pub async fn show_repo(State(app): Shared, Params(name): Params<String>) -> AdminResult<Response> {
    Ok(ok(repos::show(&app, &name).await?))
}

/// `POST /v1/repos`
pub async fn create_repo(
    State(app): Shared,
    Extension(who): Who,
    b: Body,
) -> AdminResult<Response> {
    let req: CreateRepo = body(b, "repository").await?;
    Ok(created(repos::create(&app, &who, req).await?))
}

/// `DELETE /v1/repos/{name}`
pub async fn delete_repo(
    State(app): Shared,
    Extension(who): Who,
    Params(name): Params<String>,
    b: Body,
) -> AdminResult<Response> {
    let req: DeleteRepo = body(b, "delete request (send {\"confirm\": \"<repo name>\"})").await?;
    Ok(ok(repos::delete(&app, &who, &name, req).await?))
}

/// `PUT /v1/repos/{name}/quota`
pub async fn set_quota(
    State(app): Shared,
    Extension(who): Who,
    Params(name): Params<String>,
    b: Body,
) -> AdminResult<Response> {
    let req: SetQuota = body(b, "quota (send {\"quota_bytes\": N})").await?;
    Ok(ok(repos::set_quota(
        &app,
        &who,
        &name,
        Some(req.quota_bytes),
    )
    .await?))
}

/// `DELETE /v1/repos/{name}/quota`
pub async fn clear_quota(
    State(app): Shared,
    Extension(who): Who,
    Params(name): Params<String>,
) -> AdminResult<Response> {
    Ok(ok(repos::set_quota(&app, &who, &name, None).await?))
}

/// `PATCH /v1/repos/{name}/policy`
pub async fn set_policy(
    State(app): Shared,
    Extension(who): Who,
    Params(name): Params<String>,
    b: Body,
) -> AdminResult<Response> {
    let req: SetPolicy = body(b, "policy").await?;
    Ok(ok(repos::set_policy(&app, &who, &name, req).await?))
}

/// `GET /v1/locks`
pub async fn list_locks(State(app): Shared) -> AdminResult<Response> {
    Ok(ok(locks::list(&app).await?))
}

/// `DELETE /v1/repos/{name}/locks/{id}`
pub async fn break_lock(
    State(app): Shared,
    Extension(who): Who,
    Params((name, id)): Params<(String, String)>,
) -> AdminResult<Response> {
    Ok(ok(locks::break_lock(&app, &who, &name, &id).await?))
}

/// `GET /v1/tokens`
pub async fn list_tokens(State(app): Shared) -> AdminResult<Response> {
    Ok(ok(tokens::list(&app)))
}

/// `POST /v1/tokens`
pub async fn create_token(
    State(app): Shared,
    Extension(who): Who,
    b: Body,
) -> AdminResult<Response> {
    let req: CreateToken = body(b, "token request").await?;
    Ok(created(tokens::create(&app, &who, req).await?))
}

/// `DELETE /v1/tokens/{id}`
pub async fn revoke_token(
    State(app): Shared,
    Extension(who): Who,
    Params(id): Params<u64>,
) -> AdminResult<Response> {
    Ok(ok(tokens::revoke(&app, &who, id).await?))
}

/// `GET /v1/jobs`
pub async fn list_jobs(State(app): Shared) -> AdminResult<Response> {
    Ok(ok(app.jobs.list()))
}

/// `POST /v1/jobs`
pub async fn start_job(State(app): Shared, Extension(who): Who, b: Body) -> AdminResult<Response> {
    let req: StartJob = body(b, "job request").await?;
    let job = jobs::start(&app, &who, req).await?;
    Ok((StatusCode::ACCEPTED, Json(job)).into_response())
}

/// `GET /v1/jobs/{id}`
pub async fn show_job(State(app): Shared, Params(id): Params<u64>) -> AdminResult<Response> {
    Ok(ok(app.jobs.get(id)?))
}

/// `GET /v1/audit`
pub async fn audit(State(app): Shared, uri: Uri) -> AdminResult<Response> {
    let q: AuditQuery = axum::extract::Query::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::bad_request(format!("bad audit query: {}", e.body_text())))?;
    Ok(ok(audit::query(&app, q).await?))
}

/// Any path the API does not have: 404.
pub async fn no_route(uri: Uri) -> AdminResult<Response> {
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "{} is not an admin API path; paths start with /v1/",
            uri.path()
        ),
    )
    .into())
}

/// A path the API has, with a method it does not take: 405.
pub async fn wrong_method(method: Method, uri: Uri) -> AdminResult<Response> {
    Err(ApiError::method_not_allowed(format!("{method} is not allowed on {}", uri.path())).into())
}
