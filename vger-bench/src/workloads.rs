//! The workloads, each measured on vger-server and on its baselines in
//! every repetition, the order alternating so drift on a shared machine
//! favours neither side.

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::ceiling;
use crate::client::Http;
use crate::data::{self, Pack};
use crate::drive;
use crate::raw;
use crate::report::{Side, Target, WorkloadResult};
use crate::server::ServerProcess;
use crate::stats::Sample;

/// Sizes and counts of one run.
#[derive(Debug, Clone)]
pub struct Scale {
    /// The usual pack size (32 MiB).
    pub pack: usize,
    /// The large pack size (128 MiB).
    pub big_pack: usize,
    /// Packs uploaded per PUT run: at least this many, and two per worker.
    pub min_put_packs: usize,
    /// Packs in the read set (full and range GETs, HEADs).
    pub read_packs: usize,
    /// Range GETs per run.
    pub range_ops: usize,
    /// Bytes per range GET.
    pub range_len: u64,
    /// Small PUTs per run.
    pub small_ops: usize,
    /// Bytes per small PUT.
    pub small_len: usize,
    /// HEADs per run.
    pub head_ops: usize,
    /// Objects of the large repository.
    pub repo_objects: usize,
    /// Requests per run of `?list`, `?stats`, `?verify-structure`.
    pub list_ops: usize,
    /// See `list_ops`.
    pub stats_ops: usize,
    /// See `list_ops`.
    pub verify_ops: usize,
    /// Restarts per start-up run.
    pub startups: usize,
    /// Bytes backed up by the client-shaped session.
    pub session_bytes: usize,
}

const MIB: usize = 1 << 20;

impl Scale {
    /// The documented full run.
    pub fn full() -> Self {
        Self {
            pack: 32 * MIB,
            big_pack: 128 * MIB,
            min_put_packs: 8,
            read_packs: 16,
            range_ops: 4000,
            range_len: 64 * 1024,
            small_ops: 2000,
            small_len: 4096,
            head_ops: 4000,
            repo_objects: 50_000,
            list_ops: 20,
            stats_ops: 2000,
            verify_ops: 5,
            startups: 3,
            session_bytes: 1024 * MIB,
        }
    }

    /// Seconds-long: proves the program works, judges nothing.
    pub fn smoke() -> Self {
        Self {
            pack: 256 * 1024,
            big_pack: MIB,
            min_put_packs: 2,
            read_packs: 4,
            range_ops: 50,
            range_len: 64 * 1024,
            small_ops: 40,
            small_len: 4096,
            head_ops: 40,
            repo_objects: 300,
            list_ops: 3,
            stats_ops: 20,
            verify_ops: 2,
            startups: 1,
            session_bytes: 4 * MIB,
        }
    }

    fn put_count(&self, c: usize) -> usize {
        self.min_put_packs.max(2 * c)
    }
}

/// Repository of the read set.
pub const READ_REPO: &str = "read";
/// Repository of 50,000 objects.
pub const LARGE_REPO: &str = "large";

/// Everything the workloads share.
#[derive(Debug)]
pub struct Bench {
    /// Sizes and counts.
    pub scale: Scale,
    /// Repetitions of each workload.
    pub reps: usize,
    /// Where the raw-disk baselines write (same filesystem as the server).
    pub work: PathBuf,
    /// vger-server.
    pub server: Http,
    /// The server process, when the benchmark started it.
    pub process: Option<ServerProcess>,
    /// An idle server on an empty data dir: the start-up baseline.
    pub empty: Option<ServerProcess>,
    /// The loopback ceiling.
    pub ceiling: Http,
    /// Packs stored on the server, as files in `work/read` and in the ceiling.
    pub read_set: Arc<Vec<Pack>>,
    /// The large repository's files (the server's own copy when local).
    pub large_dir: PathBuf,
    /// Numbers packs so that no two runs upload the same one.
    pub next_set: u64,
}

