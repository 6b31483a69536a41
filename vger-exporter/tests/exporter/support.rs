//! A real vger-server and a real exporter, both in-process on loopback
//! ports, and a reader for the text exposition format.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use vger_exporter::collect::Exporter;
use vger_exporter::config::Config;

/// The servers' client token.
pub const CLIENT_TOKEN: &str = "client-token-0123456789";
/// The servers' admin token (role `admin`).
pub const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";
/// The servers' read token, the exporter's.
pub const READ_TOKEN: &str = "read-token-0123456789abcdef";

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// A vger-server with both listeners, and its read token for exporters.
pub struct Server {
    pub client_url: String,
    pub admin_url: String,
    http: reqwest::Client,
    stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Server {
    /// A server with extra `[server]` lines.
    pub async fn start_with(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\ntoken = {CLIENT_TOKEN:?}\n{extra}\n\
             [[admin.tokens]]\nlabel = \"exporter\"\nrole = \"read\"\ntoken = {READ_TOKEN:?}\n",
            dir.path().join("data")
        );
        let config = vger_server::config::Config::from_toml_with_admin(
            &text,
            Path::new("t.toml"),
            None,
            Some(ADMIN_TOKEN.into()),
        )
        .unwrap();
        let app = vger_server::server::prepare(&config).unwrap();
        let client = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client_addr, admin_addr) = (client.local_addr().unwrap(), admin.local_addr().unwrap());
        let (stop, rx) = watch::channel(false);
        tokio::spawn(vger_server::server::serve(
            client,
            app.clone(),
            stopped(rx.clone()),
        ));
        tokio::spawn(vger_server::server::serve_admin(
            admin,
            app.clone(),
            stopped(rx),
        ));
        Self {
            client_url: format!("http://{client_addr}"),
            admin_url: format!("http://{admin_addr}"),
            http: reqwest::Client::new(),
            stop,
            _dir: dir,
        }
    }

    pub async fn start() -> Self {
        Self::start_with("").await
    }

    /// An admin API call with the admin token that must succeed.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.admin_url))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Creates `repo` through the admin API with the given settings.
    pub async fn create_repo(&self, repo: &str, settings: Value) {
        let mut body = json!({ "name": repo });
        body.as_object_mut()
            .unwrap()
            .extend(settings.as_object().unwrap().clone());
        self.admin(Method::POST, "/v1/repos", Some(body)).await;
    }

    /// Deletes `repo` through the admin API.
    pub async fn delete_repo(&self, repo: &str) {
        let body = json!({ "confirm": repo, "force": true });
        self.admin(Method::DELETE, &format!("/v1/repos/{repo}"), Some(body))
            .await;
    }

    /// A client API request with the client token that must succeed.
    pub async fn client(&self, method: Method, path: &str, body: &'static [u8]) {
        let r = self
            .http
            .request(method.clone(), format!("{}/{path}", self.client_url))
            .bearer_auth(CLIENT_TOKEN)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{method} {path}: {}", r.status());
    }

    /// A completed backup, as a client without a manifest makes one: the
    /// snapshot object is stored last.
    pub async fn back_up(&self, repo: &str) {
        let id = format!("{:064x}", rand_id());
        self.client(
            Method::PUT,
            &format!("{repo}/snapshots/{id}"),
            b"encrypted snapshot",
        )
        .await;
    }

    /// Takes the 0.7 server lock of `repo`.
    pub async fn lock(&self, repo: &str) {
        let r = self
            .http
            .post(format!("{}/{repo}/locks/repo-lock", self.client_url))
            .bearer_auth(CLIENT_TOKEN)
            .header("content-type", "application/json")
            .body(r#"{"hostname":"laptop","pid":42}"#)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "lock: {}", r.status());
    }
}

fn rand_id() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    nanos ^ (u128::from(N.fetch_add(1, Ordering::Relaxed)) << 64)
}

/// One `[[target]]` of an exporter under test.
pub struct Watch<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub token: &'a str,
}

impl<'a> Watch<'a> {
    /// `url` (a server that is down or hung) as `name`.
    pub fn at(name: &'a str, url: &'a str) -> Self {
        Self {
            name,
            url,
            token: READ_TOKEN,
        }
    }

