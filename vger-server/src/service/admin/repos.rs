//! Repositories as operators manage them: list, show, create, delete,
//! quota and policies.

use std::sync::Arc;

use shared_proto::RepoName;
use shared_proto::admin::{
    CreateRepo, DeleteRepo, LimitSource, RepoDeleted, RepoInfo, RepoList, SetPolicy,
};

use super::{audited, given, locks, no_such_repo, parse_repo};
use crate::app::App;
use crate::policy::AdminGrant;
use crate::service::stats::counted_record;
use crate::service::{InflightGuard, ServiceError, ServiceResult, blocking, objects};
use crate::state::{RepoRecord, now_ms, rfc3339_ms};

/// A repository's figures and policies, as the admin API shows them.
async fn info(app: &Arc<App>, repo: &RepoName) -> ServiceResult<RepoInfo> {
    let record = counted_record(app, repo).await?;
    let (a, r) = (app.clone(), repo.clone());
    let held = blocking(move || locks::of_repo(&a, &r)).await?;
    Ok(describe(app, repo, &record, held, now_ms()))
}

/// Builds the view of one repository from its record.
fn describe(
    app: &App,
    repo: &RepoName,
    r: &RepoRecord,
    locks: Vec<shared_proto::admin::LockEntry>,
    now: i64,
) -> RepoInfo {
    let source = |own: bool| {
        if own {
            LimitSource::Repo
        } else {
            LimitSource::ServerDefault
        }
    };
    let quota = r.quota_bytes.unwrap_or(app.settings.quota_bytes);
    let threshold = r
        .freshness_threshold_seconds
        .unwrap_or(app.settings.freshness_threshold_seconds);
    let age = |ms: i64| (now - ms).max(0) as u64 / 1000;
    let overdue = match r.last_backup_at {
        Some(t) => age(t) > threshold,
        None => age(r.created_at) > threshold,
    };
    RepoInfo {
        name: repo.to_string(),
        created_at: rfc3339_ms(r.created_at),
        used_bytes: r.counters.bytes,
        quota_bytes: (quota > 0).then_some(quota),
        quota_source: source(r.quota_bytes.is_some()),
        objects: r.counters.objects,
        packs: r.counters.packs,
        last_backup_at: r.last_backup_at.map(rfc3339_ms),
        last_backup_age_seconds: r.last_backup_at.map(age),
        freshness_threshold_seconds: threshold,
        freshness_source: source(r.freshness_threshold_seconds.is_some()),
        overdue,
        append_only: app.settings.append_only || r.append_only == Some(true),
        append_only_override: r.append_only,
        locks,
    }
}

