//! Where a request is authenticated: every client API request passes
//! [`authenticate`] in `dispatch` before any of its body is used; only
//! `/health` is open (and shows details to a valid token).

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use super::error::ApiError;
use crate::app::App;
use crate::policy::Grant;

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
