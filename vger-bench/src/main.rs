//! `vger-bench`: holds vger-server to the limits of the machine it runs
//! on. Every workload runs against the server and against baselines
//! measured in the same repetition (raw durable file I/O on the same
//! filesystem, a trivial loopback HTTP server), and every server figure is
//! reported as a ratio to its baseline.

mod ceiling;
mod client;
mod drive;
mod raw;
mod report;
mod session;
mod stats;
mod workloads;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use vger_bench::{data, server};

use report::{Side, Target, WorkloadResult};
use server::ServerProcess;
use workloads::{Bench, LARGE_REPO, READ_REPO, Scale};

/// Benchmarks vger-server against raw-disk and loopback-HTTP baselines.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Tiny sizes, seconds long: checks that every workload runs; judges
    /// no target.
    #[arg(long)]
    smoke: bool,
    /// Repetitions of each workload (each figure is their median).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    reps: u32,
    /// The vger-server binary to start (default: beside this program).
    #[arg(long, value_name = "PATH", conflicts_with = "url")]
    server: Option<PathBuf>,
    /// Benchmark a running server instead of starting one (no CPU, memory
    /// or start-up figures). Its data dir should be on the filesystem of
    /// `--dir`, or the raw-disk baselines compare different disks.
    #[arg(long, value_name = "URL", requires = "token")]
    url: Option<String>,
    /// The running server's token (with `--url`).
    #[arg(long, env = "VGER_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Where the temporary data and baseline files go (default: the
    /// system temp dir); removed afterwards.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Run only the workloads whose name contains one of these.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    only: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vger-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn progress(line: impl AsRef<str>) {
    eprintln!("vger-bench: {}", line.as_ref());
}

async fn run(args: Args) -> Result<(), String> {
    let scale = if args.smoke {
        Scale::smoke()
    } else {
        Scale::full()
    };
    let root = match &args.dir {
        Some(d) => tempfile::Builder::new().prefix("vger-bench-").tempdir_in(d),
        None => tempfile::Builder::new().prefix("vger-bench-").tempdir(),
    }
    .map_err(|e| format!("create the work directory: {e}"))?;
    let work = root.path().join("raw");
    let data_dir = root.path().join("data");
    std::fs::create_dir_all(&work).map_err(|e| format!("create {}: {e}", work.display()))?;

    progress(format!(
        "generating the read set ({} packs)",
        scale.read_packs
    ));
    let read_set = Arc::new(data::packs(0, scale.read_packs, scale.pack));
    let objects: HashMap<String, bytes::Bytes> = read_set
        .iter()
        .map(|p| (format!("/{READ_REPO}/{}", p.key), p.bytes.clone()))
        .collect();
    let ceiling = ceiling::start(Arc::new(objects))
        .await
        .map_err(|e| format!("start the loopback ceiling: {e}"))?;

    // Only the repository queries and the start-up need the large
    // repository; it takes a while to write.
    let needs_large = ["list", "stats", "verify-structure", "startup"]
        .iter()
        .any(|w| wanted(&args, w));
    let write_large = |dir: &std::path::Path| -> Result<(), String> {
        if needs_large {
            progress(format!(
                "writing a repository of {} objects",
                scale.repo_objects
            ));
            data::write_large_repo(dir, scale.repo_objects)
                .map_err(|e| format!("write the large repository: {e}"))?;
        }
        Ok(())
    };
    let large_dir;
    let (http, process, empty) = match &args.url {
        Some(url) => {
            let token = args.token.clone().unwrap_or_default();
            let http = client::Http::new(url, &token);
            large_dir = work.join(LARGE_REPO);
            write_large(&large_dir)?;
            if needs_large {
                progress("uploading it");
                upload_dir(&http, &large_dir, LARGE_REPO).await?;
            }
            (http, None, None)
        }
        None => {
            let binary =
                server::locate_binary(args.server.as_deref()).map_err(|e| e.to_string())?;
            large_dir = data_dir.join(LARGE_REPO);
            write_large(&large_dir)?;
            let t = Instant::now();
            let p = ServerProcess::start(&binary, &root.path().join("server"), &data_dir)
                .await
                .map_err(|e| format!("start {}: {e}", binary.display()))?;
            progress(format!(
                "{} started in {} (first start: counts every object)",
                binary.display(),
                workloads::secs(t.elapsed())
            ));
            let e = ServerProcess::start(
                &binary,
                &root.path().join("empty"),
                &root.path().join("empty-data"),
            )
            .await
            .map_err(|e| format!("start the empty server: {e}"))?;
            (
                client::Http::new(&p.base(), server::TOKEN),
                Some(p),
                Some(e),
            )
        }
    };
    let mut bench = Bench {
        scale: scale.clone(),
        reps: args.reps as usize,
        work,
        server: http,
        process,
        empty,
        ceiling: client::Http::new(&format!("http://{ceiling}"), server::TOKEN),
        read_set,
        large_dir,
        next_set: 0,
    };
    progress("uploading the read set");
    bench.prepare_read_set().await?;

    let results = run_workloads(&mut bench, &args).await?;
    println!("{}", report::table(&results));
    for r in &results {
        for line in r.json_lines() {
            println!("{line}");
        }
    }
    if args.smoke {
        println!("smoke run: sizes too small to judge; targets not applied");
    }
    Ok(())
}

