//! The 0.7 server lock API over the state's lock table, and the lease
//! renewal every mutating request gives.

use shared_proto::RepoName;
use shared_proto::api::{LockInfo, LockRequest};

use super::{ServiceResult, blocking};
use crate::app::App;
use crate::policy::freshness;
use crate::state::Acquired;

/// Ends the freshness session of `repo` when a snapshot is pending (see
/// `policy::freshness`).
fn end_session(app: &App, repo: &RepoName) -> ServiceResult<()> {
    let pending = app
        .state
        .repos
        .get(repo)
        .is_some_and(|r| r.pending_snapshot_at.is_some());
    if pending {
        app.state
            .repos
            .record(repo, |e| freshness::session_boundary(&mut e.record))?;
    }
    Ok(())
}

/// Takes lock `id` of `repo` for `who`.
pub async fn acquire(
    app: &std::sync::Arc<App>,
    repo: &RepoName,
    id: &str,
    who: LockRequest,
) -> ServiceResult<()> {
    let (app, repo, id) = (app.clone(), repo.clone(), id.to_owned());
    let inflight = app.inflight.enter_repo(&repo)?;
    blocking(move || {
        let _inflight = inflight;
        if app.state.locks.acquire(&repo, &id, &who)? == Acquired::Fresh {
            end_session(&app, &repo)?;
        }
        tracing::info!(repo = %repo, lock = id, hostname = ?who.hostname, pid = who.pid, "lock acquired");
        Ok(())
    })
    .await
}

/// Releases lock `id` of `repo`; `false` when it was not held.
pub async fn release(app: &std::sync::Arc<App>, repo: &RepoName, id: &str) -> ServiceResult<bool> {
    let (app, repo, id) = (app.clone(), repo.clone(), id.to_owned());
    let inflight = app.inflight.enter_repo(&repo)?;
    blocking(move || {
        let _inflight = inflight;
        let released = app.state.locks.release(&repo, &id)?;
        if released {
            end_session(&app, &repo)?;
            tracing::info!(repo = %repo, lock = id, "lock released");
        }
        Ok(released)
    })
    .await
}

/// Renews the leases of `repo`'s locks: called for every mutating request.
pub async fn renew(app: &std::sync::Arc<App>, repo: &RepoName) -> ServiceResult<()> {
    if !app.state.locks.has_locks(repo) {
        return Ok(());
    }
    let (app, repo) = (app.clone(), repo.clone());
    blocking(move || Ok(app.state.locks.touch(&repo)?)).await
}

/// Live locks of `repo`.
pub fn list(app: &App, repo: &RepoName) -> Vec<LockInfo> {
    app.state.locks.list(repo)
}
