//! The domain layer: each client operation as one step over policy
//! (append-only, quota, freshness), the repo store (files) and the state
//! (counters, locks). HTTP handlers parse a request, call one function
//! here and map its result; nothing here knows HTTP.

pub mod admin;
pub mod audit;
pub mod books;
pub mod lifecycle;
pub mod locks;
pub mod objects;
pub mod reconcile;
pub mod stats;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use shared_proto::RepoName;

use crate::app::App;
use crate::policy::{AppendOnlyRefusal, Grant};
use crate::state::{LockError, StateError};
use crate::store::StoreError;

/// Errors of the domain layer: whichever layer below refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The files.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The state database.
    #[error(transparent)]
    State(#[from] StateError),
    /// An append-only rule.
    #[error(transparent)]
    AppendOnly(#[from] AppendOnlyRefusal),
    /// A server lock.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// What the request names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts what exists (a repository that is there
    /// already, a lock still held).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong.
    #[error("{0}")]
    Invalid(String),
}

/// Shorthand for service results.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// Runs blocking work (files, database) on the blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> ServiceResult<T>
where
    F: FnOnce() -> ServiceResult<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(crate::store::task_failed(e).into()),
    }
}

/// Counts changes to repositories in flight, so a shutdown can tell when
/// every counter is settled.
#[derive(Debug, Default, Clone)]
pub struct Inflight(Arc<AtomicUsize>);

/// One change in flight; it ends when this is dropped.
#[derive(Debug)]
pub struct InflightGuard(Arc<AtomicUsize>);

impl Inflight {
    /// Starts tracking a change.
    pub fn enter(&self) -> InflightGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        InflightGuard(self.0.clone())
    }

    /// Changes in flight now.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether append-only rules apply to `repo`: server-wide, by the
/// repository's own setting, or by the caller's token. Neither a
/// repository nor a token can relax the server's.
pub fn append_only_for(app: &App, repo: &RepoName, grant: &Grant) -> bool {
    app.settings.append_only
        || grant.forces_append_only()
        || app
            .state
            .repos
            .get(repo)
            .is_some_and(|r| r.append_only == Some(true))
}

/// Prepares a change to `repo`: records the repository if it is new and
/// marks it as changing in this run (see `state::repos`). With
/// `creates == false` (deletes, repack) a repository that does not exist
/// is left unrecorded; the store then answers 404.
pub(crate) async fn begin_change(
    app: &App,
    repo: &RepoName,
    creates: bool,
) -> ServiceResult<InflightGuard> {
    let guard = app.inflight.enter();
    if app.state.repos.is_marked(repo) {
        return Ok(guard);
    }
    let exists = app.store.repo_exists(repo).await?;
    if !creates && !exists {
        return Ok(guard);
    }
    let (store, state, repo) = (app.store.clone(), app.state.clone(), repo.clone());
    blocking(move || {
        // A repository that appeared on disk while the server ran (copied
        // in by an operator) is counted before its first change.
        if exists && !state.repos.is_counted(&repo) {
            reconcile::reconcile_repo(&store, &state, &repo, reconcile::Rebuild::Live)?;
        }
        Ok(state.repos.begin_change(&repo, !exists)?)
    })
    .await?;
    Ok(guard)
}
