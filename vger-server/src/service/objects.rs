//! Writing and removing objects: PUT, DELETE, batch-delete, mkdir, init
//! and repack, each with the repository's policies and books.

use std::sync::Arc;

use bytes::Bytes;
use shared_proto::api::{RepackPlan, RepackResult};
use shared_proto::{DirKey, Key, RepoName};

use super::audit;
use super::books::RepoBooks;
use super::{Creates, ServiceError, ServiceResult, append_only_for, begin_change};
use crate::app::App;
use crate::policy::{Grant, append_only};
use crate::state::State;
use crate::store::durable::Published;
use crate::store::{BatchDeleteReport, StoreError, StoreResult, Upload};

/// An upload in progress, with its quota reservation.
pub struct PutObject {
    upload: Upload,
    books: Arc<RepoBooks>,
    key: Key,
    /// Size of the object this write may replace: an overwrite reserves
    /// only what it adds.
    credit: u64,
    replace: bool,
    max_bytes: u64,
    /// Who writes, for the audit of overwrites of history.
    actor: String,
    state: Arc<State>,
    repo: RepoName,
}

/// Starts a PUT of `key`: applies append-only, reserves `declared` bytes
/// (Content-Length) against the quota, then opens the temp file. A
/// refusal here comes before any byte is written.
pub async fn begin_put(
    app: &App,
    grant: &Grant,
    repo: &RepoName,
    key: &Key,
    client_digest: Option<String>,
    declared: Option<u64>,
) -> ServiceResult<PutObject> {
    let max_bytes = app.store.max_object_bytes();
    if declared.is_some_and(|n| n > max_bytes) {
        return Err(StoreError::TooLarge { limit: max_bytes }.into());
    }
    let inflight = begin_change(app, repo, creates_for(grant)).await?;
    let replace = !append_only_for(app, repo, grant) || append_only::may_replace(key);
    let books = RepoBooks::new(app, repo, inflight);
    let credit = if replace && books.claim_credit(key) {
        app.store.object_size(repo, key).await.unwrap_or(0)
    } else {
        0
    };
    if let Some(n) = declared {
        books.reserve_to(n.saturating_sub(credit))?;
    }
    let upload = app.store.begin_put(repo, key, client_digest).await?;
    Ok(PutObject {
        upload,
        books,
        key: key.clone(),
        credit,
        replace,
        max_bytes,
        actor: grant.actor(),
        state: app.state.clone(),
        repo: repo.clone(),
    })
}

impl PutObject {
    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.upload.received()
    }

    /// Adds the next piece of the body, reserving its bytes first.
    pub async fn push(&mut self, chunk: Bytes) -> StoreResult<()> {
        let total = self.upload.received() + chunk.len() as u64;
        if total > self.max_bytes {
            return Err(StoreError::TooLarge {
                limit: self.max_bytes,
            });
        }
        self.books.reserve_to(total.saturating_sub(self.credit))?;
        self.upload.push(chunk).await
    }

    /// Makes the object durable and counts it. Replacing history (with
    /// a token that may) and a refused attempt to are both audited.
    pub async fn commit(self) -> ServiceResult<Published> {
        let result = match self.upload.commit(self.replace, self.books).await {
            Err(StoreError::Exists(_)) => Err(append_only::overwrite_refusal(&self.key).into()),
            other => other.map_err(Into::into),
        };
        let history = !append_only::may_replace(&self.key);
        let audited = match &result {
            Ok(Published::Replaced) => history && self.replace,
            Err(ServiceError::AppendOnly(_)) => true,
            _ => false,
        };
        if audited {
            let outcome = audit::outcome(&result);
            audit::append(
                self.state,
                self.actor,
                "client.overwrite",
                Some(self.repo.as_str()),
                self.key.as_str(),
                outcome,
            )
            .await;
        }
        result
    }
}

