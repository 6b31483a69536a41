//! The HTTP layer's error type, and the one place where errors of every
//! layer become status codes.
//!
//! Client API errors are plain text, one line a person can act on, as vger
//! clients show or log the body as it is. 5xx is kept for failures that a
//! retry may cure: clients retry every 5xx, so a request that cannot succeed
//! (bad key, bad range, bad plan, quota) must get a 4xx.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared_proto::{KeyError, RepoNameError};

use crate::policy::{AppendOnlyRefusal, ScopeRefusal};
use crate::service::ServiceError;
use crate::state::{LockError, StateError};
use crate::store::StoreError;

/// An error answer: status and message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with an explicit status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401 with the `WWW-Authenticate` challenge.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 405 Method Not Allowed.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, message)
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            StoreError::Invalid(_) | StoreError::Incomplete(_) => StatusCode::BAD_REQUEST,
            StoreError::Conflict(_) | StoreError::Exists(_) => StatusCode::CONFLICT,
            StoreError::TooLarge { .. } | StoreError::OverQuota(_) => StatusCode::PAYLOAD_TOO_LARGE,
            StoreError::Escapes(_) => StatusCode::FORBIDDEN,
            StoreError::DiskFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            StoreError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        Self::bad_request(format!("invalid key: {e}"))
    }
}

impl From<RepoNameError> for ApiError {
    fn from(e: RepoNameError) -> Self {
        Self::bad_request(format!("invalid repository name: {e}"))
    }
}

impl From<AppendOnlyRefusal> for ApiError {
    fn from(e: AppendOnlyRefusal) -> Self {
        Self::new(StatusCode::FORBIDDEN, e.to_string())
    }
}

impl From<ScopeRefusal> for ApiError {
    fn from(e: ScopeRefusal) -> Self {
        Self::new(StatusCode::FORBIDDEN, e.to_string())
    }
}

impl From<LockError> for ApiError {
    fn from(e: LockError) -> Self {
        match e {
            LockError::Held { .. } => Self::new(StatusCode::CONFLICT, e.to_string()),
            LockError::State(s) => s.into(),
        }
    }
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        let status = if e.is_disk_full() {
            StatusCode::INSUFFICIENT_STORAGE
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        Self::new(status, e.to_string())
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Store(e) => e.into(),
            ServiceError::State(e) => e.into(),
            ServiceError::AppendOnly(e) => e.into(),
            ServiceError::Lock(e) => e.into(),
            ServiceError::Scope(e) => e.into(),
            ServiceError::NotFound(m) => Self::new(StatusCode::NOT_FOUND, m),
            ServiceError::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            ServiceError::Invalid(m) => Self::bad_request(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), error = %self.message, "request failed");
        }
        let mut res = (self.status, format!("{}\n", self.message)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
