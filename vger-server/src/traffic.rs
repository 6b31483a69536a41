//! Client API traffic since start: requests by method and status, and
//! body bytes each way. Counted by the HTTP layer, read by the admin API.
//!
//! Lock-free: one atomic counter per (method, status), so counting costs
//! every request a few nanoseconds and never contends.

use std::sync::atomic::{AtomicU64, Ordering};

use shared_proto::admin::{RequestCount, Traffic as TrafficReport};

/// The methods counted by name; anything else is counted as `OTHER`, so
/// a client inventing methods cannot grow the counters.
pub const METHODS: [&str; 8] = [
    "GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "OTHER",
];

/// Status codes counted: 100 to 599.
const FIRST_STATUS: u16 = 100;
const STATUSES: usize = 500;

/// The counters.
#[derive(Debug)]
pub struct Traffic {
    requests: Box<[AtomicU64]>,
    received: AtomicU64,
    sent: AtomicU64,
}

impl Default for Traffic {
    fn default() -> Self {
        Self {
            requests: (0..METHODS.len() * STATUSES)
                .map(|_| AtomicU64::new(0))
                .collect(),
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        }
    }
}

/// The index of `method` in [`METHODS`].
pub fn method_index(method: &str) -> usize {
    METHODS[..METHODS.len() - 1]
        .iter()
        .position(|m| *m == method)
        .unwrap_or(METHODS.len() - 1)
}

impl Traffic {
    /// Counts one answered request; `method` is an index into [`METHODS`].
    pub fn count_request(&self, method: usize, status: u16) {
        let status = usize::from(
            status.clamp(FIRST_STATUS, FIRST_STATUS + STATUSES as u16 - 1) - FIRST_STATUS,
        );
        let method = method.min(METHODS.len() - 1);
        self.requests[method * STATUSES + status].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts request body bytes read.
    pub fn add_received(&self, n: u64) {
        self.received.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts response body bytes sent.
    pub fn add_sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters as they stand (only the non-zero ones).
    pub fn report(&self) -> TrafficReport {
        let requests = self
            .requests
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let count = c.load(Ordering::Relaxed);
                (count > 0).then(|| RequestCount {
                    method: METHODS[i / STATUSES].to_owned(),
                    status: FIRST_STATUS + (i % STATUSES) as u16,
                    count,
                })
            })
            .collect();
        TrafficReport {
            requests,
            received_bytes: self.received.load(Ordering::Relaxed),
            sent_bytes: self.sent.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_method_and_status() {
        let t = Traffic::default();
        t.count_request(method_index("PUT"), 201);
        t.count_request(method_index("PUT"), 201);
        t.count_request(method_index("BREW"), 405);
        let r = t.report();
        assert_eq!(
            r.requests,
            [
                RequestCount {
                    method: "PUT".into(),
                    status: 201,
                    count: 2
                },
                RequestCount {
                    method: "OTHER".into(),
                    status: 405,
                    count: 1
                },
            ]
        );
    }
}
