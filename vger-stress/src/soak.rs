//! The soak test: concurrent clients with a mixed workload against a real
//! server process for a long time, watching for errors, memory growth and
//! leaked file descriptors.
//!
//! Each client owns its keys in one of four repositories and, at random,
//! uploads packs, overwrites `index`, reads objects whole and by range,
//! HEADs them, lists, asks for stats, deletes its oldest objects and takes
//! and releases a server lock. Every answer is checked (content read back
//! equals what was written); any failure is an error. Server RSS and open
//! descriptors are sampled every second.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};
use reqwest::StatusCode;
use serde_json::json;
use shared_proto::pack::pack_header;
use vger_bench::data::blake2b_hex;
use vger_bench::procfs;
use vger_bench::server::{ServerProcess, TOKEN};

use crate::client::{Client, Outcome};
use crate::disk;

/// Settings of one soak run.
#[derive(Debug, Clone)]
pub struct SoakRun {
    /// Concurrent clients.
    pub clients: usize,
    /// How long the load runs.
    pub duration: Duration,
    /// Seed of every random choice.
    pub seed: u64,
}

/// The operations clients mix, with their weights.
const OPS: [(&str, u32); 9] = [
    ("put-pack", 18),
    ("put-index", 10),
    ("get", 16),
    ("get-range", 22),
    ("head", 10),
    ("list", 5),
    ("stats", 7),
    ("delete", 6),
    ("lock", 6),
];

/// What one client saw.
#[derive(Debug, Default)]
struct ClientLog {
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    errors: Vec<String>,
    bytes: u64,
}

/// One memory and descriptor sample.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Seconds since the load began.
    pub at: f64,
    /// Resident set in bytes.
    pub rss: u64,
    /// Open descriptors.
    pub fds: usize,
}

/// What a soak run measured.
#[derive(Debug)]
pub struct SoakReport {
    /// Requests made.
    pub requests: u64,
    /// Bytes moved (both ways).
    pub bytes: u64,
    /// Failures and wrong answers.
    pub errors: Vec<String>,
    /// Per operation: count, p50, p99, max.
    pub latency: Vec<(&'static str, usize, Duration, Duration, Duration)>,
    /// All operations: p50, p99, max.
    pub overall: (Duration, Duration, Duration),
    /// Memory and descriptor samples.
    pub samples: Vec<Sample>,
    /// Warm-up length.
    pub warm_up: Duration,
    /// RSS at the end of warm-up and at the end, in bytes.
    pub rss_warm: u64,
    /// RSS over the last samples.
    pub rss_end: u64,
    /// Descriptors before the load, and once it ended and clients left.
    pub fds_before: usize,
    /// See `fds_before`.
    pub fds_after: usize,
    /// Usage counters that disagree with the files, if any.
    pub usage_mismatch: Vec<String>,
    /// Elapsed load time.
    pub elapsed: Duration,
}

impl SoakReport {
    /// RSS growth after warm-up, as a fraction.
    pub fn rss_growth(&self) -> f64 {
        self.rss_end as f64 / self.rss_warm.max(1) as f64 - 1.0
    }

    /// Whether the run passes: no errors, RSS growth under `max_growth`
    /// (a fraction), no leaked descriptors, counters equal to the files.
    pub fn passed(&self, max_growth: f64) -> bool {
        self.errors.is_empty()
            && self.rss_growth() < max_growth
            && self.fds_after <= self.fds_before + 2
            && self.usage_mismatch.is_empty()
    }
}

fn pick(rng: &mut SmallRng) -> &'static str {
    let total: u32 = OPS.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    for (name, w) in OPS {
        if x < w {
            return name;
        }
        x -= w;
    }
    OPS[0].0
}

fn pack(rng: &mut SmallRng) -> (String, Bytes) {
    let mut bytes = pack_header().to_vec();
    for _ in 0..rng.random_range(1..=8) {
        let mut blob = vec![0u8; rng.random_range(1..=(256 << 10))];
        rng.fill_bytes(&mut blob);
        bytes.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&blob);
    }
    let hex = blake2b_hex(&bytes);
    (format!("packs/{}/{hex}", &hex[..2]), Bytes::from(bytes))
}

