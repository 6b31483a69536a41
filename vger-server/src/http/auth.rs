//! Where a request is authenticated: every client API request passes
//! [`authenticate`] in `dispatch` before any of its body is used; only
//! `/health` is open (and shows details to a valid token). The admin API
//! authenticates its own tokens in `admin::auth`, with [`bearer`].

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use super::error::ApiError;
use crate::app::App;
use crate::policy::Grant;
use crate::state::now_ms;

/// Checks the `Authorization: Bearer <token>` header. The scheme word is
/// case-insensitive; the token is not echoed in any message.
pub fn authenticate(headers: &HeaderMap, app: &App) -> Result<Grant, ApiError> {
    let token = bearer(headers)?;
    app.state
        .tokens
        .with_all(|scoped| app.auth.check(token, scoped, now_ms()))
        .ok_or_else(|| ApiError::unauthorized("invalid, expired or revoked token"))
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
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
    Ok(token.trim())
}
