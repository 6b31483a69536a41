//! JSON bodies of the admin API (`/v1/...` on the admin listener): one
//! request and one response type per operation, used by the server,
//! `vger-admin` and the exporter alike.
//!
//! Times are RFC 3339 strings (UTC); sizes are bytes; durations are
//! seconds.

use serde::{Deserialize, Serialize};

/// Every error answer: a machine code and a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code: `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `bad_request`, `too_large`, `insufficient_storage`, `internal`.
    pub error: String,
    /// What went wrong and what to do.
    pub message: String,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// Server version.
    pub version: String,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// When the server started.
    pub started_at: String,
    /// The data directory.
    pub data_dir: String,
    /// Size of the data dir's filesystem.
    pub disk_total_bytes: u64,
    /// Bytes of it available to the server.
    pub disk_free_bytes: u64,
    /// Number of repositories.
    pub repos: u64,
    /// Bytes of every repository together.
    pub used_bytes: u64,
    /// Objects of every repository together.
    pub objects: u64,
    /// Packs of every repository together.
    pub packs: u64,
    /// Live locks of every repository together.
    pub locks: u64,
    /// The configuration, without secrets.
    pub config: ConfigSummary,
    /// Client API traffic since start.
    pub traffic: Traffic,
}

/// What the server was configured with (never a token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigSummary {
    /// Client API address.
    pub listen: String,
    /// Admin API address.
    pub admin_listen: String,
    /// Server-wide append-only.
    pub append_only: bool,
    /// Default quota in bytes; 0 = unlimited.
    pub quota_bytes: u64,
    /// Default freshness threshold.
    pub freshness_threshold_seconds: u64,
    /// Lock lease.
    pub lock_ttl_seconds: u64,
    /// Largest object accepted.
    pub max_object_bytes: u64,
    /// Admin tokens configured, by label and role (no secrets).
    pub admin_tokens: Vec<String>,
}

/// Client API requests and bytes since start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    /// Requests by method and status.
    pub requests: Vec<RequestCount>,
    /// Request body bytes read.
    pub received_bytes: u64,
    /// Response body bytes sent.
    pub sent_bytes: u64,
}

/// Requests with one method and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCount {
    /// HTTP method.
    pub method: String,
    /// HTTP status code.
    pub status: u16,
    /// How many.
    pub count: u64,
}

/// Where a repository's quota comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitSource {
    /// The server's `quota_bytes`.
    ServerDefault,
    /// The repository's own override.
    Repo,
}

/// One repository as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoInfo {
    /// Name.
    pub name: String,
    /// When the server first saw it.
    pub created_at: String,
    /// Bytes stored.
    pub used_bytes: u64,
    /// The limit in bytes; absent when unlimited.
    pub quota_bytes: Option<u64>,
    /// Where the limit comes from.
    pub quota_source: LimitSource,
    /// Objects stored.
    pub objects: u64,
    /// Packs stored.
    pub packs: u64,
    /// When a backup last completed, if ever.
    pub last_backup_at: Option<String>,
    /// Seconds since the last backup (absent when never).
    pub last_backup_age_seconds: Option<u64>,
    /// How old the last backup may get before it is overdue.
    pub freshness_threshold_seconds: u64,
    /// Where the threshold comes from.
    pub freshness_source: LimitSource,
    /// Whether the last backup is older than the threshold (or, with no
    /// backup, the repository is older than it).
    pub overdue: bool,
    /// Whether append-only rules apply (server-wide or by the repository).
    pub append_only: bool,
    /// The repository's own append-only setting, if any.
    pub append_only_override: Option<bool>,
    /// Live locks (server locks and lock objects).
    pub locks: Vec<LockEntry>,
}

/// `GET /v1/repos`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoList {
    /// Every repository, sorted by name.
    pub repos: Vec<RepoInfo>,
}

/// `POST /v1/repos`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRepo {
    /// Name of the new repository.
    pub name: String,
    /// Quota override in bytes (0 = unlimited); absent = server default.
    #[serde(default)]
    pub quota_bytes: Option<u64>,
    /// Append-only override.
    #[serde(default)]
    pub append_only: Option<bool>,
    /// Freshness threshold override.
    #[serde(default)]
    pub freshness_threshold_seconds: Option<u64>,
}

/// `DELETE /v1/repos/{name}` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRepo {
    /// Must repeat the repository's name: deleting is never implied.
    pub confirm: String,
    /// Delete even while a lock is held.
    #[serde(default)]
    pub force: bool,
}

/// `DELETE /v1/repos/{name}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoDeleted {
    /// The repository.
    pub name: String,
    /// Bytes removed.
    pub freed_bytes: u64,
    /// Objects removed.
    pub objects: u64,
    /// Client tokens bound to the repository, revoked with it (so they
    /// cannot open a new repository of that name).
    #[serde(default)]
    pub revoked_tokens: Vec<u64>,
}

/// `PUT /v1/repos/{name}/quota`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetQuota {
    /// The limit in bytes; 0 = unlimited.
    pub quota_bytes: u64,
}

/// `PATCH /v1/repos/{name}/policy`: absent fields stay as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPolicy {
    /// `true`/`false` sets the repository's append-only override.
    #[serde(default)]
    pub append_only: Option<bool>,
    /// A threshold in seconds; 0 goes back to the server default.
    #[serde(default)]
    pub freshness_threshold_seconds: Option<u64>,
}

/// What kind of lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    /// A 0.7 client's server lock (`POST <repo>/locks/<id>`).
    Server,
    /// A later client's lock object (`locks/<name>`), aged by its mtime.
    Object,
}

