//! A client-shaped session, timed end to end: initialise a repository,
//! back up in packs with index and manifest commits under a lock, restore
//! with coalesced ranged reads, and compact a third of the packs on the
//! server. The raw baseline does the same disk work as files.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::StatusCode;
use shared_proto::api::{BlobRef, LockRequest, RepackOp, RepackPlan};
use shared_proto::pack::{RECORD_PREFIX_LEN, pack_header};

use crate::client::Http;
use crate::data::{self, Pack};
use crate::drive;
use crate::raw;
use crate::report::{Side, WorkloadResult};
use crate::stats::Sample;
use crate::workloads::{
    Bench, http_put_packs, io, make_shards, metered, order, raw_pack_path, raw_put_packs,
};

/// Packs written between two index commits.
const PACKS_PER_COMMIT: usize = 8;
/// Upload and download concurrency, as a client runs it.
const CLIENT_CONCURRENCY: usize = 4;
/// Largest range a restore asks for in one request.
const MAX_COALESCED: u64 = 8 << 20;

/// Adjacent blobs of a pack merged into ranges of at most [`MAX_COALESCED`]
/// bytes, from the first blob's length prefix to the last blob's end:
/// `(pack index, offset, length)`.
fn coalesced_reads(packs: &[Pack]) -> Vec<(usize, u64, u64)> {
    let mut out = Vec::new();
    for (i, p) in packs.iter().enumerate() {
        let mut current: Option<(u64, u64)> = None;
        for &(off, len) in &p.blobs {
            let start = off - RECORD_PREFIX_LEN;
            let end = off + len;
            current = match current {
                Some((a, b)) if b == start && end - a <= MAX_COALESCED => Some((a, end)),
                Some((a, b)) => {
                    out.push((i, a, b - a));
                    Some((start, end))
                }
                None => Some((start, end)),
            };
        }
        if let Some((a, b)) = current {
            out.push((i, a, b - a));
        }
    }
    out
}

/// Every other blob of each pack in the first third: what the compaction keeps.
fn compaction(packs: &[Pack]) -> Vec<(usize, Vec<(u64, u64)>)> {
    (0..packs.len() / 3)
        .map(|i| (i, packs[i].blobs.iter().copied().step_by(2).collect()))
        .collect()
}

fn small(seed: u64, len: usize) -> Bytes {
    Bytes::from(data::noise(seed, len))
}

impl Bench {
    /// The client-shaped session, server against raw disk.
    pub async fn session(&mut self) -> Result<WorkloadResult, String> {
        let n = (self.scale.session_bytes / self.scale.pack).max(3);
        let mut result = WorkloadResult::new(
            "session",
            format!(
                "init; back up {n} packs of {} (index every {PACKS_PER_COMMIT}, c={CLIENT_CONCURRENCY}); restore by coalesced ranges; compact a third",
                crate::workloads::human(self.scale.pack)
            ),
            vec![],
        );
        for rep in 0..self.reps {
            let set = self.new_set();
            let packs = Arc::new(data::packs(set, n, self.scale.pack));
            for side in order(rep, [Side::RawDisk, Side::Server]) {
                let sample = match side {
                    Side::RawDisk => {
                        let dir = self.work.join("raw-session");
                        make_shards(&dir.join("packs"))?;
                        let s = tokio::task::block_in_place(|| raw_session(&dir, &packs))?;
                        fs::remove_dir_all(&dir).map_err(io("remove raw session"))?;
                        s
                    }
                    _ => {
                        let repo = format!("session-{set}");
                        let s = metered(
                            self.process.as_ref(),
                            http_session(&self.server, &repo, &packs),
                        )
                        .await?;
                        self.server.empty_repo(&repo).await?;
                        s
                    }
                };
                result.push(side, sample);
            }
        }
        Ok(result)
    }
}

/// The session's sample, from the times since its start at which the
/// backup, the restore and the compaction ended.
fn finish(packs: &[Pack], backed_up: Duration, restored: Duration, compacted: Duration) -> Sample {
    Sample {
        elapsed: compacted,
        bytes: packs.iter().map(|p| p.bytes.len() as u64).sum(),
        latencies: vec![compacted],
        phases: vec![
            ("backup", backed_up),
            ("restore", restored - backed_up),
            ("compact", compacted - restored),
        ],
        ..Sample::default()
    }
}

