//! What is on disk, read directly rather than through the server: temp
//! files left behind, and each repository's usage counted from its files
//! as `vger-server reconcile` counts it.

use std::io;
use std::path::{Path, PathBuf};

use shared_proto::{Key, KeyKind};

/// Usage of one repository.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of every object.
    pub bytes: u64,
    /// Number of objects.
    pub objects: u64,
    /// Number of packs.
    pub packs: u64,
}

/// Every file below `dir`, with its path relative to `dir`.
fn files(dir: &Path) -> io::Result<Vec<(PathBuf, String, u64)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in rd {
            let entry = entry?;
            let ft = entry.file_type()?;
            let path = entry.path();
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                let rel = path
                    .strip_prefix(dir)
                    .map_err(io::Error::other)?
                    .to_string_lossy()
                    .into_owned();
                out.push((path, rel, entry.metadata()?.len()));
            }
        }
    }
    Ok(out)
}

/// Temp files anywhere below `dir` (uploads, journal records, probes).
pub fn temp_files(dir: &Path) -> io::Result<Vec<String>> {
    Ok(files(dir)?
        .into_iter()
        .filter(|(_, rel, _)| rel.split('/').any(|c| c.starts_with(".vger-tmp")))
        .map(|(_, rel, _)| rel)
        .collect())
}

/// The usage of the repository in `repo_dir`: valid keys only.
pub fn usage(repo_dir: &Path) -> io::Result<Usage> {
    let mut u = Usage::default();
    for (_, rel, len) in files(repo_dir)? {
        if let Ok(key) = Key::parse(&rel) {
            u.bytes += len;
            u.objects += 1;
            if key.kind() == KeyKind::Pack {
                u.packs += 1;
            }
        }
    }
    Ok(u)
}
