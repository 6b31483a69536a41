//! Results: per workload, the samples of each side across repetitions,
//! the targets they are judged against, a table for people and one JSON
//! line per result for machines.

use std::fmt;

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
use serde_json::{Value, json};

use crate::stats::{Sample, Spread};

/// Who did the work in a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// vger-server, the subject.
    Server,
    /// vger-server on an empty data directory (the start-up baseline).
    EmptyServer,
    /// The same bytes as files, written durably or read back.
    RawDisk,
    /// The trivial in-process HTTP server.
    Ceiling,
    /// The same, copying each answer once before sending it.
    CopyCeiling,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Server => "vger-server",
            Side::EmptyServer => "vger-server, empty data dir",
            Side::RawDisk => "raw disk",
            Side::Ceiling => "loopback ceiling",
            Side::CopyCeiling => "loopback ceiling + 1 copy",
        })
    }
}

/// A figure the server must reach, judged on the median of the repetitions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// Server throughput at least `min` × the `of` side's in the same repetition.
    Ratio {
        /// The baseline side.
        of: Side,
        /// Smallest acceptable ratio.
        min: f64,
    },
    /// The `q`-quantile latency below `ms` (at most, with `inclusive`).
    Latency {
        /// Which quantile (0.5 = p50).
        q: f64,
        /// The limit in milliseconds.
        ms: f64,
        /// `≤` rather than `<`.
        inclusive: bool,
    },
    /// Peak server RSS at most `mib`.
    PeakRss {
        /// The limit in MiB.
        mib: f64,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Target::Ratio { of, min } => write!(f, "≥ {min} × {of}"),
            Target::Latency { q, ms, inclusive } => {
                let op = if inclusive { "≤" } else { "<" };
                write!(f, "{} {op} {ms} ms", quantile_name(q))
            }
            Target::PeakRss { mib } => write!(f, "peak RSS ≤ {mib} MiB"),
        }
    }
}

fn quantile_name(q: f64) -> String {
    if q >= 1.0 {
        "max".into()
    } else {
        format!("p{}", (q * 100.0).round())
    }
}

/// Everything measured for one workload.
#[derive(Debug)]
pub struct WorkloadResult {
    /// Short machine-friendly name (`put-32m-c4`).
    pub name: String,
    /// What was done, for people.
    pub what: String,
    /// Samples per side, one per repetition, in repetition order.
    pub sides: Vec<(Side, Vec<Sample>)>,
    /// What the server must reach.
    pub targets: Vec<Target>,
}

/// Throughput of a sample: MiB/s when it moved payload, else operations/s.
fn rate(s: &Sample) -> f64 {
    if s.bytes > 0 {
        s.mib_per_s()
    } else {
        s.ops_per_s()
    }
}

/// A target's verdict: the judged figure (median across repetitions) and
/// whether it met the target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// The median figure the target was judged on.
    pub figure: f64,
    /// Whether it met the target.
    pub met: bool,
}

impl WorkloadResult {
    /// A result with no samples yet.
    pub fn new(name: impl Into<String>, what: impl Into<String>, targets: Vec<Target>) -> Self {
        Self {
            name: name.into(),
            what: what.into(),
            sides: Vec::new(),
            targets,
        }
    }

    /// Adds one repetition's sample of `side`.
    pub fn push(&mut self, side: Side, sample: Sample) {
        match self.sides.iter_mut().find(|(s, _)| *s == side) {
            Some((_, v)) => v.push(sample),
            None => self.sides.push((side, vec![sample])),
        }
    }

    fn samples(&self, side: Side) -> &[Sample] {
        self.sides
            .iter()
            .find(|(s, _)| *s == side)
            .map_or(&[], |(_, v)| v.as_slice())
    }

    /// The server's throughput over `of`'s, per repetition.
    pub fn ratios(&self, of: Side) -> Vec<f64> {
        self.samples(Side::Server)
            .iter()
            .zip(self.samples(of))
            .map(|(s, b)| rate(s) / rate(b))
            .collect()
    }

    /// The first baseline side, the one ratios are shown against.
    fn baseline(&self) -> Option<Side> {
        self.targets
            .iter()
            .find_map(|t| match t {
                Target::Ratio { of, .. } => Some(*of),
                _ => None,
            })
            .or_else(|| {
                self.sides
                    .iter()
                    .map(|(s, _)| *s)
                    .find(|s| *s != Side::Server)
            })
    }

