//! One scrape: every watched server read at once, each within the scrape's
//! time limit, through its cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::cache::Cached;
use crate::config::Config;
use crate::source::{Snapshot, Source, SourceError};

/// One server's answer, or why there is none.
#[derive(Debug)]
pub struct Fetched {
    /// What the server said.
    pub result: Result<Snapshot, SourceError>,
    /// How long reading it took.
    pub took: Duration,
}

/// One server's part of a scrape.
#[derive(Debug, Clone)]
pub struct Report {
    /// The `server` label.
    pub server: String,
    /// Its answer (possibly cached).
    pub fetched: Arc<Fetched>,
}

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

#[derive(Debug)]
struct Watched {
    source: Source,
    cache: Cached<Fetched>,
    /// Last health seen, so that a failure is logged when it starts and
    /// when it ends, not on every scrape.
    health: AtomicU8,
}

/// Everything the exporter watches.
#[derive(Debug)]
pub struct Exporter {
    watched: Vec<Watched>,
    scrape_timeout: Duration,
}

impl Exporter {
    /// An exporter for the configured targets.
    pub fn new(config: &Config) -> Self {
        let watched = config
            .targets
            .iter()
            .map(|t| Watched {
                source: Source::new(t.clone()),
                cache: Cached::new(config.cache_ttl),
                health: AtomicU8::new(UNKNOWN),
            })
            .collect();
        Self {
            watched,
            scrape_timeout: config.scrape_timeout,
        }
    }

    /// Each target's name and URL, in the configured order.
    pub fn targets(&self) -> impl Iterator<Item = (&str, &str)> {
        self.watched.iter().map(|w| {
            let t = w.source.target();
            (t.name.as_str(), t.url.as_str())
        })
    }

    /// The configured limit of one scrape.
    pub fn scrape_timeout(&self) -> Duration {
        self.scrape_timeout
    }

    /// Reads every server, concurrently, each within `limit`; the answer
    /// lists them in the configured order.
    pub async fn collect(self: &Arc<Self>, limit: Duration) -> Vec<Report> {
        // One task per server, so a slow one does not delay the others;
        // each read ends by `limit`, and a scrape that is dropped (the
        // scraper gave up) aborts them with the set.
        let mut tasks = JoinSet::new();
        for i in 0..self.watched.len() {
            let me = self.clone();
            tasks.spawn(async move { (i, me.read(i, limit).await) });
        }
        let mut slots: Vec<Option<Arc<Fetched>>> = vec![None; self.watched.len()];
        while let Some(done) = tasks.join_next().await {
            if let Ok((i, fetched)) = done {
                slots[i] = Some(fetched);
            }
        }
        self.watched
            .iter()
            .zip(slots)
            .map(|(w, f)| Report {
                server: w.source.target().name.clone(),
                fetched: f.unwrap_or_else(|| {
                    Arc::new(Fetched {
                        result: Err(SourceError::Unreachable {
                            url: w.source.target().url.clone(),
                            reason: "the exporter's read task failed".into(),
                        }),
                        took: Duration::ZERO,
                    })
                }),
            })
            .collect()
    }

    async fn read(&self, i: usize, limit: Duration) -> Arc<Fetched> {
        let w = &self.watched[i];
        let started = Instant::now();
        let fetch = || async {
            let t0 = Instant::now();
            let result = w.source.fetch(limit).await;
            Fetched {
                result,
                took: t0.elapsed(),
            }
        };
        // The wait for a fetch another scrape started counts too.
        let fetched = match tokio::time::timeout(limit, w.cache.get(fetch)).await {
            Ok(f) => f,
            Err(_) => Arc::new(Fetched {
                result: Err(SourceError::TimedOut {
                    url: w.source.target().url.clone(),
                    limit,
                }),
                took: started.elapsed(),
            }),
        };
        log_health(w, &fetched.result);
        fetched
    }
}

fn log_health(w: &Watched, result: &Result<Snapshot, SourceError>) {
    let server = &w.source.target().name;
    let now = if result.is_ok() { UP } else { DOWN };
    let before = w.health.swap(now, Ordering::Relaxed);
    match result {
        Err(e) if before != DOWN => tracing::warn!(server, "vger_up 0: {e}"),
        Err(e) => tracing::debug!(server, "still down: {e}"),
        Ok(_) if before == DOWN => tracing::info!(server, "vger_up 1: the admin API answers again"),
        Ok(_) => {}
    }
}
