//! Server-side repack: copying the blobs a client still needs out of old
//! packs into new ones, without the client downloading them.
//!
//! The order of work is what makes it safe:
//! 1. the whole plan is checked (every source readable, every blob on a
//!    record boundary) before anything is written;
//! 2. every new pack is written, fsynced, named by its BLAKE2b-256 and
//!    published;
//! 3. only then are sources deleted, each after its result was journalled.
//!
//! A plan that fails at any step deletes nothing. The journal lets the same
//! plan, sent again after its sources were deleted (a retry after a lost
//! reply), get the same answer.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use shared_proto::api::{
    BlobRef, MAX_PLAN_PROTOCOL_VERSION, MAX_REPACK_BLOBS_PER_OP, MAX_REPACK_OPS, RepackDone,
    RepackOp, RepackPlan, RepackResult,
};
use shared_proto::pack::{PACK_HEADER_LEN, RECORD_PREFIX_LEN, offsets_for, pack_header};
use shared_proto::{Key, KeyKind, RepoName};

use super::digest::{Blake2b256, to_hex};
use super::durable::{self, create_temp};
use super::error::{StoreError, StoreResult, io_err};
use super::ledger::{Change, Ledger};
use super::paths::Layout;
use super::{CommitLock, hold};
use super::{RepoStore, blocking};

/// Copy buffer for blob data.
const COPY_BUF: usize = 1 << 20;

/// What the journal remembers of a repack whose source was deleted.
#[derive(Debug, Serialize, Deserialize)]
struct JournalEntry {
    keep_blobs: Vec<BlobRef>,
    done: RepackDone,
}

/// A checked operation, ready to run.
struct CheckedOp {
    source: Key,
    op: RepackOp,
    /// Set when the source is gone but the journal holds this op's answer.
    replayed: Option<RepackDone>,
}

fn invalid(msg: String) -> StoreError {
    StoreError::Invalid(format!("repack: {msg}; nothing was changed"))
}

/// Checks the plan's shape before touching the disk.
fn check_shape(plan: &RepackPlan) -> StoreResult<Vec<Key>> {
    if plan.protocol_version > MAX_PLAN_PROTOCOL_VERSION {
        return Err(invalid(format!(
            "protocol_version {} is not supported (this server accepts 0 to {MAX_PLAN_PROTOCOL_VERSION})",
            plan.protocol_version
        )));
    }
    if plan.operations.len() > MAX_REPACK_OPS {
        return Err(invalid(format!(
            "the plan has {} operations; the limit is {MAX_REPACK_OPS}",
            plan.operations.len()
        )));
    }
    plan.operations
        .iter()
        .map(|op| {
            let key = Key::parse(&op.source_pack)
                .ok()
                .filter(|k| k.kind() == KeyKind::Pack)
                .ok_or_else(|| {
                    invalid(format!(
                        "source_pack {:?} is not a pack key",
                        op.source_pack
                    ))
                })?;
            if op.keep_blobs.len() > MAX_REPACK_BLOBS_PER_OP {
                return Err(invalid(format!(
                    "{} keeps {} blobs; the limit is {MAX_REPACK_BLOBS_PER_OP}",
                    op.source_pack,
                    op.keep_blobs.len()
                )));
            }
            for b in &op.keep_blobs {
                if b.length == 0 || b.length > u64::from(u32::MAX) {
                    return Err(invalid(format!(
                        "blob length {} in {} is outside 1..={}",
                        b.length,
                        op.source_pack,
                        u32::MAX
                    )));
                }
                if b.offset.checked_add(b.length).is_none() {
                    return Err(invalid(format!(
                        "blob offset {} in {} overflows",
                        b.offset, op.source_pack
                    )));
                }
            }
            Ok(key)
        })
        .collect()
}

/// Checks that every kept blob lies inside `file` on a record boundary.
fn check_blobs(file: &File, size: u64, op: &RepackOp) -> StoreResult<()> {
    let mut prefix = [0u8; 4];
    for b in &op.keep_blobs {
        let inside = b.offset >= PACK_HEADER_LEN + RECORD_PREFIX_LEN && b.offset + b.length <= size;
        if !inside {
            return Err(invalid(format!(
                "blob at offset {} length {} lies outside {} ({size} bytes)",
                b.offset, b.length, op.source_pack
            )));
        }
        file.read_exact_at(&mut prefix, b.offset - RECORD_PREFIX_LEN)
            .map_err(|e| io_err(format!("read {}", op.source_pack), e))?;
        let framed = u64::from(u32::from_le_bytes(prefix));
        if framed != b.length {
            return Err(invalid(format!(
                "blob at offset {} length {} of {} is not on a record boundary (the record there is {framed} bytes)",
                b.offset, b.length, op.source_pack
            )));
        }
    }
    Ok(())
}

