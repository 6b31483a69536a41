//! Reading objects: one positioned read for a small range, or a stream
//! that reads the next block on the blocking pool while the previous one
//! is being sent, so the disk and the network work at once.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;

use super::error::{StoreError, StoreResult, io_err};
use super::{blocks, joined};

/// Bytes read per block of a stream.
pub const READ_BLOCK: usize = blocks::BLOCK;

/// Ranges up to this size are read in one go and answered from memory.
pub const SMALL_READ: u64 = 1 << 20;

/// An object opened for reading, with its size at open time.
#[derive(Debug)]
pub struct ObjectFile {
    file: Arc<File>,
    name: String,
    /// Its length in bytes.
    pub len: u64,
}

impl ObjectFile {
    pub(super) fn new(file: File, name: String, len: u64) -> Self {
        Self {
            file: Arc::new(file),
            name,
            len,
        }
    }

    /// Reads `len` bytes at `offset` on this thread (blocking).
    pub(super) fn read_now(&self, offset: u64, len: u64) -> StoreResult<Bytes> {
        read_block(&self.file, &self.name, offset, len as usize)
    }

    /// The `len` bytes at `offset` as a stream of blocks, each read while
    /// the one before is sent. A short file (truncated behind the
    /// server's back) ends the stream with an error, never with silence.
    pub fn stream(self, offset: u64, len: u64) -> impl Stream<Item = StoreResult<Bytes>> + Send {
        let start = ReadAhead {
            file: self.file,
            name: self.name,
            next: offset,
            end: offset.saturating_add(len),
            pending: None,
        };
        futures_util::stream::unfold(start, |mut ra| async move {
            let task = ra.pending.take().or_else(|| ra.spawn_next())?;
            let block = joined(task).await;
            if block.is_ok() {
                ra.pending = ra.spawn_next();
            } else {
                // Nothing after a failed block: the answer is cut off.
                ra.next = ra.end;
            }
            Some((block, ra))
        })
    }
}

/// The state of a stream: what is left to read, and the read in flight.
struct ReadAhead {
    file: Arc<File>,
    name: String,
    next: u64,
    end: u64,
    pending: Option<tokio::task::JoinHandle<StoreResult<Bytes>>>,
}

impl ReadAhead {
    fn spawn_next(&mut self) -> Option<tokio::task::JoinHandle<StoreResult<Bytes>>> {
        if self.next >= self.end {
            return None;
        }
        let n = (self.end - self.next).min(READ_BLOCK as u64) as usize;
        let (file, name, at) = (self.file.clone(), self.name.clone(), self.next);
        self.next += n as u64;
        Some(tokio::task::spawn_blocking(move || {
            read_block(&file, &name, at, n)
        }))
    }
}

/// Reads `len` bytes at `offset`, a whole block into a pooled buffer.
fn read_block(file: &File, name: &str, offset: u64, len: usize) -> StoreResult<Bytes> {
    let mut buf = if len == READ_BLOCK {
        blocks::take_full()
    } else {
        vec![0u8; len]
    };
    file.read_exact_at(&mut buf, offset).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            StoreError::Incomplete(format!("{name} ended early (changed while being read)"))
        } else {
            io_err(format!("read {name}"), e)
        }
    })?;
    Ok(Bytes::from_owner(blocks::Lent(buf)))
}
