//! Streaming an upload into a durable object.
//!
//! Bytes are gathered into blocks of [`WRITE_BLOCK`]; each full block is
//! hashed and written to a temp file on the blocking pool while the next
//! one is received, so the network, the hash and the disk work at once and
//! memory per upload stays near two blocks whatever the object's size.
//! Every [`FLUSH_EVERY`] bytes a background fdatasync starts the disk
//! writing early, so the fsync at the end has little left to wait for.
//! `commit` fsyncs the file, checks its digest, renames it into place and
//! fsyncs the directory; only then is the write acknowledged. Dropping an
//! upload at any point removes its temp file.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use shared_proto::Key;

use super::digest::{Blake2b256, to_hex};
use super::durable::{self, Published};
use super::error::{StoreError, StoreResult, io_err};
use super::ledger::{Change, Ledger};
use super::{CommitLock, blocking, blocks, hold, joined};

/// Bytes gathered before each write to disk.
pub const WRITE_BLOCK: usize = blocks::BLOCK;

/// Bytes written between two background flushes of a large upload.
pub const FLUSH_EVERY: u64 = 8 << 20;

/// A digest the finished object must have, and who claimed it.
#[derive(Debug, Clone)]
pub struct ExpectedDigest {
    /// Lowercase hex.
    pub hex: String,
    /// Where the expectation came from, for the error message.
    pub source: &'static str,
}

/// The temp file behind an upload. Its `Drop` removes the file unless it
/// was published, so an abandoned upload (error, client gone, task
/// cancelled mid-write) leaves nothing behind.
struct TempObject {
    path: PathBuf,
    file: File,
    hasher: Option<Blake2b256>,
    published: bool,
    /// Bytes written since the last background flush started.
    unflushed: u64,
    /// The background flush in progress, if any.
    flusher: Option<JoinHandle<()>>,
}

impl TempObject {
    /// Hashes and appends one block (blocking).
    fn write_block(&mut self, data: &[u8], key: &str) -> StoreResult<()> {
        if let Some(h) = self.hasher.as_mut() {
            h.update(data);
        }
        self.file
            .write_all(data)
            .map_err(|e| io_err(format!("write {key}"), e))?;
        self.unflushed += data.len() as u64;
        if self.unflushed >= FLUSH_EVERY && self.flusher.as_ref().is_none_or(|f| f.is_finished()) {
            // Best effort: the fsync at commit is what makes the object
            // durable and reports errors; this only starts the disk early.
            let spawned = self.file.try_clone().and_then(|file| {
                std::thread::Builder::new()
                    .name("vger-flush".into())
                    .spawn(move || {
                        let _ = file.sync_data();
                    })
            });
            // No thread to spare is no error: the commit's fsync remains.
            if let Ok(flusher) = spawned {
                self.flusher = Some(flusher);
                self.unflushed = 0;
            }
        }
        Ok(())
    }

    /// Waits for the background flush, if one is running.
    fn settle_flush(&mut self) {
        if let Some(f) = self.flusher.take() {
            let _ = f.join();
        }
    }

    /// The file now lives under its final name: nothing to clean up.
    fn disarm(&mut self) {
        self.published = true;
    }
}

