//! The primitives every write is built from: unique temp files, fsync of
//! files and directories, atomic publish by rename.
//!
//! Temp files live in the directory of the object they will become (so the
//! rename is atomic) under names starting with [`TEMP_PREFIX`]: a leading dot
//! is never a valid key, so temp files can never be listed, served or
//! overwritten by a client.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{CWD, RenameFlags, renameat_with};
use rustix::io::Errno;

/// Prefix of every temp file the server creates.
pub const TEMP_PREFIX: &str = ".vger-tmp-";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A builder for directories only the server's user may enter (0700): the
/// data is encrypted, but names and sizes tell a story too.
pub fn private_dir_builder() -> fs::DirBuilder {
    use std::os::unix::fs::DirBuilderExt;
    let mut b = fs::DirBuilder::new();
    b.mode(0o700);
    b
}

/// Creates a new temp file in `dir`, mode 0600. The name joins the process
/// id, the start-up clock and a counter, and the file is created with
/// O_EXCL, so two processes or two runs can never share one.
pub fn create_temp(dir: &Path) -> io::Result<(PathBuf, File)> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{TEMP_PREFIX}{}-{nanos:x}-{n}", std::process::id()));
        match OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Flushes a directory's entries (new, renamed or removed names) to disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Directories whose entry is known to be durable: created by us (and
/// their parent synced) or synced once since start-up.
///
/// A directory that merely exists may have been created a moment ago by a
/// concurrent request that has not synced its parent yet; acknowledging a
/// write inside it before that sync could lose both after a crash. So each
/// directory's parent is synced once, the first time this process relies on
/// it, and never again: later writes pay nothing.
#[derive(Debug, Default)]
pub struct DurableDirs {
    known: Mutex<HashSet<PathBuf>>,
}

impl DurableDirs {
    fn is_known(&self, dir: &Path) -> bool {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(dir)
    }

    fn remember(&self, dir: PathBuf) {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(dir);
    }

    /// Forgets every directory at or below `dir` (after it was removed).
    pub fn forget_below(&self, dir: &Path) {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|d| !d.starts_with(dir));
    }

    /// Makes `dir` exist durably: creates missing components down from
    /// `base` (which must exist) and syncs the parent of each component not
    /// yet known to be durable.
    pub fn ensure(&self, base: &Path, dir: &Path) -> io::Result<()> {
        if self.is_known(dir) {
            return Ok(());
        }
        let rel = dir
            .strip_prefix(base)
            .map_err(|_| io::Error::other("directory outside its base"))?;
        let mut cur = base.to_path_buf();
        for comp in rel.components() {
            let parent = cur.clone();
            cur.push(comp);
            if self.is_known(&cur) {
                continue;
            }
            match private_dir_builder().create(&cur) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if !cur.is_dir() {
                        return Err(io::Error::new(
                            io::ErrorKind::AlreadyExists,
                            format!("{} exists and is not a directory", cur.display()),
                        ));
                    }
                }
                Err(e) => return Err(e),
            }
            sync_dir(&parent)?;
            self.remember(cur.clone());
        }
        Ok(())
    }
}

/// Whether two files hold the same bytes.
pub fn same_content(a: &Path, b: &Path) -> io::Result<bool> {
    let (fa, fb) = (File::open(a)?, File::open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let mut ra = io::BufReader::with_capacity(1 << 20, fa);
    let mut rb = io::BufReader::with_capacity(1 << 20, fb);
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = ra.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        rb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}

/// What [`publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The name was new.
    Created,
    /// An existing object was replaced.
    Replaced,
}

/// Atomically moves the synced temp file `tmp` to `dest` (same directory)
/// and syncs the directory. With `replace == false` an existing `dest` is
/// left untouched and `AlreadyExists` is returned, atomically: of two
/// concurrent publishers of one new name, exactly one wins.
pub fn publish(tmp: &Path, dest: &Path, replace: bool) -> io::Result<Published> {
    publish_then(tmp, dest, replace, |_| {})
}

/// [`publish`], calling `visible` the moment the object is visible under
/// its name, before the directory sync: a sync that fails afterwards
/// still leaves the object in place, and whoever counts objects must know.
pub fn publish_then(
    tmp: &Path,
    dest: &Path,
    replace: bool,
    visible: impl FnOnce(Published),
) -> io::Result<Published> {
    let outcome = place(tmp, dest, replace)?;
    visible(outcome);
    sync_parent(dest)?;
    Ok(outcome)
}

/// Renames the synced temp file `tmp` to `dest` (same directory) without
/// syncing the directory: the caller must [`sync_parent`] before it
/// acknowledges. With `replace == false` an existing `dest` is left
/// untouched and `AlreadyExists` returned, atomically.
pub fn place(tmp: &Path, dest: &Path, replace: bool) -> io::Result<Published> {
    match renameat_with(CWD, tmp, CWD, dest, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(Published::Created),
        Err(Errno::EXIST) if replace => {
            fs::rename(tmp, dest)?;
            Ok(Published::Replaced)
        }
        Err(Errno::EXIST) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "object already exists",
        )),
        // Filesystems without RENAME_NOREPLACE: a hard link fails atomically
        // when the name exists, which gives the same guarantee.
        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => match fs::hard_link(tmp, dest) {
            Ok(()) => {
                // The object is in place; a temp name left behind is
                // removed at the next start.
                let _ = fs::remove_file(tmp);
                Ok(Published::Created)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && replace => {
                fs::rename(tmp, dest)?;
                Ok(Published::Replaced)
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e.into()),
    }
}

/// Syncs the directory holding `path`, making its entry durable.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Removes `path` and syncs its directory, calling `gone` the moment the
/// name is gone, before the sync; `Ok(false)` when it was absent.
pub fn remove_then(path: &Path, gone: impl FnOnce()) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => {
            gone();
            if let Some(dir) = path.parent() {
                sync_dir(dir)?;
            }
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether a directory entry name is one of our temp files.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX)
}
