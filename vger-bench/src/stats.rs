//! Summaries of measured figures: latency percentiles within one run, and
//! median / min / max across repetitions.

use std::time::Duration;

use serde::Serialize;

/// What one side of one workload measured in one repetition.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Payload bytes moved (request or response bodies).
    pub bytes: u64,
    /// Latency of every operation, in completion order.
    pub latencies: Vec<Duration>,
    /// CPU seconds the server process used during the run, if measured.
    pub server_cpu_s: Option<f64>,
    /// Peak resident set of the server process during the run, if measured.
    pub server_peak_rss_bytes: Option<u64>,
    /// Named parts of a multi-step run and how long each took.
    pub phases: Vec<(&'static str, Duration)>,
}

impl Sample {
    /// Payload throughput in MiB/s.
    pub fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0) / secs(self.elapsed)
    }

    /// Operations per second.
    pub fn ops_per_s(&self) -> f64 {
        self.latencies.len() as f64 / secs(self.elapsed)
    }

    /// The `q`-quantile (0..=1) of the latencies, in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        let mut v: Vec<Duration> = self.latencies.clone();
        v.sort_unstable();
        percentile(&v, q).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64().max(1e-9)
}

/// The nearest-rank `q`-quantile of sorted values (`q` = 1 is the max).
pub fn percentile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Median, minimum and maximum of one figure across repetitions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

impl Spread {
    /// Summarises `values`, ignoring NaN; `None` when nothing is left.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Self> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Self {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_uses_the_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), Some(50));
        assert_eq!(percentile(&v, 0.99), Some(99));
        assert_eq!(percentile(&v, 1.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile::<u32>(&[], 0.5), None);
    }

    #[test]
    fn spread_of_an_odd_count_takes_the_middle_value() {
        let s = Spread::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
    }

    #[test]
    fn spread_of_an_even_count_averages_the_middle_pair() {
        assert_eq!(Spread::of([4.0, 1.0, 2.0, 3.0]).unwrap().median, 2.5);
    }

    #[test]
    fn spread_ignores_missing_figures() {
        assert_eq!(Spread::of([f64::NAN, 5.0]).unwrap().median, 5.0);
        assert!(Spread::of([f64::NAN]).is_none());
    }

    #[test]
    fn throughput_is_bytes_over_wall_time() {
        let s = Sample {
            elapsed: Duration::from_millis(500),
            bytes: 64 << 20,
            latencies: vec![Duration::from_millis(1); 10],
            ..Sample::default()
        };
        assert!((s.mib_per_s() - 128.0).abs() < 1e-9);
        assert!((s.ops_per_s() - 20.0).abs() < 1e-9);
    }
}
