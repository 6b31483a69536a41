//! Start-up housekeeping: temp files left by a crash, and disk space.

use std::fs;
use std::io;
use std::path::Path;

use shared_proto::RepoName;

use super::RepoStore;
use super::durable::is_temp_name;

/// The data directory's state, as `/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// Bytes available to the server.
    pub disk_free: u64,
    /// Number of repositories.
    pub repos: u64,
}

/// Space on the data directory's filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskSpace {
    /// Bytes available to the server.
    pub free: u64,
    /// Size of the filesystem.
    pub total: u64,
}

fn remove_temps_below(dir: &Path, removed: &mut u64) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            remove_temps_below(&entry.path(), removed)?;
        } else if ft.is_file() && entry.file_name().to_str().is_some_and(is_temp_name) {
            fs::remove_file(entry.path())?;
            *removed += 1;
        }
    }
    Ok(())
}

/// Removes every temp file below `dir` (a repository, or the state
/// directory); returns how many.
pub fn remove_temp_files_below(dir: &Path) -> io::Result<u64> {
    let mut removed = 0;
    match remove_temps_below(dir, &mut removed) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(removed),
    }
}

impl RepoStore {
    /// Removes the temp files a crash left in `repo`.
    pub fn remove_repo_temp_files(&self, repo: &RepoName) -> io::Result<u64> {
        remove_temp_files_below(&self.layout.repo_dir(repo))
    }

    /// Removes temp files directly in the data directory (a start-up
    /// probe interrupted by a crash). Repositories are cleaned one by one
    /// (see [`remove_repo_temp_files`](Self::remove_repo_temp_files)).
    pub fn remove_top_level_temp_files(&self) -> io::Result<u64> {
        let mut removed = 0;
        for entry in fs::read_dir(self.layout.root())? {
            let entry = entry?;
            let name = entry.file_name();
            if entry.file_type()?.is_file() && name.to_str().is_some_and(is_temp_name) {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Free and total space of the data directory's filesystem.
    pub fn disk_space(&self) -> io::Result<DiskSpace> {
        let st = rustix::fs::statvfs(self.layout.root())?;
        Ok(DiskSpace {
            free: st.f_bavail.saturating_mul(st.f_frsize),
            total: st.f_blocks.saturating_mul(st.f_frsize),
        })
    }

    /// What `/health` reports, gathered on the blocking pool so a stalled
    /// disk cannot freeze the request threads: `Err` says why the data
    /// directory is unusable.
    pub async fn probe(&self) -> Result<Probe, String> {
        let store = self.clone();
        let res = tokio::task::spawn_blocking(move || {
            store.check_usable()?;
            let free = store
                .disk_space()
                .map_err(|e| format!("cannot read free space: {e}"))?
                .free;
            let repos = fs::read_dir(store.layout.root())
                .map_err(|e| format!("cannot read the data directory: {e}"))?
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| RepoName::parse(n).is_ok())
                })
                .count() as u64;
            Ok(Probe {
                disk_free: free,
                repos,
            })
        })
        .await;
        res.unwrap_or_else(|e| Err(format!("health probe failed: {e}")))
    }

    /// Whether the data directory is usable: present, a directory, writable.
    pub fn check_usable(&self) -> Result<(), String> {
        let root = self.layout.root();
        match fs::metadata(root) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => return Err(format!("data_dir {} is not a directory", root.display())),
            Err(e) => return Err(format!("data_dir {} is unusable: {e}", root.display())),
        }
        rustix::fs::access(
            root,
            rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
        )
        .map_err(|e| format!("data_dir {} is not writable: {e}", root.display()))
    }
}
