//! Admin API errors: the status chosen once, in `http::error`, for every
//! layer's error, answered as JSON `{ "error": code, "message": text }`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared_proto::admin::ErrorBody;

use crate::http::error::ApiError;

/// An admin API error answer.
#[derive(Debug)]
pub struct AdminError(ApiError);

impl<E: Into<ApiError>> From<E> for AdminError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

/// The machine code of a status.
fn code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::INSUFFICIENT_STORAGE => "insufficient_storage",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), error = %self.0.message(), "admin request failed");
        }
        let body = ErrorBody {
            error: code(status).into(),
            message: self.0.message().to_owned(),
        };
        let mut res = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// Result of an admin handler.
pub type AdminResult<T> = Result<T, AdminError>;
