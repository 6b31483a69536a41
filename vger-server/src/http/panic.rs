//! A bug that panics in a handler costs one request, never the server:
//! the panic is caught, logged, and answered with 500, and the server goes
//! on serving (the release profile unwinds; locks are poison-tolerant).

use std::any::Any;

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};

/// The 500 answer for a request whose handler panicked, logged as an error.
pub fn answer(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let what = crate::panics::message(panic.as_ref());
    tracing::error!(
        panic = what,
        "a request handler panicked; answered 500 and went on serving"
    );
    let mut res = Response::new(Body::from(
        "internal error: the server hit a bug while handling this request (it was logged); retry, and report it if it persists\n",
    ));
    *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}
