//! The client API's routing table: (method, target, operation) → route,
//! then route → handler.
//!
//! Routing is done here rather than by path patterns because the protocol
//! routes on the raw path (percent-decoding per segment), on bare query
//! flags, and on details like `GET <repo>/locks` versus
//! `GET <repo>/locks/?list`. Choosing the route is a pure function of the
//! request head, so a request that has no route is refused (after draining
//! its body) before anything else happens.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::EXPECT;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use shared_proto::{DirKey, Key, KeyKind, ObjectPath, RepoName};

use crate::policy::{Grant, Need, ScopeRefusal};

use super::auth::authenticate;
use super::body::drain;
use super::error::{ApiError, ApiResult};
use super::target::{Op, Query, Target};
use super::{locks, objects, repo_ops};
use crate::app::App;
use crate::service::locks as service_locks;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /`
    ListRepos,
    /// `GET <repo>?list` (None) or `GET <repo>/<dir>/?list`
    List(RepoName, Option<DirKey>),
    /// `GET <repo>?stats`
    Stats(RepoName),
    /// `GET <repo>?verify-structure`
    VerifyStructure(RepoName),
    /// `POST <repo>?init`
    Init(RepoName),
    /// `POST <repo>?batch-delete[&cleanup-dirs]`
    BatchDelete(RepoName, bool),
    /// `POST <repo>?repack`
    Repack(RepoName),
    /// `POST <repo>?verify-packs`
    VerifyPacks(RepoName),
    /// `POST <repo>/<dir>/?mkdir`
    Mkdir(RepoName, DirKey),
    /// `GET <repo>/locks`
    LockList(RepoName),
    /// `POST <repo>/locks/<id>`
    LockAcquire(RepoName, Key),
    /// `DELETE <repo>/locks/<id>`
    LockReleaseOrDelete(RepoName, Key),
    /// `GET <repo>/<key>`
    Get(RepoName, Key),
    /// `HEAD <repo>/<key>`
    Head(RepoName, Key),
    /// `PUT <repo>/<key>`
    Put(RepoName, Key),
    /// `DELETE <repo>/<key>`
    Delete(RepoName, Key),
}

impl Route {
    /// Chooses the route for a request head.
    pub fn resolve(method: &Method, target: Target, query: &Query) -> Result<Self, ApiError> {
        let (repo, path, trailing_slash) = match target {
            Target::ServerRoot => {
                return if *method == Method::GET {
                    Ok(Self::ListRepos)
                } else {
                    Err(ApiError::method_not_allowed(format!(
                        "{method} is not allowed on /; only GET is"
                    )))
                };
            }
            Target::Repo {
                repo,
                path,
                trailing_slash,
            } => (repo, path, trailing_slash),
        };
        match path {
            ObjectPath::Root => Self::repo_op(method, repo, query),
            ObjectPath::Dir(dir) => match (method.clone(), query.op) {
                (Method::GET, Some(Op::List)) => Ok(Self::List(repo, Some(dir))),
                (Method::POST, Some(Op::Mkdir)) => Ok(Self::Mkdir(repo, dir)),
                // No slash and no query: the server lock list.
                (Method::GET, None) if dir == DirKey::Locks && !trailing_slash && query.absent => {
                    Ok(Self::LockList(repo))
                }
                _ => Err(ApiError::bad_request(format!(
                    "{}/ is a directory; only GET ?list and POST ?mkdir apply to it",
                    dir.path()
                ))),
            },
            ObjectPath::Object(key) => {
                let is_lock = key.kind() == KeyKind::Lock;
                match (method.clone(), query.op) {
                    (Method::GET, None) => Ok(Self::Get(repo, key)),
                    (Method::HEAD, None) => Ok(Self::Head(repo, key)),
                    (Method::PUT, None) => Ok(Self::Put(repo, key)),
                    (Method::DELETE, None) if is_lock => Ok(Self::LockReleaseOrDelete(repo, key)),
                    (Method::DELETE, None) => Ok(Self::Delete(repo, key)),
                    (Method::POST, None) if is_lock => Ok(Self::LockAcquire(repo, key)),
                    (_, Some(Op::List | Op::Mkdir)) => Err(ApiError::bad_request(format!(
                        "{key} is an object, not a directory"
                    ))),
                    (_, Some(op)) => Err(ApiError::bad_request(format!(
                        "?{} is a repository operation; send it to /{repo}?{} without a key",
                        op.name(),
                        op.name()
                    ))),
                    (m, None) => Err(ApiError::method_not_allowed(format!(
                        "{m} is not allowed on {key}; objects take GET, HEAD, PUT and DELETE"
                    ))),
                }
            }
        }
    }

    fn repo_op(method: &Method, repo: RepoName, query: &Query) -> Result<Self, ApiError> {
        Ok(match (method.clone(), query.op) {
            (Method::GET, Some(Op::List)) => Self::List(repo, None),
            (Method::GET, Some(Op::Stats)) => Self::Stats(repo),
            (Method::GET, Some(Op::VerifyStructure)) => Self::VerifyStructure(repo),
            (Method::POST, Some(Op::Init)) => Self::Init(repo),
            (Method::POST, Some(Op::BatchDelete)) => Self::BatchDelete(repo, query.cleanup_dirs),
            (Method::POST, Some(Op::Repack)) => Self::Repack(repo),
            (Method::POST, Some(Op::VerifyPacks)) => Self::VerifyPacks(repo),
            (m, op) => {
                return Err(ApiError::bad_request(format!(
                    "{m} /{repo}{} is not a repository operation; use GET ?list, ?stats, ?verify-structure or POST ?init, ?batch-delete, ?repack, ?verify-packs",
                    op.map(|o| format!("?{}", o.name())).unwrap_or_default()
                )));
            }
        })
    }

    /// The repository a route works on (none for the server root).
    fn repo(&self) -> Option<&RepoName> {
        match self {
            Self::ListRepos => None,
            Self::List(r, _)
            | Self::Stats(r)
            | Self::VerifyStructure(r)
            | Self::Init(r)
            | Self::BatchDelete(r, _)
            | Self::Repack(r)
            | Self::VerifyPacks(r)
            | Self::Mkdir(r, _)
            | Self::LockList(r)
            | Self::LockAcquire(r, _)
            | Self::LockReleaseOrDelete(r, _)
            | Self::Get(r, _)
            | Self::Head(r, _)
            | Self::Put(r, _)
            | Self::Delete(r, _) => Some(r),
        }
    }

    /// What the route needs of the caller's token. Coordination objects
    /// are written by every client, even one that only restores.
    fn need(&self) -> Need {
        let coordination = |k: &Key| {
            matches!(k.kind(), KeyKind::Lock | KeyKind::Session) || k.as_str() == "index.gen"
        };
        match self {
            Self::ListRepos
            | Self::List(..)
            | Self::Stats(_)
            | Self::VerifyStructure(_)
            | Self::VerifyPacks(_)
            | Self::LockList(_)
            | Self::Get(..)
            | Self::Head(..) => Need::Read,
            Self::LockAcquire(..) | Self::LockReleaseOrDelete(..) => Need::Coordinate,
            Self::Mkdir(_, DirKey::Locks | DirKey::Sessions) => Need::Coordinate,
            Self::Put(_, k) | Self::Delete(_, k) if coordination(k) => Need::Coordinate,
            Self::Init(_)
            | Self::BatchDelete(..)
            | Self::Repack(_)
            | Self::Mkdir(..)
            | Self::Put(..)
            | Self::Delete(..) => Need::Write,
        }
    }

    /// The repository a route works on, and whether the work renews that
    /// repository's server locks. Every request that changes a repository
    /// renews them, except lock requests (a refused contender must not
    /// extend the holder's lease).
    fn renews_locks_of(&self) -> Option<&RepoName> {
        match self {
            Self::Init(r)
            | Self::BatchDelete(r, _)
            | Self::Repack(r)
            | Self::Mkdir(r, _)
            | Self::Put(r, _)
            | Self::Delete(r, _) => Some(r),
            _ => None,
        }
    }
}

/// Handles every authenticated client API request.
pub async fn dispatch(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let grant = match authenticate(&headers, &app) {
        Ok(g) => g,
        Err(e) => {
            // Answer at once, and go on reading (and discarding) what the
            // client is still sending: a proxy that streams the body and finds
            // the connection closed would turn this 401 into a 502, which
            // clients retry as a server fault. An unauthenticated client gets
            // no more of the server's time for it than for sending headers. A
            // client waiting for `100 Continue` sends nothing: close instead.
            if !headers.contains_key(EXPECT) {
                let patience = app.settings.connections.header_timeout;
                let limit = app.store.max_object_bytes();
                tokio::spawn(tokio::time::timeout(patience, drain(body, limit)));
            }
            return Err(e);
        }
    };
    let query = Query::parse(uri.query());
    let route = match Target::parse(uri.path())
        .and_then(|t| Route::resolve(&method, t, &query))
        .and_then(|r| match grant.check(r.repo(), r.need()) {
            Ok(()) => Ok(r),
            Err(refusal) => Err(refusal.into()),
        }) {
        Ok(r) => r,
        Err(e) => {
            // Let a client that is still sending its body see the answer.
            drain(body, app.store.max_object_bytes()).await;
            return Err(e);
        }
    };
    if let Some(repo) = route.repo().filter(|_| !grant.may_create_repos()) {
        if route.need() != Need::Read && !app.store.repo_exists(repo).await? {
            drain(body, app.store.max_object_bytes()).await;
            return Err(ScopeRefusal(format!(
                "repository {repo} does not exist, and a read-only token cannot create it"
            ))
            .into());
        }
    }
    let renews = route.renews_locks_of().cloned();
    if let Some(repo) = &renews {
        service_locks::renew(&app, repo).await?;
    }
    let result = handle(&app, &grant, route, headers, body).await;
    // Again at the end: a long upload or repack counts as activity until
    // it finishes, not only when it starts. The request's own outcome
    // stands whatever happens here.
    if let Some(repo) = &renews {
        if let Err(e) = service_locks::renew(&app, repo).await {
            tracing::error!(repo = %repo, error = %e, "could not renew the repository's lock leases");
        }
    }
    result
}

async fn handle(
    shared: &Arc<App>,
    grant: &Grant,
    route: Route,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let app = shared.as_ref();
    match route {
        Route::ListRepos => repo_ops::list_repos(app, grant).await,
        Route::List(repo, dir) => objects::list(app, &repo, dir).await,
        Route::Stats(repo) => repo_ops::stats(shared, &repo).await,
        Route::VerifyStructure(repo) => repo_ops::verify_structure(app, &repo).await,
        Route::Init(repo) => repo_ops::init(app, &repo).await,
        Route::BatchDelete(repo, cleanup) => {
            repo_ops::batch_delete(app, grant, &repo, body, cleanup).await
        }
        Route::Repack(repo) => repo_ops::repack(app, grant, &repo, body).await,
        Route::VerifyPacks(repo) => repo_ops::verify_packs(app, &repo, body).await,
        Route::Mkdir(repo, dir) => objects::mkdir(app, grant, &repo, &dir).await,
        Route::LockList(repo) => Ok(locks::list(app, &repo)),
        Route::LockAcquire(repo, key) => locks::acquire(shared, &repo, &key, body).await,
        Route::LockReleaseOrDelete(repo, key) => {
            locks::release_or_delete(shared, grant, &repo, &key).await
        }
        Route::Get(repo, key) => objects::get(app, &repo, &key, &headers).await,
        Route::Head(repo, key) => objects::head(app, &repo, &key).await,
        Route::Put(repo, key) => objects::put(app, grant, &repo, &key, &headers, body).await,
        Route::Delete(repo, key) => objects::delete(app, grant, &repo, &key).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: Method, path_and_query: &str) -> Result<Route, ApiError> {
        let (path, query) = path_and_query
            .split_once('?')
            .map_or((path_and_query, None), |(p, q)| (p, Some(q)));
        Route::resolve(&method, Target::parse(path)?, &Query::parse(query))
    }

    fn repo() -> RepoName {
        RepoName::parse("r").unwrap()
    }

    fn key(k: &str) -> Key {
        Key::parse(k).unwrap()
    }

    #[test]
    fn the_lock_list_is_only_the_bare_locks_path() {
        assert_eq!(
            route(Method::GET, "/r/locks").unwrap(),
            Route::LockList(repo())
        );
        assert_eq!(
            route(Method::GET, "/r/locks/?list").unwrap(),
            Route::List(repo(), Some(DirKey::Locks))
        );
        assert!(route(Method::GET, "/r/locks/").is_err());
        assert!(route(Method::GET, "/r/locks?x").is_err());
    }

    #[test]
    fn lock_ids_go_to_the_lock_api_for_post_and_delete_only() {
        let k = key("locks/repo-lock");
        assert_eq!(
            route(Method::POST, "/r/locks/repo-lock").unwrap(),
            Route::LockAcquire(repo(), k.clone())
        );
        assert_eq!(
            route(Method::DELETE, "/r/locks/repo-lock").unwrap(),
            Route::LockReleaseOrDelete(repo(), k.clone())
        );
        assert_eq!(
            route(Method::PUT, "/r/locks/repo-lock").unwrap(),
            Route::Put(repo(), k.clone())
        );
        assert_eq!(
            route(Method::GET, "/r/locks/repo-lock").unwrap(),
            Route::Get(repo(), k)
        );
    }

    #[test]
    fn repo_operations_need_their_method() {
        assert_eq!(route(Method::POST, "/r?init").unwrap(), Route::Init(repo()));
        assert_eq!(
            route(Method::POST, "/r?batch-delete&cleanup-dirs").unwrap(),
            Route::BatchDelete(repo(), true)
        );
        assert_eq!(
            route(Method::GET, "/r/?list").unwrap(),
            Route::List(repo(), None)
        );
        assert!(route(Method::GET, "/r?init").is_err());
        assert!(route(Method::POST, "/r?stats").is_err());
        assert!(route(Method::GET, "/r").is_err());
    }

    #[test]
    fn objects_refuse_directory_and_repository_operations() {
        assert!(route(Method::GET, "/r/config?list").is_err());
        assert!(route(Method::POST, "/r/config?mkdir").is_err());
        assert!(route(Method::GET, "/r/config?stats").is_err());
        assert!(route(Method::POST, "/r/config").is_err());
        assert!(route(Method::PUT, "/r/keys/").is_err());
    }

    #[test]
    fn coordination_objects_need_less_than_a_write() {
        let need = |m, p| route(m, p).unwrap().need();
        for p in ["/r/locks/x", "/r/sessions/y", "/r/index.gen"] {
            assert_eq!(need(Method::PUT, p), Need::Coordinate, "{p}");
            assert_eq!(need(Method::DELETE, p), Need::Coordinate, "{p}");
        }
        assert_eq!(need(Method::POST, "/r/locks/repo-lock"), Need::Coordinate);
        assert_eq!(need(Method::POST, "/r/locks/?mkdir"), Need::Coordinate);
        assert_eq!(need(Method::POST, "/r/packs/?mkdir"), Need::Write);
        for p in ["/r/index", "/r/manifest", "/r/snapshots/a", "/r/config"] {
            assert_eq!(need(Method::PUT, p), Need::Write, "{p}");
        }
        assert_eq!(need(Method::POST, "/r?repack"), Need::Write);
        assert_eq!(need(Method::POST, "/r?verify-packs"), Need::Read);
        assert_eq!(need(Method::GET, "/r/index"), Need::Read);
    }

    #[test]
    fn only_writes_renew_lock_leases() {
        let renews = |m, p| route(m, p).unwrap().renews_locks_of().is_some();
        assert!(renews(Method::PUT, "/r/index"));
        assert!(renews(Method::DELETE, "/r/snapshots/a"));
        assert!(renews(Method::POST, "/r?repack"));
        assert!(!renews(Method::POST, "/r?verify-packs"));
        assert!(!renews(Method::POST, "/r/locks/repo-lock"));
        assert!(!renews(Method::GET, "/r/index"));
    }
}
