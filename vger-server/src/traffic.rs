//! Client API traffic since start: requests by method and status, and
//! body bytes each way. Counted by the HTTP layer, read by the admin API.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use shared_proto::admin::{RequestCount, Traffic as TrafficReport};

/// The counters.
#[derive(Debug, Default)]
pub struct Traffic {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    received: AtomicU64,
    sent: AtomicU64,
}

impl Traffic {
    /// Counts one answered request.
    pub fn count_request(&self, method: &str, status: u16) {
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((method.to_owned(), status)).or_default() += 1;
    }

    /// Counts request body bytes read.
    pub fn add_received(&self, n: u64) {
        self.received.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts response body bytes sent.
    pub fn add_sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters as they stand.
    pub fn report(&self) -> TrafficReport {
        let map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        TrafficReport {
            requests: map
                .iter()
                .map(|((method, status), count)| RequestCount {
                    method: method.clone(),
                    status: *status,
                    count: *count,
                })
                .collect(),
            received_bytes: self.received.load(Ordering::Relaxed),
            sent_bytes: self.sent.load(Ordering::Relaxed),
        }
    }
}