/// Whether keeping `blobs` of a `size`-byte pack would reproduce it exactly.
fn keeps_everything(size: u64, blobs: &[BlobRef]) -> bool {
    let total: u64 = PACK_HEADER_LEN
        + blobs
            .iter()
            .map(|b| RECORD_PREFIX_LEN + b.length)
            .sum::<u64>();
    total == size
        && offsets_for(blobs.iter().map(|b| b.length))
            .iter()
            .zip(blobs)
            .all(|(o, b)| *o == b.offset)
}

/// What a checked plan adds (new packs) and frees (sources it deletes), in
/// bytes, by the same decisions the repack then takes: an op that keeps a
/// whole pack keeps the pack (no new bytes, no deletion), identical ops
/// write one pack, and a source is freed once, unless an op keeps it.
fn budget(checked: &[CheckedOp], sizes: &HashMap<Key, u64>) -> (u64, u64) {
    let mut kept_whole: HashSet<&Key> = HashSet::new();
    let mut written: HashSet<(&Key, Vec<(u64, u64)>)> = HashSet::new();
    let mut grow: u64 = 0;
    for c in checked.iter().filter(|c| c.replayed.is_none()) {
        let Some(&size) = sizes.get(&c.source) else {
            continue;
        };
        if c.op.keep_blobs.is_empty() {
            continue;
        }
        if keeps_everything(size, &c.op.keep_blobs) {
            kept_whole.insert(&c.source);
            continue;
        }
        let blobs: Vec<(u64, u64)> =
            c.op.keep_blobs
                .iter()
                .map(|b| (b.offset, b.length))
                .collect();
        if written.insert((&c.source, blobs)) {
            let bytes = c.op.keep_blobs.iter().fold(PACK_HEADER_LEN, |acc, b| {
                acc.saturating_add(RECORD_PREFIX_LEN.saturating_add(b.length))
            });
            grow = grow.saturating_add(bytes);
        }
    }
    let mut freed_sources: HashSet<&Key> = HashSet::new();
    let mut freed: u64 = 0;
    for c in checked
        .iter()
        .filter(|c| c.replayed.is_none() && c.op.delete_after)
    {
        if kept_whole.contains(&c.source) {
            continue;
        }
        if let Some(&size) = sizes.get(&c.source) {
            if freed_sources.insert(&c.source) {
                freed = freed.saturating_add(size);
            }
        }
    }
    (grow, freed)
}

/// Writes the new pack for `op`, returning its key.
fn write_new_pack(
    layout: &Layout,
    repo: &RepoName,
    op: &RepackOp,
    commit_lock: &CommitLock,
    ledger: &dyn Ledger,
) -> StoreResult<Key> {
    let packs_dir = layout.repo_dir(repo).join("packs");
    let src_path = layout.repo_dir(repo).join(&op.source_pack);
    let src = File::open(&src_path).map_err(|e| io_err(op.source_pack.clone(), e))?;
    let (tmp_path, tmp) = create_temp(&packs_dir).map_err(|e| io_err("create a temp pack", e))?;
    let guard = TempGuard(Some(tmp_path.clone()));
    let mut out = BufWriter::with_capacity(COPY_BUF, tmp);
    let mut hasher = Blake2b256::new();
    let mut emit = |bytes: &[u8], out: &mut BufWriter<File>| -> io::Result<()> {
        hasher.update(bytes);
        out.write_all(bytes)
    };
    let werr = |e| io_err("write a new pack", e);
    emit(&pack_header(), &mut out).map_err(werr)?;
    let mut buf = vec![0u8; COPY_BUF];
    for b in &op.keep_blobs {
        // check_shape bounds every length to u32.
        emit(&(b.length as u32).to_le_bytes(), &mut out).map_err(werr)?;
        let mut pos = b.offset;
        let end = b.offset + b.length;
        while pos < end {
            let n = ((end - pos) as usize).min(COPY_BUF);
            src.read_exact_at(&mut buf[..n], pos)
                .map_err(|e| io_err(format!("read {}", op.source_pack), e))?;
            emit(&buf[..n], &mut out).map_err(werr)?;
            pos += n as u64;
        }
    }
    let file = out.into_inner().map_err(|e| werr(e.into_error()))?;
    file.sync_all().map_err(werr)?;
    let new_size = file.metadata().map_err(werr)?.len();
    let hex = to_hex(&hasher.finalize());
    let key = Key::for_pack(&hex).map_err(|e| invalid(e.to_string()))?;
    let dest = layout.object(repo, &key);
    let shard_dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
    layout
        .ensure_dir(&shard_dir)
        .map_err(|e| io_err("create a pack shard", e))?;
    let _commit = hold(commit_lock);
    let published = durable::publish_then(&tmp_path, &dest, false, |_| {
        ledger.record(Change::Stored {
            key: &key,
            old: None,
            new: new_size,
        });
    });
    match published {
        Ok(_) => {}
        // A pack of this name exists. Sources are deleted on the strength
        // of it, so trust it only if it holds our bytes; otherwise it is
        // damaged (its name is its hash) and ours replaces it.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let same = durable::same_content(&tmp_path, &dest)
                .map_err(|e| io_err(format!("compare {key}"), e))?;
            if !same {
                tracing::warn!(pack = %key, "replacing a damaged pack with the repacked copy");
                let old = fs::symlink_metadata(&dest).ok().map(|m| m.len());
                fs::rename(&tmp_path, &dest).map_err(|e| io_err(format!("publish {key}"), e))?;
                ledger.record(Change::Stored {
                    key: &key,
                    old,
                    new: new_size,
                });
                durable::sync_dir(&shard_dir).map_err(|e| io_err(format!("sync {key}"), e))?;
            }
            // Whoever put it there may not have synced its directory yet.
            durable::sync_dir(&shard_dir).map_err(|e| io_err(format!("sync {key}"), e))?;
        }
        Err(e) => return Err(io_err(format!("publish {key}"), e)),
    }
    ledger.persist();
    drop(guard);
    // The temp name left `packs/`; make that durable too.
    durable::sync_dir(&packs_dir).map_err(|e| io_err("sync packs/", e))?;
    Ok(key)
}

