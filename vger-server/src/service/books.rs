//! A repository's books: the store's [`Ledger`] for one operation. It
//! turns quota reservations into usage, keeps the counters and the
//! freshness record in step with each change on disk, and saves them
//! before the store moves on.

use std::sync::{Arc, Mutex};

use shared_proto::{Key, KeyKind, RepoName};

use super::InflightGuard;
use crate::app::App;
use crate::policy::freshness;
use crate::policy::quota::{Reservation, ReserveError};
use crate::state::{Entry, State, now_ms};
use crate::store::{Change, Ledger, RepoStore, StoreError, StoreResult};

/// The books of one operation on one repository.
#[derive(Debug)]
pub struct RepoBooks {
    state: Arc<State>,
    store: RepoStore,
    repo: RepoName,
    reservation: Mutex<Reservation>,
    credit_key: Mutex<Option<String>>,
    /// The entry version of the last change applied: what `persist` saves.
    applied: Mutex<u64>,
    _inflight: InflightGuard,
}

/// Maps a refused reservation to the store's error, which the store
/// passes on unchanged.
pub(crate) fn reserve_err(e: ReserveError) -> StoreError {
    match e {
        ReserveError::Quota(q) => StoreError::OverQuota(q.to_string()),
        ReserveError::State(s) if s.is_disk_full() => {
            StoreError::DiskFull(format!("the state database ({s})"))
        }
        ReserveError::State(s) => StoreError::Io {
            context: "record the repository".into(),
            source: std::io::Error::other(s.to_string()),
        },
    }
}

impl RepoBooks {
    /// Books for one operation on `repo`, counted as in flight until dropped.
    pub fn new(app: &App, repo: &RepoName, inflight: InflightGuard) -> Arc<Self> {
        Arc::new(Self {
            state: app.state.clone(),
            store: app.store.clone(),
            repo: repo.clone(),
            reservation: Mutex::new(Reservation::new(
                app.state.clone(),
                repo.clone(),
                app.settings.quota_bytes,
            )),
            credit_key: Mutex::new(None),
            applied: Mutex::new(0),
            _inflight: inflight,
        })
    }

    /// Claims the right to count `key`'s current size as credit for this
    /// write; only one write per key holds it at a time. Returns whether
    /// the claim was granted.
    pub fn claim_credit(&self, key: &Key) -> bool {
        let name = key.as_str().to_owned();
        let granted = self
            .state
            .repos
            .with_entry(&self.repo, |e| e.credited.insert(name.clone()))
            .unwrap_or(false);
        if granted {
            *self.credit_key.lock().unwrap_or_else(|p| p.into_inner()) = Some(name);
        }
        granted
    }

    fn reservation(&self) -> std::sync::MutexGuard<'_, Reservation> {
        self.reservation.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes sure at least `total` bytes are reserved, or refuses.
    pub fn reserve_to(&self, total: u64) -> StoreResult<()> {
        self.reservation().grow_to(total).map_err(reserve_err)
    }

    fn apply(entry: &mut Entry, change: &Change<'_>, has_manifest: bool) {
        let now = now_ms();
        let c = &mut entry.record.counters;
        match *change {
            Change::Stored { key, old, new } => {
                c.bytes = c.bytes.saturating_sub(old.unwrap_or(0)).saturating_add(new);
                if old.is_none() {
                    c.objects += 1;
                    if key.kind() == KeyKind::Pack {
                        c.packs += 1;
                    }
                    if key.kind() == KeyKind::Snapshot {
                        freshness::snapshot_created(&mut entry.record, has_manifest, now);
                    }
                }
                if key.kind() == KeyKind::Manifest {
                    freshness::manifest_written(&mut entry.record, now);
                }
            }
            Change::Removed { key, bytes } => {
                c.bytes = c.bytes.saturating_sub(bytes);
                c.objects = c.objects.saturating_sub(1);
                if key.kind() == KeyKind::Pack {
                    c.packs = c.packs.saturating_sub(1);
                }
            }
        }
    }
}

impl Ledger for RepoBooks {
    fn admit(&self, _key: &Key, old: Option<u64>, new: u64) -> StoreResult<()> {
        // Overwrites count only what they add.
        self.reserve_to(new.saturating_sub(old.unwrap_or(0)))
    }

    fn reserve(&self, total: u64) -> StoreResult<()> {
        self.reserve_to(total)
    }

    fn record(&self, change: Change<'_>) {
        self.record_all(&[change]);
    }

    fn record_all(&self, changes: &[Change<'_>]) {
        if changes.is_empty() {
            return;
        }
        let mut reservation = self.reservation();
        // Read the disk before taking the entry's mutex, which request
        // threads wait on; the commit lock keeps the answer stable.
        let new_snapshot = changes.iter().any(|c| {
            matches!(c, Change::Stored { key, old: None, .. } if key.kind() == KeyKind::Snapshot)
        });
        let has_manifest = new_snapshot
            && Key::parse("manifest").is_ok_and(|m| self.store.has_object_blocking(&self.repo, &m));
        let added: u64 = changes
            .iter()
            .map(|c| match *c {
                Change::Stored { old, new, .. } => new.saturating_sub(old.unwrap_or(0)),
                Change::Removed { .. } => 0,
            })
            .sum();
        let applied = self.state.repos.apply(&self.repo, |entry| {
            reservation.settle(entry, added);
            for c in changes {
                Self::apply(entry, c, has_manifest);
            }
        });
        match applied {
            Ok(((), version)) => {
                let mut last = self.applied.lock().unwrap_or_else(|p| p.into_inner());
                *last = (*last).max(version);
            }
            // Only a repository the state cannot even create lands here;
            // its change on disk stands, and is counted at the next start.
            Err(e) => {
                tracing::error!(repo = %self.repo, error = %e, "could not record a change to the repository");
            }
        }
    }

    fn persist(&self) {
        let version = *self.applied.lock().unwrap_or_else(|p| p.into_inner());
        if version == 0 {
            return;
        }
        if let Err(e) = self.state.repos.persist(&self.repo, version) {
            // The files changed and the counters in memory follow them;
            // the repository stays marked, so the next start rebuilds the
            // saved counters from the files.
            tracing::error!(repo = %self.repo, error = %e, "could not save the repository's counters");
        }
    }
}

impl Drop for RepoBooks {
    fn drop(&mut self) {
        // The store persists before it returns; this only catches a path
        // that did not, so no recorded change is left unsaved.
        self.persist();
        let claimed = self
            .credit_key
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(name) = claimed {
            let _ = self.state.repos.with_entry(&self.repo, |e| {
                e.credited.remove(&name);
            });
        }
    }
}
