//! Listing keys and counting usage by walking a repository.
//!
//! Only names that are valid keys are reported, so temp files, stray files
//! and the server's own state never appear. An I/O error fails the whole
//! listing: a client that deletes or repacks from a silently partial list
//! could lose data.

use std::fs;
use std::io;
use std::path::Path;

use shared_proto::{DirKey, Key, KeyKind, ObjectPath, RepoName};

use super::error::{StoreError, StoreResult, io_err};
use super::{RepoStore, blocking};

/// Object counts of a repository.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of all objects.
    pub bytes: u64,
    /// Number of objects.
    pub objects: u64,
    /// Number of packs.
    pub packs: u64,
}

/// Calls `f(key, size)` for every object below `dir`, whose path relative to
/// the repository is `rel` ("" for the repository itself).
pub(super) fn walk_objects(dir: &Path, rel: &str, f: &mut dyn FnMut(Key, u64)) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        // Absent, or an object where the directory would be: nothing below.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let ft = entry.file_type()?;
        if ft.is_dir() {
            // Descend only into directories the protocol knows.
            if matches!(
                ObjectPath::parse(&format!("{child}/")),
                Ok(ObjectPath::Dir(_))
            ) {
                walk_objects(&entry.path(), &child, f)?;
            }
        } else if ft.is_file() {
            if let Ok(key) = Key::parse(&child) {
                let len = entry.metadata()?.len();
                f(key, len);
            }
        }
    }
    Ok(())
}

impl RepoStore {
    /// Every key of `repo` below `prefix` (the whole repository when
    /// `None`), sorted. A whole-repository listing of a missing repository
    /// is `NotFound`; a missing prefix lists as empty.
    pub async fn list(&self, repo: &RepoName, prefix: Option<DirKey>) -> StoreResult<Vec<String>> {
        let repo_dir = self.layout.repo_dir(repo);
        let layout = self.layout.clone();
        let repo_name = repo.to_string();
        blocking(move || {
            let (dir, rel) = match &prefix {
                Some(d) => (repo_dir.join(d.path()), d.path()),
                None => (repo_dir.clone(), String::new()),
            };
            layout.guard(&dir)?;
            if prefix.is_none() && !repo_dir.is_dir() {
                return Err(StoreError::NotFound(format!("repository {repo_name}")));
            }
            let mut keys = Vec::new();
            walk_objects(&dir, &rel, &mut |k, _| keys.push(k.as_str().to_owned()))
                .map_err(|e| io_err(format!("list {repo_name}/{rel}"), e))?;
            keys.sort_unstable();
            Ok(keys)
        })
        .await
    }

    /// Counts the objects of `repo` by walking it (blocking).
    pub fn usage_blocking(&self, repo: &RepoName) -> StoreResult<Usage> {
        let repo_dir = self.layout.repo_dir(repo);
        self.layout.guard(&repo_dir)?;
        if !repo_dir.is_dir() {
            return Err(StoreError::NotFound(format!("repository {repo}")));
        }
        let mut u = Usage::default();
        walk_objects(&repo_dir, "", &mut |k, len| {
            u.bytes += len;
            u.objects += 1;
            if k.kind() == KeyKind::Pack {
                u.packs += 1;
            }
        })
        .map_err(|e| io_err(format!("count {repo}"), e))?;
        Ok(u)
    }

    /// When the newest `snapshots/*` object of `repo` was last modified
    /// (blocking).
    pub fn newest_snapshot_time(&self, repo: &RepoName) -> Option<std::time::SystemTime> {
        let dir = self.layout.dir(repo, &DirKey::Snapshots);
        let mut newest = None;
        for entry in fs::read_dir(&dir).ok()?.flatten() {
            let name = entry.file_name();
            let valid = name
                .to_str()
                .is_some_and(|n| Key::parse(&format!("snapshots/{n}")).is_ok());
            let md = entry.metadata().ok().filter(|m| m.is_file());
            if let (true, Some(t)) = (valid, md.and_then(|m| m.modified().ok())) {
                newest = newest.max(Some(t));
            }
        }
        newest
    }
}
