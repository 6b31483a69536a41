//! What the server remembers besides the objects themselves.
//!
//! For now this is the lock table, held in memory; persistent state
//! (SQLite: quotas, usage counters, freshness, locks) grows here.

pub mod locks;

pub use locks::{LockError, LockTable};
