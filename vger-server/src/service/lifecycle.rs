//! Start-up and shutdown of the state: bring the counters in line with
//! the files before the server accepts a request, and mark them settled
//! when it stops cleanly.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use shared_proto::RepoName;

use super::ServiceResult;
use super::reconcile::{Rebuild, Rebuilt, reconcile_repo};
use crate::app::App;
use crate::state::{Counters, Opened, State};
use crate::store::cleanup::remove_temp_files_below;
use crate::store::{RepoStore, StoreError};

/// What start-up did.
#[derive(Debug, Default)]
pub struct Startup {
    /// Whether the state was missing and every repository was counted.
    pub full_rebuild: bool,
    /// Repositories rebuilt.
    pub rebuilt: Vec<Rebuilt>,
    /// Temp files removed outside repositories.
    pub temps_removed: u64,
}

fn io(context: &str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        context: context.to_owned(),
        source,
    }
}

/// Brings the state in line with the files (blocking). With a state
/// database from a clean shutdown this reads the data dir's top level
/// only; repositories a crash may have left behind their counters, and
/// repositories the state does not know, are counted from their files;
/// without a state database every repository is.
pub fn startup(store: &RepoStore, state: &State, state_dir: &Path) -> ServiceResult<Startup> {
    let on_disk = store.list_repos_blocking()?;
    let full_rebuild = state.opened == Opened::Created;
    let flagged: HashSet<RepoName> = state.repos.needing_reconcile().into_iter().collect();
    let known: HashSet<RepoName> = state.repos.names().into_iter().collect();
    let present: HashSet<&RepoName> = on_disk.iter().collect();
    // Known repositories whose directory is gone hold nothing.
    for repo in known.iter().filter(|r| !present.contains(r)) {
        let stale = state
            .repos
            .get(repo)
            .is_some_and(|r| r.needs_reconcile || r.counters != Counters::default());
        if stale {
            state.repos.record(repo, |e| {
                e.record.counters = Counters::default();
                e.record.needs_reconcile = false;
            })?;
        }
    }
    let mut rebuilt = Vec::new();
    for repo in &on_disk {
        if full_rebuild || flagged.contains(repo) || !known.contains(repo) {
            rebuilt.push(reconcile_repo(store, state, repo, Rebuild::Offline)?);
        }
    }
    let temps_removed = store
        .remove_top_level_temp_files()
        .map_err(io("remove temp files in the data dir"))?
        + remove_temp_files_below(state_dir).map_err(io("remove temp files in the state dir"))?;
    Ok(Startup {
        full_rebuild,
        rebuilt,
        temps_removed,
    })
}

/// After the last request: waits up to `patience` for changes still in
/// flight (a repack whose client left), then marks every repository
/// settled so the next start need not count them. Returns whether it did.
pub async fn settle(app: &App, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    while app.inflight.count() > 0 {
        if Instant::now() >= deadline {
            tracing::warn!(
                in_flight = app.inflight.count(),
                "changes still in flight at shutdown; their repositories will be recounted at the next start"
            );
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let state = app.state.clone();
    match tokio::task::spawn_blocking(move || state.repos.mark_all_settled()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "could not mark the state settled; repositories will be recounted at the next start");
            false
        }
        Err(_) => false,
    }
}
