//! Start-up time and `?stats` latency for a repository of 50,000 objects,
//! against the walk of the same repository measured in the same run (what
//! `?stats` cost, and what start-up cleaning walked, before the counters).
//!
//! Run: `cargo bench -p vger-server --bench state_scale`
//! (`VGER_BENCH_OBJECTS=N` changes the size.)

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use vger_server::config::Config;
use vger_server::server;

const TOKEN: &str = "bench-token-0123456789";

fn objects() -> usize {
    std::env::var("VGER_BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000)
}

/// A repository of `n` small packs spread over the 256 shards, plus the
/// files every repository has.
fn populate(repo: &Path, n: usize) {
    for b in 0..=255u8 {
        std::fs::create_dir_all(repo.join(format!("packs/{b:02x}"))).unwrap();
    }
    for name in ["config", "manifest", "index"] {
        std::fs::write(repo.join(name), name).unwrap();
    }
    for i in 0..n {
        let hex = format!(
            "{:064x}",
            (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
        );
        std::fs::write(repo.join(format!("packs/{}/{hex}", &hex[..2])), [0u8; 64]).unwrap();
    }
}

fn config(dir: &Path) -> Config {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\ntoken = {TOKEN:?}\n",
        dir.join("data")
    );
    Config::from_toml(&text, Path::new("bench.toml"), None).unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn pct(v: &[Duration], p: f64) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[((v.len() as f64 - 1.0) * p) as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let n = objects();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let repo = cfg.data_dir.join("r");
    let t = Instant::now();
    populate(&repo, n);
    println!(
        "state_scale: {n} objects written in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Baseline: walking the repository (median of 5, warm cache).
    let store = vger_server::store::RepoStore::open(&cfg.data_dir, 1 << 30).unwrap();
    let name = shared_proto::RepoName::parse("r").unwrap();
    let walks: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let u = store.usage_blocking(&name).unwrap();
            assert_eq!(u.objects as usize, n + 3);
            t.elapsed()
        })
        .collect();
    let walk = median(walks);

    // First start: no state, every repository counted.
    let t = Instant::now();
    let app = server::prepare(&cfg).unwrap();
    let first_start = t.elapsed();
    drop(app);

    // Later starts: state present, nothing walked (median of 5).
    let starts: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let app = server::prepare(&cfg).unwrap();
            let d = t.elapsed();
            drop(app);
            d
        })
        .collect();
    let start = median(starts);

    // ?stats over HTTP on a kept-alive connection.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let latencies = rt.block_on(async {
        let app = server::prepare(&cfg).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(server::serve(listener, app, std::future::pending()));
        let client = reqwest::Client::new();
        let url = format!("http://{addr}/r?stats");
        let mut out = Vec::new();
        for i in 0..1100 {
            let t = Instant::now();
            let r = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
            let v: serde_json::Value = r.json().await.unwrap();
            let d = t.elapsed();
            assert_eq!(v["total_objects"], n as u64 + 3);
            if i >= 100 {
                out.push(d);
            }
        }
        out
    });
    println!(
        "state_scale: baseline walk of the repository (old ?stats, old start-up clean): {}",
        ms(walk)
    );
    println!(
        "state_scale: first start without state (counts every object):   {}",
        ms(first_start)
    );
    println!(
        "state_scale: start with state (median of 5):                    {}",
        ms(start)
    );
    println!(
        "state_scale: ?stats over HTTP, 1000 requests: median {}, p99 {}, max {}",
        ms(median(latencies.clone())),
        ms(pct(&latencies, 0.99)),
        ms(pct(&latencies, 1.0))
    );
    println!(
        "state_scale: ?stats is {:.0}x faster than the walk",
        walk.as_secs_f64() / median(latencies).as_secs_f64()
    );
}
