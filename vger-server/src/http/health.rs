//! `GET /health`: cheap, unauthenticated, 503 when the data dir or the
//! state database is unusable.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use shared_proto::api::Health;

use super::auth::authenticate;
use super::objects::json_ok;
use crate::app::App;

/// Answers `/health`. Anonymous callers see details unless
/// `public_health_details = false`; a valid token always does.
pub async fn health(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let version = env!("CARGO_PKG_VERSION").to_owned();
    let state = app.state.clone();
    let state_ok = tokio::task::spawn_blocking(move || state.db.check())
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| format!("state database unusable: {e}")));
    let probe = match state_ok.and(app.store.probe().await) {
        Ok(p) => p,
        Err(why) => {
            let mut res = json_ok(&Health {
                status: why,
                version,
                uptime_seconds: None,
                disk_free_bytes: None,
                repos: None,
            });
            *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            return res;
        }
    };
    let details = app.settings.public_health_details || authenticate(&headers, &app).is_ok();
    json_ok(&Health {
        status: "ok".into(),
        version,
        uptime_seconds: details.then(|| app.started.elapsed().as_secs()),
        disk_free_bytes: details.then_some(probe.disk_free),
        repos: details.then_some(probe.repos),
    })
}
