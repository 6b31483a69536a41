//! The store's report of every change to a repository's objects.
//!
//! The store calls its [`Ledger`] under the repository's commit lock, at
//! the moment the change reaches the disk: before a publish (which the
//! ledger may refuse) and right after each rename or unlink, before the
//! directory sync that may still fail. Usage counted from these calls
//! therefore matches the visible files, even with concurrent writers,
//! without the store knowing what is counted or why. Those calls only
//! touch memory; the store calls [`Ledger::persist`] once the lock is
//! released and before it reports success, so the ledger's slow saves
//! never hold up other writers and concurrent saves can be shared.

use shared_proto::Key;

use super::error::StoreResult;

/// One change to a repository's objects.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// `key` now holds `new` bytes; it held `old` bytes before (`None`:
    /// it was new).
    Stored {
        /// The object.
        key: &'a Key,
        /// Its previous size, if it existed.
        old: Option<u64>,
        /// Its size now.
        new: u64,
    },
    /// `key`, of `bytes` bytes, was removed.
    Removed {
        /// The object.
        key: &'a Key,
        /// Its size.
        bytes: u64,
    },
}

/// Told of every change to one repository's objects.
pub trait Ledger: Send + Sync {
    /// `key` is about to be published with `new` bytes over an object of
    /// `old` bytes (`None`: absent). An error refuses the write and
    /// nothing is published.
    fn admit(&self, key: &Key, old: Option<u64>, new: u64) -> StoreResult<()>;

    /// Holds at least `total` bytes for the rest of this operation (a
    /// repack, before it writes its new packs); an error refuses it before
    /// anything is written.
    fn reserve(&self, total: u64) -> StoreResult<()>;

    /// A change has just reached the disk (bookkeeping in memory only).
    fn record(&self, change: Change<'_>);

    /// Makes every change recorded so far durable in the ledger's own
    /// books; called outside the commit lock, before the operation
    /// reports success.
    fn persist(&self);

    /// Several changes have just reached the disk (a batch delete): one
    /// bookkeeping step instead of one per object.
    fn record_all(&self, changes: &[Change<'_>]) {
        for c in changes {
            self.record(*c);
        }
    }
}
