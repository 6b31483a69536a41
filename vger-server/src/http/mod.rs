//! The client REST API over HTTP: routes, status codes, headers. Handlers
//! parse, call the store or the policy layer, and map the result.

pub mod auth;
pub mod body;
mod dispatch;
pub mod error;
mod health;
mod locks;
mod log;
mod objects;
pub mod range;
mod repo_ops;
pub mod target;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::app::App;

/// The client API router. `/health` is the only route without auth; every
/// other request goes through [`dispatch::dispatch`], which requires a
/// valid token before it reads the body.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .fallback(dispatch::dispatch)
        .layer(axum::middleware::from_fn(log::log_request))
        .with_state(app)
}
