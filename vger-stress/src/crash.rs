//! The crash harness: concurrent writers against a real server process,
//! killed with SIGKILL at random moments and started again, with the whole
//! repository checked against what was acknowledged after every restart.
//!
//! Writers, each owning its keys so that each key sees one change at a
//! time:
//! - two pack writers (`r0`), which also delete their oldest packs;
//! - a backup writer storing new snapshots in `r0` (which has no manifest,
//!   so each one completes a backup) and pruning old ones;
//! - an index writer overwriting `index` and `manifest` in `r1`;
//! - a repacker writing packs in `r0` and repacking each into a smaller one
//!   with `delete_after`;
//! - a lock writer taking and releasing `r1`'s server lock.
//!
//! After every restart: each object reads back as acknowledged (or as the
//! change in flight), no repack in flight lost both its source and its new
//! pack, `?list` shows exactly the present objects, no temp file is left
//! anywhere, `?stats` counts what is on disk, the lock and
//! `last_backup_at` are as acknowledged.
//!
//! SIGKILL leaves the kernel's page cache alone, so this checks atomicity
//! and ordering, not that an fsync was made; see docs/reliability.md.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};
use reqwest::StatusCode;
use serde_json::json;
use shared_proto::pack::pack_header;
use vger_bench::data::blake2b_hex;
use vger_bench::server::{ServerProcess, TOKEN};

use crate::client::{Client, Outcome};
use crate::disk;
use crate::model::{Model, Violation};

