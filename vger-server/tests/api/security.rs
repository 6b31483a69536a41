//! Secrets stay secret and files stay private: the token never reaches a
//! log or an error, the server's files are created 0600 and its
//! directories 0700, symlinks leading out of the data dir are never
//! followed, and a panicking handler costs one request, not the server.

use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use reqwest::{Method, StatusCode};

use crate::support::{TOKEN, TestServer, b2, make_pack};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn a_panicking_handler_is_answered_500_and_the_server_goes_on() {
    async fn boom() -> &'static str {
        panic!("deliberate panic for the test")
    }
    let routes = Router::new()
        .route("/boom", get(boom))
        .route("/fine", get(|| async { "fine" }));
    let app = vger_server::http::harden(
        routes,
        Duration::from_secs(5),
        vger_server::http::log::Api::Client,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(vger_server::connections::serve(
        listener,
        app,
        Default::default(),
        std::future::pending(),
    ));
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let r = client
            .get(format!("http://{addr}/boom"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let text = r.text().await.unwrap();
        assert!(text.contains("internal error"), "{text}");
        assert!(
            !text.contains("deliberate"),
            "the panic message reached the client"
        );
    }
    let r = client
        .get(format!("http://{addr}/fine"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "fine");
}

#[tokio::test]
async fn the_state_database_is_created_0600_and_directories_0700() {
    let s = TestServer::start().await;
    let (name, pack) = make_pack(&[b"blob"]);
    assert_eq!(s.status(Method::POST, "r?init").await, StatusCode::CREATED);
    assert_eq!(s.put("r/config", "c").await, StatusCode::CREATED);
    assert_eq!(s.put(&format!("r/{name}"), pack).await, StatusCode::CREATED);
    s.lock("r", "h", 1).await;
    // While the server runs, so the WAL and shared-memory files exist.
    let data = s.data();
    let state = data.join(".vger-server");
    assert_eq!(mode(&data), 0o700, "data dir");
    assert_eq!(mode(&state), 0o700, "state dir");
    for f in [
        "state.sqlite3",
        "state.sqlite3-wal",
        "state.sqlite3-shm",
        "lock",
    ] {
        assert_eq!(mode(&state.join(f)), 0o600, "{f}");
    }
    for d in ["r", "r/packs", "r/keys", "r/snapshots"] {
        assert_eq!(mode(&data.join(d)), 0o700, "{d}");
    }
    let shard = &name["packs/".len()..][..2];
    assert_eq!(mode(&data.join("r/packs").join(shard)), 0o700, "shard");
    assert_eq!(mode(&data.join("r/config")), 0o600, "config");
    assert_eq!(mode(&data.join("r").join(&name)), 0o600, "pack");
}

#[tokio::test]
async fn a_state_database_left_open_to_others_is_made_private_at_start() {
    let s = TestServer::start().await;
    s.put("r/config", "c").await;
    let dir = s.stop().await;
    let db = dir.path().join("data/.vger-server/state.sqlite3");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = TestServer::start_in(dir, "").await;
    assert_eq!(mode(&db), 0o600);
    drop(s);
}

#[tokio::test]
async fn a_pack_shard_symlinked_outside_is_never_read_written_or_listed() {
    let s = TestServer::start().await;
    s.put("r/config", "c").await;
    let (name, pack) = make_pack(&[b"outside blob"]);
    let shard = &name["packs/".len()..][..2];
    let outside = s.dir.path().join("outside-shard");
    std::fs::create_dir_all(&outside).unwrap();
    let leaf = name.rsplit('/').next().unwrap();
    std::fs::write(outside.join(leaf), &pack).unwrap();
    std::fs::create_dir_all(s.data().join("r/packs")).unwrap();
    symlink(&outside, s.data().join("r/packs").join(shard)).unwrap();
    let path = format!("r/{name}");
    assert_eq!(s.status(Method::GET, &path).await, StatusCode::FORBIDDEN);
    assert_eq!(s.status(Method::HEAD, &path).await, StatusCode::FORBIDDEN);
    assert_eq!(s.status(Method::DELETE, &path).await, StatusCode::FORBIDDEN);
    assert_eq!(s.put(&path, pack.clone()).await, StatusCode::FORBIDDEN);
    assert_eq!(
        s.status(Method::GET, &format!("r/packs/{shard}/?list"))
            .await,
        StatusCode::FORBIDDEN
    );
    let (other, other_pack) = make_pack(&[b"another"]);
    if other["packs/".len()..][..2] == *shard {
        return;
    }
    assert_eq!(
        s.put(&format!("r/{other}"), other_pack).await,
        StatusCode::CREATED
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        1,
        "nothing was added outside"
    );
    assert_eq!(std::fs::read(outside.join(leaf)).unwrap(), pack);
}

#[tokio::test]
async fn a_keys_directory_symlinked_outside_is_never_read_or_written() {
    let s = TestServer::start().await;
    s.put("r/config", "c").await;
    let outside = s.dir.path().join("outside-keys");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("repokey"), "someone else's key").unwrap();
    symlink(&outside, s.data().join("r/keys")).unwrap();
    let (st, body) = s.get_bytes("r/keys/repokey").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(!String::from_utf8_lossy(&body).contains("someone"));
    assert_eq!(s.put("r/keys/repokey", "mine").await, StatusCode::FORBIDDEN);
    assert_eq!(
        s.status(Method::DELETE, "r/keys/repokey").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("repokey")).unwrap(),
        "someone else's key"
    );
    let r = s
        .post_json("r?batch-delete", &serde_json::json!(["keys/repokey"]))
        .await;
    assert!(r.status().is_success() || r.status().is_client_error());
    assert!(
        outside.join("repokey").exists(),
        "batch-delete followed the symlink"
    );
}

