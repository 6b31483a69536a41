//! Everything a request can reach: the store, the state, the
//! authenticator and the settings the handlers consult.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shared_proto::RepoName;

use crate::config::{Config, ConnectionLimits};
use crate::policy::Authenticator;
use crate::service::Inflight;
use crate::state::State;
use crate::store::RepoStore;

/// Settings handlers need at request time.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Server-wide append-only mode.
    pub append_only: bool,
    /// Default quota in bytes (0 = unlimited).
    pub quota_bytes: u64,
    /// Whether anonymous `/health` shows details.
    pub public_health_details: bool,
    /// Lock lease.
    pub lock_ttl: Duration,
    /// Slow-client timeouts and the connection limit.
    pub connections: ConnectionLimits,
}

/// Everything a request handler can reach.
#[derive(Debug)]
pub struct App {
    /// Objects on disk.
    pub store: RepoStore,
    /// Repository records, counters and server locks.
    pub state: Arc<State>,
    /// Changes to repositories in flight.
    pub inflight: Inflight,
    /// Token checks.
    pub auth: Authenticator,
    /// Request-time settings.
    pub settings: Settings,
    /// The state directory (database, repack journals).
    pub state_dir: PathBuf,
    /// When the server started.
    pub started: Instant,
    /// The exclusive locks on the data dir (and state dir), held while
    /// this state lives.
    _dir_locks: Vec<std::fs::File>,
}

impl App {
    /// Builds the state from a configuration and an opened store.
    pub fn new(
        config: &Config,
        store: RepoStore,
        state: Arc<State>,
        dir_locks: Vec<std::fs::File>,
    ) -> Self {
        Self {
            store,
            state,
            inflight: Inflight::default(),
            auth: Authenticator::new(config.token.expose()),
            settings: Settings {
                append_only: config.append_only,
                quota_bytes: config.quota_bytes,
                public_health_details: config.public_health_details,
                lock_ttl: config.lock_ttl,
                connections: config.connections,
            },
            state_dir: config.state_dir.clone(),
            started: Instant::now(),
            _dir_locks: dir_locks,
        }
    }

    /// Where repack records of `repo` are kept.
    pub fn repack_journal_dir(&self, repo: &RepoName) -> PathBuf {
        self.state_dir.join("repack").join(repo.as_str())
    }
}