/// `GET /v1/repos`: every repository on disk.
pub async fn list(app: &Arc<App>) -> ServiceResult<RepoList> {
    let mut repos = Vec::new();
    for repo in app.store.list_repos().await? {
        match info(app, &repo).await {
            Ok(i) => repos.push(i),
            // Deleted between the listing and now.
            Err(ServiceError::Store(crate::store::StoreError::NotFound(_))) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(RepoList { repos })
}

/// `GET /v1/repos/{name}`.
pub async fn show(app: &Arc<App>, name: &str) -> ServiceResult<RepoInfo> {
    let repo = existing(app, name).await?;
    info(app, &repo).await
}

/// Parses `name`, requires the repository on disk, and holds it there (no
/// delete runs) until the guard is dropped: a policy saved after a delete
/// would outlive the repository.
async fn held(app: &App, name: &str) -> ServiceResult<(RepoName, InflightGuard)> {
    let repo = parse_repo(name)?;
    let guard = app.inflight.enter_repo(&repo)?;
    if !app.store.repo_exists(&repo).await? {
        return Err(no_such_repo(&repo));
    }
    Ok((repo, guard))
}

/// Parses `name` and requires the repository on disk.
async fn existing(app: &App, name: &str) -> ServiceResult<RepoName> {
    let repo = parse_repo(name)?;
    if !app.store.repo_exists(&repo).await? {
        return Err(no_such_repo(&repo));
    }
    Ok(repo)
}

/// `POST /v1/repos`: creates the repository as `?init` does (so any
/// client generation can initialise it) with its policies.
pub async fn create(app: &Arc<App>, who: &AdminGrant, req: CreateRepo) -> ServiceResult<RepoInfo> {
    let detail = given(&[
        ("quota_bytes", req.quota_bytes.map(|v| v.to_string())),
        ("append_only", req.append_only.map(|v| v.to_string())),
        (
            "freshness_threshold_seconds",
            req.freshness_threshold_seconds.map(|v| v.to_string()),
        ),
    ]);
    audited(app, who, "repo.create", Some(&req.name), &detail, async {
        let repo = parse_repo(&req.name)?;
        if req.freshness_threshold_seconds == Some(0) {
            return Err(ServiceError::Invalid(
                "freshness_threshold_seconds must be at least 1; leave it out for the server default".into(),
            ));
        }
        let _held = app.inflight.enter_repo(&repo)?;
        if app.store.repo_exists(&repo).await? {
            return Err(ServiceError::Conflict(format!(
                "repository {repo} already exists; vger-admin repo show {repo} describes it"
            )));
        }
        objects::init(app, &repo).await?;
        set_policies(app, &repo, move |r| {
            r.quota_bytes = req.quota_bytes;
            r.append_only = req.append_only;
            r.freshness_threshold_seconds = req.freshness_threshold_seconds;
        })
        .await?;
        tracing::info!(repo = %repo, actor = who.actor(), "repository created");
        info(app, &repo).await
    })
    .await
}

async fn set_policies(
    app: &App,
    repo: &RepoName,
    f: impl FnOnce(&mut RepoRecord) + Send + 'static,
) -> ServiceResult<()> {
    let (state, repo) = (app.state.clone(), repo.clone());
    blocking(move || Ok(state.repos.set_policy(&repo, f)?)).await
}

/// How long a delete waits for changes in flight to the repository.
const DELETE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

fn refuse_if_locked(
    repo: &RepoName,
    held: &[shared_proto::admin::LockEntry],
    force: bool,
) -> ServiceResult<()> {
    if held.is_empty() || force {
        return Ok(());
    }
    let ids: Vec<&str> = held.iter().map(|l| l.id.as_str()).collect();
    Err(ServiceError::Conflict(format!(
        "repository {repo} holds {} lock(s) ({}): a client may be using it; stop it, or delete with force",
        ids.len(),
        ids.join(", ")
    )))
}

/// `DELETE /v1/repos/{name}`: removes the repository's files and
/// everything the server remembers of it, and revokes the client tokens
/// bound to it. Refused without the name as confirmation, and while a lock
/// is held unless forced.
///
/// Runs to its end even if the caller goes away: a delete stopped half-way
/// must not leave the state of a repository whose files are gone.
pub async fn delete(
    app: &Arc<App>,
    who: &AdminGrant,
    name: &str,
    req: DeleteRepo,
) -> ServiceResult<RepoDeleted> {
    let (app, who, name) = (app.clone(), who.clone(), name.to_owned());
    let task = tokio::spawn(async move {
        let detail = format!("force={}", req.force);
        audited(
            &app,
            &who,
            "repo.delete",
            Some(&name),
            &detail,
            delete_now(&app, &who, &name, req),
        )
        .await
    });
    match task.await {
        Ok(r) => r,
        Err(e) => Err(crate::store::task_failed(e).into()),
    }
}

async fn delete_now(
    app: &Arc<App>,
    who: &AdminGrant,
    name: &str,
    req: DeleteRepo,
) -> ServiceResult<RepoDeleted> {
    let repo = existing(app, name).await?;
    if req.confirm != repo.as_str() {
        return Err(ServiceError::Invalid(format!(
            "deleting repository {repo} needs \"confirm\": \"{repo}\" in the request"
        )));
    }
    let current = info(app, &repo).await?;
    refuse_if_locked(&repo, &current.locks, req.force)?;
    // From here no change to the repository starts, and those in flight
    // have ended; a lock taken meanwhile is seen below.
    let _deleting = app.inflight.quiesce(&repo, DELETE_PATIENCE).await?;
    let (a, r) = (app.clone(), repo.clone());
    let held = blocking(move || locks::of_repo(&a, &r)).await?;
    refuse_if_locked(&repo, &held, req.force)?;
    // The move to the trash is the commit point: from there the repository
    // is gone, its state is forgotten, and the files are removed in the
    // background (a crash leaves them in the trash, emptied at start).
    let Some(trashed) = app.store.move_repo_to_trash(&repo).await? else {
        return Err(no_such_repo(&repo));
    };
    let (a, r) = (app.clone(), repo.clone());
    let revoked_tokens = blocking(move || {
        a.state.locks.forget_repo(&r)?;
        a.state.repos.forget(&r)?;
        let bound: Vec<u64> = a
            .state
            .tokens
            .all()
            .iter()
            .filter(|t| t.repo.as_ref() == Some(&r) && t.revoked_at.is_none())
            .map(|t| t.id)
            .collect();
        for id in &bound {
            a.state.tokens.revoke(*id)?;
        }
        match std::fs::remove_dir_all(a.repack_journal_dir(&r)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(repo = %r, error = %e, "cannot remove the repository's repack journals");
            }
            _ => {}
        }
        Ok(bound)
    })
    .await?;
    let r = repo.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = std::fs::remove_dir_all(&trashed) {
            tracing::error!(repo = %r, path = %trashed.display(), error = %e, "cannot remove a deleted repository's files; they are removed at the next start");
        }
    });
    tracing::warn!(repo = %repo, actor = who.actor(), bytes = current.used_bytes, revoked_tokens = revoked_tokens.len(), "repository deleted");
    Ok(RepoDeleted {
        name: repo.to_string(),
        freed_bytes: current.used_bytes,
        objects: current.objects,
        revoked_tokens,
    })
}

