//! Object and repository operations: put, get, stat, delete, mkdir, init,
//! batch-delete.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use shared_proto::{DirKey, Key, RepoName};

use super::durable;
use super::error::{StoreError, StoreResult, io_err};
use super::ledger::{Change, Ledger};
use super::paths::Access;
use super::read::{ObjectFile, SMALL_READ};
use super::write::{ExpectedDigest, Upload};
use super::{RepoStore, blocking, hold};

/// What a batch delete did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchDeleteReport {
    /// Objects removed.
    pub deleted: u64,
    /// Keys skipped: invalid, absent, or failing to delete.
    pub skipped: u64,
}

/// Shards `packs/00` … `packs/ff` that `init` creates.
fn all_shards() -> impl Iterator<Item = DirKey> {
    (0u8..=255).map(|b| DirKey::PackShard(format!("{b:02x}")))
}

impl RepoStore {
    /// Whether `repo` exists as a directory.
    pub async fn repo_exists(&self, repo: &RepoName) -> StoreResult<bool> {
        let dir = self.layout.repo_dir(repo);
        let layout = self.layout.clone();
        blocking(move || {
            layout.guard(&dir)?;
            Ok(dir.is_dir())
        })
        .await
    }

    /// Whether `repo` exists as a directory (blocking; false when its path
    /// would escape the data dir).
    pub fn repo_exists_blocking(&self, repo: &RepoName) -> bool {
        let dir = self.layout.repo_dir(repo);
        self.layout.guard(&dir).is_ok() && dir.is_dir()
    }

    /// Starts an upload of `key`, creating the repository and the key's
    /// parent directories as needed. Packs must hash to their name; a
    /// client-sent digest (`X-Content-BLAKE2b`) is checked too.
    pub async fn begin_put(
        &self,
        repo: &RepoName,
        key: &Key,
        client_digest: Option<String>,
    ) -> StoreResult<Upload> {
        let dest = self.layout.object(repo, key);
        let layout = self.layout.clone();
        let limit = self.max_object_bytes;
        let commit_lock = self.commit_lock(repo);
        let key = key.clone();
        let mut expected = Vec::new();
        if let Some(hex) = key.pack_hex() {
            expected.push(ExpectedDigest {
                hex: hex.to_owned(),
                source: "pack name",
            });
        }
        if let Some(hex) = client_digest {
            expected.push(ExpectedDigest {
                hex: hex.to_ascii_lowercase(),
                source: "X-Content-BLAKE2b header",
            });
        }
        blocking(move || {
            layout.guard(&dest)?;
            let dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
            // A concurrent batch-delete with cleanup-dirs may remove an
            // empty directory between its creation and our temp file: make
            // it again rather than fail.
            let mut attempts = 0;
            let (tmp, file) = loop {
                layout
                    .ensure_dir(&dir)
                    .map_err(|e| dir_in_the_way(&format!("for {key}"), e))?;
                match durable::create_temp(&dir) {
                    Ok(t) => break t,
                    Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 3 => {
                        layout.forget_dirs(&dir);
                        attempts += 1;
                    }
                    Err(e) => {
                        return Err(StoreError::Io {
                            context: format!("create a temp file for {key}"),
                            source: e,
                        });
                    }
                }
            };
            Ok(Upload::new(
                tmp,
                file,
                key,
                dest,
                limit,
                expected,
                commit_lock,
            ))
        })
        .await
    }

    /// Opens `key` for reading. When `small(len)` picks a range of at
    /// most [`SMALL_READ`] bytes (`(offset, length)`), it is read in the
    /// same step: a client restoring blobs makes many such requests, and
    /// each trip to the blocking pool costs more than the read itself.
    pub async fn open_object(
        &self,
        repo: &RepoName,
        key: &Key,
        small: impl FnOnce(u64) -> Option<(u64, u64)> + Send + 'static,
    ) -> StoreResult<(ObjectFile, Option<Bytes>)> {
        let path = self.layout.object(repo, key);
        let layout = self.layout.clone();
        let name = key.to_string();
        blocking(move || {
            let file = layout.open_beneath(&path, &name, Access::Read)?;
            let md = file.metadata().map_err(|e| io_err(name.clone(), e))?;
            if !md.is_file() {
                return Err(StoreError::NotFound(name));
            }
            let object = ObjectFile::new(file, name, md.len());
            let data = match small(md.len()) {
                Some((offset, n)) if n <= SMALL_READ => Some(object.read_now(offset, n)?),
                _ => None,
            };
            Ok((object, data))
        })
        .await
    }

