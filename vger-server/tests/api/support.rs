//! A real server on a real socket, and helpers to talk to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use blake2::Digest;
use reqwest::{Method, RequestBuilder, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vger_server::app::App;
use vger_server::config::Config;
use vger_server::server;
use vger_server::service::lifecycle;

pub const TOKEN: &str = "test-token-0123456789abcdef";
/// The admin token with role `admin`.
pub const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";
/// The admin token with role `read` (what the exporter uses).
pub const READ_TOKEN: &str = "read-token-0123456789abcdef";

/// A running server on 127.0.0.1:<random port> with its own data dir.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The admin API's address.
    pub admin_addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    /// The server's state, for tests that set what the admin API will.
    pub app: Arc<App>,
    shutdown: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
    }
}

impl TestServer {
    /// A server with default settings.
    pub async fn start() -> Self {
        Self::start_with("").await
    }

    /// A server with extra `[server]` lines.
    pub async fn start_with(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, extra).await
    }

    /// A server on an existing data dir (already populated by the test).
    pub async fn start_in(dir: tempfile::TempDir, extra: &str) -> Self {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\ntoken = {TOKEN:?}\n{extra}\n\
             [[admin.tokens]]\nlabel = \"exporter\"\nrole = \"read\"\ntoken = {READ_TOKEN:?}\n",
            dir.path().join("data")
        );
        let config = Config::from_toml_with_admin(
            &text,
            Path::new("test.toml"),
            None,
            Some(ADMIN_TOKEN.into()),
        )
        .unwrap();
        let app = server::prepare(&config).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let admin_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin_addr = admin_listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let admin = tokio::spawn(server::serve_admin(
            admin_listener,
            app.clone(),
            stopped(rx.clone()),
        ));
        let serve_app = app.clone();
        let task = tokio::spawn(async move {
            server::serve(listener, serve_app.clone(), stopped(rx)).await;
            let _ = admin.await;
            lifecycle::settle(&serve_app, Duration::from_secs(10)).await;
        });
        Self {
            addr,
            admin_addr,
            dir,
            client: reqwest::Client::builder().build().unwrap(),
            app,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server as a shutdown signal would, waits until it has
    /// let go of the data dir, and hands the dir back for a restart.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        for _ in 0..200 {
            if Arc::strong_count(&self.app) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            Arc::strong_count(&self.app),
            1,
            "the server still holds its state"
        );
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    /// Stops the server and starts a new one on the same data dir.
    pub async fn restart(self, extra: &str) -> Self {
        let dir = self.stop().await;
        Self::start_in(dir, extra).await
    }

    /// Takes the 0.7 server lock `repo-lock` of `repo` as `host`/`pid`.
    pub async fn lock(&self, repo: &str, host: &str, pid: u64) -> StatusCode {
        self.req(Method::POST, &format!("{repo}/locks/repo-lock"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"hostname":"{host}","pid":{pid}}}"#))
            .send()
            .await
            .unwrap()
            .status()
    }

    /// `GET <repo>?stats` as JSON.
    pub async fn stats(&self, repo: &str) -> serde_json::Value {
        self.json(Method::GET, &format!("{repo}?stats")).await
    }

    /// `repo`'s record in the state.
    pub fn record(&self, repo: &str) -> vger_server::state::RepoRecord {
        let repo = shared_proto::RepoName::parse(repo).unwrap();
        self.app.state.repos.get(&repo).unwrap()
    }

    /// Sets `repo`'s policies through the state layer (what the admin API
    /// will do).
    pub fn set_policy(&self, repo: &str, f: impl FnOnce(&mut vger_server::state::RepoRecord)) {
        let repo = shared_proto::RepoName::parse(repo).unwrap();
        self.app.state.repos.set_policy(&repo, f).unwrap();
    }

    /// A request to the admin API with `token`.
    pub fn admin_as(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("http://{}{path}", self.admin_addr))
            .bearer_auth(token)
    }

    /// A request to the admin API with the `admin` token.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.admin_as(ADMIN_TOKEN, method, path)
    }

    /// An admin API call that must succeed, with its JSON answer.
    pub async fn admin_ok(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let mut req = self.admin(method.clone(), path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// A request to the client API with `token`.
    pub fn req_as(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// The data dir.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `http://addr/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// A request with the valid token.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(TOKEN)
    }

    pub async fn put(&self, path: &str, body: impl Into<reqwest::Body>) -> StatusCode {
        self.req(Method::PUT, path)
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    }

    pub async fn get_bytes(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let r = self.req(Method::GET, path).send().await.unwrap();
        (r.status(), r.bytes().await.unwrap().to_vec())
    }

    pub async fn status(&self, method: Method, path: &str) -> StatusCode {
        self.req(method, path).send().await.unwrap().status()
    }

    /// POSTs a JSON body.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.req(Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs a JSON body and parses a successful JSON answer.
    pub async fn post_json_ok(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        let r = self.post_json(path, body).await;
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    pub async fn json<T: serde::de::DeserializeOwned>(&self, method: Method, path: &str) -> T {
        let r = self.req(method, path).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// Sends raw bytes on a new connection and returns the status code and
    /// the whole response text (the server closes after one request).
    pub async fn raw(&self, request: &[u8]) -> (u16, String) {
        let mut s = TcpStream::connect(self.addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut buf = Vec::new();
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut buf)).await;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let code = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (code, text)
    }

    /// Sends `METHOD path` with the token and an empty body, raw.
    pub async fn raw_request(&self, method: &str, path: &str) -> (u16, String) {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        self.raw(req.as_bytes()).await
    }
}

/// BLAKE2b-256 as lowercase hex.
pub fn b2(data: &[u8]) -> String {
    let d = blake2::Blake2b::<blake2::digest::consts::U32>::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A pack made of `blobs`, and its key.
pub fn make_pack(blobs: &[&[u8]]) -> (String, Vec<u8>) {
    let mut p = b"VGERPACK\x01".to_vec();
    for b in blobs {
        p.extend_from_slice(&(b.len() as u32).to_le_bytes());
        p.extend_from_slice(b);
    }
    let hex = b2(&p);
    (format!("packs/{}/{hex}", &hex[..2]), p)
}

/// Deterministic pseudo-random bytes.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Copies a fixture repository into `data/<name>`.
pub fn copy_fixture(fixture: &str, data: &Path, name: &str) {
    // A byte-for-byte copy of ../shared/fixtures/repos, kept in the repo so
    // the tests run from a clean clone.
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/repos")
        .join(fixture);
    copy_dir(&src, &data.join(name));
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
            let mut perm = std::fs::metadata(&to).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&to, perm).unwrap();
        }
    }
}

/// Every file and directory below `dir`, relative, sorted; directories
/// end in `/`.
pub fn entries_below(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                if p.is_dir() && !e.file_type().unwrap().is_symlink() {
                    out.push(format!("{rel}/"));
                    walk(base, &p, out);
                } else {
                    out.push(rel);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Every file below `dir`, relative, sorted.
pub fn files_below(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// GETs `url` with the token and parses the JSON answer.
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    let r = client.get(url).bearer_auth(TOKEN).send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap()
}
