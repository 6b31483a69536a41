//! Where a request is authenticated.
//!
//! [`Authenticated`] is an extractor: a handler that takes it cannot run
//! without a valid token, and since it reads only the headers it decides
//! before any of the body is read.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::app::App;
use crate::policy::Grant;

/// Proof that the request carried a valid bearer token.
#[derive(Debug, Clone, Copy)]
pub struct Authenticated(pub Grant);

/// Checks the `Authorization: Bearer <token>` header. The scheme word is
/// case-insensitive; the token is not echoed in any message.
pub fn authenticate(headers: &HeaderMap, app: &App) -> Result<Grant, ApiError> {
    let value = headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized("missing Authorization header; send Authorization: Bearer <token>")
    })?;
    let text = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("Authorization header is not readable text"))?;
    let (scheme, token) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized(
            "unsupported Authorization scheme; send Authorization: Bearer <token>",
        ));
    }
    app.auth
        .check(token.trim())
        .ok_or_else(|| ApiError::unauthorized("invalid token"))
}

impl FromRequestParts<Arc<App>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        authenticate(&parts.headers, app).map(Authenticated)
    }
}
