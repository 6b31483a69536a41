//! Checks that need no encryption key: a repository's shape
//! (`verify-structure`, headers only) and packs' integrity (`verify-packs`,
//! whole files).

use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, SystemTime};

use rustix::fs::{Mode, OFlags, fstat, openat};
use rustix::io::pread;

use shared_proto::api::{
    BlobRef, MAX_PLAN_PROTOCOL_VERSION, MAX_VERIFY_BYTES, MAX_VERIFY_PACKS, PackVerdict,
    StructureReport, VerifyPack, VerifyPacksPlan, VerifyPacksResult,
};
use shared_proto::pack::{PACK_HEADER_LEN, is_pack_header};
use shared_proto::{DirKey, Key, KeyKind, ObjectPath, RepoName};

use super::digest::{Blake2b256, to_hex};
use super::error::{StoreError, StoreResult, io_err};
use super::parallel::map_on_cores;
use super::paths::Layout;
use super::{RepoStore, blocking};

const READ_BUF: usize = 1 << 20;

/// What the structure check found in one shard directory.
#[derive(Debug, Default)]
struct ShardReport {
    packs: u64,
    bytes: u64,
    errors: Vec<String>,
}

/// Checks the header of the pack `name` in the shard open as `dir`.
/// Opening relative to the shard (and never through a symlink) keeps the
/// per-pack cost at four short system calls, which matters at 50,000 packs.
fn check_pack(dir: &OwnedFd, name: &str, key: &str, report: &mut ShardReport) {
    let opened = openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NOATIME,
        Mode::empty(),
    )
    .or_else(|e| {
        // O_NOATIME is refused for files the server does not own.
        if e == rustix::io::Errno::PERM {
            openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Mode::empty(),
            )
        } else {
            Err(e)
        }
    });
    let fd = match opened {
        Ok(fd) => fd,
        Err(e) => {
            report
                .errors
                .push(format!("read error for {key}: {}", io::Error::from(e)));
            return;
        }
    };
    let size = match fstat(&fd) {
        Ok(st) => st.st_size as u64,
        Err(e) => {
            report
                .errors
                .push(format!("read error for {key}: {}", io::Error::from(e)));
            return;
        }
    };
    report.packs += 1;
    report.bytes += size;
    if size < PACK_HEADER_LEN {
        report
            .errors
            .push(format!("pack too small ({size} bytes): {key}"));
        return;
    }
    let mut head = [0u8; PACK_HEADER_LEN as usize];
    let mut got = 0;
    while got < head.len() {
        match pread(&fd, &mut head[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                report
                    .errors
                    .push(format!("read error for {key}: {}", io::Error::from(e)));
                return;
            }
        }
    }
    if got < head.len() || !is_pack_header(&head) {
        report.errors.push(format!("invalid pack header: {key}"));
    }
}

/// Checks every pack of the shard directory `packs/<shard>`.
fn check_shard(path: &Path, shard: &str) -> io::Result<ShardReport> {
    let mut report = ShardReport::default();
    let dir = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )?;
    for pack in fs::read_dir(path)? {
        let pack = pack?;
        let pname = pack.file_name().to_string_lossy().into_owned();
        if pname.starts_with('.') {
            continue;
        }
        let key = format!("packs/{shard}/{pname}");
        let is_pack = Key::parse(&key).is_ok_and(|k| k.kind() == KeyKind::Pack);
        if !pack.file_type()?.is_file() || !is_pack {
            report.errors.push(format!("invalid pack name: {key}"));
            continue;
        }
        check_pack(&dir, &pname, &key, &mut report);
    }
    Ok(report)
}

/// Checks `shards` on every core.
fn check_shards(packs: &Path, shards: &[String]) -> io::Result<ShardReport> {
    let parts = map_on_cores(shards, |shard| check_shard(&packs.join(shard), shard))?;
    let mut total = ShardReport::default();
    for part in parts {
        total.packs += part.packs;
        total.bytes += part.bytes;
        total.errors.extend(part.errors);
    }
    Ok(total)
}