/// DELETE of `key`. Deletes of anything but the coordination objects
/// (`locks/*`, `sessions/*`), which every client session writes and
/// removes, are audited, refused ones too.
pub async fn delete(app: &App, grant: &Grant, repo: &RepoName, key: &Key) -> ServiceResult<()> {
    let result = async {
        if append_only_for(app, repo, grant) {
            append_only::check_delete(key)?;
        }
        remove_object(app, repo, key).await
    }
    .await;
    if !key.kind().is_deletable_in_append_only() {
        audit::client(app, grant, "delete", repo, key.as_str(), &result).await;
    }
    result
}

/// Removes `key` with its books and no policy: for callers that have
/// applied their own (DELETE, an operator breaking a lock).
pub(crate) async fn remove_object(app: &App, repo: &RepoName, key: &Key) -> ServiceResult<()> {
    let inflight = begin_change(app, repo, Creates::No).await?;
    let books = RepoBooks::new(app, repo, inflight);
    Ok(app.store.delete(repo, key, books).await?)
}

/// Whether a batch-delete would be refused before its body is read.
pub async fn check_batch_delete(app: &App, grant: &Grant, repo: &RepoName) -> ServiceResult<()> {
    if append_only_for(app, repo, grant) {
        let refused = Err(append_only::batch_delete_refusal().into());
        audit::client(app, grant, "batch-delete", repo, "", &refused).await;
        return refused;
    }
    Ok(())
}

/// Batch-delete of `keys`.
pub async fn batch_delete(
    app: &App,
    grant: &Grant,
    repo: &RepoName,
    keys: Vec<String>,
    cleanup_dirs: bool,
) -> ServiceResult<BatchDeleteReport> {
    check_batch_delete(app, grant, repo).await?;
    let asked = keys.len();
    let result = async {
        let inflight = begin_change(app, repo, Creates::No).await?;
        let books = RepoBooks::new(app, repo, inflight);
        Ok(app
            .store
            .batch_delete(repo, keys, cleanup_dirs, books)
            .await?)
    }
    .await;
    let detail = match &result {
        Ok(r) => format!(
            "{asked} keys asked: {} deleted, {} skipped",
            r.deleted, r.skipped
        ),
        Err(_) => format!("{asked} keys asked"),
    };
    audit::client(app, grant, "batch-delete", repo, &detail, &result).await;
    result
}

/// Whether a write by `grant` may create its repository.
fn creates_for(grant: &Grant) -> Creates {
    if grant.may_create_repos() {
        Creates::Yes
    } else {
        Creates::Refused
    }
}

/// mkdir of `dir` (creating the repository).
pub async fn mkdir(app: &App, grant: &Grant, repo: &RepoName, dir: &DirKey) -> ServiceResult<()> {
    let _inflight = begin_change(app, repo, creates_for(grant)).await?;
    Ok(app.store.mkdir(repo, dir).await?)
}

/// `?init` of `repo`.
pub async fn init(app: &App, repo: &RepoName) -> ServiceResult<()> {
    let _inflight = begin_change(app, repo, Creates::Yes).await?;
    Ok(app.store.init(repo).await?)
}

/// `?repack` of `repo`. The store holds the plan to the quota with credit
/// for the sources it deletes (see `store::repack`): it is how a client
/// over its quota frees space, and it must write each new pack before
/// deleting a source, so usage may pass the limit while it runs, by at
/// most what it then frees.
pub async fn repack(
    app: &App,
    grant: &Grant,
    repo: &RepoName,
    plan: RepackPlan,
) -> ServiceResult<RepackResult> {
    let ops = plan.operations.len();
    let deleting = plan.operations.iter().filter(|o| o.delete_after).count();
    let result = async {
        if append_only_for(app, repo, grant) {
            append_only::check_repack(&plan)?;
        }
        let inflight = begin_change(app, repo, Creates::No).await?;
        let books = RepoBooks::new(app, repo, inflight);
        Ok(app
            .store
            .repack(repo, plan, app.repack_journal_dir(repo), books)
            .await?)
    }
    .await;
    let detail = match &result {
        Ok(r) => format!(
            "{ops} operations ({deleting} with delete_after): {} sources deleted",
            r.completed.iter().filter(|d| d.deleted).count()
        ),
        Err(_) => format!("{ops} operations ({deleting} with delete_after)"),
    };
    audit::client(app, grant, "repack", repo, &detail, &result).await;
    result
}