    /// `server` read with its read token, as `name`.
    pub fn server(name: &'a str, server: &'a Server) -> Self {
        Self {
            name,
            url: &server.admin_url,
            token: READ_TOKEN,
        }
    }
}

/// An exporter serving on 127.0.0.1:<random port>.
pub struct ExporterUnderTest {
    pub addr: SocketAddr,
    http: reqwest::Client,
    stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Drop for ExporterUnderTest {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl ExporterUnderTest {
    /// Writes a config file (token files chmod 600) for `targets` and
    /// starts an exporter from it.
    pub async fn start(targets: &[Watch<'_>], exporter_section: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut text = format!("[exporter]\nlisten = \"127.0.0.1:0\"\n{exporter_section}\n");
        for (i, t) in targets.iter().enumerate() {
            let token_file = dir.path().join(format!("token-{i}"));
            std::fs::write(&token_file, format!("{}\n", t.token)).unwrap();
            std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
            text.push_str(&format!(
                "[[target]]\nname = {:?}\nurl = {:?}\ntoken_file = {:?}\n",
                t.name, t.url, token_file
            ));
        }
        let config_path = dir.path().join("exporter.toml");
        std::fs::write(&config_path, text).unwrap();
        let config = Config::load(&config_path, None).unwrap();
        let listener = vger_exporter::server::bind(config.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, rx) = watch::channel(false);
        let exporter = Arc::new(Exporter::new(&config));
        tokio::spawn(vger_exporter::server::serve(
            listener,
            exporter,
            stopped(rx),
        ));
        Self {
            addr,
            http: reqwest::Client::new(),
            stop,
            _dir: dir,
        }
    }

    /// `GET /metrics` as Prometheus sends it, with its answer's text.
    pub async fn scrape_with(&self, timeout_header: Option<&str>) -> String {
        let mut req = self.http.get(format!("http://{}/metrics", self.addr));
        if let Some(t) = timeout_header {
            req = req.header("X-Prometheus-Scrape-Timeout-Seconds", t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200);
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
        r.text().await.unwrap()
    }

    pub async fn scrape(&self) -> Metrics {
        Metrics::parse(&self.scrape_with(None).await)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("http://{}{path}", self.addr))
            .send()
            .await
            .unwrap()
    }
}

/// One sample: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed scrape.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub samples: Vec<Sample>,
}

impl Metrics {
    /// Parses the text format as the exporter writes it (no escapes in
    /// label values other than the ones tests use).
    pub fn parse(text: &str) -> Self {
        let mut samples = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = value.parse().unwrap();
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').unwrap();
                    let mut labels = BTreeMap::new();
                    for pair in body.split("\",").filter(|p| !p.is_empty()) {
                        let (k, v) = pair.split_once("=\"").unwrap();
                        labels.insert(k.to_owned(), v.trim_end_matches('"').to_owned());
                    }
                    (name.to_owned(), labels)
                }
            };
            samples.push(Sample {
                name,
                labels,
                value,
            });
        }
        Self { samples }
    }

    /// The samples of `name` whose labels include `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The one value of `name` with `labels`, if present.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.find(name, labels);
        assert!(found.len() <= 1, "{name} {labels:?} matches {found:?}");
        found.first().map(|s| s.value)
    }

    /// Every metric name in the scrape.
    pub fn names(&self) -> std::collections::BTreeSet<String> {
        self.samples.iter().map(|s| s.name.clone()).collect()
    }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A server that accepts connections and never answers.
pub async fn hung_server() -> (String, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (url, task)
}

/// An address nothing listens on.
pub async fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    url
}

/// A tool from Debian's `prometheus` package, when installed. The test
/// command (scripts/test.sh) installs it and sets VGER_REQUIRE_PROMETHEUS,
/// so a missing tool fails there instead of skipping.
pub fn prometheus_tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("VGER_REQUIRE_PROMETHEUS").is_none(),
            "{name} is not installed: apt-get install prometheus (scripts/test.sh does)"
        );
        eprintln!("SKIPPED: {name} is not installed (apt-get install prometheus)");
    }
    found
}

/// The repository's `dashboards/` folder.
pub fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards")
}

/// Polls `check` every 100 ms until it holds or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
