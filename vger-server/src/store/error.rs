//! The repo store's error type: what went wrong with an object on disk.

use std::io;

/// Errors of the repo store. The HTTP layer maps each variant to a status
/// exactly once (`http::error`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object, directory or repository does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request cannot succeed as sent (bad plan, bad range of a pack, …).
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with what is stored (checksum mismatch,
    /// repository already initialised, object exists where it must not).
    #[error("{0}")]
    Conflict(String),
    /// The object exists with other content and may not be replaced.
    #[error("{0} already exists and may not be replaced")]
    Exists(String),
    /// The object is larger than the configured maximum.
    #[error("object is larger than the maximum object size of {limit} bytes (max_object_bytes)")]
    TooLarge {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// The repository's books refuse the bytes (quota).
    #[error("{0}")]
    OverQuota(String),
    /// The path leads outside the data directory through a symlink.
    #[error("{0} leads outside the data directory through a symlink; refusing to follow it")]
    Escapes(String),
    /// The filesystem is full or over its quota.
    #[error("no space left on the server's disk while writing {0}")]
    DiskFull(String),
    /// The upload ended before all of its bytes arrived.
    #[error("the upload ended early: {0}")]
    Incomplete(String),
    /// Any other I/O failure, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What the store was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Attaches what the store was doing to an I/O error, recognising the
/// conditions that deserve their own variant.
pub(crate) fn io_err(context: impl Into<String>, source: io::Error) -> StoreError {
    let context = context.into();
    match source.raw_os_error() {
        Some(code) if code == rustix::io::Errno::NOSPC.raw_os_error() => {
            return StoreError::DiskFull(context);
        }
        Some(code) if code == rustix::io::Errno::DQUOT.raw_os_error() => {
            return StoreError::DiskFull(context);
        }
        _ => {}
    }
    // A path through something that is not a directory cannot exist either.
    if matches!(
        source.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    ) {
        return StoreError::NotFound(context);
    }
    StoreError::Io { context, source }
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;
