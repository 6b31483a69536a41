//! Streaming an upload into a durable object.
//!
//! Bytes are gathered into blocks of [`WRITE_BLOCK`] and written to a temp
//! file on the blocking pool, so memory per upload stays near one block
//! whatever the object's size. `commit` fsyncs the file, checks its digest,
//! renames it into place and fsyncs the directory; only then is the write
//! acknowledged. Dropping an upload at any point removes its temp file.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use blake2::Digest;
use bytes::{Bytes, BytesMut};
use shared_proto::Key;

use super::digest::{Blake2b256, to_hex};
use super::durable::{self, Published};
use super::error::{StoreError, StoreResult, io_err};
use super::ledger::{Change, Ledger};
use super::{CommitLock, blocking, hold};

/// Bytes gathered before each write to disk.
pub const WRITE_BLOCK: usize = 1 << 20;

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
}

impl TempObject {
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

/// An upload in progress.
pub struct Upload {
    temp: Option<TempObject>,
    buf: BytesMut,
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
            }),
            buf: BytesMut::with_capacity(WRITE_BLOCK),
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
    pub async fn push(&mut self, chunk: Bytes) -> StoreResult<()> {
        self.received += chunk.len() as u64;
        if self.received > self.limit {
            return Err(StoreError::TooLarge { limit: self.limit });
        }
        self.buf.extend_from_slice(&chunk);
        if self.buf.len() >= WRITE_BLOCK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> StoreResult<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = self.buf.split().freeze();
        let mut temp = self.take_temp()?;
        let key = self.key.to_string();
        let temp = blocking(move || {
            if let Some(h) = temp.hasher.as_mut() {
                h.update(&data);
            }
            temp.file
                .write_all(&data)
                .map_err(|e| io_err(format!("write {key}"), e))?;
            Ok(temp)
        })
        .await?;
        self.temp = Some(temp);
        Ok(())
    }

    fn take_temp(&mut self) -> StoreResult<TempObject> {
        // Only reachable after an earlier write failed and the caller
        // pushed on regardless.
        self.temp
            .take()
            .ok_or_else(|| StoreError::Incomplete("upload used after a failed write".into()))
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
        let mut temp = self.take_temp()?;
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
            temp.file
                .sync_all()
                .map_err(|e| io_err(format!("sync {key}"), e))?;
            let _commit = hold(&commit_lock);
            let old = std::fs::symlink_metadata(&dest)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            // A write-once object that exists is either refused or left as
            // it is below: nothing to admit.
            if replace || old.is_none() {
                ledger.admit(&the_key, old, new)?;
            }
            let tmp_path = temp.path.clone();
            let published = durable::publish_then(&tmp_path, &dest, replace, |p| {
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
            });
            match published {
                Ok(p) => Ok(p),
                // A write-once object sent again with the same bytes (a
                // retry after a lost reply) succeeds without replacing.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    match durable::same_content(&temp.path, &dest) {
                        Ok(true) => Ok(Published::Replaced),
                        Ok(false) => Err(StoreError::Exists(key)),
                        Err(e) => Err(io_err(format!("compare {key}"), e)),
                    }
                }
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