/// `PUT /v1/repos/{name}/quota` (`Some`) and `DELETE` (`None`: back to
/// the server default).
pub async fn set_quota(
    app: &Arc<App>,
    who: &AdminGrant,
    name: &str,
    bytes: Option<u64>,
) -> ServiceResult<RepoInfo> {
    let (action, detail) = match bytes {
        Some(b) => ("quota.set", format!("quota_bytes={b}")),
        None => ("quota.clear", String::new()),
    };
    audited(app, who, action, Some(name), &detail, async {
        let (repo, _held) = held(app, name).await?;
        set_policies(app, &repo, move |r| r.quota_bytes = bytes).await?;
        info(app, &repo).await
    })
    .await
}

/// `PATCH /v1/repos/{name}/policy`.
pub async fn set_policy(
    app: &Arc<App>,
    who: &AdminGrant,
    name: &str,
    req: SetPolicy,
) -> ServiceResult<RepoInfo> {
    let detail = given(&[
        ("append_only", req.append_only.map(|v| v.to_string())),
        (
            "freshness_threshold_seconds",
            req.freshness_threshold_seconds.map(|v| v.to_string()),
        ),
    ]);
    audited(app, who, "policy.set", Some(name), &detail, async {
        let (repo, _held) = held(app, name).await?;
        if req == SetPolicy::default() {
            return Err(ServiceError::Invalid(
                "nothing to change: give append_only and/or freshness_threshold_seconds".into(),
            ));
        }
        set_policies(app, &repo, move |r| {
            if let Some(on) = req.append_only {
                r.append_only = Some(on);
            }
            match req.freshness_threshold_seconds {
                Some(0) => r.freshness_threshold_seconds = None,
                Some(s) => r.freshness_threshold_seconds = Some(s),
                None => {}
            }
        })
        .await?;
        info(app, &repo).await
    })
    .await
}