/// Settings of one harness run.
#[derive(Debug, Clone)]
pub struct CrashRun {
    /// Kill-and-restart cycles.
    pub cycles: u32,
    /// Seed of every random choice (kill moments, sizes, contents).
    pub seed: u64,
    /// Longest time the writers run before a kill.
    pub max_run: Duration,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct CrashReport {
    /// Cycles completed.
    pub cycles: u32,
    /// Changes acknowledged by the server.
    pub acked: u64,
    /// Changes in flight at the kills (outcome unknown until checked).
    pub in_flight: u64,
    /// Objects checked, summed over cycles.
    pub checked: u64,
    /// Violations of the model, and wrong answers.
    pub violations: Vec<String>,
}

const REPOS: [&str; 2] = ["r0", "r1"];
const LOCK_HOLDER: &str = "vger-stress";

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A pack of `blobs` random blobs, each 1 byte to `max_blob` bytes.
fn random_pack(rng: &mut SmallRng, blobs: usize, max_blob: usize) -> (String, Bytes, Vec<Bytes>) {
    let parts: Vec<Bytes> = (0..blobs)
        .map(|_| {
            let mut b = vec![0u8; rng.random_range(1..=max_blob)];
            rng.fill_bytes(&mut b);
            Bytes::from(b)
        })
        .collect();
    let (key, bytes) = frame(&parts);
    (key, bytes, parts)
}

/// The pack holding `blobs` in order, and its key.
fn frame(blobs: &[Bytes]) -> (String, Bytes) {
    let mut bytes = pack_header().to_vec();
    for b in blobs {
        bytes.extend_from_slice(&(b.len() as u32).to_le_bytes());
        bytes.extend_from_slice(b);
    }
    let hex = blake2b_hex(&bytes);
    (format!("packs/{}/{hex}", &hex[..2]), Bytes::from(bytes))
}

fn random_bytes(rng: &mut SmallRng, max: usize) -> Bytes {
    let mut b = vec![0u8; rng.random_range(0..=max)];
    rng.fill_bytes(&mut b);
    Bytes::from(b)
}

/// Shared by the writers of one cycle.
struct Ctx {
    client: Client,
    model: Arc<Model>,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
    wrong: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Ctx {
    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    /// Records an outcome; `true` when the writer should go on.
    fn settle<T>(&self, outcome: &Outcome<T>) -> bool {
        match outcome {
            Outcome::Ok(_) => {
                self.acked.fetch_add(1, Ordering::Relaxed);
                true
            }
            Outcome::Lost => false,
            Outcome::Wrong(e) => {
                self.wrong
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(e.clone());
                false
            }
        }
    }

    async fn put(&self, repo: &str, key: &str, data: Bytes) -> bool {
        self.model.begin(repo, key, Some(data.clone()));
        let o = self.client.put(&format!("{repo}/{key}"), data).await;
        if matches!(o, Outcome::Ok(_)) {
            self.model.ack(repo, key);
        }
        self.settle(&o)
    }

    async fn delete(&self, repo: &str, key: &str) -> bool {
        self.model.begin(repo, key, None);
        let o = self.client.delete(&format!("{repo}/{key}"), false).await;
        if matches!(o, Outcome::Ok(_)) {
            self.model.ack(repo, key);
        }
        self.settle(&o)
    }
}

/// Keys a writer owns, oldest first, that the model says are present.
fn present_of(model: &Model, repo: &str, owned: &mut Vec<String>) -> Vec<String> {
    owned.retain(|k| model.settled(repo, k) != Some(None));
    owned
        .iter()
        .filter(|k| matches!(model.settled(repo, k), Some(Some(_))))
        .cloned()
        .collect()
}

/// What a writer does next about the keys it keeps.
enum Trim {
    /// It holds no more than it may: go on writing.
    Room,
    /// It deleted its oldest key: look again.
    Deleted,
    /// The delete got no (or a wrong) answer: stop.
    Stop,
}

/// Deletes the writer's oldest present key in `repo` when it holds more
/// than `keep`, so each writer's share of the repository stays bounded.
async fn trim(ctx: &Ctx, repo: &str, owned: &mut Vec<String>, keep: usize) -> Trim {
    let present = present_of(&ctx.model, repo, owned);
    if present.len() <= keep {
        Trim::Room
    } else if ctx.delete(repo, &present[0]).await {
        Trim::Deleted
    } else {
        Trim::Stop
    }
}

async fn pack_writer(ctx: Arc<Ctx>, mut rng: SmallRng, mut owned: Vec<String>) -> Vec<String> {
    while ctx.running() {
        match trim(&ctx, "r0", &mut owned, 24).await {
            Trim::Room => {}
            Trim::Deleted => continue,
            Trim::Stop => break,
        }
        let blobs = rng.random_range(1..=6);
        let (key, bytes, _) = random_pack(&mut rng, blobs, 256 << 10);
        owned.push(key.clone());
        if !ctx.put("r0", &key, bytes).await {
            break;
        }
    }
    owned
}

async fn backup_writer(ctx: Arc<Ctx>, mut rng: SmallRng, mut owned: Vec<String>) -> Vec<String> {
    while ctx.running() {
        match trim(&ctx, "r0", &mut owned, 12).await {
            Trim::Room => {}
            Trim::Deleted => continue,
            Trim::Stop => break,
        }
        let key = format!("snapshots/{:016x}", rng.next_u64());
        owned.push(key.clone());
        let sent = now_secs();
        let data = random_bytes(&mut rng, 16 << 10);
        if !ctx.put("r0", &key, data).await {
            break;
        }
        ctx.model.backup_acked("r0", sent);
    }
    owned
}

async fn index_writer(ctx: Arc<Ctx>, mut rng: SmallRng) {
    while ctx.running() {
        let (key, max) = if rng.random_bool(0.5) {
            ("index", 512 << 10)
        } else {
            ("manifest", 4 << 10)
        };
        let data = random_bytes(&mut rng, max);
        if !ctx.put("r1", key, data).await {
            break;
        }
    }
}

async fn repacker(ctx: Arc<Ctx>, mut rng: SmallRng, mut owned: Vec<String>) -> Vec<String> {
    while ctx.running() {
        match trim(&ctx, "r0", &mut owned, 16).await {
            Trim::Room => {}
            Trim::Deleted => continue,
            Trim::Stop => break,
        }
        let count = rng.random_range(3..=8);
        let (source, bytes, blobs) = random_pack(&mut rng, count, 64 << 10);
        owned.push(source.clone());
        if !ctx.put("r0", &source, bytes).await {
            break;
        }
        // Keep a strict, non-empty subset, in order.
        let mut keep: Vec<usize> = (0..count).filter(|_| rng.random_bool(0.5)).collect();
        if keep.is_empty() {
            keep.push(0);
        }
        if keep.len() == count {
            keep.pop();
        }
        let mut offsets = Vec::new();
        let mut at = pack_header().len() as u64;
        for b in &blobs {
            offsets.push(at + 4);
            at += 4 + b.len() as u64;
        }
        let kept: Vec<Bytes> = keep.iter().map(|&i| blobs[i].clone()).collect();
        let (new_key, new_bytes) = frame(&kept);
        let plan = json!({
            "operations": [{
                "source_pack": source,
                "keep_blobs": keep.iter().map(|&i| json!({"offset": offsets[i], "length": blobs[i].len()})).collect::<Vec<_>>(),
                "delete_after": true,
            }],
            "protocol_version": 1,
        });
        owned.push(new_key.clone());
        ctx.model.repack_begin("r0", &source, &new_key, new_bytes);
        let o = ctx.client.post("r0?repack", &plan, &[StatusCode::OK]).await;
        if let Outcome::Ok(answer) = &o {
            let done = &answer["completed"][0];
            if done["new_pack"] != json!(new_key) || done["deleted"] != json!(true) {
                ctx.settle(&Outcome::<()>::Wrong(format!(
                    "repack of {source}: answered {done}, expected new_pack {new_key} and deleted"
                )));
                break;
            }
            ctx.model.repack_ack("r0", &source, &new_key);
        }
        if !ctx.settle(&o) {
            break;
        }
    }
    owned
}

async fn lock_writer(ctx: Arc<Ctx>, mut rng: SmallRng) {
    let body = json!({"hostname": LOCK_HOLDER, "pid": 4242});
    while ctx.running() {
        // Take or release, from what the model last settled on.
        let held = ctx.model.lock_settled().unwrap_or(false);
        ctx.model.lock_begin(!held);
        let o = if held {
            ctx.client.delete("r1/locks/repo-lock", false).await
        } else {
            ctx.client
                .post("r1/locks/repo-lock", &body, &[StatusCode::CREATED])
                .await
                .map(|_| ())
        };
        if matches!(o, Outcome::Ok(_)) {
            ctx.model.lock_ack();
        }
        if !ctx.settle(&o) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(5..50))).await;
    }
}

