//! What the admin API does, one function per operation: repositories and
//! their policies, locks, client tokens, jobs, status and the audit log.
//! Every write is audited here, refused ones too, so no handler can
//! forget it.

pub mod jobs;
pub mod locks;
pub mod repos;
pub mod status;
pub mod tokens;

use shared_proto::RepoName;

use super::audit;
use super::{ServiceError, ServiceResult};
use crate::app::App;
use crate::policy::AdminGrant;

/// Parses a repository name from the admin API.
pub fn parse_repo(name: &str) -> ServiceResult<RepoName> {
    RepoName::parse(name)
        .map_err(|e| ServiceError::Invalid(format!("invalid repository name {name:?}: {e}")))
}

/// The error for a repository that is not on disk.
pub(crate) fn no_such_repo(repo: &RepoName) -> ServiceError {
    ServiceError::NotFound(format!(
        "repository {repo} does not exist; vger-admin repo list shows those that do"
    ))
}

/// The fields of a request that were given, as `name=value` pairs, for
/// the audit log.
pub(crate) fn given(fields: &[(&str, Option<String>)]) -> String {
    fields
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs an admin write and audits it with its outcome.
pub(crate) async fn audited<T>(
    app: &App,
    who: &AdminGrant,
    action: &str,
    repo: Option<&str>,
    detail: &str,
    op: impl Future<Output = ServiceResult<T>>,
) -> ServiceResult<T> {
    let result = op.await;
    audit::record(
        app,
        who.actor(),
        action,
        repo,
        detail,
        audit::outcome(&result),
    )
    .await;
    result
}
