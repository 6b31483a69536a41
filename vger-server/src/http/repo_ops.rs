//! Repository operations (`<repo>?op`) and the server root listing.

use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared_proto::RepoName;
use shared_proto::api::{BatchDeleteList, RepackPlan, VerifyPacksPlan};

use super::body::{MAX_JSON_BYTES, drain, read_json};
use super::error::ApiResult;
use super::objects::json_ok;
use crate::app::App;
use crate::policy::Grant;
use crate::service::{objects, stats as repo_stats};

/// `GET /`: the repositories this token may see.
pub async fn list_repos(app: &App, grant: &Grant) -> ApiResult<Response> {
    let names: Vec<String> = app
        .store
        .list_repos()
        .await?
        .into_iter()
        .filter(|r| grant.opens(r))
        .map(|r| r.to_string())
        .collect();
    Ok(json_ok(&names))
}

/// `GET <repo>?stats`, from the counters.
pub async fn stats(app: &Arc<App>, repo: &RepoName) -> ApiResult<Response> {
    Ok(json_ok(&repo_stats::stats(app, repo).await?))
}

/// `GET <repo>?verify-structure`.
pub async fn verify_structure(app: &App, repo: &RepoName) -> ApiResult<Response> {
    let report = app
        .store
        .verify_structure(repo, app.settings.lock_ttl)
        .await?;
    Ok(json_ok(&report))
}

/// `POST <repo>?init`.
pub async fn init(app: &App, repo: &RepoName) -> ApiResult<Response> {
    objects::init(app, repo).await?;
    Ok(StatusCode::CREATED.into_response())
}

/// `POST <repo>?batch-delete[&cleanup-dirs]` with a JSON array of keys.
pub async fn batch_delete(
    app: &App,
    grant: &Grant,
    repo: &RepoName,
    body: Body,
    cleanup_dirs: bool,
) -> ApiResult<Response> {
    if let Err(e) = objects::check_batch_delete(app, grant, repo).await {
        drain(body, MAX_JSON_BYTES as u64).await;
        return Err(e.into());
    }
    let list: BatchDeleteList =
        read_json(body, "batch-delete body (expected a JSON array of keys)").await?;
    let report = objects::batch_delete(app, grant, repo, list.keys, cleanup_dirs).await?;
    tracing::info!(repo = %repo, deleted = report.deleted, skipped = report.skipped, "batch-delete");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST <repo>?repack` with a plan.
pub async fn repack(app: &App, grant: &Grant, repo: &RepoName, body: Body) -> ApiResult<Response> {
    let plan: RepackPlan = read_json(body, "repack plan").await?;
    let result = objects::repack(app, grant, repo, plan).await?;
    Ok(json_ok(&result))
}

/// `POST <repo>?verify-packs` with a plan.
pub async fn verify_packs(app: &App, repo: &RepoName, body: Body) -> ApiResult<Response> {
    let plan: VerifyPacksPlan = read_json(body, "verify-packs plan").await?;
    let result = app.store.verify_packs(repo, plan).await?;
    Ok(json_ok(&result))
}