/// Keys each writer owns, carried from cycle to cycle.
#[derive(Debug, Default)]
struct Owned {
    packs: [Vec<String>; 2],
    snapshots: Vec<String>,
    repacked: Vec<String>,
}

/// Runs the harness against the server binary `binary` in `work`.
pub async fn run(binary: &Path, work: &Path, settings: &CrashRun) -> Result<CrashReport, String> {
    let data = work.join("data");
    let mut server = ServerProcess::start_with(binary, work, &data, "lock_ttl_seconds = 86400")
        .await
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let model = Arc::new(Model::default());
    let mut rng = SmallRng::seed_from_u64(settings.seed);
    let mut report = CrashReport::default();
    let mut owned = Owned::default();
    let client = Client::new(&server.base(), TOKEN);
    for repo in REPOS {
        init(&client, repo).await?;
    }
    for cycle in 0..settings.cycles {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicU64::new(0));
        let wrong = Arc::new(std::sync::Mutex::new(Vec::new()));
        let ctx = Arc::new(Ctx {
            client: Client::new(&server.base(), TOKEN),
            model: model.clone(),
            stop: stop.clone(),
            acked: acked.clone(),
            wrong: wrong.clone(),
        });
        let mut seeds = || SmallRng::seed_from_u64(rng.next_u64());
        let p0 = tokio::spawn(pack_writer(
            ctx.clone(),
            seeds(),
            std::mem::take(&mut owned.packs[0]),
        ));
        let p1 = tokio::spawn(pack_writer(
            ctx.clone(),
            seeds(),
            std::mem::take(&mut owned.packs[1]),
        ));
        let b = tokio::spawn(backup_writer(
            ctx.clone(),
            seeds(),
            std::mem::take(&mut owned.snapshots),
        ));
        let i = tokio::spawn(index_writer(ctx.clone(), seeds()));
        let r = tokio::spawn(repacker(
            ctx.clone(),
            seeds(),
            std::mem::take(&mut owned.repacked),
        ));
        let l = tokio::spawn(lock_writer(ctx.clone(), seeds()));
        let run_for =
            Duration::from_millis(rng.random_range(100..=settings.max_run.as_millis() as u64));
        tokio::time::sleep(run_for).await;
        stop.store(true, Ordering::Relaxed);
        server
            .kill()
            .map_err(|e| format!("cannot kill the server: {e}"))?;
        let join = |e: tokio::task::JoinError| format!("a writer panicked: {e}");
        owned.packs[0] = p0.await.map_err(join)?;
        owned.packs[1] = p1.await.map_err(join)?;
        owned.snapshots = b.await.map_err(join)?;
        i.await.map_err(join)?;
        owned.repacked = r.await.map_err(join)?;
        l.await.map_err(join)?;
        report.acked += acked.load(Ordering::Relaxed);
        report.in_flight += model.in_flight() as u64;
        report
            .violations
            .extend(wrong.lock().unwrap_or_else(|p| p.into_inner()).drain(..));
        server.start_again().await.map_err(|e| {
            format!("cycle {cycle}: the server did not start again after the kill: {e}")
        })?;
        let checked = check(&server, &model, &data, work).await;
        report.checked += checked.checked;
        for v in checked.violations {
            report.violations.push(format!("cycle {cycle}: {}", v.0));
        }
        report.cycles = cycle + 1;
        eprintln!(
            "cycle {:>3}: killed after {:>4} ms, {:>4} changes acknowledged, {} in flight, {} objects checked, {} violations so far",
            cycle + 1,
            run_for.as_millis(),
            acked.load(Ordering::Relaxed),
            report.in_flight,
            checked.checked,
            report.violations.len()
        );
    }
    // A clean stop must leave the same state as the checks saw.
    server
        .stop()
        .map_err(|e| format!("the server did not stop cleanly: {e}"))?;
    server
        .start_again()
        .await
        .map_err(|e| format!("the server did not start after a clean stop: {e}"))?;
    let checked = check(&server, &model, &data, work).await;
    report.checked += checked.checked;
    for v in checked.violations {
        report
            .violations
            .push(format!("after the clean stop: {}", v.0));
    }
    Ok(report)
}