/// Removes a temp file unless it was published (then the name is gone and
/// removal is a harmless miss).
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// One record per (source, kept blobs): a plan may name a source twice.
fn journal_path(journal_dir: &Path, source: &Key, keep: &[BlobRef]) -> PathBuf {
    let mut h = Blake2b256::new();
    for b in keep {
        h.update(&b.offset.to_le_bytes());
        h.update(&b.length.to_le_bytes());
    }
    let keep_digest = to_hex(&h.finalize());
    journal_dir.join(format!(
        "{}-{}.json",
        source.pack_hex().unwrap_or_default(),
        &keep_digest[..16]
    ))
}

fn read_journal(journal_dir: &Path, source: &Key, keep: &[BlobRef]) -> Option<RepackDone> {
    let bytes = fs::read(journal_path(journal_dir, source, keep)).ok()?;
    let entry: JournalEntry = serde_json::from_slice(&bytes).ok()?;
    (entry.keep_blobs == keep).then_some(entry.done)
}

fn write_journal(
    layout: &Layout,
    journal_dir: &Path,
    source: &Key,
    keep: &[BlobRef],
    done: &RepackDone,
) -> io::Result<()> {
    if journal_dir.starts_with(layout.root()) {
        layout.ensure_dir(journal_dir)?;
    } else {
        durable::private_dir_builder()
            .recursive(true)
            .create(journal_dir)?;
    }
    let entry = JournalEntry {
        keep_blobs: keep.to_vec(),
        done: done.clone(),
    };
    let (tmp, mut file) = create_temp(journal_dir)?;
    let _guard = TempGuard(Some(tmp.clone()));
    file.write_all(&serde_json::to_vec(&entry).map_err(io::Error::other)?)?;
    file.sync_all()?;
    durable::publish(&tmp, &journal_path(journal_dir, source, keep), true)?;
    Ok(())
}

