//! Locks across repositories, as operators see them: the 0.7 clients'
//! server locks and later clients' lock objects, and breaking one.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use shared_proto::admin::{LockBroken, LockEntry, LockKind, LockList};
use shared_proto::{Key, RepoName};

use super::{audited, no_such_repo, parse_repo};
use crate::app::App;
use crate::policy::AdminGrant;
use crate::service::{ServiceError, ServiceResult, blocking, objects};
use crate::state::{LiveLock, now_ms, rfc3339_ms};
use crate::store::LockObject;

fn age_seconds(since_ms: i64, now: i64) -> u64 {
    (now - since_ms).max(0) as u64 / 1000
}

fn server_entry(l: &LiveLock, now: i64) -> LockEntry {
    LockEntry {
        repo: l.repo.to_string(),
        id: l.id.clone(),
        kind: LockKind::Server,
        hostname: Some(l.hostname.clone()),
        pid: Some(l.pid),
        since: rfc3339_ms(l.acquired_at),
        age_seconds: age_seconds(l.acquired_at, now),
        expires_at: rfc3339_ms(l.expires_at),
    }
}

fn object_entry(repo: &RepoName, o: &LockObject, ttl: Duration, now: i64) -> LockEntry {
    let written = o
        .modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    LockEntry {
        repo: repo.to_string(),
        id: o.name.clone(),
        kind: LockKind::Object,
        hostname: None,
        pid: None,
        since: rfc3339_ms(written),
        age_seconds: age_seconds(written, now),
        expires_at: rfc3339_ms(written + ttl.as_millis() as i64),
    }
}

/// Every lock of `repo` (blocking): live server locks, and every lock
/// object, stale ones included (a stale lock object is what an operator
/// most needs to see).
pub(crate) fn of_repo(app: &App, repo: &RepoName) -> ServiceResult<Vec<LockEntry>> {
    let now = now_ms();
    let mut out: Vec<LockEntry> = app
        .state
        .locks
        .live_of(repo)
        .iter()
        .map(|l| server_entry(l, now))
        .collect();
    let ttl = app.settings.lock_ttl;
    out.extend(
        app.store
            .lock_objects_blocking(repo)?
            .iter()
            .map(|o| object_entry(repo, o, ttl, now)),
    );
    Ok(out)
}

/// `GET /v1/locks`.
pub async fn list(app: &Arc<App>) -> ServiceResult<LockList> {
    let app = app.clone();
    blocking(move || {
        let mut locks = Vec::new();
        for repo in app.store.list_repos_blocking()? {
            locks.extend(of_repo(&app, &repo)?);
        }
        Ok(LockList { locks })
    })
    .await
}

/// `DELETE /v1/repos/{repo}/locks/{id}`: removes a server lock, or the
/// lock object of that name.
pub async fn break_lock(
    app: &Arc<App>,
    who: &AdminGrant,
    repo: &str,
    id: &str,
) -> ServiceResult<LockBroken> {
    let detail = format!("lock {id}");
    audited(app, who, "lock.break", Some(repo), &detail, async {
        let repo = parse_repo(repo)?;
        if !app.store.repo_exists(&repo).await? {
            return Err(no_such_repo(&repo));
        }
        let key = Key::parse(&format!("locks/{id}"))
            .map_err(|e| ServiceError::Invalid(format!("invalid lock id {id:?}: {e}")))?;
        let (held, r) = (app.clone(), repo.clone());
        let current = blocking(move || of_repo(&held, &r)).await?;
        let server = current
            .iter()
            .find(|l| l.kind == LockKind::Server && l.id == id)
            .cloned();
        if let Some(lock) = server {
            crate::service::locks::release(app, &repo, id).await?;
            tracing::warn!(repo = %repo, lock = id, actor = who.actor(), "server lock broken by an operator");
            return Ok(LockBroken { lock });
        }
        let Some(lock) = current.into_iter().find(|l| l.id == id) else {
            return Err(ServiceError::NotFound(format!(
                "repository {repo} holds no lock {id:?}; vger-admin lock list shows those held"
            )));
        };
        objects::remove_object(app, &repo, &key).await?;
        tracing::warn!(repo = %repo, lock = id, actor = who.actor(), "lock object removed by an operator");
        Ok(LockBroken { lock })
    })
    .await
}