async fn http_session(http: &Http, repo: &str, packs: &Arc<Vec<Pack>>) -> Result<Sample, String> {
    let base = format!("/{repo}");
    let t0 = Instant::now();
    http.post_json(&format!("{base}?init"), &(), &[StatusCode::CREATED])
        .await?;
    http.put(&format!("{base}/config"), small(1, 512)).await?;
    http.put(&format!("{base}/keys/repokey"), small(2, 512))
        .await?;
    let lock = LockRequest {
        hostname: "vger-bench".into(),
        pid: u64::from(std::process::id()),
    };
    http.post_json(
        &format!("{base}/locks/repo-lock"),
        &lock,
        &[StatusCode::CREATED],
    )
    .await?;
    for (i, batch) in packs.chunks(PACKS_PER_COMMIT).enumerate() {
        http_put_packs(http, repo, &Arc::new(batch.to_vec()), CLIENT_CONCURRENCY).await?;
        http.put(&format!("{base}/index"), small(10 + i as u64, 256 << 10))
            .await?;
    }
    http.put(
        &format!("{base}/snapshots/{:064x}", t0.elapsed().as_nanos()),
        small(3, 4096),
    )
    .await?;
    http.put(&format!("{base}/manifest"), small(4, 4096))
        .await?;
    http.delete(&format!("{base}/locks/repo-lock")).await?;
    let backed_up = t0.elapsed();

    let reads = Arc::new(coalesced_reads(packs));
    let (h, ps, rs, b) = (http.clone(), packs.clone(), reads.clone(), base.clone());
    drive::tasks(CLIENT_CONCURRENCY, reads.len(), move |i| {
        let h = h.clone();
        let (p, off, len) = rs[i];
        let path = format!("{b}/{}", ps[p].key);
        async move { h.get_range(&path, off, len).await }
    })
    .await?;
    let restored = t0.elapsed();

    let plan = RepackPlan {
        operations: compaction(packs)
            .into_iter()
            .map(|(i, keep)| RepackOp {
                source_pack: packs[i].key.clone(),
                keep_blobs: keep
                    .into_iter()
                    .map(|(offset, length)| BlobRef { offset, length })
                    .collect(),
                delete_after: true,
            })
            .collect(),
        protocol_version: 1,
    };
    http.post_json(&format!("{base}?repack"), &plan, &[StatusCode::OK])
        .await?;
    http.put(&format!("{base}/index"), small(5, 256 << 10))
        .await?;
    http.put(&format!("{base}/manifest"), small(6, 4096))
        .await?;
    Ok(finish(packs, backed_up, restored, t0.elapsed()))
}

/// The session's disk work as plain files in `dir`.
fn raw_session(dir: &Path, packs: &Arc<Vec<Pack>>) -> Result<Sample, String> {
    let write = |name: &str, seed: u64, len: usize| {
        raw::durable_write(dir, name, &data::noise(seed, len)).map_err(io("raw write"))
    };
    let packs_dir = dir.join("packs");
    let t0 = Instant::now();
    write("config", 1, 512)?;
    write("repokey", 2, 512)?;
    for (i, batch) in packs.chunks(PACKS_PER_COMMIT).enumerate() {
        raw_put_packs(&packs_dir, batch, CLIENT_CONCURRENCY)?;
        write("index", 10 + i as u64, 256 << 10)?;
    }
    write("snapshot", 3, 4096)?;
    write("manifest", 4, 4096)?;
    let backed_up = t0.elapsed();

    let reads = coalesced_reads(packs);
    drive::threads(CLIENT_CONCURRENCY, reads.len(), |i| {
        let (p, off, len) = reads[i];
        raw::read_range(&raw_pack_path(&packs_dir, &packs[p].key), off, len as usize)
            .map_err(io("raw range read"))
    })?;
    let restored = t0.elapsed();

    for (i, keep) in compaction(packs) {
        let source = raw_pack_path(&packs_dir, &packs[i].key);
        let file = fs::File::open(&source).map_err(io("open source pack"))?;
        let mut new = pack_header().to_vec();
        for (off, len) in keep {
            let mut blob = vec![0u8; len as usize];
            std::os::unix::fs::FileExt::read_exact_at(&file, &mut blob, off)
                .map_err(io("read blob"))?;
            new.extend_from_slice(&(len as u32).to_le_bytes());
            new.extend_from_slice(&blob);
        }
        let hex = data::blake2b_hex(&new);
        let shard = packs_dir.join(&hex[..2]);
        raw::durable_write(&shard, &hex, &new).map_err(io("raw write"))?;
        fs::remove_file(&source).map_err(io("remove source pack"))?;
        if let Some(parent) = source.parent() {
            fs::File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(io("sync shard"))?;
        }
    }
    write("index", 5, 256 << 10)?;
    write("manifest", 6, 4096)?;
    Ok(finish(packs, backed_up, restored, t0.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesced_reads_cover_every_blob_once_within_the_limit() {
        let packs = vec![data::pack(1, 20 << 20, 1 << 20)];
        let reads = coalesced_reads(&packs);
        assert!(reads.iter().all(|&(_, _, len)| len <= MAX_COALESCED));
        let covered: u64 = reads.iter().map(|r| r.2).sum();
        assert_eq!(covered, packs[0].bytes.len() as u64 - 9);
        assert!(reads.windows(2).all(|w| w[0].1 + w[0].2 == w[1].1));
    }

    #[test]
    fn compaction_keeps_every_other_blob_of_the_first_third() {
        let packs: Vec<Pack> = (0..6).map(|i| data::pack(i, 5000, 1000)).collect();
        let plan = compaction(&packs);
        assert_eq!(plan.iter().map(|p| p.0).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(plan[0].1.len(), packs[0].blobs.len().div_ceil(2));
    }
}
