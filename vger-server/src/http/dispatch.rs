//! The client API's routing table: (method, target, operation) → handler.
//!
//! Routing is done here rather than by path patterns because the protocol
//! routes on the raw path (percent-decoding per segment), on bare query
//! flags, and on details like `GET <repo>/locks` versus
//! `GET <repo>/locks/?list`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use shared_proto::{DirKey, Key, KeyKind, ObjectPath, RepoName};

use super::auth::Authenticated;
use super::body::drain;
use super::error::{ApiError, ApiResult};
use super::target::{Op, Query, Target};
use super::{locks, objects, repo_ops};
use crate::app::App;

/// Handles every authenticated client API request.
pub async fn dispatch(
    State(app): State<Arc<App>>,
    _auth: Authenticated,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let query = Query::parse(uri.query());
    let target = match Target::parse(uri.path()) {
        Ok(t) => t,
        Err(e) => {
            // Let a client that is still sending see the 400.
            drain(body, app.store.max_object_bytes()).await;
            return Err(e);
        }
    };
    match target {
        Target::ServerRoot => match method {
            Method::GET => repo_ops::list_repos(&app).await,
            _ => Err(ApiError::method_not_allowed("only GET is allowed on /")),
        },
        Target::Repo {
            repo,
            path,
            trailing_slash,
        } => {
            if renews_locks(&method, &path) {
                app.locks.touch(&repo);
            }
            match path {
                ObjectPath::Root => repo_op(&app, &repo, method, query, body).await,
                ObjectPath::Dir(dir) => {
                    dir_op(&app, &repo, dir, method, &query, trailing_slash).await
                }
                ObjectPath::Object(key) => {
                    object_op(&app, &repo, &key, method, &query, &headers, body).await
                }
            }
        }
    }
}

/// Work on a repository keeps its server locks alive: every mutating
/// request renews them, except lock requests themselves (a refused
/// contender must not extend the holder's lease).
fn renews_locks(m: &Method, path: &ObjectPath) -> bool {
    let is_lock = matches!(path, ObjectPath::Object(k) if k.kind() == KeyKind::Lock);
    matches!(*m, Method::PUT | Method::POST | Method::DELETE) && !is_lock
}

async fn repo_op(
    app: &App,
    repo: &RepoName,
    method: Method,
    query: Query,
    body: Body,
) -> ApiResult<Response> {
    match (method, query.op) {
        (Method::GET, Some(Op::List)) => objects::list(app, repo, None).await,
        (Method::GET, Some(Op::Stats)) => repo_ops::stats(app, repo).await,
        (Method::GET, Some(Op::VerifyStructure)) => repo_ops::verify_structure(app, repo).await,
        (Method::POST, Some(Op::Init)) => repo_ops::init(app, repo).await,
        (Method::POST, Some(Op::BatchDelete)) => {
            repo_ops::batch_delete(app, repo, body, query.cleanup_dirs).await
        }
        (Method::POST, Some(Op::Repack)) => repo_ops::repack(app, repo, body).await,
        (Method::POST, Some(Op::VerifyPacks)) => repo_ops::verify_packs(app, repo, body).await,
        (m, op) => Err(ApiError::bad_request(format!(
            "{m} {repo}{} is not a repository operation; use GET ?list|?stats|?verify-structure or POST ?init|?batch-delete|?repack|?verify-packs",
            op.map(|o| format!(" with {o:?}")).unwrap_or_default()
        ))),
    }
}

async fn dir_op(
    app: &App,
    repo: &RepoName,
    dir: DirKey,
    method: Method,
    query: &Query,
    trailing_slash: bool,
) -> ApiResult<Response> {
    match (method, query.op) {
        (Method::GET, Some(Op::List)) => objects::list(app, repo, Some(dir)).await,
        (Method::POST, Some(Op::Mkdir)) => objects::mkdir(app, repo, &dir).await,
        // `GET <repo>/locks`, no slash and no query: the server lock list.
        (Method::GET, None) if dir == DirKey::Locks && !trailing_slash && query.absent => {
            Ok(locks::list(app, repo))
        }
        _ => Err(ApiError::bad_request(format!(
            "{}/ is a directory; only GET ?list and POST ?mkdir apply to it",
            dir.path()
        ))),
    }
}

async fn object_op(
    app: &App,
    repo: &RepoName,
    key: &Key,
    method: Method,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    match (method, query.op) {
        (Method::GET, None) => objects::get(app, repo, key, headers).await,
        (Method::HEAD, None) => objects::head(app, repo, key).await,
        (Method::PUT, None) => objects::put(app, repo, key, headers, body).await,
        (Method::DELETE, None) if key.kind() == KeyKind::Lock => {
            locks::release_or_delete(app, repo, key).await
        }
        (Method::DELETE, None) => objects::delete(app, repo, key).await,
        (Method::POST, None) if key.kind() == KeyKind::Lock => {
            locks::acquire(app, repo, key, body).await
        }
        (Method::GET | Method::POST, Some(Op::List | Op::Mkdir)) => Err(ApiError::bad_request(
            format!("{key} is an object, not a directory"),
        )),
        (_, Some(op)) => Err(ApiError::bad_request(format!(
            "{op:?} is a repository operation; send it to <repo>?{op:?} without a key"
        ))),
        (m, None) => {
            drain(body, app.store.max_object_bytes()).await;
            Err(ApiError::method_not_allowed(format!(
                "{m} is not allowed on {key}; objects take GET, HEAD, PUT and DELETE"
            )))
        }
    }
}
