//! The client REST API over HTTP: routes, status codes, headers. Handlers
//! parse, call the store or the policy layer, and map the result.

pub mod admin;
pub mod auth;
pub mod body;
mod dispatch;
pub mod error;
mod health;
pub mod limits;
mod locks;
pub mod log;
mod objects;
pub mod panic;
pub mod range;
mod repo_ops;
pub mod target;
mod traffic;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::app::App;

/// The client API router. `/health` is the only route without auth; every
/// other request goes through [`dispatch::dispatch`], which requires a
/// valid token before it reads the body.
pub fn router(app: Arc<App>) -> Router {
    let idle = app.settings.connections.idle_timeout;
    let counted = app.clone();
    // Outermost: requests answered by the panic guard or a body timeout
    // are counted too.
    harden(
        Router::new()
            .route("/health", get(health::health))
            .fallback(dispatch::dispatch)
            .with_state(app),
        idle,
        log::Api::Client,
    )
    .layer(axum::middleware::from_fn_with_state(
        counted,
        traffic::count,
    ))
}

/// Wraps `routes` in what every request passes through: the request log,
/// the panic guard, and the bound on pauses in a request body.
pub fn harden(routes: Router, body_idle: Duration, api: log::Api) -> Router {
    routes
        .layer(RequestBodyTimeoutLayer::new(body_idle))
        .layer(CatchPanicLayer::custom(panic::answer))
        .layer(axum::middleware::from_fn_with_state(api, log::log_request))
}
