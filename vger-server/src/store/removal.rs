//! Removing a whole repository, and the lock objects an operator may
//! break.
//!
//! A repository is removed by renaming its directory into the data dir's
//! trash (`.vger-server/trash/`, on the same filesystem, so the rename is
//! atomic) and syncing the data dir before anything is deleted: a crash at
//! any point leaves the repository either whole and in place or gone from
//! the listing, and whatever is left in the trash is removed at the next
//! start.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use shared_proto::RepoName;

use super::durable;
use super::error::{StoreError, StoreResult, io_err};
use super::{RepoStore, STATE_DIR_NAME, blocking, hold};

/// Name of the trash directory inside the data dir's state directory.
const TRASH_DIR_NAME: &str = "trash";

/// A lock object of a later client (`locks/<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockObject {
    /// Its name under `locks/`.
    pub name: String,
    /// When it was last written (clients refresh a lock by rewriting it).
    pub modified: SystemTime,
}

impl RepoStore {
    fn trash_dir(&self) -> PathBuf {
        self.layout.root().join(STATE_DIR_NAME).join(TRASH_DIR_NAME)
    }

    /// Moves `repo` into the trash in one durable rename and returns where
    /// it went, or `None` when it did not exist. Commits to it wait while
    /// the directory is moved away. The caller removes the moved
    /// directory (or the next start does).
    pub async fn move_repo_to_trash(&self, repo: &RepoName) -> StoreResult<Option<PathBuf>> {
        let store = self.clone();
        let repo = repo.clone();
        blocking(move || {
            let dir = store.layout.repo_dir(&repo);
            store.layout.guard(&dir)?;
            let trash = store.trash_dir();
            let stamp = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_nanos();
            let target = trash.join(format!("{repo}.{stamp}"));
            {
                let lock = store.commit_lock(&repo);
                let _held = hold(&lock);
                match fs::symlink_metadata(&dir) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => return Err(StoreError::Invalid(format!("{repo} is not a directory"))),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(io_err(format!("delete repository {repo}"), e)),
                }
                durable::private_dir_builder()
                    .recursive(true)
                    .create(&trash)
                    .map_err(|e| io_err("create the trash directory", e))?;
                fs::rename(&dir, &target)
                    .map_err(|e| io_err(format!("move repository {repo} to the trash"), e))?;
                // The directories it knew are gone: a repository created
                // again under this name must create them anew.
                store.layout.forget_dirs(&dir);
                durable::sync_dir(store.layout.root())
                    .and_then(|()| durable::sync_dir(&trash))
                    .map_err(|e| io_err(format!("delete repository {repo}"), e))?;
            }
            Ok(Some(target))
        })
        .await
    }

    /// Empties the trash: what a repository delete interrupted by a
    /// crash left behind. Returns the repositories whose remains were
    /// removed, so their state can be forgotten too.
    pub fn empty_trash(&self) -> io::Result<Vec<RepoName>> {
        let trash = self.trash_dir();
        let entries = match fs::read_dir(&trash) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut removed = Vec::new();
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            match fs::symlink_metadata(&path)?.is_dir() {
                true => fs::remove_dir_all(&path)?,
                false => fs::remove_file(&path)?,
            }
            // `<repo>.<stamp>`: the name is everything before the last dot.
            let name = entry.file_name();
            if let Some(repo) = name
                .to_str()
                .and_then(|n| n.rsplit_once('.'))
                .and_then(|(r, _)| RepoName::parse(r).ok())
            {
                removed.push(repo);
            }
        }
        Ok(removed)
    }

    /// The lock objects of `repo` (blocking), by name; temp files and
    /// anything that is not a plain file are left out.
    pub fn lock_objects_blocking(&self, repo: &RepoName) -> StoreResult<Vec<LockObject>> {
        let dir = self.layout.repo_dir(repo).join("locks");
        self.layout.guard(&dir)?;
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(format!("list the locks of {repo}"), e)),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            if let Ok(md) = entry.metadata() {
                if md.is_file() {
                    out.push(LockObject {
                        name,
                        modified: md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, RepoStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = RepoStore::open(dir.path(), 1 << 20).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn a_repository_deleted_and_created_again_gets_its_directories_anew() {
        let (dir, store) = store();
        let repo = RepoName::parse("r").unwrap();
        store.init(&repo).await.unwrap();
        let trashed = store.move_repo_to_trash(&repo).await.unwrap().unwrap();
        fs::remove_dir_all(trashed).unwrap();
        store.init(&repo).await.unwrap();
        assert!(dir.path().join("r/keys").is_dir());
        assert!(dir.path().join("r/packs/ff").is_dir());
    }

    #[tokio::test]
    async fn a_deleted_repository_is_moved_whole_out_of_the_data_dir() {
        let (dir, store) = store();
        let repo = RepoName::parse("r").unwrap();
        fs::create_dir_all(dir.path().join("r/snapshots")).unwrap();
        fs::write(dir.path().join("r/snapshots/a"), b"x").unwrap();
        let trashed = store.move_repo_to_trash(&repo).await.unwrap().unwrap();
        assert!(!dir.path().join("r").exists());
        assert!(trashed.join("snapshots/a").is_file(), "moved whole");
        assert_eq!(store.move_repo_to_trash(&repo).await.unwrap(), None);
    }

    #[test]
    fn the_trash_is_emptied_at_start() {
        let (_dir, store) = store();
        fs::create_dir_all(store.trash_dir().join("r.v2.1/packs")).unwrap();
        fs::write(store.trash_dir().join("r.v2.1/packs/x"), b"x").unwrap();
        assert_eq!(
            store.empty_trash().unwrap(),
            [RepoName::parse("r.v2").unwrap()]
        );
        assert_eq!(fs::read_dir(store.trash_dir()).unwrap().count(), 0);
    }

    #[test]
    fn lock_objects_leave_out_temp_files_and_directories() {
        let (dir, store) = store();
        let locks = dir.path().join("r/locks");
        fs::create_dir_all(locks.join("sub")).unwrap();
        fs::write(locks.join("1-a.json"), b"{}").unwrap();
        fs::write(locks.join(".vger-tmp-x"), b"").unwrap();
        let names: Vec<String> = store
            .lock_objects_blocking(&RepoName::parse("r").unwrap())
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(names, ["1-a.json"]);
    }
}
