//! `?stats` and the admin API's repository figures: answered from the
//! counters, in O(1).

use shared_proto::RepoName;
use shared_proto::api::RepoStats;

use super::reconcile::{Rebuild, reconcile_repo};
use super::{ServiceResult, blocking};
use crate::app::App;
use crate::policy::quota::limit_for;
use crate::state::{RepoRecord, rfc3339_ms};
use crate::store::StoreError;

/// The statistics of `repo`.
pub async fn stats(app: &std::sync::Arc<App>, repo: &RepoName) -> ServiceResult<RepoStats> {
    let record = counted_record(app, repo).await?;
    Ok(RepoStats {
        total_bytes: record.counters.bytes,
        total_objects: record.counters.objects,
        total_packs: record.counters.packs,
        last_backup_at: record.last_backup_at.map(rfc3339_ms),
        quota_bytes: limit_for(Some(&record), app.settings.quota_bytes).unwrap_or(0),
        quota_used_bytes: record.counters.bytes,
    })
}

/// The record of `repo`, which must exist on disk, with counters that
/// describe its files.
pub async fn counted_record(
    app: &std::sync::Arc<App>,
    repo: &RepoName,
) -> ServiceResult<RepoRecord> {
    if !app.store.repo_exists(repo).await? {
        return Err(StoreError::NotFound(format!("repository {repo}")).into());
    }
    Ok(match app.state.repos.get(repo) {
        Some(r) if app.state.repos.is_counted(repo) => r,
        // A repository that appeared on disk while the server ran (copied
        // in by an operator): count it once.
        _ => {
            let (app, repo) = (app.clone(), repo.clone());
            let inflight = app.inflight.enter_repo(&repo)?;
            blocking(move || {
                let _inflight = inflight;
                reconcile_repo(&app.store, &app.state, &repo, Rebuild::Live)?;
                app.state
                    .repos
                    .get(&repo)
                    .ok_or_else(|| StoreError::NotFound(format!("repository {repo}")).into())
            })
            .await?
        }
    })
}