/// One client's loop until `stop`.
async fn client(id: usize, base: String, seed: u64, stop: Arc<AtomicBool>) -> ClientLog {
    let c = Client::new(&base, TOKEN);
    let mut rng = SmallRng::seed_from_u64(seed);
    let repo = format!("soak{}", id % 4);
    let mut log = ClientLog::default();
    // What this client wrote and still holds: key -> content.
    let mut mine: Vec<(String, Bytes)> = Vec::new();
    let index_key = format!("pending_index/client{id}");
    let lock = format!("{repo}/locks/client{id}");
    let mut locked = false;
    while !stop.load(Ordering::Relaxed) {
        let op = pick(&mut rng);
        let t = Instant::now();
        let outcome: Result<(), String> = match op {
            "put-pack" => {
                let (key, bytes) = pack(&mut rng);
                log.bytes += bytes.len() as u64;
                ok(c.put(&format!("{repo}/{key}"), bytes.clone()).await)
                    .map(|()| mine.push((key, bytes)))
            }
            "put-index" => {
                let mut b = vec![0u8; rng.random_range(0..(512 << 10))];
                rng.fill_bytes(&mut b);
                let b = Bytes::from(b);
                log.bytes += b.len() as u64;
                mine.retain(|(k, _)| *k != index_key);
                ok(c.put(&format!("{repo}/{index_key}"), b.clone()).await)
                    .map(|()| mine.push((index_key.clone(), b)))
            }
            "get" | "get-range" | "head" if !mine.is_empty() => {
                let (key, bytes) = mine[rng.random_range(0..mine.len())].clone();
                let path = format!("{repo}/{key}");
                match op {
                    "get" => ok(c.get(&path).await).and_then(|got| {
                        log.bytes += bytes.len() as u64;
                        (got.as_ref() == Some(&bytes)).then_some(()).ok_or_else(|| {
                            format!("GET {path}: content differs from what was written")
                        })
                    }),
                    "get-range" if !bytes.is_empty() => {
                        let first = rng.random_range(0..bytes.len() as u64);
                        let last =
                            (first + rng.random_range(0..(64 << 10))).min(bytes.len() as u64 - 1);
                        ok(c.get_range(&path, first, last).await).and_then(|got| {
                            log.bytes += got.len() as u64;
                            (got == bytes.slice(first as usize..=last as usize))
                                .then_some(())
                                .ok_or_else(|| {
                                    format!("GET {path} bytes={first}-{last}: wrong bytes")
                                })
                        })
                    }
                    _ => ok(c.head(&path).await).and_then(|n| {
                        (n == bytes.len() as u64)
                            .then_some(())
                            .ok_or_else(|| format!("HEAD {path}: {n} bytes, wrote {}", bytes.len()))
                    }),
                }
            }
            "list" => ok(c.json(&format!("{repo}/packs/?list")).await).map(|_| ()),
            "stats" => ok(c.json(&format!("{repo}?stats")).await).map(|_| ()),
            "delete" if mine.len() > 8 => {
                let (key, _) = mine.remove(0);
                ok(c.delete(&format!("{repo}/{key}"), false).await)
            }
            "lock" => {
                let o = if locked {
                    c.delete(&lock, false).await
                } else {
                    let holder = json!({"hostname": "soak", "pid": id});
                    c.post(&lock, &holder, &[StatusCode::CREATED])
                        .await
                        .map(|_| ())
                };
                let r = ok(o);
                if r.is_ok() {
                    locked = !locked;
                }
                r
            }
            _ => continue,
        };
        log.latencies.entry(op).or_default().push(t.elapsed());
        if let Err(e) = outcome {
            log.errors.push(e);
        }
        // Keep each client's share of the disk bounded.
        while mine.len() > 24 {
            let (key, _) = mine.remove(0);
            if let Err(e) = ok(c.delete(&format!("{repo}/{key}"), false).await) {
                log.errors.push(e);
            }
        }
    }
    log
}