/// Uploads every file below `dir` as the objects of `repo`.
async fn upload_dir(http: &client::Http, dir: &std::path::Path, repo: &str) -> Result<(), String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| e.to_string())? {
            let p = e.map_err(|e| e.to_string())?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    let (http, dir, repo, files) = (
        http.clone(),
        dir.to_path_buf(),
        repo.to_owned(),
        Arc::new(files),
    );
    drive::tasks(16, files.len(), move |i| {
        let (http, path) = (http.clone(), files[i].clone());
        let key = path
            .strip_prefix(&dir)
            .map(|k| k.to_string_lossy().into_owned());
        let repo = repo.clone();
        async move {
            let key = key.map_err(|e| e.to_string())?;
            let data = std::fs::read(&path).map_err(|e| e.to_string())?;
            http.put(&format!("/{repo}/{key}"), data.into()).await
        }
    })
    .await
    .map(|_| ())
}

/// Whether `--only` selects the workload `name`.
fn wanted(args: &Args, name: &str) -> bool {
    args.only.is_empty() || args.only.iter().any(|o| name.contains(o.as_str()))
}

async fn run_workloads(b: &mut Bench, args: &Args) -> Result<Vec<WorkloadResult>, String> {
    let wanted = |name: &str| wanted(args, name);
    let judge = |t: Vec<Target>| if args.smoke { vec![] } else { t };
    let raw = |min| Target::Ratio {
        of: Side::RawDisk,
        min,
    };
    let ceiling = |min| Target::Ratio {
        of: Side::Ceiling,
        min,
    };
    let below = |q, ms| Target::Latency {
        q,
        ms,
        inclusive: false,
    };
    let at_most = |q, ms| Target::Latency {
        q,
        ms,
        inclusive: true,
    };
    let (pack, big) = (b.scale.pack, b.scale.big_pack);
    let mut results = Vec::new();
    let t0 = Instant::now();
    macro_rules! step {
        ($name:expr, $run:expr) => {
            if wanted($name) {
                progress(format!(
                    "{} ({} so far)",
                    $name,
                    workloads::secs(t0.elapsed())
                ));
                results.push($run.await?);
            }
        };
    }
    for c in [1, 4, 8] {
        let t = if c <= 4 {
            judge(vec![raw(0.9)])
        } else {
            vec![]
        };
        step!(&format!("put-pack-c{c}"), b.put_packs(pack, c, t));
    }
    for c in [1, 4, 8] {
        let t = if c == 8 {
            judge(vec![Target::PeakRss { mib: 64.0 }])
        } else {
            vec![]
        };
        step!(&format!("put-bigpack-c{c}"), b.put_packs(big, c, t));
    }
    for c in [1, 4] {
        step!(
            &format!("get-c{c}"),
            b.get_packs(c, judge(vec![ceiling(0.7)]))
        );
    }
    step!(
        "range",
        b.range_gets(16, judge(vec![ceiling(0.5), below(0.99, 5.0)]))
    );
    step!("put-small", b.small_puts(16, judge(vec![raw(0.7)])));
    step!("head", b.heads(16));
    let (list_n, stats_n, verify_n) = (b.scale.list_ops, b.scale.stats_ops, b.scale.verify_ops);
    step!(
        "list",
        b.large_query(
            "list-packs",
            "/packs/?list",
            list_n,
            Some(|d| raw::walk(&d.join("packs")).map(|v| v.len() as u64)),
            judge(vec![at_most(0.5, 50.0)])
        )
    );
    step!(
        "stats",
        b.large_query(
            "stats",
            "?stats",
            stats_n,
            None,
            judge(vec![below(0.99, 2.0)])
        )
    );
    step!(
        "verify-structure",
        b.large_query(
            "verify-structure",
            "?verify-structure",
            verify_n,
            Some(|d| raw::read_heads(&d.join("packs"), 9)),
            judge(vec![below(0.5, 500.0)])
        )
    );
    if wanted("startup") {
        progress(format!(
            "startup ({} so far)",
            workloads::secs(t0.elapsed())
        ));
        if let Some(r) = b.startup(judge(vec![below(0.5, 100.0)])).await? {
            results.push(r);
        }
    }
    step!("session", b.session());
    progress(format!("done in {}", workloads::secs(t0.elapsed())));
    Ok(results)
}