    /// The size of `key` in bytes.
    pub async fn object_size(&self, repo: &RepoName, key: &Key) -> StoreResult<u64> {
        let path = self.layout.object(repo, key);
        let layout = self.layout.clone();
        let name = key.to_string();
        blocking(move || {
            let md = layout
                .open_beneath(&path, &name, Access::Stat)?
                .metadata()
                .map_err(|e| io_err(name.clone(), e))?;
            if md.is_file() {
                Ok(md.len())
            } else {
                Err(StoreError::NotFound(name))
            }
        })
        .await
    }

    /// Whether `key` of `repo` is a stored object (blocking).
    pub fn has_object_blocking(&self, repo: &RepoName, key: &Key) -> bool {
        let path = self.layout.object(repo, key);
        self.layout.guard(&path).is_ok() && fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
    }

    /// Deletes `key`, telling `ledger`; `NotFound` when it is absent.
    pub async fn delete(
        &self,
        repo: &RepoName,
        key: &Key,
        ledger: Arc<dyn Ledger>,
    ) -> StoreResult<()> {
        let path = self.layout.object(repo, key);
        let layout = self.layout.clone();
        let commit_lock = self.commit_lock(repo);
        let key = key.clone();
        blocking(move || {
            layout.guard(&path)?;
            let commit = hold(&commit_lock);
            let bytes = match fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => m.len(),
                _ => return Err(StoreError::NotFound(key.to_string())),
            };
            match fs::remove_file(&path) {
                Ok(()) => ledger.record(Change::Removed { key: &key, bytes }),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(StoreError::NotFound(key.to_string()));
                }
                Err(e) => return Err(io_err(format!("delete {key}"), e)),
            }
            // As for a write: the sync and the save are shared with other
            // writers, not queued behind the lock.
            drop(commit);
            let synced = durable::sync_parent(&path);
            ledger.persist();
            synced.map_err(|e| io_err(format!("delete {key}"), e))
        })
        .await
    }

    /// Creates directory `dir` of `repo` (and the repository) if missing.
    pub async fn mkdir(&self, repo: &RepoName, dir: &DirKey) -> StoreResult<()> {
        let path = self.layout.dir(repo, dir);
        let layout = self.layout.clone();
        let name = dir.path();
        blocking(move || {
            layout.guard(&path)?;
            layout
                .ensure_dir(&path)
                .map_err(|e| dir_in_the_way(&name, e))
        })
        .await
    }

    /// Initialises `repo`: creates its directories. `Conflict` when it
    /// already holds a `config`, that is, a live repository.
    pub async fn init(&self, repo: &RepoName) -> StoreResult<()> {
        let repo_dir = self.layout.repo_dir(repo);
        let layout = self.layout.clone();
        let name = repo.to_string();
        blocking(move || {
            layout.guard(&repo_dir)?;
            if repo_dir.join("config").exists() {
                return Err(StoreError::Conflict(format!(
                    "repository {name} already exists (it has a config)"
                )));
            }
            let dirs = [
                DirKey::Keys,
                DirKey::Snapshots,
                DirKey::Locks,
                DirKey::Sessions,
            ]
            .into_iter()
            .chain(all_shards());
            for d in dirs {
                let path = repo_dir.join(d.path());
                layout.guard(&path)?;
                layout
                    .ensure_dir(&path)
                    .map_err(|e| dir_in_the_way(&d.path(), e))?;
            }
            Ok(())
        })
        .await
    }

    /// Deletes every listed key that is valid and present, skipping the
    /// rest rather than stopping half-way. With `cleanup_dirs`, directories
    /// left empty are removed too (never the repository's own directory).
    pub async fn batch_delete(
        &self,
        repo: &RepoName,
        keys: Vec<String>,
        cleanup_dirs: bool,
        ledger: Arc<dyn Ledger>,
    ) -> StoreResult<BatchDeleteReport> {
        let repo_dir = self.layout.repo_dir(repo);
        let layout = self.layout.clone();
        let repo_name = repo.clone();
        let commit_lock = self.commit_lock(repo);
        blocking(move || {
            layout.guard(&repo_dir)?;
            let _commit = hold(&commit_lock);
            let mut report = BatchDeleteReport::default();
            let mut touched_dirs: Vec<PathBuf> = Vec::new();
            let mut removed: Vec<(Key, u64)> = Vec::new();
            for raw in keys {
                let Ok(key) = Key::parse(&raw) else {
                    tracing::warn!(repo = %repo_name, key = %raw.escape_debug(), "batch-delete: skipping invalid key");
                    report.skipped += 1;
                    continue;
                };
                let path = layout.object(&repo_name, &key);
                if layout.guard(&path).is_err() {
                    report.skipped += 1;
                    continue;
                }
                let Some(bytes) = fs::symlink_metadata(&path)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                else {
                    report.skipped += 1;
                    continue;
                };
                match fs::remove_file(&path) {
                    Ok(()) => {
                        removed.push((key, bytes));
                        report.deleted += 1;
                        if let Some(parent) = path.parent() {
                            touched_dirs.push(parent.to_path_buf());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => report.skipped += 1,
                    Err(e) => {
                        tracing::warn!(repo = %repo_name, key = %key, error = %e, "batch-delete: could not delete");
                        report.skipped += 1;
                    }
                }
            }
            let changes: Vec<Change<'_>> = removed
                .iter()
                .map(|(key, bytes)| Change::Removed { key, bytes: *bytes })
                .collect();
            ledger.record_all(&changes);
            touched_dirs.sort();
            touched_dirs.dedup();
            for dir in &touched_dirs {
                durable::sync_dir(dir).map_err(|e| io_err("sync after batch-delete", e))?;
            }
            if cleanup_dirs {
                remove_empty_dirs(&repo_dir)
                    .map_err(|e| io_err("remove empty directories", e))?;
                layout.forget_dirs(&repo_dir);
            }
            // An early return above still saves: the books persist when dropped.
            drop(_commit);
            ledger.persist();
            Ok(report)
        })
        .await
    }

    /// Names of every repository in the data directory, sorted.
    pub async fn list_repos(&self) -> StoreResult<Vec<RepoName>> {
        let store = self.clone();
        blocking(move || store.list_repos_blocking()).await
    }

    /// Names of every repository in the data directory, sorted (blocking).
    pub fn list_repos_blocking(&self) -> StoreResult<Vec<RepoName>> {
        let root = self.layout.root().to_path_buf();
        {
            let mut names = Vec::new();
            for entry in fs::read_dir(&root).map_err(|e| io_err("read the data directory", e))? {
                let entry = entry.map_err(|e| io_err("read the data directory", e))?;
                let ft = entry
                    .file_type()
                    .map_err(|e| io_err("read the data directory", e))?;
                if !ft.is_dir() {
                    continue;
                }
                if let Some(name) = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| RepoName::parse(n).ok())
                {
                    names.push(name);
                }
            }
            names.sort();
            Ok(names)
        }
    }
}

/// Maps a failure to create directory `name`: an object where a directory
/// belongs is a conflict that a retry cannot cure, not a server error.
fn dir_in_the_way(name: &str, e: io::Error) -> StoreError {
    let not_dir = e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error());
    if e.kind() == io::ErrorKind::AlreadyExists || not_dir {
        StoreError::Conflict(format!(
            "cannot create the directory {name}: an object stands where a directory belongs"
        ))
    } else {
        io_err(format!("create the directory {name}"), e)
    }
}

/// Removes every empty directory below `top`, deepest first; `top` stays.
/// A directory that gains an entry meanwhile (a concurrent upload) is left.
fn remove_empty_dirs(top: &Path) -> io::Result<()> {
    fn walk(dir: &Path, is_top: bool) -> io::Result<bool> {
        let mut empty = true;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                if !walk(&entry.path(), false)? {
                    empty = false;
                }
            } else {
                empty = false;
            }
        }
        if !empty || is_top {
            return Ok(false);
        }
        match fs::remove_dir(dir) {
            Ok(()) => {
                if let Some(parent) = dir.parent() {
                    durable::sync_dir(parent)?;
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(e),
        }
    }
    match walk(top, true) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
