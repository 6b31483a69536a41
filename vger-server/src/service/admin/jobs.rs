//! Long admin work (structural checks, reconciles) as jobs: started by
//! one request, run in the background, polled for progress.
//!
//! Jobs live in memory: a restart forgets them (their effects, the
//! rebuilt counters, are in the state). The most recent finished jobs
//! are kept for polling.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use shared_proto::RepoName;
use shared_proto::admin::{Job, JobKind, JobList, JobRepoResult, JobState, StartJob};

use super::{audited, no_such_repo, parse_repo};
use crate::app::App;
use crate::policy::AdminGrant;
use crate::service::reconcile::{Rebuild, reconcile_repo};
use crate::service::{ServiceError, ServiceResult, blocking};
use crate::state::{now_ms, rfc3339_ms};

/// Finished jobs kept for polling.
const KEEP_FINISHED: usize = 100;

/// Every job of this run.
#[derive(Debug, Default)]
pub struct Jobs {
    next: AtomicU64,
    map: Mutex<BTreeMap<u64, Job>>,
}

impl Jobs {
    fn update(&self, id: u64, f: impl FnOnce(&mut Job)) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(job) = map.get_mut(&id) {
            f(job);
        }
    }

    fn insert(&self, job: Job) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(job.id, job);
        let finished: Vec<u64> = map
            .values()
            .filter(|j| j.state != JobState::Running)
            .map(|j| j.id)
            .collect();
        for id in finished
            .iter()
            .take(finished.len().saturating_sub(KEEP_FINISHED))
        {
            map.remove(id);
        }
    }

    /// Job `id` as it stands.
    pub fn get(&self, id: u64) -> ServiceResult<Job> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&id).cloned().ok_or_else(|| {
            ServiceError::NotFound(format!(
                "there is no job {id} (jobs are forgotten when the server restarts)"
            ))
        })
    }

    /// Every job kept, newest first.
    pub fn list(&self) -> JobList {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        JobList {
            jobs: map.values().rev().cloned().collect(),
        }
    }
}

/// `POST /v1/jobs`: starts a check or a reconcile of one repository or
/// all, and returns at once.
pub async fn start(app: &Arc<App>, who: &AdminGrant, req: StartJob) -> ServiceResult<Job> {
    let action = match req.kind {
        JobKind::Check => "job.check",
        JobKind::Reconcile => "job.reconcile",
    };
    let scope = req
        .repo
        .clone()
        .unwrap_or_else(|| "all repositories".into());
    audited(app, who, action, req.repo.as_deref(), &scope, async {
        let repos = match &req.repo {
            Some(name) => {
                let repo = parse_repo(name)?;
                if !app.store.repo_exists(&repo).await? {
                    return Err(no_such_repo(&repo));
                }
                vec![repo]
            }
            None => app.store.list_repos().await?,
        };
        let id = app.jobs.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Job {
            id,
            kind: req.kind,
            repo: req.repo.clone(),
            state: JobState::Running,
            done: 0,
            total: repos.len() as u64,
            started_at: rfc3339_ms(now_ms()),
            finished_at: None,
            results: Vec::new(),
            error: None,
        };
        app.jobs.insert(job.clone());
        tokio::spawn(run(app.clone(), id, req.kind, repos));
        Ok(job)
    })
    .await
}

async fn run(app: Arc<App>, id: u64, kind: JobKind, repos: Vec<RepoName>) {
    for repo in repos {
        let result = match kind {
            JobKind::Check => check(&app, &repo).await,
            JobKind::Reconcile => reconcile(&app, &repo).await,
        };
        let result = result.unwrap_or_else(|e| JobRepoResult {
            repo: repo.to_string(),
            ok: false,
            messages: vec![e.to_string()],
        });
        app.jobs.update(id, |job| {
            job.results.push(result);
            job.done += 1;
        });
    }
    app.jobs.update(id, |job| {
        job.state = JobState::Done;
        job.finished_at = Some(rfc3339_ms(now_ms()));
    });
}

async fn check(app: &App, repo: &RepoName) -> ServiceResult<JobRepoResult> {
    let report = app
        .store
        .verify_structure(repo, app.settings.lock_ttl)
        .await?;
    let mut messages = report.errors;
    if report.stale_locks > 0 {
        messages.push(format!(
            "{} lock object(s) older than the lock TTL",
            report.stale_locks
        ));
    }
    Ok(JobRepoResult {
        repo: repo.to_string(),
        ok: report.ok,
        messages,
    })
}

async fn reconcile(app: &Arc<App>, repo: &RepoName) -> ServiceResult<JobRepoResult> {
    let (a, r) = (app.clone(), repo.clone());
    let inflight = app.inflight.enter_repo(repo)?;
    let rebuilt = blocking(move || {
        let _inflight = inflight;
        reconcile_repo(&a.store, &a.state, &r, Rebuild::Live)
    })
    .await?;
    let after = rebuilt.after;
    let message = match rebuilt.before {
        Some(before) if before == after => format!(
            "counters were right: {} bytes, {} objects, {} packs",
            after.bytes, after.objects, after.packs
        ),
        Some(before) => format!(
            "corrected: {} -> {} bytes, {} -> {} objects, {} -> {} packs",
            before.bytes, after.bytes, before.objects, after.objects, before.packs, after.packs
        ),
        None => format!(
            "counted for the first time: {} bytes, {} objects, {} packs",
            after.bytes, after.objects, after.packs
        ),
    };
    Ok(JobRepoResult {
        repo: repo.to_string(),
        ok: true,
        messages: vec![message],
    })
}
