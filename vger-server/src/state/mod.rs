//! What the server remembers besides the objects themselves: one SQLite
//! database holding each repository's policies, usage counters and
//! freshness, the server locks, the client tokens and the audit log.

pub mod audit;
pub mod db;
pub mod locks;
pub mod repos;
pub mod schema;
pub mod tokens;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use audit::{AuditFilter, AuditLog, AuditRecord};
pub use db::{Db, Opened, StateError, StateResult};
pub use locks::{Acquired, LiveLock, LockError, LockTable};
pub use repos::{Counters, Entry, RepoRecord, Repos, now_ms, rfc3339_ms};
pub use tokens::{NewToken, TokenRecord, Tokens};

/// The open state.
#[derive(Debug)]
pub struct State {
    /// The database.
    pub db: Arc<Db>,
    /// Repository records, cached in memory.
    pub repos: Repos,
    /// Server locks.
    pub locks: LockTable,
    /// Scoped client tokens.
    pub tokens: Tokens,
    /// The audit log.
    pub audit: AuditLog,
    /// Whether the database was just created (the server knew nothing).
    pub opened: Opened,
}

impl State {
    /// Opens (creating and migrating as needed) the state in `state_dir`.
    pub fn open(state_dir: &Path, lock_ttl: Duration) -> StateResult<Self> {
        let (db, opened) = Db::open(state_dir)?;
        Self::from_db(Arc::new(db), opened, lock_ttl)
    }

    /// A private in-memory state, for tests.
    pub fn in_memory(lock_ttl: Duration) -> StateResult<Self> {
        Self::from_db(Arc::new(Db::open_in_memory()?), Opened::Created, lock_ttl)
    }

    fn from_db(db: Arc<Db>, opened: Opened, lock_ttl: Duration) -> StateResult<Self> {
        Ok(Self {
            repos: Repos::load(db.clone())?,
            locks: LockTable::load(db.clone(), lock_ttl)?,
            tokens: Tokens::load(db.clone())?,
            audit: AuditLog::new(db.clone()),
            db,
            opened,
        })
    }
}