/// One live lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockEntry {
    /// The repository.
    pub repo: String,
    /// Lock id (server locks) or object name under `locks/`.
    pub id: String,
    /// Which kind.
    pub kind: LockKind,
    /// Holder's host name (server locks only).
    pub hostname: Option<String>,
    /// Holder's pid (server locks only).
    pub pid: Option<u64>,
    /// When it was taken (server locks) or last written (objects).
    pub since: String,
    /// Seconds since then.
    pub age_seconds: u64,
    /// When it lapses unless renewed.
    pub expires_at: String,
}

/// `GET /v1/locks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockList {
    /// Every live lock, by repository and id.
    pub locks: Vec<LockEntry>,
}

/// `DELETE /v1/repos/{name}/locks/{id}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockBroken {
    /// The lock that was removed.
    pub lock: LockEntry,
}

/// What a client token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenMode {
    /// Everything.
    Full,
    /// The append-only rules, whatever the repository's setting.
    AppendOnly,
    /// Reads, plus the coordination objects (`locks/*`, `sessions/*`,
    /// `index.gen`).
    ReadOnly,
}

impl TokenMode {
    /// The name used on the wire and in the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::AppendOnly => "append-only",
            Self::ReadOnly => "read-only",
        }
    }

    /// The mode named `s` (as written by [`as_str`](Self::as_str)).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Full, Self::AppendOnly, Self::ReadOnly]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// `POST /v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateToken {
    /// Who or what uses it (shown in lists and the audit log).
    pub label: String,
    /// The one repository it opens; absent = every repository.
    #[serde(default)]
    pub repo: Option<String>,
    /// What it may do.
    pub mode: TokenMode,
    /// Seconds until it stops working; absent = never.
    #[serde(default)]
    pub expires_in_seconds: Option<u64>,
}

/// A client token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Its id (for revoking).
    pub id: u64,
    /// Its label.
    pub label: String,
    /// The repository it is bound to; absent = every repository.
    pub repo: Option<String>,
    /// What it may do.
    pub mode: TokenMode,
    /// When it was created.
    pub created_at: String,
    /// When it stops working, if ever.
    pub expires_at: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
    /// Whether it is accepted now (not revoked, not expired).
    pub active: bool,
}

/// `POST /v1/tokens` answer: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCreated {
    /// The token's record.
    pub token: TokenInfo,
    /// The secret to give the client (`Authorization: Bearer <secret>`).
    pub secret: String,
}

/// `GET /v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenList {
    /// Every token, revoked ones included, by id.
    pub tokens: Vec<TokenInfo>,
}

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Structural check (`?verify-structure`) of each repository.
    Check,
    /// Rebuild of each repository's counters from its files.
    Reconcile,
}

/// `POST /v1/jobs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartJob {
    /// What to run.
    pub kind: JobKind,
    /// One repository; absent = every repository.
    #[serde(default)]
    pub repo: Option<String>,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Still working.
    Running,
    /// Finished; see the results.
    Done,
    /// Stopped by an error; see `error`.
    Failed,
}

/// The outcome for one repository of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRepoResult {
    /// The repository.
    pub repo: String,
    /// Whether it passed (check: no error; reconcile: counted).
    pub ok: bool,
    /// One line per problem found (check) or per change made (reconcile).
    pub messages: Vec<String>,
}

/// A job and its progress (`GET /v1/jobs/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Its id.
    pub id: u64,
    /// What it does.
    pub kind: JobKind,
    /// The one repository, or absent for all.
    pub repo: Option<String>,
    /// Where it is.
    pub state: JobState,
    /// Repositories finished.
    pub done: u64,
    /// Repositories to do.
    pub total: u64,
    /// When it started.
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Results so far, in order.
    pub results: Vec<JobRepoResult>,
    /// Why it failed.
    pub error: Option<String>,
}

/// `GET /v1/jobs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobList {
    /// Recent jobs, newest first.
    pub jobs: Vec<Job>,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its id (increasing).
    pub id: u64,
    /// When.
    pub at: String,
    /// Who: the token's label, with its kind.
    pub actor: String,
    /// What, e.g. `repo.delete`, `client.batch-delete`.
    pub action: String,
    /// Which repository, if one.
    pub repo: Option<String>,
    /// Details (what was asked).
    pub detail: String,
    /// `ok`, or why it was refused or failed.
    pub outcome: String,
}

/// `GET /v1/audit?since=&until=&repo=&limit=`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Oldest time to include (RFC 3339).
    #[serde(default)]
    pub since: Option<String>,
    /// Newest time to include (RFC 3339).
    #[serde(default)]
    pub until: Option<String>,
    /// Only this repository.
    #[serde(default)]
    pub repo: Option<String>,
    /// Most entries to return (default 100, at most 10000).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `GET /v1/audit` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditList {
    /// Matching entries, newest first.
    pub entries: Vec<AuditEntry>,
}

/// Default number of audit entries returned.
pub const DEFAULT_AUDIT_LIMIT: u32 = 100;
/// Most audit entries one query returns.
pub const MAX_AUDIT_LIMIT: u32 = 10_000;
/// Longest token label accepted.
pub const MAX_LABEL_CHARS: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_modes_use_their_cli_names_on_the_wire() {
        for m in [TokenMode::Full, TokenMode::AppendOnly, TokenMode::ReadOnly] {
            assert_eq!(
                serde_json::to_string(&m).unwrap(),
                format!("\"{}\"", m.as_str())
            );
        }
    }

    #[test]
    fn absent_policy_fields_mean_unchanged() {
        let p: SetPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(p, SetPolicy::default());
    }
}
