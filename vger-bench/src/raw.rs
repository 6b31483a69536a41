//! The raw-disk baseline: the same bytes written as files on the same
//! filesystem, durably (temp file, fsync, rename, directory fsync), and
//! read back. It does exactly the durable work the server must do, and
//! nothing else.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Writes `data` to `dir/name` the way a durable store must: a temp file
/// written and fsynced, renamed into place, and the directory fsynced.
pub fn durable_write(dir: &Path, name: &str, data: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".tmp-{name}"));
    let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    // Written in the blocks the server writes in, so neither side gains
    // from a different write size.
    for block in data.chunks(1 << 20) {
        f.write_all(block)?;
    }
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

/// Reads `path` whole in 1 MiB reads; returns the bytes read.
pub fn read_all(path: &Path) -> io::Result<u64> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

/// Reads `len` bytes at `offset` of `path` (opened for this read alone,
/// as a server answering a range request opens it).
pub fn read_range(path: &Path, offset: u64, len: usize) -> io::Result<u64> {
    let f = File::open(path)?;
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, offset)?;
    Ok(len as u64)
}

/// Names of every file below `dir`, recursively: what a listing must read.
pub fn walk(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            out.extend(walk(&e.path())?);
        } else {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(out)
}

/// Reads the first `n` bytes of every file below `dir`: the disk work of
/// a structural check that reads pack headers.
pub fn read_heads(dir: &Path, n: usize) -> io::Result<u64> {
    let mut count = 0;
    for e in fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            count += read_heads(&e.path(), n)?;
        } else {
            let mut buf = vec![0u8; n];
            let got = File::open(e.path())?.read(&mut buf)?;
            count += u64::from(got > 0);
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_durable_write_leaves_only_the_named_file() {
        let dir = tempfile::tempdir().unwrap();
        durable_write(dir.path(), "obj", b"hello").unwrap();
        assert_eq!(fs::read(dir.path().join("obj")).unwrap(), b"hello");
        assert_eq!(walk(dir.path()).unwrap(), vec!["obj".to_string()]);
    }

    #[test]
    fn reads_return_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        durable_write(dir.path(), "obj", &[7u8; 3000]).unwrap();
        let p = dir.path().join("obj");
        assert_eq!(read_all(&p).unwrap(), 3000);
        assert_eq!(read_range(&p, 1000, 64).unwrap(), 64);
        assert!(read_range(&p, 2990, 64).is_err());
        assert_eq!(read_heads(dir.path(), 9).unwrap(), 1);
    }
}