/// Runs `f` against the server, metering its process when there is one.
pub(crate) async fn metered<F>(process: Option<&ServerProcess>, f: F) -> Result<Sample, String>
where
    F: Future<Output = Result<Sample, String>>,
{
    let meter = process.map(ServerProcess::meter);
    let mut sample = f.await?;
    if let Some(m) = meter {
        (sample.server_cpu_s, sample.server_peak_rss_bytes) = m.read();
    }
    Ok(sample)
}

pub(crate) fn io(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Where the raw baseline keeps a pack: `dir/<hh>/<hex>`.
pub(crate) fn raw_pack_path(dir: &Path, key: &str) -> PathBuf {
    dir.join(key.trim_start_matches("packs/"))
}

pub(crate) fn make_shards(dir: &Path) -> Result<(), String> {
    for shard in 0..256 {
        fs::create_dir_all(dir.join(format!("{shard:02x}"))).map_err(io("create raw shards"))?;
    }
    Ok(())
}

/// Durably writes `packs` into `dir` on `c` threads.
pub(crate) fn raw_put_packs(dir: &Path, packs: &[Pack], c: usize) -> Result<Sample, String> {
    drive::threads(c, packs.len(), |i| {
        let p = &packs[i];
        let path = raw_pack_path(dir, &p.key);
        let (parent, name) = (path.parent().unwrap_or(dir), path.file_name());
        let name = name.and_then(|n| n.to_str()).unwrap_or_default();
        raw::durable_write(parent, name, &p.bytes).map_err(io("raw write"))?;
        Ok(p.bytes.len() as u64)
    })
}

/// PUTs `packs` into `repo` on `c` tasks.
pub(crate) async fn http_put_packs(
    http: &Http,
    repo: &str,
    packs: &Arc<Vec<Pack>>,
    c: usize,
) -> Result<Sample, String> {
    let (http, packs, repo) = (http.clone(), packs.clone(), repo.to_owned());
    drive::tasks(c, packs.len(), move |i| {
        let (http, p) = (http.clone(), packs[i].clone());
        let path = format!("/{repo}/{}", p.key);
        async move { http.put(&path, p.bytes).await }
    })
    .await
}

impl Bench {
    pub(crate) fn new_set(&mut self) -> u64 {
        self.next_set += 1;
        self.next_set
    }

    /// Uploads the read set and writes it as raw files (set-up, untimed).
    pub async fn prepare_read_set(&self) -> Result<(), String> {
        let dir = self.work.join("read");
        make_shards(&dir)?;
        tokio::task::block_in_place(|| raw_put_packs(&dir, &self.read_set, 2))?;
        http_put_packs(&self.server, READ_REPO, &self.read_set, 4).await?;
        Ok(())
    }

    /// PUT of `count` fresh packs of `size` bytes at concurrency `c`.
    pub async fn put_packs(
        &mut self,
        size: usize,
        c: usize,
        targets: Vec<Target>,
    ) -> Result<WorkloadResult, String> {
        let n = self.scale.put_count(c);
        let mib = size / MIB;
        let label = if mib > 0 {
            format!("{mib}m")
        } else {
            format!("{}k", size / 1024)
        };
        let mut result = WorkloadResult::new(
            format!("put-{label}-c{c}"),
            format!("PUT {n} unique packs of {} at concurrency {c}", human(size)),
            targets,
        );
        let repo = format!("put-{label}-c{c}");
        for rep in 0..self.reps {
            let packs = Arc::new(data::packs(self.new_set(), n, size));
            let dir = self.work.join(format!("raw-{repo}"));
            make_shards(&dir)?;
            for side in order(rep, [Side::RawDisk, Side::Server]) {
                let sample = match side {
                    Side::RawDisk => {
                        tokio::task::block_in_place(|| raw_put_packs(&dir, &packs, c))?
                    }
                    _ => {
                        metered(
                            self.process.as_ref(),
                            http_put_packs(&self.server, &repo, &packs, c),
                        )
                        .await?
                    }
                };
                result.push(side, sample);
            }
            fs::remove_dir_all(&dir).map_err(io("remove raw packs"))?;
            self.server.empty_repo(&repo).await?;
        }
        Ok(result)
    }

    /// Full GETs of read-set packs at concurrency `c`.
    pub async fn get_packs(
        &mut self,
        c: usize,
        targets: Vec<Target>,
    ) -> Result<WorkloadResult, String> {
        let all = self.read_set.len();
        let n = if c > 1 { all } else { (all / 2).max(1) };
        let mut result = WorkloadResult::new(
            format!("get-c{c}"),
            format!(
                "GET {n} whole packs of {} at concurrency {c}",
                human(self.read_set[0].bytes.len())
            ),
            targets,
        );
        let dir = self.work.join("read");
        for rep in 0..self.reps {
            let sides = [
                Side::Ceiling,
                Side::CopyCeiling,
                Side::RawDisk,
                Side::Server,
            ];
            for side in order(rep, sides) {
                let sample = match side {
                    Side::RawDisk => tokio::task::block_in_place(|| {
                        drive::threads(c, n, |i| {
                            raw::read_all(&raw_pack_path(&dir, &self.read_set[i].key))
                                .map_err(io("raw read"))
                        })
                    })?,
                    Side::Ceiling => self.http_gets(&self.ceiling.clone(), "", c, n).await?,
                    Side::CopyCeiling => {
                        let ceiling = self.ceiling.clone();
                        self.http_gets(&ceiling, ceiling::COPY_PREFIX, c, n).await?
                    }
                    _ => {
                        let run = self.http_gets(&self.server, "", c, n);
                        metered(self.process.as_ref(), run).await?
                    }
                };
                result.push(side, sample);
            }
        }
        Ok(result)
    }

    async fn http_gets(
        &self,
        http: &Http,
        prefix: &'static str,
        c: usize,
        n: usize,
    ) -> Result<Sample, String> {
        let (http, set) = (http.clone(), self.read_set.clone());
        drive::tasks(c, n, move |i| {
            let http = http.clone();
            let path = format!("{prefix}/{READ_REPO}/{}", set[i].key);
            async move { http.get(&path).await }
        })
        .await
    }

    /// Range GETs of `range_len` bytes at random offsets of the read set.
    pub async fn range_gets(
        &mut self,
        c: usize,
        targets: Vec<Target>,
    ) -> Result<WorkloadResult, String> {
        let len = self.scale.range_len;
        let n = self.scale.range_ops;
        let mut result = WorkloadResult::new(
            format!("range-{}k-c{c}", len / 1024),
            format!(
                "{n} GETs of {} at random offsets, concurrency {c}",
                human(len as usize)
            ),
            targets,
        );
        let dir = self.work.join("read");
        for rep in 0..self.reps {
            let mut rng = SmallRng::seed_from_u64(rep as u64);
            let picks: Arc<Vec<(usize, u64)>> = Arc::new(
                (0..n)
                    .map(|_| {
                        let p = rng.random_range(0..self.read_set.len());
                        let room = self.read_set[p].bytes.len() as u64 - len;
                        (p, rng.random_range(0..=room))
                    })
                    .collect(),
            );
            for side in order(rep, [Side::Ceiling, Side::RawDisk, Side::Server]) {
                let sample = match side {
                    Side::RawDisk => tokio::task::block_in_place(|| {
                        drive::threads(c, n, |i| {
                            let (p, off) = picks[i];
                            raw::read_range(
                                &raw_pack_path(&dir, &self.read_set[p].key),
                                off,
                                len as usize,
                            )
                            .map_err(io("raw range read"))
                        })
                    })?,
                    Side::Ceiling => {
                        self.http_ranges(&self.ceiling.clone(), c, &picks, len)
                            .await?
                    }
                    _ => {
                        metered(
                            self.process.as_ref(),
                            self.http_ranges(&self.server, c, &picks, len),
                        )
                        .await?
                    }
                };
                result.push(side, sample);
            }
        }
        Ok(result)
    }

    async fn http_ranges(
        &self,
        http: &Http,
        c: usize,
        picks: &Arc<Vec<(usize, u64)>>,
        len: u64,
    ) -> Result<Sample, String> {
        let (http, set, picks) = (http.clone(), self.read_set.clone(), picks.clone());
        drive::tasks(c, picks.len(), move |i| {
            let http = http.clone();
            let (p, off) = picks[i];
            let path = format!("/{READ_REPO}/{}", set[p].key);
            async move { http.get_range(&path, off, len).await }
        })
        .await
    }

    /// Small PUTs under `snapshots/` at concurrency `c`.
    pub async fn small_puts(
        &mut self,
        c: usize,
        targets: Vec<Target>,
    ) -> Result<WorkloadResult, String> {
        let (n, len) = (self.scale.small_ops, self.scale.small_len);
        let mut result = WorkloadResult::new(
            format!("put-{}k-c{c}", len / 1024),
            format!(
                "PUT {n} objects of {} under snapshots/ at concurrency {c}",
                human(len)
            ),
            targets,
        );
        let repo = "small";
        for rep in 0..self.reps {
            let set = self.new_set();
            let objects: Arc<Vec<(String, Bytes)>> = Arc::new(
                (0..n as u64)
                    .map(|i| {
                        let id = (set << 32) | i;
                        (format!("{id:064x}"), Bytes::from(data::noise(id, len)))
                    })
                    .collect(),
            );
            let dir = self.work.join("raw-small");
            fs::create_dir_all(&dir).map_err(io("create raw dir"))?;
            for side in order(rep, [Side::RawDisk, Side::Server]) {
                let sample = match side {
                    Side::RawDisk => tokio::task::block_in_place(|| {
                        drive::threads(c, n, |i| {
                            let (name, data) = &objects[i];
                            raw::durable_write(&dir, name, data).map_err(io("raw write"))?;
                            Ok(data.len() as u64)
                        })
                    })?,
                    _ => {
                        let (http, objects) = (self.server.clone(), objects.clone());
                        metered(
                            self.process.as_ref(),
                            drive::tasks(c, n, move |i| {
                                let http = http.clone();
                                let (name, data) = objects[i].clone();
                                async move { http.put(&format!("/{repo}/snapshots/{name}"), data).await }
                            }),
                        )
                        .await?
                    }
                };
                result.push(side, sample);
            }
            fs::remove_dir_all(&dir).map_err(io("remove raw dir"))?;
            self.server.empty_repo(repo).await?;
        }
        Ok(result)
    }

    /// HEADs of read-set packs at concurrency `c`.
    pub async fn heads(&mut self, c: usize) -> Result<WorkloadResult, String> {
        let n = self.scale.head_ops;
        let mut result = WorkloadResult::new(
            format!("head-c{c}"),
            format!("{n} HEADs of packs at concurrency {c}"),
            vec![],
        );
        for rep in 0..self.reps {
            for side in order(rep, [Side::Ceiling, Side::Server]) {
                let http = if side == Side::Ceiling {
                    self.ceiling.clone()
                } else {
                    self.server.clone()
                };
                let set = self.read_set.clone();
                let run = drive::tasks(c, n, move |i| {
                    let http = http.clone();
                    let path = format!("/{READ_REPO}/{}", set[i % set.len()].key);
                    async move { http.head(&path).await }
                });
                let sample = if side == Side::Server {
                    metered(self.process.as_ref(), run).await?
                } else {
                    run.await?
                };
                result.push(side, sample);
            }
        }
        Ok(result)
    }

    /// A repository query (`?list` of packs, `?stats`, `?verify-structure`)
    /// on the large repository, one request at a time; `raw` is the disk
    /// work it stands for, if any.
    pub async fn large_query(
        &mut self,
        name: &str,
        path: &str,
        n: usize,
        raw: Option<fn(&Path) -> std::io::Result<u64>>,
        targets: Vec<Target>,
    ) -> Result<WorkloadResult, String> {
        let objects = self.scale.repo_objects;
        let mut result = WorkloadResult::new(
            name,
            format!("GET {path} on a repository of {objects} objects, {n} requests one at a time"),
            targets,
        );
        let url = format!("/{LARGE_REPO}{path}");
        for rep in 0..self.reps {
            let mut sides = vec![Side::Server];
            if raw.is_some() {
                sides = order(rep, [Side::RawDisk, Side::Server]).to_vec();
            }
            for side in sides {
                let sample = match (side, raw) {
                    (Side::RawDisk, Some(f)) => {
                        let dir = self.large_dir.clone();
                        tokio::task::block_in_place(|| {
                            drive::threads(1, n, |_| f(&dir).map_err(io("raw walk")).map(|_| 0))
                        })?
                    }
                    _ => {
                        let (http, url) = (self.server.clone(), url.clone());
                        let mut s = metered(
                            self.process.as_ref(),
                            drive::tasks(1, n, move |_| {
                                let (http, url) = (http.clone(), url.clone());
                                async move { http.query(&url).await }
                            }),
                        )
                        .await?;
                        // Answer sizes are not payload: judge requests per second.
                        s.bytes = 0;
                        s
                    }
                };
                result.push(side, sample);
            }
        }
        Ok(result)
    }

    /// Start-up time with the large repository, against an empty data dir.
    pub async fn startup(
        &mut self,
        targets: Vec<Target>,
    ) -> Result<Option<WorkloadResult>, String> {
        let (Some(_), Some(_)) = (self.process.as_ref(), self.empty.as_ref()) else {
            return Ok(None);
        };
        let k = self.scale.startups;
        let mut result = WorkloadResult::new(
            "startup",
            format!(
                "spawn to first /health 200, {k} restarts per repetition, with {} objects on disk",
                self.scale.repo_objects
            ),
            targets,
        );
        for rep in 0..self.reps {
            for side in order(rep, [Side::EmptyServer, Side::Server]) {
                let process = match side {
                    Side::EmptyServer => self.empty.as_mut(),
                    _ => self.process.as_mut(),
                };
                let Some(process) = process else { continue };
                let mut sample = Sample::default();
                for _ in 0..k {
                    let took = process.restart().await.map_err(io("restart"))?;
                    sample.elapsed += took;
                    sample.latencies.push(took);
                }
                result.push(side, sample);
            }
        }
        Ok(Some(result))
    }
}

/// `sides` in order for even repetitions, reversed for odd ones.
pub(crate) fn order<const N: usize>(rep: usize, mut sides: [Side; N]) -> [Side; N] {
    if rep % 2 == 1 {
        sides.reverse();
    }
    sides
}

/// A byte count for people.
pub fn human(bytes: usize) -> String {
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1024 && bytes % 1024 == 0 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} B")
    }
}

/// How long a run took, for progress lines.
pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_repetitions_run_the_sides_in_reverse() {
        assert_eq!(
            order(0, [Side::RawDisk, Side::Server]),
            [Side::RawDisk, Side::Server]
        );
        assert_eq!(
            order(1, [Side::RawDisk, Side::Server]),
            [Side::Server, Side::RawDisk]
        );
    }

    #[test]
    fn a_put_run_gives_each_worker_two_packs_at_least() {
        let s = Scale::full();
        assert_eq!(s.put_count(1), 8);
        assert_eq!(s.put_count(8), 16);
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(32 << 20), "32 MiB");
        assert_eq!(human(64 << 10), "64 KiB");
        assert_eq!(human(100), "100 B");
    }
}