/// The admin token of the logging test.
const ADMIN_SECRET: &str = "admin-secret-7f3a9c2e5b8d1046";

#[tokio::test]
async fn no_token_appears_in_any_log_line_or_answer_of_a_whole_session() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\ntoken = {TOKEN:?}\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("data")
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vger-server"))
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "trace")
        .env("VGER_ADMIN_TOKEN", ADMIN_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::<u8>::new()));
    let readers: Vec<_> = [
        Box::new(child.stderr.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stdout.take().unwrap()),
    ]
    .into_iter()
    .map(|mut pipe| {
        let log = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                log.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    })
    .collect();
    // The listen addresses are in the start-up lines.
    let listen_after = |text: &str, marker: &str| {
        let line = &text[text.find(marker)?..];
        let rest = &line[line.find("listen=127.0.0.1:")? + "listen=".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
            .unwrap_or(rest.len());
        Some(rest[..end].to_owned())
    };
    let mut addrs = None;
    for _ in 0..200 {
        let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
        if let (Some(a), Some(b)) = (
            listen_after(&text, "vger-server listening"),
            listen_after(&text, "admin API listening"),
        ) {
            addrs = Some((a, b));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (addr, admin_addr) = addrs.unwrap_or_else(|| {
        let _ = child.kill();
        panic!(
            "no listen lines: {}",
            String::from_utf8_lossy(&log.lock().unwrap())
        )
    });
    let base = format!("http://{addr}");
    let admin = format!("http://{admin_addr}");
    let c = reqwest::Client::new();
    let wrong = format!("{TOKEN}-wrong");
    let (name, pack) = make_pack(&[b"blob one", b"blob two"]);
    let pack_path = format!("{base}/r/{name}");
    let requests: Vec<reqwest::RequestBuilder> = vec![
        c.post(format!("{base}/r?init")).bearer_auth(TOKEN),
        c.put(format!("{base}/r/config"))
            .bearer_auth(TOKEN)
            .body("cfg"),
        c.put(&pack_path).bearer_auth(TOKEN).body(pack.clone()),
        c.put(format!("{base}/r/packs/00/{}", b2(b"x")))
            .bearer_auth(TOKEN)
            .body("y"),
        c.get(&pack_path).bearer_auth(TOKEN),
        c.get(&pack_path)
            .bearer_auth(TOKEN)
            .header("range", "bytes=99999-"),
        c.get(format!("{base}/r?list")).bearer_auth(TOKEN),
        c.get(format!("{base}/r?stats")).bearer_auth(TOKEN),
        c.post(format!("{base}/r/locks/repo-lock"))
            .bearer_auth(TOKEN)
            .body("{\"hostname\":\"h\",\"pid\":1}"),
        c.post(format!("{base}/r?repack"))
            .bearer_auth(TOKEN)
            .body("{not json"),
        c.get(format!("{base}/r/config")).bearer_auth(&wrong),
        c.get(format!("{base}/r/config"))
            .header("authorization", format!("Basic {TOKEN}")),
        c.get(format!("{base}/r/config"))
            .header("authorization", TOKEN),
        c.get(format!("{base}/r/config?token={TOKEN}"))
            .bearer_auth(&wrong),
        c.get(format!("{base}/health")).bearer_auth(&wrong),
        c.delete(format!("{base}/r/config")).bearer_auth(TOKEN),
    ];
    for r in requests {
        let res = r.send().await.unwrap();
        let text = res.text().await.unwrap();
        assert!(!text.contains(TOKEN), "an answer echoed the token: {text}");
    }
    // The admin API, and a client token created through it.
    let created: serde_json::Value = c
        .post(format!("{admin}/v1/tokens"))
        .bearer_auth(ADMIN_SECRET)
        .json(&serde_json::json!({"label": "l", "mode": "read-only"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let scoped = created["secret"].as_str().unwrap().to_owned();
    for r in [
        c.get(format!("{admin}/v1/status"))
            .bearer_auth(ADMIN_SECRET),
        c.get(format!("{admin}/v1/status")).bearer_auth(TOKEN),
        c.get(format!("{admin}/v1/audit")).bearer_auth(ADMIN_SECRET),
        c.get(format!("{base}/r/config")).bearer_auth(&scoped),
        c.put(format!("{base}/r/index"))
            .bearer_auth(&scoped)
            .body("i"),
        c.get(format!("{base}/r/config")).bearer_auth(ADMIN_SECRET),
    ] {
        let text = r.send().await.unwrap().text().await.unwrap();
        for secret in [TOKEN, ADMIN_SECRET, scoped.as_str()] {
            assert!(!text.contains(secret), "an answer echoed a token: {text}");
        }
    }
    // Stop the server so every line is flushed.
    interrupt(child.id());
    let _ = child.wait();
    for r in readers {
        r.join().unwrap();
    }
    let log = log.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&log);
    assert!(
        text.contains("status=401"),
        "failed auth was logged: {text}"
    );
    assert!(text.lines().count() > 15, "a whole session was logged");
    assert!(
        text.contains("admin request"),
        "the admin API logged: {text}"
    );
    for secret in [TOKEN, ADMIN_SECRET, scoped.as_str()] {
        assert!(!text.contains(secret), "a token reached the log");
        // Not even its tail.
        assert!(!text.contains(&secret[secret.len() - 12..]));
    }
}

/// Sends SIGINT, as an operator's Ctrl-C would.
fn interrupt(pid: u32) {
    let _ = std::process::Command::new("kill")
        .arg("-INT")
        .arg(pid.to_string())
        .status();
}