fn structure(layout: &Layout, repo: &RepoName, lock_ttl: Duration) -> io::Result<StructureReport> {
    let dir = layout.repo_dir(repo);
    let mut errors = Vec::new();
    let has = |name: &str| dir.join(name).is_file();
    for required in ["config", "index", "keys/repokey"] {
        if !has(required) {
            errors.push(format!("missing required file: {required}"));
        }
    }
    // 0.7-layout repositories commit through `manifest`; later clients keep
    // `index.gen` instead. One of the two must be there.
    if !has("manifest") && !has("index.gen") {
        errors.push(
            "missing required file: manifest (0.7 layout) or index.gen (later clients)".into(),
        );
    }
    let mut pack_count = 0;
    let mut total_size = 0;
    let packs = dir.join("packs");
    if packs.is_dir() {
        let mut shards = Vec::new();
        for shard in fs::read_dir(&packs)? {
            let shard = shard?;
            let name = shard.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            // The key rules of shared-proto decide what a shard and a pack
            // name look like, so the check and the API cannot disagree.
            let is_shard = matches!(
                ObjectPath::parse(&format!("packs/{name}/")),
                Ok(ObjectPath::Dir(DirKey::PackShard(_)))
            );
            if !shard.file_type()?.is_dir() || !is_shard {
                errors.push(format!("invalid shard directory: packs/{name}"));
                continue;
            }
            shards.push(name);
        }
        let found = check_shards(&packs, &shards)?;
        pack_count = found.packs;
        total_size = found.bytes;
        errors.extend(found.errors);
    }
    let mut stale_locks = 0;
    let now = SystemTime::now();
    if let Ok(entries) = fs::read_dir(dir.join("locks")) {
        for entry in entries {
            let entry = entry?;
            let valid =
                Key::parse(&format!("locks/{}", entry.file_name().to_string_lossy())).is_ok();
            if !valid {
                continue;
            }
            let age = entry
                .metadata()?
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            if age > lock_ttl {
                stale_locks += 1;
            }
        }
    }
    Ok(StructureReport {
        ok: errors.is_empty(),
        errors,
        pack_count,
        total_size,
        stale_locks,
    })
}

/// What one read of a pack found.
struct PackScan {
    /// BLAKE2b-256 of the whole file, lowercase hex.
    digest: String,
    /// The file starts with a valid header.
    header_ok: bool,
    /// The framing parsed to the end and every expected blob is a record.
    blobs_ok: bool,
}

/// Matches expected blobs against records as the walk meets them, in
/// memory proportional to the request, not to the pack's record count.
struct BlobMatcher {
    /// Expected `(offset, length)`, sorted and deduplicated.
    expected: Vec<(u64, u64)>,
    next: usize,
    ok: bool,
}

impl BlobMatcher {
    fn new(blobs: &[BlobRef]) -> Self {
        let mut expected: Vec<(u64, u64)> = blobs.iter().map(|b| (b.offset, b.length)).collect();
        expected.sort_unstable();
        expected.dedup();
        Self {
            expected,
            next: 0,
            ok: true,
        }
    }

    /// A record at `start` of `len` bytes was found.
    fn record(&mut self, start: u64, len: u64) {
        while let Some(&(off, l)) = self.expected.get(self.next) {
            if off > start {
                break;
            }
            // An expected blob before this record's start, or at it with
            // another length, is not on a record boundary.
            if off < start || l != len {
                self.ok = false;
            }
            self.next += 1;
        }
    }

    /// The walk is over; `framing_ok` says whether it reached the end cleanly.
    fn finish(self, framing_ok: bool) -> bool {
        framing_ok && self.ok && self.next == self.expected.len()
    }
}

