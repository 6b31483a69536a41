//! The admin API: JSON over HTTP under `/v1/`, on its own listener, for
//! `vger-admin` and the exporter. Every route is behind
//! [`auth::require_admin_token`]; handlers parse, call
//! `service::admin`, and answer.

mod auth;
pub mod error;
mod handlers;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, patch, put};

use crate::app::App;
use handlers as h;

/// The admin API router.
pub fn router(app: Arc<App>) -> Router {
    let idle = app.settings.connections.idle_timeout;
    let routes = Router::new()
        .route("/v1/status", get(h::status))
        .route("/v1/repos", get(h::list_repos).post(h::create_repo))
        .route("/v1/repos/{name}", get(h::show_repo).delete(h::delete_repo))
        .route(
            "/v1/repos/{name}/quota",
            put(h::set_quota).delete(h::clear_quota),
        )
        .route("/v1/repos/{name}/policy", patch(h::set_policy))
        .route("/v1/repos/{name}/locks/{id}", delete(h::break_lock))
        .route("/v1/locks", get(h::list_locks))
        .route("/v1/tokens", get(h::list_tokens).post(h::create_token))
        .route("/v1/tokens/{id}", delete(h::revoke_token))
        .route("/v1/jobs", get(h::list_jobs).post(h::start_job))
        .route("/v1/jobs/{id}", get(h::show_job))
        .route("/v1/audit", get(h::audit))
        .fallback(h::no_route)
        .method_not_allowed_fallback(h::wrong_method)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::require_admin_token,
        ))
        .with_state(app);
    super::harden(routes, idle, super::log::Api::Admin)
}