    /// Judges `target` on the median of the repetitions; `None` without samples.
    pub fn judge(&self, target: &Target) -> Option<Verdict> {
        let server = self.samples(Side::Server);
        let (figure, met): (f64, fn(f64, f64, bool) -> bool) = match *target {
            Target::Ratio { of, .. } => (Spread::of(self.ratios(of))?.median, |f, m, _| f >= m),
            Target::Latency { q, .. } => (
                Spread::of(server.iter().map(|s| s.latency_ms(q)))?.median,
                |f, m, incl| if incl { f <= m } else { f < m },
            ),
            Target::PeakRss { .. } => (
                Spread::of(
                    server
                        .iter()
                        .filter_map(|s| s.server_peak_rss_bytes)
                        .map(|b| b as f64 / (1024.0 * 1024.0)),
                )?
                .median,
                |f, m, _| f <= m,
            ),
        };
        let (limit, inclusive) = match *target {
            Target::Ratio { min, .. } => (min, true),
            Target::Latency { ms, inclusive, .. } => (ms, inclusive),
            Target::PeakRss { mib } => (mib, true),
        };
        Some(Verdict {
            figure,
            met: met(figure, limit, inclusive),
        })
    }

    /// One JSON object per side.
    pub fn json_lines(&self) -> Vec<Value> {
        let baseline = self.baseline();
        self.sides
            .iter()
            .map(|(side, samples)| {
                let spread = |f: &dyn Fn(&Sample) -> f64| {
                    Spread::of(samples.iter().map(f)).map(|s| json!(s))
                };
                let mut v = json!({
                    "workload": self.name,
                    "what": self.what,
                    "side": side.to_string(),
                    "reps": samples.len(),
                    "mib_per_s": spread(&|s| if s.bytes > 0 { s.mib_per_s() } else { f64::NAN }),
                    "req_per_s": spread(&|s| s.ops_per_s()),
                    "p50_ms": spread(&|s| s.latency_ms(0.5)),
                    "p90_ms": spread(&|s| s.latency_ms(0.9)),
                    "p99_ms": spread(&|s| s.latency_ms(0.99)),
                    "max_ms": spread(&|s| s.latency_ms(1.0)),
                    "server_cpu_s": spread(&|s| s.server_cpu_s.unwrap_or(f64::NAN)),
                    "server_peak_rss_mib": spread(&|s| s
                        .server_peak_rss_bytes
                        .map_or(f64::NAN, |b| b as f64 / (1024.0 * 1024.0))),
                });
                let phases: Vec<&str> = samples
                    .first()
                    .map(|s| s.phases.iter().map(|(n, _)| *n).collect())
                    .unwrap_or_default();
                for (i, name) in phases.iter().enumerate() {
                    v[format!("phase_{name}_s")] = json!(Spread::of(
                        samples
                            .iter()
                            .filter_map(|s| s.phases.get(i))
                            .map(|(_, d)| d.as_secs_f64())
                    ));
                }
                if *side == Side::Server {
                    if let Some(b) = baseline {
                        v["ratio"] = json!(Spread::of(self.ratios(b)));
                        v["ratio_to"] = json!(b.to_string());
                    }
                    v["targets"] = self
                        .targets
                        .iter()
                        .map(|t| {
                            let verdict = self.judge(t);
                            json!({
                                "target": t.to_string(),
                                "figure": verdict.map(|v| v.figure),
                                "met": verdict.map(|v| v.met),
                            })
                        })
                        .collect();
                }
                v
            })
            .collect()
    }
}

fn fmt_spread(s: Option<Spread>, digits: usize) -> String {
    match s {
        None => "–".into(),
        Some(s) => format!("{:.d$} ({:.d$}–{:.d$})", s.median, s.min, s.max, d = digits),
    }
}

fn fmt_latency(samples: &[Sample]) -> String {
    let q = |q: f64| Spread::of(samples.iter().map(|s| s.latency_ms(q))).map(|s| s.median);
    match (q(0.5), q(0.9), q(0.99), q(1.0)) {
        (Some(a), Some(b), Some(c), Some(d)) => format!("{a:.2} / {b:.2} / {c:.2} / {d:.2}"),
        _ => "–".into(),
    }
}

