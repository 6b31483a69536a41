//! `vger-stress`: evidence that vger-server loses nothing and holds up.
//!
//! - `vger-stress crash` kills a real server process with SIGKILL while
//!   concurrent writers work, starts it again, and checks every object,
//!   listing, counter, lock and backup time against what was acknowledged.
//! - `vger-stress soak` runs concurrent clients with a mixed workload for
//!   a long time and reports errors, latency percentiles, memory growth
//!   and descriptor leaks.
//!
//! Both exit non-zero when they find a problem. The short versions run in
//! the test command; the documented full runs are in docs/reliability.md.

mod client;
mod crash;
mod disk;
mod model;
mod soak;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

/// Crash-consistency and soak tests of a real vger-server process.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The vger-server binary (default: beside this program).
    #[arg(long, global = true, value_name = "PATH")]
    server: Option<PathBuf>,
    /// Work directory (default: a temp dir, removed afterwards).
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Seed for every random choice (default: from the clock; printed).
    #[arg(long, global = true)]
    seed: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Kill the server at random moments under concurrent writes.
    Crash {
        /// Kill-and-restart cycles.
        #[arg(long, default_value_t = 50)]
        cycles: u32,
        /// Longest time writers run before a kill, in milliseconds.
        #[arg(long, default_value_t = 1500)]
        max_run_ms: u64,
    },
    /// Concurrent clients with a mixed workload.
    Soak {
        /// How long the load runs (e.g. `30s`, `10m`).
        #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
        duration: Duration,
        /// Concurrent clients.
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Largest RSS growth after warm-up that passes, in percent. The
        /// default judges leaks over a long run; a run of a minute or less
        /// still sees the allocator's arenas fill, and needs more room.
        #[arg(long, default_value_t = 10.0)]
        max_rss_growth: f64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let seed = cli.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let binary = match vger_bench::server::locate_binary(cli.server.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("vger-stress: {e}");
            return ExitCode::from(2);
        }
    };
    let temp;
    let work = match &cli.dir {
        Some(d) => d.clone(),
        None => match tempfile::tempdir() {
            Ok(t) => {
                temp = t;
                temp.path().to_path_buf()
            }
            Err(e) => {
                eprintln!("vger-stress: cannot make a temp dir: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    eprintln!("vger-stress: server {}, seed {seed}", binary.display());
    let passed = match cli.command {
        Command::Crash { cycles, max_run_ms } => {
            let settings = crash::CrashRun {
                cycles,
                seed,
                max_run: Duration::from_millis(max_run_ms.max(100)),
            };
            let t = Instant::now();
            match runtime.block_on(crash::run(&binary, &work, &settings)) {
                Ok(r) => {
                    for v in r.violations.iter().take(20) {
                        println!("VIOLATION: {v}");
                    }
                    println!(
                        "crash: {} kill cycles in {:.0} s, {} changes acknowledged, {} in flight at the kills, {} object checks, {} violations",
                        r.cycles,
                        t.elapsed().as_secs_f64(),
                        r.acked,
                        r.in_flight,
                        r.checked,
                        r.violations.len()
                    );
                    r.violations.is_empty()
                }
                Err(e) => {
                    eprintln!("vger-stress crash: {e}");
                    false
                }
            }
        }
        Command::Soak {
            duration,
            clients,
            max_rss_growth,
        } => {
            let settings = soak::SoakRun {
                clients,
                duration,
                seed,
            };
            let limit = max_rss_growth / 100.0;
            match runtime.block_on(soak::run(&binary, &work, &settings)) {
                Ok(r) => {
                    print_soak(&r, limit);
                    r.passed(limit)
                }
                Err(e) => {
                    eprintln!("vger-stress soak: {e}");
                    false
                }
            }
        }
    };
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn print_soak(r: &soak::SoakReport, max_growth: f64) {
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!("operation     count   p50 ms   p99 ms   max ms");
    for (op, n, p50, p99, max) in &r.latency {
        println!(
            "{op:<12} {n:>6} {:>8} {:>8} {:>8}",
            ms(*p50),
            ms(*p99),
            ms(*max)
        );
    }
    println!(
        "{:<12} {:>6} {:>8} {:>8} {:>8}",
        "all",
        r.requests,
        ms(r.overall.0),
        ms(r.overall.1),
        ms(r.overall.2)
    );
    let step = (r.samples.len() / 12).max(1);
    let curve: Vec<String> = r
        .samples
        .iter()
        .step_by(step)
        .map(|s| format!("{:.0}s:{:.0}", s.at, mib(s.rss)))
        .collect();
    println!("rss MiB over time: {}", curve.join(" "));
    let peak = r.samples.iter().map(|s| s.rss).max().unwrap_or(0);
    let max_fds = r.samples.iter().map(|s| s.fds).max().unwrap_or(0);
    println!(
        "rss: {:.1} MiB after {} s of warm-up, {:.1} MiB at the end ({:+.1}%), peak {:.1} MiB",
        mib(r.rss_warm),
        r.warm_up.as_secs(),
        mib(r.rss_end),
        r.rss_growth() * 100.0,
        mib(peak)
    );
    println!(
        "fds: {} before, at most {} under load, {} after the clients left",
        r.fds_before, max_fds, r.fds_after
    );
    for e in r.errors.iter().take(20) {
        println!("ERROR: {e}");
    }
    for m in &r.usage_mismatch {
        println!("USAGE MISMATCH: {m}");
    }
    println!(
        "soak: {} requests in {:.0} s ({:.0}/s, {:.1} MiB/s), {} errors, p99 {} ms, rss growth {:+.1}% (limit {:.0}%), fds {} -> {}: {}",
        r.requests,
        r.elapsed.as_secs_f64(),
        r.requests as f64 / r.elapsed.as_secs_f64(),
        mib(r.bytes) / r.elapsed.as_secs_f64(),
        r.errors.len(),
        ms(r.overall.1),
        r.rss_growth() * 100.0,
        max_growth * 100.0,
        r.fds_before,
        r.fds_after,
        if r.passed(max_growth) {
            "passed"
        } else {
            "FAILED"
        }
    );
}