impl Drop for TempObject {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A block being hashed and written; it hands back the temp file and its
/// emptied buffer for reuse.
type Writing = tokio::task::JoinHandle<StoreResult<(TempObject, Vec<u8>)>>;

/// An upload in progress.
pub struct Upload {
    /// The temp file, while no block is being written.
    temp: Option<TempObject>,
    /// The block being written, which holds the temp file meanwhile.
    writing: Option<Writing>,
    buf: Vec<u8>,
    received: u64,
    limit: u64,
    key: Key,
    dest: PathBuf,
    expected: Vec<ExpectedDigest>,
    commit_lock: CommitLock,
}

impl Upload {
    pub(super) fn new(
        temp_path: PathBuf,
        file: File,
        key: Key,
        dest: PathBuf,
        limit: u64,
        expected: Vec<ExpectedDigest>,
        commit_lock: CommitLock,
    ) -> Self {
        let hasher = (!expected.is_empty()).then(Blake2b256::new);
        Self {
            temp: Some(TempObject {
                path: temp_path,
                file,
                hasher,
                published: false,
                unflushed: 0,
                flusher: None,
            }),
            writing: None,
            buf: Vec::new(),
            received: 0,
            limit,
            key,
            dest,
            expected,
            commit_lock,
        }
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Adds the next piece of the body.
    pub async fn push(&mut self, mut chunk: Bytes) -> StoreResult<()> {
        self.received += chunk.len() as u64;
        if self.received > self.limit {
            return Err(StoreError::TooLarge { limit: self.limit });
        }
        // Blocks are filled to exactly WRITE_BLOCK, so a buffer never
        // grows past it: a chunk that does not fit is split.
        while !chunk.is_empty() {
            let take = (WRITE_BLOCK - self.buf.len()).min(chunk.len());
            if self.buf.len() + take > self.buf.capacity() {
                // Small objects start small; anything larger moves into a
                // whole block rather than growing by doublings.
                if self.buf.capacity() == 0 {
                    self.buf.reserve_exact(take.max(8 << 10));
                } else {
                    let mut block = blocks::take();
                    block.extend_from_slice(&self.buf);
                    self.buf = block;
                }
            }
            self.buf.extend_from_slice(&chunk.split_to(take));
            if self.buf.len() >= WRITE_BLOCK {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Starts writing the gathered bytes, once the previous block is on disk.
    async fn flush(&mut self) -> StoreResult<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let (mut temp, spare) = self.finish_writing().await?;
        let block = std::mem::replace(&mut self.buf, spare);
        let key = self.key.to_string();
        self.writing = Some(tokio::task::spawn_blocking(move || {
            temp.write_block(&block, &key)?;
            let mut block = block;
            block.clear();
            Ok((temp, block))
        }));
        Ok(())
    }

    /// Waits for the block being written, if any; returns the temp file
    /// and a buffer for the next block.
    async fn finish_writing(&mut self) -> StoreResult<(TempObject, Vec<u8>)> {
        match self.writing.take() {
            Some(task) => joined(task).await,
            // Only reachable without a temp file after an earlier write
            // failed and the caller pushed on regardless.
            None => self
                .temp
                .take()
                .map(|t| (t, blocks::take()))
                .ok_or_else(|| StoreError::Incomplete("upload used after a failed write".into())),
        }
    }

    /// Makes the object durable and visible, telling `ledger` (which may
    /// refuse it). With `replace == false` an existing object is kept and
    /// `Exists` returned, unless it already holds the same bytes.
    pub async fn commit(
        mut self,
        replace: bool,
        ledger: Arc<dyn Ledger>,
    ) -> StoreResult<Published> {
        self.flush().await?;
        let (mut temp, spare) = self.finish_writing().await?;
        blocks::give(spare);
        blocks::give(std::mem::take(&mut self.buf));
        let expected = std::mem::take(&mut self.expected);
        let the_key = self.key.clone();
        let key = self.key.to_string();
        let dest = self.dest.clone();
        let new = self.received;
        let commit_lock = self.commit_lock.clone();
        blocking(move || {
            if let Some(h) = temp.hasher.take() {
                let actual = to_hex(&h.finalize());
                if let Some(bad) = expected.iter().find(|e| e.hex != actual) {
                    return Err(StoreError::Conflict(format!(
                        "content of {key} hashes to {actual}, but the {} says {}; nothing was stored",
                        bad.source, bad.hex
                    )));
                }
            }
            // The fsync runs alongside a background flush still in flight
            // rather than after it: both wait on the same disk.
            let synced = temp.file.sync_all();
            temp.settle_flush();
            synced.map_err(|e| io_err(format!("sync {key}"), e))?;
            // Under the commit lock only what must be atomic with other
            // writers: the size replaced, the quota decision, the rename
            // and the bookkeeping in memory. The directory sync and the
            // ledger's save come after, so concurrent writers share them
            // instead of queueing behind each other's fsyncs.
            let commit = hold(&commit_lock);
            let old = std::fs::symlink_metadata(&dest)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            // A write-once object that exists is either refused or left as
            // it is below: nothing to admit.
            if replace || old.is_none() {
                ledger.admit(&the_key, old, new)?;
            }
            let placed = durable::place(&temp.path, &dest, replace);
            let identical = match &placed {
                Ok(p) => {
                    temp.disarm();
                    let old = match p {
                        Published::Created => None,
                        Published::Replaced => old,
                    };
                    ledger.record(Change::Stored {
                        key: &the_key,
                        old,
                        new,
                    });
                    false
                }
                // A write-once object sent again with the same bytes (a
                // retry after a lost reply) succeeds without replacing. The
                // comparison stays under the lock, so a concurrent delete
                // cannot turn the retry into a 404.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    match durable::same_content(&temp.path, &dest) {
                        Ok(true) => true,
                        Ok(false) => return Err(StoreError::Exists(key)),
                        Err(e) => return Err(io_err(format!("compare {key}"), e)),
                    }
                }
                Err(_) => false,
            };
            drop(commit);
            match placed {
                Ok(p) => {
                    // Saved even when the sync fails: the object is in place
                    // and counted, whatever the client is told.
                    let synced = durable::sync_parent(&dest);
                    ledger.persist();
                    synced.map_err(|e| io_err(format!("publish {key}"), e))?;
                    Ok(p)
                }
                // Acknowledged once the existing object is known to be
                // durable: its writer may not have synced the directory yet.
                Err(_) if identical => durable::sync_parent(&dest)
                    .map(|()| Published::Replaced)
                    .map_err(|e| io_err(format!("publish {key}"), e)),
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::ISDIR.raw_os_error()) => {
                    Err(StoreError::Conflict(format!(
                        "{key} is a directory on the server"
                    )))
                }
                Err(e) => Err(io_err(format!("publish {key}"), e)),
            }
        })
        .await
    }
}