/// The table of every result: figures are `median (min–max)` across
/// repetitions; latencies are the medians of each repetition's quantiles.
pub fn table(results: &[WorkloadResult]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY).set_header(vec![
        "workload",
        "side",
        "MiB/s",
        "req/s",
        "p50 / p90 / p99 / max ms",
        "server CPU s",
        "peak RSS MiB",
        "ratio",
        "target",
    ]);
    for r in results {
        let baseline = r.baseline();
        for (side, samples) in &r.sides {
            let mib = samples
                .iter()
                .any(|s| s.bytes > 0)
                .then(|| Spread::of(samples.iter().map(Sample::mib_per_s)))
                .flatten();
            let (ratio, verdicts) = if *side == Side::Server {
                let ratio = baseline
                    .map(|b| format!("{} × {b}", fmt_spread(Spread::of(r.ratios(b)), 2)))
                    .unwrap_or_default();
                let verdicts = r
                    .targets
                    .iter()
                    .map(|t| match r.judge(t) {
                        Some(v) => format!(
                            "{t}: {:.2} {}",
                            v.figure,
                            if v.met { "met" } else { "MISSED" }
                        ),
                        None => format!("{t}: not measured"),
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                (ratio, verdicts)
            } else {
                (String::new(), String::new())
            };
            t.add_row(vec![
                Cell::new(&r.name),
                Cell::new(side),
                Cell::new(fmt_spread(mib, 1)).set_alignment(CellAlignment::Right),
                Cell::new(fmt_spread(
                    Spread::of(samples.iter().map(Sample::ops_per_s)),
                    1,
                ))
                .set_alignment(CellAlignment::Right),
                Cell::new(fmt_latency(samples)).set_alignment(CellAlignment::Right),
                Cell::new(fmt_spread(
                    Spread::of(samples.iter().filter_map(|s| s.server_cpu_s)),
                    2,
                )),
                Cell::new(fmt_spread(
                    Spread::of(
                        samples
                            .iter()
                            .filter_map(|s| s.server_peak_rss_bytes)
                            .map(|b| b as f64 / (1024.0 * 1024.0)),
                    ),
                    1,
                )),
                Cell::new(ratio),
                Cell::new(verdicts),
            ]);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample(ms: u64, bytes: u64) -> Sample {
        Sample {
            elapsed: Duration::from_millis(ms),
            bytes,
            latencies: vec![Duration::from_millis(ms)],
            server_peak_rss_bytes: Some(10 << 20),
            ..Sample::default()
        }
    }

    fn result(server_ms: &[u64], raw_ms: &[u64], target: Target) -> WorkloadResult {
        let mut r = WorkloadResult::new("w", "test", vec![target]);
        for (&s, &b) in server_ms.iter().zip(raw_ms) {
            r.push(Side::RawDisk, sample(b, 1 << 20));
            r.push(Side::Server, sample(s, 1 << 20));
        }
        r
    }

    #[test]
    fn ratios_pair_samples_of_the_same_repetition() {
        let r = result(
            &[200, 100],
            &[100, 100],
            Target::Ratio {
                of: Side::RawDisk,
                min: 0.9,
            },
        );
        assert_eq!(r.ratios(Side::RawDisk), vec![0.5, 1.0]);
    }

    #[test]
    fn a_ratio_target_is_judged_on_the_median_repetition() {
        let target = Target::Ratio {
            of: Side::RawDisk,
            min: 0.9,
        };
        let r = result(&[100, 500, 105], &[100, 100, 100], target);
        let v = r.judge(&target).unwrap();
        assert!((v.figure - 100.0 / 105.0).abs() < 1e-9);
        assert!(v.met);
        let slow = result(&[200, 200, 100], &[100, 100, 100], target);
        assert!(!slow.judge(&target).unwrap().met);
    }

    #[test]
    fn a_strict_latency_target_fails_at_the_limit() {
        let strict = Target::Latency {
            q: 0.99,
            ms: 5.0,
            inclusive: false,
        };
        let loose = Target::Latency {
            q: 0.99,
            ms: 5.0,
            inclusive: true,
        };
        let r = result(&[5, 5, 5], &[1, 1, 1], strict);
        assert!(!r.judge(&strict).unwrap().met);
        assert!(r.judge(&loose).unwrap().met);
    }

    #[test]
    fn a_peak_rss_target_reads_the_server_samples() {
        let t = Target::PeakRss { mib: 64.0 };
        let r = result(&[1], &[1], t);
        assert_eq!(
            r.judge(&t).unwrap(),
            Verdict {
                figure: 10.0,
                met: true
            }
        );
        assert!(
            !result(&[1], &[1], Target::PeakRss { mib: 8.0 })
                .judge(&Target::PeakRss { mib: 8.0 })
                .unwrap()
                .met
        );
    }

    #[test]
    fn a_target_without_samples_is_not_judged() {
        let t = Target::PeakRss { mib: 64.0 };
        assert!(WorkloadResult::new("w", "x", vec![t]).judge(&t).is_none());
    }

    #[test]
    fn the_server_s_json_line_carries_ratio_and_verdicts() {
        let target = Target::Ratio {
            of: Side::RawDisk,
            min: 0.9,
        };
        let r = result(&[100, 100, 100], &[95, 95, 95], target);
        let lines = r.json_lines();
        assert_eq!(lines.len(), 2);
        let server = &lines[1];
        assert_eq!(server["side"], "vger-server");
        assert_eq!(server["reps"], 3);
        assert_eq!(server["ratio_to"], "raw disk");
        assert!((server["ratio"]["median"].as_f64().unwrap() - 0.95).abs() < 1e-9);
        assert_eq!(server["targets"][0]["met"], true);
        assert!(lines[0].get("targets").is_none());
    }
}
