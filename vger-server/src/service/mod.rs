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

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use shared_proto::RepoName;

use crate::app::App;
use crate::policy::{AppendOnlyRefusal, Grant, ScopeRefusal};
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
    /// The caller's token does not allow it.
    #[error(transparent)]
    Scope(#[from] ScopeRefusal),
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

/// Counts changes to repositories in flight, in all and per repository,
/// so a shutdown can tell when every counter is settled and a repository
/// delete can wait until nothing writes to it; and marks repositories being
/// deleted, which take no new change.
#[derive(Debug, Default, Clone)]
pub struct Inflight(Arc<Tracker>);

#[derive(Debug, Default)]
struct Tracker {
    total: AtomicUsize,
    /// Changes in flight per repository, and repositories being deleted.
    repos: Mutex<(HashMap<RepoName, usize>, HashSet<RepoName>)>,
}

impl Tracker {
    fn repos(&self) -> std::sync::MutexGuard<'_, (HashMap<RepoName, usize>, HashSet<RepoName>)> {
        self.repos.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One change in flight; it ends when this is dropped.
#[derive(Debug)]
pub struct InflightGuard {
    tracker: Arc<Tracker>,
    repo: RepoName,
}

impl Inflight {
    /// Starts tracking a change to `repo`; refused while `repo` is being
    /// deleted.
    pub fn enter_repo(&self, repo: &RepoName) -> ServiceResult<InflightGuard> {
        let mut repos = self.0.repos();
        if repos.1.contains(repo) {
            return Err(ServiceError::Conflict(format!(
                "repository {repo} is being deleted"
            )));
        }
        *repos.0.entry(repo.clone()).or_default() += 1;
        self.0.total.fetch_add(1, Ordering::SeqCst);
        Ok(InflightGuard {
            tracker: self.0.clone(),
            repo: repo.clone(),
        })
    }

    /// Changes in flight now.
    pub fn count(&self) -> usize {
        self.0.total.load(Ordering::SeqCst)
    }

    /// Marks `repo` as being deleted (no new change starts) and waits up
    /// to `patience` for the changes in flight to end. The mark lasts
    /// until the returned guard is dropped.
    pub async fn quiesce(
        &self,
        repo: &RepoName,
        patience: std::time::Duration,
    ) -> ServiceResult<DeleteGuard> {
        if !self.0.repos().1.insert(repo.clone()) {
            return Err(ServiceError::Conflict(format!(
                "repository {repo} is already being deleted"
            )));
        }
        let guard = DeleteGuard {
            tracker: self.0.clone(),
            repo: repo.clone(),
        };
        let deadline = tokio::time::Instant::now() + patience;
        while self.0.repos().0.get(repo).copied().unwrap_or(0) > 0 {
            if tokio::time::Instant::now() >= deadline {
                return Err(ServiceError::Conflict(format!(
                    "repository {repo} still has changes in flight after {} s; try again when its clients are done",
                    patience.as_secs()
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(guard)
    }
}

/// A repository being deleted: it takes no new change until this is
/// dropped.
#[derive(Debug)]
pub struct DeleteGuard {
    tracker: Arc<Tracker>,
    repo: RepoName,
}

impl Drop for DeleteGuard {
    fn drop(&mut self) {
        self.tracker.repos().1.remove(&self.repo);
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        let mut repos = self.tracker.repos();
        if let Some(n) = repos.0.get_mut(&self.repo) {
            *n -= 1;
            if *n == 0 {
                repos.0.remove(&self.repo);
            }
        }
        self.tracker.total.fetch_sub(1, Ordering::SeqCst);
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

/// Whether a change may create the repository it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Creates {
    /// It may (uploads, mkdir, init by a token that may create).
    Yes,
    /// It never does (deletes, repack): a missing repository is left
    /// unrecorded, and the store answers 404.
    No,
    /// It would, but the caller's token may not create repositories: a
    /// missing repository is refused.
    Refused,
}

/// Prepares a change to `repo`: records the repository if it is new and
/// marks it as changing in this run (see `state::repos`). The repository
/// cannot be deleted until the returned guard is dropped, so whether it
/// exists is settled here for the whole change.
pub(crate) async fn begin_change(
    app: &App,
    repo: &RepoName,
    creates: Creates,
) -> ServiceResult<InflightGuard> {
    let guard = app.inflight.enter_repo(repo)?;
    if creates == Creates::Refused && !app.store.repo_exists(repo).await? {
        return Err(ScopeRefusal(format!(
            "repository {repo} does not exist, and a read-only token cannot create it"
        ))
        .into());
    }
    let creates = creates == Creates::Yes;
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
