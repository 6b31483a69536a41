//! Where an admin request is authenticated: every admin API request,
//! whatever its path, passes [`require_admin_token`] before routing.
//! Reads (GET) need any admin token; everything else needs role `admin`.
//! Client tokens are not admin tokens and get 401.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::AdminError;
use crate::app::App;
use crate::config::AdminRole;
use crate::http::auth::bearer;
use crate::http::error::ApiError;

/// Middleware: authenticates, checks the role against the method, and
/// hands the grant to the handler as a request extension.
pub async fn require_admin_token(
    State(app): State<Arc<App>>,
    mut req: Request,
    next: Next,
) -> Response {
    let grant = match bearer(req.headers()) {
        Ok(token) => app.admin_auth.check(token),
        Err(e) => return AdminError::from(e).into_response(),
    };
    let Some(grant) = grant else {
        return AdminError::from(ApiError::unauthorized(
            "invalid admin token (client tokens are not accepted here)",
        ))
        .into_response();
    };
    let reads = matches!(*req.method(), Method::GET | Method::HEAD);
    if grant.role != AdminRole::Admin && !reads {
        return AdminError::from(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "admin token {:?} has role {}: it may only read; changes need a token with role admin",
                grant.label,
                grant.role.as_str()
            ),
        ))
        .into_response();
    }
    req.extensions_mut().insert(grant);
    next.run(req).await
}
