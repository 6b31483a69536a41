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
use super::parallel::map_on_cores;
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

/// What a walk reports of each object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sizes {
    /// Each object's size (one `stat` per object).
    Read,
    /// Names only: 0 for every size, and no `stat` at all, which makes a
    /// listing of a large repository several times faster.
    Skip,
}

/// Calls `f(key, size)` for every object below `dir`, whose path relative to
/// the repository is `rel` ("" for the repository itself).
pub(super) fn walk_objects(
    dir: &Path,
    rel: &str,
    sizes: Sizes,
    f: &mut dyn FnMut(Key, u64),
) -> io::Result<()> {
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
    let mut subdirs = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let child = if rel.is_empty() {
            name
        } else {
            let mut child = String::with_capacity(rel.len() + 1 + name.len());
            child.push_str(rel);
            child.push('/');
            child.push_str(&name);
            child
        };
        let ft = entry.file_type()?;
        if ft.is_dir() {
            // Descend only into directories the protocol knows.
            if matches!(
                ObjectPath::parse(&format!("{child}/")),
                Ok(ObjectPath::Dir(_))
            ) {
                subdirs.push((entry.path(), child));
            }
        } else if ft.is_file() {
            if let Ok(key) = Key::parse_owned(child) {
                let len = match sizes {
                    Sizes::Read => entry.metadata()?.len(),
                    Sizes::Skip => 0,
                };
                f(key, len);
            }
        }
    }
    if subdirs.len() < PARALLEL_FROM {
        for (path, child) in subdirs {
            walk_objects(&path, &child, sizes, f)?;
        }
        return Ok(());
    }
    // The pack shards: walked on every core, each sorted there, reported
    // in name order, so a listing arrives already sorted.
    subdirs.sort_unstable_by(|a, b| a.1.cmp(&b.1));
    let found = map_on_cores(&subdirs, |(path, child)| {
        let mut found = Vec::with_capacity(256);
        walk_objects(path, child, sizes, &mut |k, len| found.push((k, len)))?;
        found.sort_unstable_by(|a: &(Key, u64), b| a.0.as_str().cmp(b.0.as_str()));
        Ok(found)
    })?;
    for (key, len) in found.into_iter().flatten() {
        f(key, len);
    }
    Ok(())
}

/// Directories with at least this many subdirectories (the 256 pack
/// shards) are walked in parallel.
const PARALLEL_FROM: usize = 16;

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
            let mut keys = Vec::with_capacity(1024);
            walk_objects(&dir, &rel, Sizes::Skip, &mut |k, _| {
                keys.push(k.into_string())
            })
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
        walk_objects(&repo_dir, "", Sizes::Read, &mut |k, len| {
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
