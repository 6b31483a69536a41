//! `GET /v1/status`: the server at a glance.

use std::sync::Arc;

use shared_proto::admin::ServerStatus;

use crate::app::App;
use crate::service::{ServiceResult, blocking};
use crate::state::{now_ms, rfc3339_ms};
use crate::store::StoreError;

/// The server's status: from the counters and one `statvfs`, never a walk.
pub async fn status(app: &Arc<App>) -> ServiceResult<ServerStatus> {
    let a = app.clone();
    let (space, repos) = blocking(move || {
        let space = a.store.disk_space().map_err(|e| StoreError::Io {
            context: "read the data directory's free space".into(),
            source: e,
        })?;
        Ok((space, a.store.list_repos_blocking()?))
    })
    .await?;
    let (mut used, mut objects, mut packs) = (0u64, 0u64, 0u64);
    for repo in &repos {
        if let Some(r) = app.state.repos.get(repo) {
            used += r.counters.bytes;
            objects += r.counters.objects;
            packs += r.counters.packs;
        }
    }
    let uptime = app.started.elapsed();
    Ok(ServerStatus {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_seconds: uptime.as_secs(),
        started_at: rfc3339_ms(now_ms() - uptime.as_millis() as i64),
        data_dir: app.store.data_dir().display().to_string(),
        disk_total_bytes: space.total,
        disk_free_bytes: space.free,
        repos: repos.len() as u64,
        used_bytes: used,
        objects,
        packs,
        locks: app.state.locks.all_live().len() as u64,
        config: app.summary.clone(),
        traffic: app.traffic.report(),
    })
}
