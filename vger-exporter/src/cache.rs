//! A short-lived answer per server, shared by concurrent scrapes.
//!
//! Scrapes that arrive while a fetch is running wait for it instead of
//! starting their own, and an answer younger than the TTL is served again:
//! however many Prometheus replicas scrape, a server sees one set of
//! requests per TTL.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// One cached value, fetched at most once per TTL.
#[derive(Debug)]
pub struct Cached<T> {
    ttl: Duration,
    slot: Mutex<Option<(Instant, Arc<T>)>>,
}

impl<T> Cached<T> {
    /// An empty cache keeping values for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slot: Mutex::new(None),
        }
    }

    /// The cached value if younger than the TTL, else the result of
    /// `fetch`, which is kept. A caller dropped while fetching leaves the
    /// cache as it was, and the next caller fetches.
    pub async fn get<F, Fut>(&self, fetch: F) -> Arc<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((at, value)) = slot.as_ref()
            && at.elapsed() < self.ttl
        {
            return value.clone();
        }
        let value = Arc::new(fetch().await);
        *slot = Some((Instant::now(), value.clone()));
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    async fn counted(calls: &AtomicUsize) -> usize {
        tokio::time::sleep(Duration::from_millis(50)).await;
        calls.fetch_add(1, Ordering::SeqCst) + 1
    }

    #[tokio::test]
    async fn two_quick_reads_fetch_once() {
        let cache = Cached::new(Duration::from_secs(60));
        let calls = AtomicUsize::new(0);
        assert_eq!(*cache.get(|| counted(&calls)).await, 1);
        assert_eq!(*cache.get(|| counted(&calls)).await, 1);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn concurrent_reads_share_one_fetch() {
        let cache = Cached::new(Duration::from_secs(60));
        let calls = AtomicUsize::new(0);
        let (a, b, c) = tokio::join!(
            cache.get(|| counted(&calls)),
            cache.get(|| counted(&calls)),
            cache.get(|| counted(&calls))
        );
        assert_eq!((*a, *b, *c), (1, 1, 1));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_value_older_than_the_ttl_is_fetched_again() {
        let cache = Cached::new(Duration::from_millis(20));
        let calls = AtomicUsize::new(0);
        cache.get(|| counted(&calls)).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(*cache.get(|| counted(&calls)).await, 2);
    }

    #[tokio::test]
    async fn a_zero_ttl_fetches_every_time() {
        let cache = Cached::new(Duration::ZERO);
        let calls = AtomicUsize::new(0);
        cache.get(|| counted(&calls)).await;
        cache.get(|| counted(&calls)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_cancelled_fetch_leaves_the_cache_empty() {
        let cache = Cached::new(Duration::from_secs(60));
        let calls = AtomicUsize::new(0);
        let slow = cache.get(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            0
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(10), slow)
                .await
                .is_err()
        );
        assert_eq!(*cache.get(|| counted(&calls)).await, 1);
    }
}