fn ok<T>(o: Outcome<T>) -> Result<T, String> {
    match o {
        Outcome::Ok(v) => Ok(v),
        Outcome::Lost => Err("no answer (connection failed)".into()),
        Outcome::Wrong(e) => Err(e),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// Runs the soak against `binary` in `work`.
pub async fn run(binary: &Path, work: &Path, settings: &SoakRun) -> Result<SoakReport, String> {
    let data = work.join("data");
    let mut server = ServerProcess::start(binary, work, &data)
        .await
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let pid = server.pid();
    let fds_before = procfs::open_fds(pid).map_err(|e| format!("cannot read fds: {e}"))?;
    let setup = Client::new(&server.base(), TOKEN);
    for r in 0..4 {
        ok(setup
            .post(
                &format!("soak{r}?init"),
                &serde_json::Value::Null,
                &[StatusCode::CREATED],
            )
            .await)
        .map_err(|e| format!("cannot init soak{r}: {e}"))?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut rng = SmallRng::seed_from_u64(settings.seed);
    let started = Instant::now();
    let clients: Vec<_> = (0..settings.clients)
        .map(|id| tokio::spawn(client(id, server.base(), rng.next_u64(), stop.clone())))
        .collect();
    let mut samples = Vec::new();
    while started.elapsed() < settings.duration {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = procfs::rss_bytes(pid).map_err(|e| format!("cannot read RSS: {e}"))?;
        let fds = procfs::open_fds(pid).map_err(|e| format!("cannot read fds: {e}"))?;
        samples.push(Sample {
            at: started.elapsed().as_secs_f64(),
            rss,
            fds,
        });
    }
    stop.store(true, Ordering::Relaxed);
    let mut logs = Vec::new();
    for c in clients {
        logs.push(c.await.map_err(|e| format!("a client panicked: {e}"))?);
    }
    let elapsed = started.elapsed();
    // Clients are gone and their connections closed: descriptors must
    // come back to where they were.
    let mut fds_after = usize::MAX;
    for _ in 0..50 {
        fds_after = procfs::open_fds(pid).map_err(|e| format!("cannot read fds: {e}"))?;
        if fds_after <= fds_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Counters agree with the files.
    let mut usage_mismatch = Vec::new();
    let c = Client::new(&server.base(), TOKEN);
    for r in 0..4 {
        let repo = format!("soak{r}");
        if let (Outcome::Ok(stats), Ok(u)) = (
            c.json(&format!("{repo}?stats")).await,
            disk::usage(&data.join(&repo)),
        ) {
            if stats["total_bytes"].as_u64() != Some(u.bytes)
                || stats["total_objects"].as_u64() != Some(u.objects)
            {
                usage_mismatch.push(format!("{repo}: stats {stats}, files {u:?}"));
            }
        }
    }
    server
        .stop()
        .map_err(|e| format!("the server did not stop cleanly: {e}"))?;

    let mut by_op: BTreeMap<&'static str, Vec<Duration>> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut bytes = 0;
    for log in logs {
        for (op, v) in log.latencies {
            by_op.entry(op).or_default().extend(v);
        }
        errors.extend(log.errors);
        bytes += log.bytes;
    }
    let mut all: Vec<Duration> = by_op.values().flatten().copied().collect();
    all.sort_unstable();
    let latency = by_op
        .into_iter()
        .map(|(op, mut v)| {
            v.sort_unstable();
            (
                op,
                v.len(),
                percentile(&v, 0.5),
                percentile(&v, 0.99),
                *v.last().unwrap_or(&Duration::ZERO),
            )
        })
        .collect();
    // Warm-up: the first fifth of the run, at least 15 s, at most half
    // (allocator arenas, the block pool and connection buffers fill up
    // first).
    let warm_up = (settings.duration / 5)
        .max(Duration::from_secs(15))
        .min(settings.duration / 2);
    let around = |from: f64, to: f64| -> Vec<u64> {
        samples
            .iter()
            .filter(|s| s.at >= from && s.at <= to)
            .map(|s| s.rss)
            .collect()
    };
    let w = warm_up.as_secs_f64();
    let rss_warm = median(&mut around(w - 2.0, w + 2.0));
    let end = elapsed.as_secs_f64();
    let tail = (end * 0.1).max(3.0);
    let rss_end = median(&mut around(end - tail, end));
    Ok(SoakReport {
        requests: all.len() as u64,
        bytes,
        errors,
        latency,
        overall: (
            percentile(&all, 0.5),
            percentile(&all, 0.99),
            *all.last().unwrap_or(&Duration::ZERO),
        ),
        samples,
        warm_up,
        rss_warm,
        rss_end,
        fds_before,
        fds_after,
        usage_mismatch,
        elapsed,
    })
}
