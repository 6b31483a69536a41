//! Rebuilding the counters from the files: at start-up when the state is
//! missing or a crash may have left counters behind the files, on demand
//! (`vger-server reconcile`), and for a repository that appears on disk
//! while the server runs (on its first `?stats` or change).

use std::time::UNIX_EPOCH;

use shared_proto::RepoName;

use super::ServiceResult;
use crate::state::{Counters, State};
use crate::store::RepoStore;

/// Under what conditions a rebuild runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rebuild {
    /// Nothing else touches the data dir (start-up, or the `reconcile`
    /// command under the data dir lock): temp files are leftovers of a
    /// crash and are removed, and the repository is marked settled.
    Offline,
    /// The server is running: uploads may be in flight, so temp files
    /// stay, and commits to the repository wait while it is counted.
    Live,
}

/// What a rebuild found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    /// The repository.
    pub repo: RepoName,
    /// The counters before (`None`: the state did not know the repository).
    pub before: Option<Counters>,
    /// The counters counted from the files.
    pub after: Counters,
    /// Temp files removed.
    pub temps_removed: u64,
}

/// Rebuilds `repo`'s counters from its files (blocking). A repository the
/// state did not know gets, as its last backup time, the time of its
/// newest snapshot: the state that would say better is missing, and an
/// older time errs towards an alert rather than hiding a stale backup.
pub fn reconcile_repo(
    store: &RepoStore,
    state: &State,
    repo: &RepoName,
    mode: Rebuild,
) -> ServiceResult<Rebuilt> {
    let temps_removed = match mode {
        Rebuild::Offline => {
            store
                .remove_repo_temp_files(repo)
                .map_err(|e| crate::store::StoreError::Io {
                    context: format!("remove temp files in {repo}"),
                    source: e,
                })?
        }
        Rebuild::Live => 0,
    };
    let known = state
        .repos
        .get(repo)
        .filter(|_| state.repos.is_counted(repo));
    let estimate = if known.is_none() {
        store
            .newest_snapshot_time(repo)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
    } else {
        None
    };
    let (usage, before) = store.exclusive(repo, || -> ServiceResult<_> {
        let usage = store.usage_blocking(repo)?;
        let before = state.repos.record(repo, |e| {
            let before = e.record.counters;
            e.record.counters = Counters {
                bytes: usage.bytes,
                objects: usage.objects,
                packs: usage.packs,
            };
            if e.record.last_backup_at.is_none() {
                e.record.last_backup_at = estimate;
            }
            if mode == Rebuild::Offline {
                e.record.needs_reconcile = false;
            }
            e.counted = true;
            before
        })?;
        Ok((usage, before))
    })?;
    Ok(Rebuilt {
        repo: repo.clone(),
        before: known.map(|_| before),
        after: Counters {
            bytes: usage.bytes,
            objects: usage.objects,
            packs: usage.packs,
        },
        temps_removed,
    })
}

/// Rebuilds every repository on disk (blocking, offline), calling
/// `progress(done, total, rebuilt)` after each.
pub fn reconcile_all(
    store: &RepoStore,
    state: &State,
    progress: &mut dyn FnMut(usize, usize, &Rebuilt),
) -> ServiceResult<Vec<Rebuilt>> {
    let repos = store.list_repos_blocking()?;
    let total = repos.len();
    let mut out = Vec::with_capacity(total);
    for (i, repo) in repos.iter().enumerate() {
        let r = reconcile_repo(store, state, repo, Rebuild::Offline)?;
        progress(i + 1, total, &r);
        out.push(r);
    }
    Ok(out)
}
