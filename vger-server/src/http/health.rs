//! `GET /health`: cheap, unauthenticated, 503 when the data dir is unusable.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use shared_proto::api::Health;

use super::auth::authenticate;
use super::objects::json_ok;
use crate::app::App;

/// Answers `/health`. Anonymous callers see details unless
/// `public_health_details = false`; a valid token always does.
pub async fn health(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let version = env!("CARGO_PKG_VERSION").to_owned();
    if let Err(why) = app.store.check_usable() {
        let body = Health {
            status: why,
            version,
            uptime_seconds: None,
            disk_free_bytes: None,
            repos: None,
        };
        let mut res = json_ok(&body);
        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        return res;
    }
    let details = app.settings.public_health_details || authenticate(&headers, &app).is_ok();
    let mut body = Health {
        status: "ok".into(),
        version,
        uptime_seconds: None,
        disk_free_bytes: None,
        repos: None,
    };
    if details {
        body.uptime_seconds = Some(app.started.elapsed().as_secs());
        body.disk_free_bytes = app.store.disk_space().ok().map(|d| d.free);
        body.repos = app.store.list_repos().await.ok().map(|r| r.len() as u64);
    }
    json_ok(&body).into_response()
}