async fn init(client: &Client, repo: &str) -> Result<(), String> {
    match client
        .post(
            &format!("{repo}?init"),
            &serde_json::Value::Null,
            &[StatusCode::CREATED],
        )
        .await
    {
        Outcome::Ok(_) => Ok(()),
        Outcome::Lost => Err(format!("init {repo}: no answer")),
        Outcome::Wrong(e) => Err(e),
    }
}

/// What one check found.
#[derive(Debug, Default)]
struct Checked {
    checked: u64,
    violations: Vec<Violation>,
}

/// Checks the restarted server against the model and the disk.
async fn check(server: &ServerProcess, model: &Model, data: &Path, work: &Path) -> Checked {
    let client = Client::new(&server.base(), TOKEN);
    let mut violations = Vec::new();
    let mut bad = |m: String| violations.push(Violation(m));
    // Objects.
    for (repo, key) in model.keys() {
        match client.get(&format!("{repo}/{key}")).await {
            Outcome::Ok(seen) => {
                if let Err(v) = model.observe(&repo, &key, seen) {
                    bad(v.0);
                }
            }
            Outcome::Lost => bad(format!("GET {repo}/{key}: no answer")),
            Outcome::Wrong(e) => bad(e),
        }
    }
    let checked = model.keys().len() as u64;
    for v in model.check_repacks() {
        bad(v.0);
    }
    // Listings show exactly the objects there are: no temp files, nothing lost.
    for repo in REPOS {
        match client.json(&format!("{repo}?list")).await {
            Outcome::Ok(v) => {
                let mut listed: Vec<String> = serde_json::from_value(v).unwrap_or_default();
                let mut expected = model.present(repo);
                listed.sort();
                expected.sort();
                if listed != expected {
                    let extra: Vec<_> = listed.iter().filter(|k| !expected.contains(k)).collect();
                    let missing: Vec<_> = expected.iter().filter(|k| !listed.contains(k)).collect();
                    bad(format!("{repo}?list: extra {extra:?}, missing {missing:?}"));
                }
            }
            Outcome::Lost => bad(format!("{repo}?list: no answer")),
            Outcome::Wrong(e) => bad(e),
        }
        // Counters equal what a reconcile counts from the files.
        match (
            client.json(&format!("{repo}?stats")).await,
            disk::usage(&data.join(repo)),
        ) {
            (Outcome::Ok(stats), Ok(u)) => {
                let got = (
                    stats["total_bytes"].as_u64(),
                    stats["total_objects"].as_u64(),
                    stats["total_packs"].as_u64(),
                );
                if got != (Some(u.bytes), Some(u.objects), Some(u.packs)) {
                    bad(format!(
                        "{repo}?stats says bytes/objects/packs {got:?}, the files say {}/{}/{}",
                        u.bytes, u.objects, u.packs
                    ));
                }
                let seen = stats["last_backup_at"]
                    .as_str()
                    .and_then(|t| humantime::parse_rfc3339(t).ok())
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_secs() as i64);
                if let Err(v) = model.backup_observe(repo, seen, now_secs()) {
                    bad(v.0);
                }
            }
            (Outcome::Ok(_), Err(e)) => bad(format!("cannot count {repo} on disk: {e}")),
            (Outcome::Lost, _) => bad(format!("{repo}?stats: no answer")),
            (Outcome::Wrong(e), _) => bad(e),
        }
    }
    // The server lock.
    match client.json("r1/locks").await {
        Outcome::Ok(v) => {
            let listed = v.as_array().is_some_and(|locks| {
                locks
                    .iter()
                    .any(|l| l["id"] == "repo-lock" && l["hostname"] == LOCK_HOLDER)
            });
            if let Err(v) = model.lock_observe(listed) {
                bad(v.0);
            }
        }
        Outcome::Lost => bad("r1/locks: no answer".into()),
        Outcome::Wrong(e) => bad(e),
    }
    // No temp file survives a restart, in the data or the state dir.
    match disk::temp_files(work) {
        Ok(t) if t.is_empty() => {}
        Ok(t) => bad(format!("temp files left after the restart: {t:?}")),
        Err(e) => bad(format!("cannot walk {}: {e}", work.display())),
    }
    model.forget_absent();
    Checked {
        checked,
        violations,
    }
}