impl RepoStore {
    /// Runs a repack plan on `repo`. `journal_dir` holds this repository's
    /// record of completed deletions (see the module docs).
    pub async fn repack(
        &self,
        repo: &RepoName,
        plan: RepackPlan,
        journal_dir: PathBuf,
        ledger: Arc<dyn Ledger>,
    ) -> StoreResult<RepackResult> {
        let keys = check_shape(&plan)?;
        let layout = self.layout.clone();
        let commit_lock = self.commit_lock(repo);
        // One repack per repository at a time. The guard moves into the
        // blocking task, so it is held until the work is done even if the
        // client gives up: its retry waits, then replays from the journal.
        let serial = self.repo_serial(repo).lock_owned().await;
        let repo = repo.clone();
        blocking(move || {
            let _serial = serial;
            let repo_dir = layout.repo_dir(&repo);
            layout.guard(&repo_dir)?;
            if !repo_dir.is_dir() {
                return Err(StoreError::NotFound(format!("repository {repo}")));
            }
            // 1. Check every operation before writing anything.
            let mut checked = Vec::with_capacity(keys.len());
            for (source, op) in keys.into_iter().zip(plan.operations) {
                let path = layout.object(&repo, &source);
                layout.guard(&path)?;
                let mut replayed = None;
                if !op.keep_blobs.is_empty() {
                    match File::open(&path) {
                        Ok(f) => {
                            let size = f
                                .metadata()
                                .map_err(|e| io_err(source.to_string(), e))?
                                .len();
                            check_blobs(&f, size, &op)?;
                        }
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {
                            let done = read_journal(&journal_dir, &source, &op.keep_blobs)
                                .ok_or_else(|| {
                                    StoreError::NotFound(format!("repack source pack {source}"))
                                })?;
                            // Never answer with a pack that is no longer there:
                            // the client would commit an index pointing at it.
                            let new_pack_present = done.new_pack.as_deref().is_none_or(|k| {
                                Key::parse(k).is_ok_and(|k| layout.object(&repo, &k).is_file())
                            });
                            if !new_pack_present {
                                return Err(StoreError::Conflict(format!(
                                    "repack: {source} was repacked earlier into {}, which is gone; nothing was changed",
                                    done.new_pack.unwrap_or_default()
                                )));
                            }
                            replayed = Some(done);
                        }
                        Err(e) => return Err(io_err(format!("open {source}"), e)),
                    }
                }
                checked.push(CheckedOp {
                    source,
                    op,
                    replayed,
                });
            }
            // 2. Hold room for what the plan adds beyond what it frees, as
            // steps 3 and 4 will decide, before writing anything.
            let mut sizes: HashMap<Key, u64> = HashMap::new();
            for c in &checked {
                if let Ok(md) = fs::symlink_metadata(layout.object(&repo, &c.source)) {
                    sizes.insert(c.source.clone(), md.len());
                }
            }
            let (grow, freed) = budget(&checked, &sizes);
            ledger.reserve(grow.saturating_sub(freed))?;
            // 3. Write every new pack.
            let mut results = Vec::with_capacity(checked.len());
            for c in &checked {
                if let Some(done) = &c.replayed {
                    results.push(done.clone());
                    continue;
                }
                if c.op.keep_blobs.is_empty() {
                    results.push(RepackDone {
                        source_pack: c.op.source_pack.clone(),
                        new_pack: None,
                        new_offsets: Vec::new(),
                        deleted: c.op.delete_after,
                    });
                    continue;
                }
                let size = match sizes.get(&c.source) {
                    Some(s) => *s,
                    None => {
                        let s = fs::metadata(layout.object(&repo, &c.source))
                            .map_err(|e| io_err(c.source.to_string(), e))?
                            .len();
                        sizes.insert(c.source.clone(), s);
                        s
                    }
                };
                let lengths = c.op.keep_blobs.iter().map(|b| b.length);
                let (new_key, deleted) = if keeps_everything(size, &c.op.keep_blobs) {
                    (c.source.clone(), false)
                } else {
                    (
                        write_new_pack(&layout, &repo, &c.op, &commit_lock, ledger.as_ref())?,
                        c.op.delete_after,
                    )
                };
                results.push(RepackDone {
                    source_pack: c.op.source_pack.clone(),
                    new_pack: Some(new_key.to_string()),
                    new_offsets: offsets_for(lengths),
                    deleted,
                });
            }
            // 4. Every new pack is durable: now the sources may go, except
            // one that another operation just produced.
            let produced: std::collections::HashSet<String> =
                results.iter().filter_map(|d| d.new_pack.clone()).collect();
            for (c, done) in checked.iter().zip(results.iter_mut()) {
                if !done.deleted || c.replayed.is_some() {
                    continue;
                }
                if produced.contains(c.source.as_str()) {
                    done.deleted = false;
                    continue;
                }
                if !c.op.keep_blobs.is_empty() {
                    write_journal(&layout, &journal_dir, &c.source, &c.op.keep_blobs, done)
                        .map_err(|e| io_err("record the repack in its journal", e))?;
                }
                let path = layout.object(&repo, &c.source);
                let _commit = hold(&commit_lock);
                let bytes = fs::symlink_metadata(&path).map(|m| m.len()).unwrap_or(0);
                durable::remove_then(&path, || {
                    ledger.record(Change::Removed {
                        key: &c.source,
                        bytes,
                    });
                })
                .map_err(|e| io_err(format!("delete {}", c.source), e))?;
                ledger.persist();
            }
            Ok(RepackResult { completed: results })
        })
        .await
    }
}
