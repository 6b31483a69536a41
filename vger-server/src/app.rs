//! Everything a request can reach: the store, the state, the
//! authenticator and the settings the handlers consult.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shared_proto::RepoName;
use shared_proto::admin::ConfigSummary;

use crate::config::{Config, ConnectionLimits};
use crate::policy::{AdminAuthenticator, Authenticator};
use crate::service::Inflight;
use crate::service::admin::jobs::Jobs;
use crate::state::State;
use crate::store::RepoStore;
use crate::traffic::Traffic;

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
    /// Default freshness threshold in seconds.
    pub freshness_threshold_seconds: u64,
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
    /// Client token checks.
    pub auth: Authenticator,
    /// Admin token checks.
    pub admin_auth: AdminAuthenticator,
    /// Admin jobs (checks, reconciles) and their progress.
    pub jobs: Jobs,
    /// Client API traffic since start.
    pub traffic: Traffic,
    /// The configuration as the admin API shows it (no secrets).
    pub summary: ConfigSummary,
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
            admin_auth: AdminAuthenticator::new(&config.admin.tokens),
            jobs: Jobs::default(),
            traffic: Traffic::default(),
            summary: ConfigSummary {
                listen: config.listen.to_string(),
                admin_listen: config.admin.listen.to_string(),
                append_only: config.append_only,
                quota_bytes: config.quota_bytes,
                freshness_threshold_seconds: config.freshness_threshold_seconds,
                lock_ttl_seconds: config.lock_ttl.as_secs(),
                max_object_bytes: config.max_object_bytes,
                admin_tokens: config
                    .admin
                    .tokens
                    .iter()
                    .map(|t| format!("{} ({})", t.label, t.role.as_str()))
                    .collect(),
            },
            settings: Settings {
                append_only: config.append_only,
                quota_bytes: config.quota_bytes,
                public_health_details: config.public_health_details,
                lock_ttl: config.lock_ttl,
                connections: config.connections,
                freshness_threshold_seconds: config.freshness_threshold_seconds,
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
