//! What one scrape costs as repositories accumulate, against the floor
//! measured in the same run: reading and decoding the same two admin API
//! answers directly, which any exporter of this data must do.
//!
//! Run: `cargo bench -p vger-exporter --bench scrape`
//! (`VGER_BENCH_REPOS=100,1000` changes the sizes.)

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shared_proto::admin::{RepoList, ServerStatus};
use tokio::net::TcpListener;
use tokio::sync::watch;
use vger_exporter::collect::{Exporter, Fetched, Report};
use vger_exporter::config::Config;
use vger_exporter::metrics;
use vger_exporter::source::Snapshot;

const CLIENT_TOKEN: &str = "bench-client-token-0123456789";
const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";
const READ_TOKEN: &str = "bench-read-token-0123456789";
const ROUNDS: usize = 30;

fn sizes() -> Vec<usize> {
    std::env::var("VGER_BENCH_REPOS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 1_000, 10_000])
}

/// `n` repositories as clients leave them: a config and one snapshot each.
/// The server finds them at start-up (it rebuilds its state from files).
fn populate(data: &Path, n: usize) {
    for i in 0..n {
        let repo = data.join(format!("host-{i:05}"));
        std::fs::create_dir_all(repo.join("snapshots")).unwrap();
        std::fs::write(repo.join("config"), b"repo config").unwrap();
        std::fs::write(repo.join(format!("snapshots/{i:064x}")), b"snapshot").unwrap();
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// A server over `data`, its admin API's URL, and the stop switch.
async fn server(dir: &Path) -> (String, watch::Sender<bool>) {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\ntoken = {CLIENT_TOKEN:?}\n\
         [[admin.tokens]]\nlabel = \"exporter\"\nrole = \"read\"\ntoken = {READ_TOKEN:?}\n",
        dir.join("data")
    );
    let config = vger_server::config::Config::from_toml_with_admin(
        &text,
        Path::new("bench.toml"),
        None,
        Some(ADMIN_TOKEN.into()),
    )
    .unwrap();
    let app = vger_server::server::prepare(&config).unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", admin.local_addr().unwrap());
    let (stop, rx) = watch::channel(false);
    tokio::spawn(vger_server::server::serve_admin(admin, app, stopped(rx)));
    (url, stop)
}

/// An exporter of `admin_url` with `cache_ttl_seconds`; its /metrics URL.
async fn exporter(dir: &Path, admin_url: &str, ttl: u32, stop: &watch::Sender<bool>) -> String {
    use std::os::unix::fs::PermissionsExt;
    let token = dir.join(format!("read-{ttl}.token"));
    std::fs::write(&token, READ_TOKEN).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let file = dir.join(format!("exporter-{ttl}.toml"));
    std::fs::write(
        &file,
        format!(
            "[exporter]\nlisten = \"127.0.0.1:0\"\ncache_ttl_seconds = {ttl}\nscrape_timeout_seconds = 60\n\
             [[target]]\nname = \"bench\"\nurl = {admin_url:?}\ntoken_file = {token:?}\n"
        ),
    )
    .unwrap();
    let config = Config::load(&file, None).unwrap();
    let listener = vger_exporter::server::bind(config.listen).await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let e = Arc::new(Exporter::new(&config));
    tokio::spawn(vger_exporter::server::serve(
        listener,
        e,
        stopped(stop.subscribe()),
    ));
    url
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn timed<F, Fut, T>(mut f: F) -> (Duration, T)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let mut last = f().await; // warm-up
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let t0 = Instant::now();
        last = f().await;
        times.push(t0.elapsed());
    }
    (median(times), last)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "{:>7} | {:>17} | {:>15} | {:>10} | {:>13} | {:>14} | {:>10}",
        "repos",
        "floor: API+JSON ms",
        "scrape (no cache)",
        "over floor",
        "render only ms",
        "scrape (cached)",
        "text bytes"
    );
    for n in sizes() {
        let dir = tempfile::tempdir().unwrap();
        populate(&dir.path().join("data"), n);
        let (admin_url, stop) = server(dir.path()).await;
        let uncached = exporter(dir.path(), &admin_url, 0, &stop).await;
        let cached = exporter(dir.path(), &admin_url, 3600, &stop).await;
        let http = reqwest::Client::new();

        let (floor, snapshot) = timed(|| async {
            let get = |path: &str| {
                http.get(format!("{admin_url}{path}"))
                    .bearer_auth(READ_TOKEN)
                    .send()
            };
            let (s, r) = tokio::join!(get("/v1/status"), get("/v1/repos"));
            let status: ServerStatus = s.unwrap().json().await.unwrap();
            let repos: RepoList = r.unwrap().json().await.unwrap();
            Snapshot { status, repos }
        })
        .await;
        assert_eq!(
            snapshot.repos.repos.len(),
            n,
            "the server found every repository"
        );
        let scrape = |url: String| {
            let http = http.clone();
            move || {
                let (http, url) = (http.clone(), url.clone());
                async move { http.get(url).send().await.unwrap().text().await.unwrap() }
            }
        };
        let (no_cache, text) = timed(scrape(uncached)).await;
        assert!(text.contains("vger_up{server=\"bench\"} 1"));
        let (with_cache, _) = timed(scrape(cached)).await;
        let report = vec![Report {
            server: "bench".into(),
            fetched: Arc::new(Fetched {
                result: Ok(snapshot),
                took: Duration::from_millis(1),
            }),
        }];
        let (render, _) = timed(|| async { metrics::render(&report) }).await;
        println!(
            "{:>7} | {:>17} | {:>17} | {:>10} | {:>13} | {:>15} | {:>10}",
            n,
            ms(floor),
            ms(no_cache),
            format!("{:.1}x", no_cache.as_secs_f64() / floor.as_secs_f64()),
            ms(render),
            ms(with_cache),
            text.len()
        );
        let _ = stop.send(true);
    }
}