/// Reads a whole pack once, hashing it and walking its record framing.
fn inspect_pack(file: File, expected: &[BlobRef]) -> io::Result<PackScan> {
    let mut r = BufReader::with_capacity(READ_BUF, file);
    let mut hasher = Blake2b256::new();
    let mut head = [0u8; PACK_HEADER_LEN as usize];
    let mut got = 0;
    while got < head.len() {
        let n = r.read(&mut head[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    hasher.update(&head[..got]);
    let header_ok = got == head.len() && is_pack_header(&head);
    let mut matcher = BlobMatcher::new(expected);
    let mut framing_ok = header_ok;
    let mut pos = got as u64;
    let mut buf = vec![0u8; READ_BUF];
    loop {
        // Read one record prefix; a clean end of file here ends the pack.
        let mut prefix = [0u8; 4];
        let mut n = 0;
        while n < 4 {
            let m = r.read(&mut prefix[n..])?;
            if m == 0 {
                break;
            }
            n += m;
        }
        hasher.update(&prefix[..n]);
        pos += n as u64;
        if n == 0 {
            break;
        }
        if n < 4 {
            framing_ok = false;
            break;
        }
        let len = u64::from(u32::from_le_bytes(prefix));
        let start = pos;
        let mut left = len;
        while left > 0 {
            let want = (left as usize).min(READ_BUF);
            let m = r.read(&mut buf[..want])?;
            if m == 0 {
                break;
            }
            hasher.update(&buf[..m]);
            left -= m as u64;
            pos += m as u64;
        }
        if left > 0 {
            framing_ok = false;
            break;
        }
        matcher.record(start, len);
    }
    // Whatever framing said, hash the rest so hash_valid covers the file.
    loop {
        let m = r.read(&mut buf)?;
        if m == 0 {
            break;
        }
        hasher.update(&buf[..m]);
    }
    Ok(PackScan {
        digest: to_hex(&hasher.finalize()),
        header_ok,
        blobs_ok: matcher.finish(framing_ok),
    })
}

fn verdict(layout: &Layout, repo: &RepoName, p: &VerifyPack, key: &Key, size: u64) -> PackVerdict {
    let mut v = PackVerdict {
        pack_key: p.pack_key.clone(),
        hash_valid: false,
        header_valid: false,
        blobs_valid: false,
        error: None,
    };
    let file = match File::open(layout.object(repo, key)) {
        Ok(f) => f,
        Err(e) => {
            v.error = Some(format!("read failed: {e}"));
            return v;
        }
    };
    let PackScan {
        digest: actual,
        header_ok,
        blobs_ok,
    } = match inspect_pack(file, &p.expected_blobs) {
        Ok(x) => x,
        Err(e) => {
            v.error = Some(format!("read error: {e}"));
            return v;
        }
    };
    let expected = key.pack_hex().unwrap_or_default();
    v.hash_valid = actual == expected;
    v.header_valid = header_ok;
    v.blobs_valid = blobs_ok;
    v.error = if !v.hash_valid {
        Some(format!("hash mismatch: expected {expected}, got {actual}"))
    } else if size != p.expected_size {
        Some(format!(
            "size mismatch: expected {}, got {size}",
            p.expected_size
        ))
    } else if !v.header_valid {
        Some("invalid pack header".into())
    } else if !v.blobs_valid {
        Some("blob boundary mismatch".into())
    } else {
        None
    };
    v
}

fn check_verify_plan(plan: &VerifyPacksPlan) -> StoreResult<Vec<Key>> {
    let bad = |m: String| StoreError::Invalid(format!("verify-packs: {m}"));
    if plan.protocol_version > MAX_PLAN_PROTOCOL_VERSION {
        return Err(bad(format!(
            "protocol_version {} is not supported (this server accepts 0 to {MAX_PLAN_PROTOCOL_VERSION})",
            plan.protocol_version
        )));
    }
    if plan.packs.len() > MAX_VERIFY_PACKS {
        return Err(bad(format!(
            "{} packs requested; the limit is {MAX_VERIFY_PACKS} per request",
            plan.packs.len()
        )));
    }
    let mut total: u64 = 0;
    let mut keys = Vec::with_capacity(plan.packs.len());
    for p in &plan.packs {
        let key = Key::parse(&p.pack_key)
            .ok()
            .filter(|k| k.kind() == KeyKind::Pack)
            .ok_or_else(|| bad(format!("{:?} is not a pack key", p.pack_key)))?;
        if p.expected_size == 0 {
            return Err(bad(format!(
                "expected_size of {} must be above 0",
                p.pack_key
            )));
        }
        if p.expected_blobs
            .iter()
            .any(|b| b.length == 0 || b.length > u64::from(u32::MAX))
        {
            return Err(bad(format!(
                "a blob length of {} is outside 1..={}",
                p.pack_key,
                u32::MAX
            )));
        }
        total = total.saturating_add(p.expected_size);
        keys.push(key);
    }
    if total > MAX_VERIFY_BYTES {
        return Err(bad(format!(
            "the packs add up to {total} bytes; the limit is {MAX_VERIFY_BYTES} per request"
        )));
    }
    Ok(keys)
}

impl RepoStore {
    /// Checks the shape of `repo` reading only pack headers.
    pub async fn verify_structure(
        &self,
        repo: &RepoName,
        lock_ttl: Duration,
    ) -> StoreResult<StructureReport> {
        let layout = self.layout.clone();
        let repo = repo.clone();
        blocking(move || {
            let dir = layout.repo_dir(&repo);
            layout.guard(&dir)?;
            if !dir.is_dir() {
                return Err(StoreError::NotFound(format!("repository {repo}")));
            }
            structure(&layout, &repo, lock_ttl).map_err(|e| io_err(format!("check {repo}"), e))
        })
        .await
    }

    /// Hashes and parses the packs a client names, reporting per pack.
    pub async fn verify_packs(
        &self,
        repo: &RepoName,
        plan: VerifyPacksPlan,
    ) -> StoreResult<VerifyPacksResult> {
        let keys = check_verify_plan(&plan)?;
        let layout = self.layout.clone();
        let repo = repo.clone();
        blocking(move || {
            let mut results = Vec::with_capacity(keys.len());
            let mut read: u64 = 0;
            let mut truncated = false;
            for (p, key) in plan.packs.iter().zip(&keys) {
                let path = layout.object(&repo, key);
                layout.guard(&path)?;
                let size = match fs::metadata(&path) {
                    Ok(md) => md.len(),
                    Err(e) => {
                        results.push(PackVerdict {
                            pack_key: p.pack_key.clone(),
                            hash_valid: false,
                            header_valid: false,
                            blobs_valid: false,
                            error: Some(format!("stat failed: {e}")),
                        });
                        continue;
                    }
                };
                // Declared sizes were bounded; real ones may be larger.
                if read.saturating_add(size) > MAX_VERIFY_BYTES {
                    truncated = true;
                    break;
                }
                read += size;
                results.push(verdict(&layout, &repo, p, key, size));
            }
            Ok(VerifyPacksResult { results, truncated })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs(v: &[(u64, u64)]) -> Vec<BlobRef> {
        v.iter()
            .map(|&(offset, length)| BlobRef { offset, length })
            .collect()
    }

    fn check(expected: &[(u64, u64)], records: &[(u64, u64)]) -> bool {
        let mut m = BlobMatcher::new(&blobs(expected));
        for &(s, l) in records {
            m.record(s, l);
        }
        m.finish(true)
    }

    #[test]
    fn expected_blobs_must_each_be_a_record() {
        let records = [(13, 5), (22, 3), (29, 100)];
        assert!(check(&[], &records));
        assert!(check(&[(22, 3)], &records));
        assert!(check(&[(29, 100), (13, 5), (29, 100)], &records));
        assert!(!check(&[(14, 4)], &records), "inside a record");
        assert!(!check(&[(22, 4)], &records), "wrong length");
        assert!(!check(&[(200, 1)], &records), "past the last record");
        assert!(!check(&[(5, 1)], &records), "inside the header");
    }
}
