//! Start-up: crash leftovers are cleaned, bad configurations are refused
//! with one clear line, and the binary serves on a real port.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::support::{TOKEN, TestServer};

#[tokio::test]
async fn temp_files_left_by_a_crash_are_removed_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("data/r");
    std::fs::create_dir_all(repo.join("packs/ab")).unwrap();
    std::fs::create_dir_all(repo.join("snapshots")).unwrap();
    std::fs::write(repo.join("config"), "c").unwrap();
    std::fs::write(repo.join("packs/ab/.vger-tmp-99-1-1"), "torn").unwrap();
    std::fs::write(repo.join("snapshots/.vger-tmp-99-1-2"), "torn").unwrap();
    std::fs::write(repo.join(".vger-tmp-99-1-3"), "torn").unwrap();
    let s = TestServer::start_in(dir, "").await;
    assert_eq!(
        crate::support::files_below(&s.data().join("r")),
        vec!["config"]
    );
}

pub(crate) fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_vger-server")
}

fn write_config(dir: &Path, body: &str) -> std::path::PathBuf {
    let p = dir.join("server.toml");
    std::fs::write(&p, body).unwrap();
    p
}

/// A config in `dir` with `data_dir = dir/data` and the given extra lines.
pub(crate) fn config_with(dir: &Path, lines: &str) -> std::path::PathBuf {
    write_config(
        dir,
        &format!("[server]\ndata_dir = {:?}\n{lines}\n", dir.join("data")),
    )
}

/// The server binary with `--config`, no inherited token, stderr piped.
fn server_command(config: &Path, env_token: Option<&str>) -> Command {
    let mut cmd = Command::new(binary());
    cmd.arg("--config")
        .arg(config)
        .env_remove("VGER_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(t) = env_token {
        cmd.env("VGER_TOKEN", t);
    }
    cmd
}

/// Runs the binary to completion with a 10 s limit; returns (code, stderr).
pub(crate) fn run_to_exit(config: &Path, env_token: Option<&str>) -> (i32, String) {
    let mut child = server_command(config, env_token).spawn().unwrap();
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    panic!("the server did not exit on a bad configuration");
}

pub(crate) fn assert_refused(code: i32, err: &str, needle: &str) {
    assert_ne!(code, 0, "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");
}

#[test]
fn an_unknown_key_is_refused_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let c = config_with(
        d.path(),
        &format!("token = \"{TOKEN}\"\nappend_onyl = true"),
    );
    let (code, err) = run_to_exit(&c, None);
    assert_refused(code, &err, "append_onyl");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn a_missing_token_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let (code, err) = run_to_exit(&config_with(d.path(), ""), None);
    assert_refused(code, &err, "token");
}

#[test]
fn an_empty_token_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let (code, err) = run_to_exit(&config_with(d.path(), "token = \"\""), None);
    assert_refused(code, &err, "token");
}

#[test]
fn a_token_file_readable_by_others_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let tf = d.path().join("token");
    std::fs::write(&tf, TOKEN).unwrap();
    std::fs::set_permissions(&tf, std::fs::Permissions::from_mode(0o644)).unwrap();
    let c = config_with(d.path(), &format!("token_file = {tf:?}"));
    let (code, err) = run_to_exit(&c, None);
    assert_refused(code, &err, "readable by other users");
}

#[test]
fn a_data_dir_that_is_a_file_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("file");
    std::fs::write(&f, "").unwrap();
    let c = write_config(
        d.path(),
        &format!("[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {f:?}\ntoken = \"{TOKEN}\"\n"),
    );
    let (code, err) = run_to_exit(&c, None);
    assert_refused(code, &err, "not a directory");
}

#[test]
fn a_port_in_use_is_refused() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let d = tempfile::tempdir().unwrap();
    let c = config_with(
        d.path(),
        &format!("listen = \"{addr}\"\ntoken = \"{TOKEN}\""),
    );
    let (code, err) = run_to_exit(&c, None);
    assert_refused(code, &err, &addr.to_string());
}

#[test]
fn a_missing_config_file_is_refused() {
    let (code, err) = run_to_exit(Path::new("/nonexistent/vger.toml"), None);
    assert_refused(code, &err, "/nonexistent/vger.toml");
}

/// Settings for a child server: a free port, and JSON logs that tell which.
pub(crate) const CHILD_LINES: &str = "listen = \"127.0.0.1:0\"\nlog_format = \"json\"";

/// A server running as a child process.
pub struct ChildServer {
    pub child: Child,
    pub addr: String,
    pub logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on a fresh port with JSON logs, waiting for it to listen.
pub fn spawn_server(config: &Path, env_token: Option<&str>) -> ChildServer {
    let mut child = server_command(config, env_token).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = logs.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                if let Some(l) = v.get("listen").and_then(|l| l.as_str()) {
                    let _ = tx.send(l.to_owned());
                }
            }
            sink.lock().unwrap().push(line);
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the server did not start listening");
    ChildServer { child, addr, logs }
}

#[tokio::test]
async fn the_binary_serves_with_a_token_from_the_environment_and_never_logs_it() {
    let d = tempfile::tempdir().unwrap();
    let c = config_with(d.path(), CHILD_LINES);
    let server = spawn_server(&c, Some(TOKEN));
    let client = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let r = client
        .put(format!("{base}/r/config"))
        .bearer_auth(TOKEN)
        .body("c")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = client
        .get(format!("{base}/r/config"))
        .bearer_auth("wrong-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = client
        .request(Method::GET, format!("{base}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = server.logs.lock().unwrap().join("\n");
    assert!(
        logs.contains("\"status\":201"),
        "one line per request: {logs}"
    );
    assert!(!logs.contains(TOKEN), "the token leaked into the logs");
    assert!(
        !logs.contains("wrong-token"),
        "a presented token leaked into the logs"
    );
    assert!(
        !logs.to_lowercase().contains("bearer "),
        "an Authorization header leaked"
    );
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let c = config_with(d.path(), &format!("{CHILD_LINES}\ntoken = \"{TOKEN}\""));
    let _first = spawn_server(&c, None);
    let (code, err) = run_to_exit(&c, None);
    assert_refused(code, &err, "in use by another vger-server");
}

/// Peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_512_mib_upload_does_not_grow_memory_by_more_than_a_few_mib() {
    const SIZE: usize = 512 << 20;
    let d = tempfile::tempdir().unwrap();
    let c = config_with(d.path(), &format!("{CHILD_LINES}\ntoken = \"{TOKEN}\""));
    let server = spawn_server(&c, None);
    let client = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    // Warm up the server's allocator and blocking pool with a small upload.
    client
        .put(format!("{base}/r/index"))
        .bearer_auth(TOKEN)
        .body(vec![1u8; 4 << 20])
        .send()
        .await
        .unwrap();
    let before = peak_rss_kib(server.child.id());
    let chunk = vec![0x5au8; 1 << 20];
    let chunks = (0..SIZE / chunk.len()).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let r = client
        .put(format!("{base}/r/index"))
        .bearer_auth(TOKEN)
        .header("content-length", SIZE)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let after = peak_rss_kib(server.child.id());
    let grown_mib = (after.saturating_sub(before)) as f64 / 1024.0;
    println!("peak RSS before {before} KiB, after {after} KiB, grown {grown_mib:.1} MiB");
    assert!(
        grown_mib < 16.0,
        "peak RSS grew by {grown_mib:.1} MiB during a 512 MiB upload"
    );
    assert_eq!(
        std::fs::metadata(d.path().join("data/r/index"))
            .unwrap()
            .len(),
        SIZE as u64
    );
}
