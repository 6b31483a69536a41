//! Running `n` operations at a fixed concurrency and timing each: on
//! threads for the raw-disk baselines, on tasks for HTTP.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::stats::Sample;

/// An operation's outcome: payload bytes moved, or why it failed.
pub type OpResult = Result<u64, String>;

/// Runs operations `0..n` on `c` threads; each returns its payload bytes.
/// The first failure ends the run with its message.
pub fn threads<F>(c: usize, n: usize, op: F) -> Result<Sample, String>
where
    F: Fn(usize) -> OpResult + Sync,
{
    let next = AtomicUsize::new(0);
    let t0 = Instant::now();
    let per_thread: Vec<Result<(u64, Vec<Duration>), String>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..c.max(1))
            .map(|_| {
                s.spawn(|| {
                    let (mut bytes, mut lat) = (0, Vec::new());
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return Ok((bytes, lat));
                        }
                        let t = Instant::now();
                        bytes += op(i)?;
                        lat.push(t.elapsed());
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("worker panicked".into())))
            .collect()
    });
    collect(t0.elapsed(), per_thread)
}

/// Runs operations `0..n` as `c` concurrent tasks; each returns its
/// payload bytes. The first failure ends the run with its message.
pub async fn tasks<F, Fut>(c: usize, n: usize, op: F) -> Result<Sample, String>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = OpResult> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let workers: Vec<_> = (0..c.max(1))
        .map(|_| {
            let (op, next) = (op.clone(), next.clone());
            tokio::spawn(async move {
                let (mut bytes, mut lat) = (0, Vec::new());
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return Ok((bytes, lat));
                    }
                    let t = Instant::now();
                    bytes += op(i).await?;
                    lat.push(t.elapsed());
                }
            })
        })
        .collect();
    let mut per_task = Vec::new();
    for w in workers {
        per_task.push(w.await.unwrap_or_else(|e| Err(format!("task failed: {e}"))));
    }
    collect(t0.elapsed(), per_task)
}

fn collect(
    elapsed: Duration,
    parts: Vec<Result<(u64, Vec<Duration>), String>>,
) -> Result<Sample, String> {
    let mut sample = Sample {
        elapsed,
        ..Sample::default()
    };
    for part in parts {
        let (bytes, lat) = part?;
        sample.bytes += bytes;
        sample.latencies.extend(lat);
    }
    Ok(sample)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_run_every_operation_once() {
        let s = threads(3, 10, |i| Ok(i as u64)).unwrap();
        assert_eq!(s.latencies.len(), 10);
        assert_eq!(s.bytes, 45);
    }

    #[test]
    fn a_failing_thread_operation_fails_the_run() {
        let r = threads(2, 10, |i| if i == 5 { Err("boom".into()) } else { Ok(1) });
        assert_eq!(r.unwrap_err(), "boom");
    }

    #[tokio::test]
    async fn tasks_run_every_operation_once() {
        let s = tasks(4, 10, |i| async move { Ok(i as u64) }).await.unwrap();
        assert_eq!(s.latencies.len(), 10);
        assert_eq!(s.bytes, 45);
    }

    #[tokio::test]
    async fn a_failing_task_operation_fails_the_run() {
        let r = tasks(2, 4, |i| async move {
            if i == 3 {
                Err("bad".to_string())
            } else {
                Ok(1)
            }
        })
        .await;
        assert_eq!(r.unwrap_err(), "bad");
    }
}
