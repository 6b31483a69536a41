//! The repo store: repositories and their objects as plain files under the
//! data directory, in the layout every vger server uses
//! (`<data_dir>/<repo>/{config,manifest,index,keys/,snapshots/,locks/,packs/xx/<hex>}`).
//!
//! This is where bytes hit the disk. It knows keys, paths, atomic writes,
//! ranges, listing, repack and structural checks; it knows nothing of HTTP,
//! tokens or policies, which callers apply before they get here.

mod blocks;
pub mod cleanup;
pub mod digest;
pub mod durable;
mod error;
mod ledger;
mod list;
mod parallel;
mod paths;
mod read;
mod removal;
mod repack;
mod repo;
mod verify;
mod write;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use shared_proto::RepoName;

pub use error::{StoreError, StoreResult};
pub use ledger::{Change, Ledger};
pub use list::Usage;
pub use paths::Layout;
pub use read::ObjectFile;
pub use removal::LockObject;
pub use repo::BatchDeleteReport;
pub use write::{ExpectedDigest, Upload, WRITE_BLOCK};

/// Name of the server's own directory inside the data dir. It starts with
/// a dot, so it can never be a repository.
pub const STATE_DIR_NAME: &str = ".vger-server";

/// Runs blocking filesystem work on the blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> StoreResult<T>
where
    F: FnOnce() -> StoreResult<T> + Send + 'static,
    T: Send + 'static,
{
    joined(tokio::task::spawn_blocking(f)).await
}

/// Waits for a filesystem task started on the blocking pool.
pub(crate) async fn joined<T>(task: tokio::task::JoinHandle<StoreResult<T>>) -> StoreResult<T> {
    match task.await {
        Ok(r) => r,
        Err(e) => Err(task_failed(e)),
    }
}

/// The error for a blocking task that panicked or was cancelled. A panic
/// is logged with its message here, where it is caught (the request's
/// own panic guard never sees it), and the client gets a 500 without it.
pub(crate) fn task_failed(e: tokio::task::JoinError) -> StoreError {
    if e.is_panic() {
        let panic = e.into_panic();
        let what = crate::panics::message(panic.as_ref());
        tracing::error!(
            panic = what,
            "a background task panicked; its request is answered 500"
        );
    }
    StoreError::Io {
        context: "internal error: a background task failed (logged)".into(),
        source: std::io::Error::other("the task did not finish"),
    }
}

/// The file-backed store of every repository in one data directory.
#[derive(Debug, Clone)]
pub struct RepoStore {
    layout: Layout,
    max_object_bytes: u64,
    serial: Arc<Mutex<HashMap<RepoName, Arc<tokio::sync::Mutex<()>>>>>,
    commit: Arc<Mutex<HashMap<RepoName, CommitLock>>>,
}

/// Held while an object of a repository is published or removed, so the
/// size it replaces is the size the ledger is told of.
pub(crate) type CommitLock = Arc<Mutex<()>>;

/// Takes a commit lock (in blocking code only).
pub(crate) fn hold(lock: &CommitLock) -> std::sync::MutexGuard<'_, ()> {
    lock.lock().unwrap_or_else(|p| p.into_inner())
}

impl RepoStore {
    /// Opens the store on an existing, writable data directory.
    pub fn open(data_dir: &Path, max_object_bytes: u64) -> std::io::Result<Self> {
        Ok(Self {
            layout: Layout::new(data_dir)?,
            max_object_bytes,
            serial: Arc::default(),
            commit: Arc::default(),
        })
    }

    /// The mutex that serialises long maintenance work (repack) on `repo`.
    fn repo_serial(&self, repo: &RepoName) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.serial.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(repo.clone()).or_default().clone()
    }

    /// The lock held while `repo`'s objects are published or removed.
    pub(crate) fn commit_lock(&self, repo: &RepoName) -> CommitLock {
        let mut map = self.commit.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(repo.clone()).or_default().clone()
    }

    /// Runs `f` (blocking) while no object of `repo` is published or
    /// removed, so a count taken inside matches the ledger's view.
    pub fn exclusive<T>(&self, repo: &RepoName, f: impl FnOnce() -> T) -> T {
        let lock = self.commit_lock(repo);
        let _held = hold(&lock);
        f()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.layout.root()
    }

    /// The largest object accepted, in bytes.
    pub fn max_object_bytes(&self) -> u64 {
        self.max_object_bytes
    }
}
