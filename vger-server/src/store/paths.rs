//! Where a repository key lives on disk, and the guard that keeps every path
//! inside the data directory.
//!
//! Keys are validated lexically by `shared_proto::key` before they get here,
//! so joining them onto the data dir cannot climb out of it. What lexical
//! checks cannot see is a symlink planted inside the data dir; `guard` walks
//! the components of a path and refuses any symlink whose target lies outside.
//! Reads use `open_beneath` instead, where the kernel enforces the same in
//! the open itself (one system call instead of one per component), and
//! fall back to the walk only for what the kernel cannot decide alone.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{Mode, OFlags, ResolveFlags, openat2};
use rustix::io::Errno;

use shared_proto::{DirKey, Key, RepoName};

use super::durable::DurableDirs;
use super::error::{StoreError, StoreResult, io_err};

/// What an object is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading its bytes.
    Read,
    /// Its metadata only (no read permission needed).
    Stat,
}

impl Access {
    fn flags(self) -> OFlags {
        match self {
            // NONBLOCK: a FIFO planted in the data dir must not hang the
            // open; it changes nothing for regular files.
            Access::Read => OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Access::Stat => OFlags::PATH | OFlags::CLOEXEC,
        }
    }
}

/// Paths of one data directory.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    canonical_root: PathBuf,
    /// The data directory, open for `openat2`.
    root_fd: Arc<OwnedFd>,
    dirs: Arc<DurableDirs>,
}

impl Layout {
    /// A layout rooted at `root`, which must exist.
    pub fn new(root: &Path) -> io::Result<Self> {
        let root_fd = rustix::fs::open(
            root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self {
            root: root.to_path_buf(),
            canonical_root: root.canonicalize()?,
            root_fd: Arc::new(root_fd),
            dirs: Arc::new(DurableDirs::default()),
        })
    }

    /// Opens `path` (below the data dir) for `access`, refusing any path
    /// whose resolution would leave the data dir (`Escapes`). A missing
    /// file is `NotFound(what)`.
    pub fn open_beneath(&self, path: &Path, what: &str, access: Access) -> StoreResult<File> {
        let rel = path
            .strip_prefix(&self.root)
            .map_err(|_| StoreError::Escapes(path.display().to_string()))?;
        let flags = access.flags();
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        let not_found = || StoreError::NotFound(what.to_owned());
        // EAGAIN: a rename raced the lookup; the kernel asks to try again.
        for _ in 0..3 {
            match openat2(&*self.root_fd, rel, flags, Mode::empty(), how) {
                Ok(fd) => return Ok(File::from(fd)),
                Err(Errno::NOENT | Errno::NOTDIR) => return Err(not_found()),
                Err(Errno::AGAIN) => continue,
                // EXDEV: an absolute symlink, or one leading outside; the
                // component walk tells them apart (the first is allowed).
                // NOSYS, PERM: kernels before 5.6, or sandboxes that
                // filter openat2.
                Err(Errno::XDEV | Errno::NOSYS | Errno::PERM) => break,
                Err(e) => return Err(io_err(what.to_owned(), e.into())),
            }
        }
        self.guard(path)?;
        match rustix::fs::open(path, flags, Mode::empty()) {
            Ok(fd) => Ok(File::from(fd)),
            Err(Errno::NOENT | Errno::NOTDIR) => Err(not_found()),
            Err(e) => Err(io_err(what.to_owned(), e.into())),
        }
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of `repo`.
    pub fn repo_dir(&self, repo: &RepoName) -> PathBuf {
        self.root.join(repo.as_str())
    }

    /// The file of `key` in `repo`.
    pub fn object(&self, repo: &RepoName, key: &Key) -> PathBuf {
        self.repo_dir(repo).join(key.as_str())
    }

    /// The directory `dir` in `repo`.
    pub fn dir(&self, repo: &RepoName, dir: &DirKey) -> PathBuf {
        self.repo_dir(repo).join(dir.path())
    }

    /// Makes `dir` (below the data dir) exist, durably.
    pub fn ensure_dir(&self, dir: &Path) -> io::Result<()> {
        self.dirs.ensure(&self.root, dir)
    }

    /// Forgets what is known about `dir` and below, after removing it.
    pub fn forget_dirs(&self, dir: &Path) {
        self.dirs.forget_below(dir);
    }

    /// Refuses `path` (below the data dir) when one of its existing
    /// components is a symlink that resolves outside the data dir.
    /// Components that do not exist yet end the walk: whatever gets created
    /// there is created by us, as a real directory or file.
    pub fn guard(&self, path: &Path) -> StoreResult<()> {
        let rel = path
            .strip_prefix(&self.root)
            .map_err(|_| StoreError::Escapes(path.display().to_string()))?;
        let mut cur = self.root.clone();
        for comp in rel.components() {
            let Component::Normal(name) = comp else {
                return Err(StoreError::Escapes(rel.display().to_string()));
            };
            cur.push(name);
            match std::fs::symlink_metadata(&cur) {
                Ok(md) if md.file_type().is_symlink() => {
                    let target = cur
                        .canonicalize()
                        .map_err(|e| io_err(format!("resolve {}", rel.display()), e))?;
                    if !target.starts_with(&self.canonical_root) {
                        return Err(StoreError::Escapes(rel.display().to_string()));
                    }
                }
                Ok(_) => {}
                // Missing, or below something that is not a directory:
                // nothing beyond exists to lead anywhere.
                Err(e)
                    if e.kind() == io::ErrorKind::NotFound
                        || e.kind() == io::ErrorKind::NotADirectory =>
                {
                    return Ok(());
                }
                Err(e) => return Err(io_err(format!("inspect {}", rel.display()), e)),
            }
        }
        Ok(())
    }
}
