//! Writing the audit log: every admin write and every destructive client
//! action, with who asked, what, and how it ended.
//!
//! A record is written after the action, refused or not. The action's own
//! outcome stands whatever happens to its record: a record that cannot
//! be written (full disk) is logged as an error instead.

use std::sync::Arc;

use shared_proto::RepoName;
use shared_proto::admin::{
    AuditEntry, AuditList, AuditQuery, DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT,
};

use super::{ServiceError, ServiceResult, blocking};
use crate::app::App;
use crate::policy::Grant;
use crate::state::{AuditFilter, State, rfc3339_ms};

/// Longest outcome text kept (a refusal's message).
const MAX_OUTCOME_CHARS: usize = 500;

/// How a result reads in the log.
pub fn outcome<T>(result: &ServiceResult<T>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => e.to_string().chars().take(MAX_OUTCOME_CHARS).collect(),
    }
}

/// Appends one record.
pub async fn record(
    app: &App,
    actor: String,
    action: &str,
    repo: Option<&str>,
    detail: &str,
    outcome: String,
) {
    append(app.state.clone(), actor, action, repo, detail, outcome).await;
}

/// Appends one record to `state`'s log.
pub async fn append(
    state: Arc<State>,
    actor: String,
    action: &str,
    repo: Option<&str>,
    detail: &str,
    outcome: String,
) {
    let (action, repo, detail) = (
        action.to_owned(),
        repo.map(str::to_owned),
        detail.to_owned(),
    );
    let written = blocking(move || {
        Ok(state
            .audit
            .append(&actor, &action, repo.as_deref(), &detail, &outcome)?)
    })
    .await;
    if let Err(e) = written {
        tracing::error!(error = %e, "could not write the audit log");
    }
}

/// Records a destructive client action on `repo` (action `client.<what>`).
pub async fn client<T>(
    app: &App,
    grant: &Grant,
    what: &str,
    repo: &RepoName,
    detail: &str,
    result: &ServiceResult<T>,
) {
    record(
        app,
        grant.actor(),
        &format!("client.{what}"),
        Some(repo.as_str()),
        detail,
        outcome(result),
    )
    .await;
}

/// Parses an RFC 3339 time of a query into Unix ms.
fn parse_time(field: &str, text: &str) -> ServiceResult<i64> {
    humantime::parse_rfc3339_weak(text)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .ok_or_else(|| {
            ServiceError::Invalid(format!(
                "{field}={text:?} is not an RFC 3339 time such as 2026-11-28T09:00:00Z"
            ))
        })
}

/// `GET /v1/audit`: records matching `q`, newest first.
pub async fn query(app: &App, q: AuditQuery) -> ServiceResult<AuditList> {
    let limit = q.limit.unwrap_or(DEFAULT_AUDIT_LIMIT);
    if !(1..=MAX_AUDIT_LIMIT).contains(&limit) {
        return Err(ServiceError::Invalid(format!(
            "limit={limit} is out of range; use 1 to {MAX_AUDIT_LIMIT}"
        )));
    }
    let filter = AuditFilter {
        since: q
            .since
            .as_deref()
            .map(|t| parse_time("since", t))
            .transpose()?,
        until: q
            .until
            .as_deref()
            .map(|t| parse_time("until", t))
            .transpose()?,
        repo: q.repo,
        limit,
    };
    let state = app.state.clone();
    let records = blocking(move || Ok(state.audit.query(&filter)?)).await?;
    Ok(AuditList {
        entries: records
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                at: rfc3339_ms(r.at),
                actor: r.actor,
                action: r.action,
                repo: r.repo,
                detail: r.detail,
                outcome: r.outcome,
            })
            .collect(),
    })
}
