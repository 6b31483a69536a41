//! `?stats`: answered from the counters, in O(1).

use std::time::{Duration, UNIX_EPOCH};

use shared_proto::RepoName;
use shared_proto::api::RepoStats;

use super::reconcile::{Rebuild, reconcile_repo};
use super::{ServiceResult, blocking};
use crate::app::App;
use crate::policy::quota::limit_for;
use crate::store::StoreError;

/// Unix milliseconds as RFC 3339 (seconds precision, UTC).
pub fn rfc3339_ms(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The statistics of `repo`.
pub async fn stats(app: &std::sync::Arc<App>, repo: &RepoName) -> ServiceResult<RepoStats> {
    if !app.store.repo_exists(repo).await? {
        return Err(StoreError::NotFound(format!("repository {repo}")).into());
    }
    let record = match app.state.repos.get(repo) {
        Some(r) => r,
        // A repository that appeared on disk while the server ran (copied
        // in by an operator): count it once.
        None => {
            let (app, repo) = (app.clone(), repo.clone());
            blocking(move || {
                reconcile_repo(&app.store, &app.state, &repo, Rebuild::Live)?;
                app.state
                    .repos
                    .get(&repo)
                    .ok_or_else(|| StoreError::NotFound(format!("repository {repo}")).into())
            })
            .await?
        }
    };
    Ok(RepoStats {
        total_bytes: record.counters.bytes,
        total_objects: record.counters.objects,
        total_packs: record.counters.packs,
        last_backup_at: record.last_backup_at.map(rfc3339_ms),
        quota_bytes: limit_for(Some(&record), app.settings.quota_bytes).unwrap_or(0),
        quota_used_bytes: record.counters.bytes,
    })
}
