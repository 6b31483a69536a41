//! What the server remembers survives restarts and crashes: quotas and
//! overrides, counters, locks and last backup times; and counters rebuilt
//! from the files equal the live ones.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::startup::{CHILD_LINES, assert_refused, binary, config_with, run_to_exit, spawn_server};
use crate::support::{TOKEN, TestServer, copy_fixture, files_below, get_json, make_pack, noise};

/// A 0.7 client's backup with its lock left held (a backup in progress).
async fn backup_holding_the_lock(s: &TestServer) {
    for k in ["config", "keys/repokey", "manifest", "index"] {
        s.put(&format!("r/{k}"), "x").await;
    }
    assert_eq!(s.lock("r", "vm", 7).await, StatusCode::CREATED);
    s.put("r/snapshots/a", "a").await;
    let (k, p) = make_pack(&[b"data"]);
    s.put(&format!("r/{k}"), p).await;
    s.put("r/manifest", "with a").await;
}

#[tokio::test]
async fn policies_counters_locks_and_last_backup_survive_a_restart() {
    let s = TestServer::start_with("quota_bytes = 1000000").await;
    backup_holding_the_lock(&s).await;
    s.set_policy("r", |r| {
        r.quota_bytes = Some(5000);
        r.append_only = Some(true);
        r.freshness_threshold_seconds = Some(86400);
    });
    let stats = s.stats("r").await;
    let locks: Value = s.json(Method::GET, "r/locks").await;
    assert!(stats["last_backup_at"].is_string());
    let record = s.record("r");

    let s = s.restart("quota_bytes = 1000000").await;
    assert_eq!(s.stats("r").await, stats);
    let after: Value = s.json(Method::GET, "r/locks").await;
    assert_eq!(after, locks);
    let again = s.record("r");
    assert_eq!(
        (
            again.quota_bytes,
            again.append_only,
            again.freshness_threshold_seconds,
            again.created_at
        ),
        (
            record.quota_bytes,
            record.append_only,
            record.freshness_threshold_seconds,
            record.created_at
        )
    );
    // And they still hold.
    assert_eq!(s.lock("r", "other", 8).await, StatusCode::CONFLICT);
    assert_eq!(s.put("r/snapshots/a", "other").await, StatusCode::FORBIDDEN);
    assert_eq!(
        s.put("r/index", vec![0u8; 6000]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

/// Sizes and counts of the valid objects below a repository directory.
fn counted_from_files(repo_dir: &Path) -> (u64, u64, u64) {
    let mut bytes = 0;
    let mut objects = 0;
    let mut packs = 0;
    for f in files_below(repo_dir) {
        if f.split('/').any(|part| part.starts_with('.')) {
            continue;
        }
        bytes += std::fs::metadata(repo_dir.join(&f)).unwrap().len();
        objects += 1;
        if f.starts_with("packs/") {
            packs += 1;
        }
    }
    (bytes, objects, packs)
}

fn stats_triple(v: &Value) -> (u64, u64, u64) {
    (
        v["total_bytes"].as_u64().unwrap(),
        v["total_objects"].as_u64().unwrap(),
        v["total_packs"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn a_kill_in_the_middle_of_uploads_leaves_exact_counters_and_no_temp_file() {
    let d = tempfile::tempdir().unwrap();
    // An override set through the state layer, as the admin API will.
    let state = vger_server::state::State::open(
        &d.path().join("data/.vger-server"),
        Duration::from_secs(3600),
    )
    .unwrap();
    state
        .repos
        .set_policy(&shared_proto::RepoName::parse("r").unwrap(), |r| {
            r.quota_bytes = Some(50_000_000)
        })
        .unwrap();
    drop(state);
    let c = config_with(d.path(), &format!("{CHILD_LINES}\ntoken = \"{TOKEN}\""));
    let server = spawn_server(&c, None);
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let put = |path: &str, body: reqwest::Body| {
        client
            .put(format!("{base}/{path}"))
            .bearer_auth(TOKEN)
            .body(body)
            .send()
    };
    for k in ["config", "manifest", "index"] {
        assert_eq!(
            put(&format!("r/{k}"), "x".into()).await.unwrap().status(),
            201
        );
    }
    let lock = client
        .post(format!("{base}/r/locks/repo-lock"))
        .bearer_auth(TOKEN)
        .body(r#"{"hostname":"vm","pid":7}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(lock.status(), 201);
    put("r/snapshots/a", "a".into()).await.unwrap();
    put("r/manifest", "with a".into()).await.unwrap();
    let stats_before: Value = get_json(&client, &format!("{base}/r?stats")).await;
    let locks_before: Value = get_json(&client, &format!("{base}/r/locks")).await;
    // Uploads that never finish, and others that do, while the kill comes.
    let mut stalled = Vec::new();
    for i in 0..3u64 {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
        tx.send(Ok(noise(i, 300_000))).await.unwrap();
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let body = reqwest::Body::wrap_stream(stream);
        stalled.push((
            tx,
            tokio::spawn(put(&format!("r/snapshots/stalled{i}"), body)),
        ));
    }
    for i in 0..20u64 {
        let (k, p) = make_pack(&[&noise(i, 50_000)]);
        assert_eq!(
            put(&format!("r/{k}"), p.into()).await.unwrap().status(),
            201
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(server); // SIGKILL, then wait
    drop(stalled);

    let server = spawn_server(&c, None);
    let base = format!("http://{}", server.addr);
    let stats: Value = get_json(&client, &format!("{base}/r?stats")).await;
    let repo_dir = d.path().join("data/r");
    assert_eq!(stats_triple(&stats), counted_from_files(&repo_dir));
    assert_eq!(stats_triple(&stats).2, 20);
    assert_eq!(stats["last_backup_at"], stats_before["last_backup_at"]);
    assert_eq!(stats["quota_bytes"], 50_000_000);
    let locks: Value = get_json(&client, &format!("{base}/r/locks")).await;
    assert_eq!(locks, locks_before);
    let temps: Vec<String> = files_below(&d.path().join("data"))
        .into_iter()
        .filter(|f| f.contains(".vger-tmp-"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
}

/// Runs `vger-server reconcile` on `config`; returns (exit code, stdout).
fn reconcile_command(config: &Path) -> (i32, String) {
    let out = Command::new(binary())
        .arg("reconcile")
        .arg("--config")
        .arg(config)
        .env_remove("VGER_TOKEN")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn counters_rebuilt_from_the_files_equal_the_live_counters() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_fixture("client-0.7", &data, "old");
    copy_fixture("client-0.16", &data, "new");
    let s = TestServer::start_in(dir, "").await;
    // Writes, overwrites, deletes, a batch delete and a repack.
    for i in 0..5u64 {
        let (k, p) = make_pack(&[&noise(i, 1000), &noise(i + 100, 2000)]);
        s.put(&format!("new/{k}"), p).await;
        if i == 4 {
            let plan = serde_json::json!({"operations":[{"source_pack":k,"keep_blobs":[{"offset":1017,"length":2000}],"delete_after":true}]});
            s.post_json_ok("new?repack", &plan).await;
        }
    }
    s.put("old/index", noise(7, 12345)).await;
    s.put("old/snapshots/extra", "e").await;
    s.status(Method::DELETE, "old/snapshots/extra").await;
    s.put("new/sessions/x.json", "{}").await;
    let r = s
        .req(Method::POST, "new?batch-delete")
        .body(r#"["sessions/x.json", "nonsense/../x"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let live = (
        stats_triple(&s.stats("old").await),
        stats_triple(&s.stats("new").await),
    );
    assert_eq!(live.0, counted_from_files(&s.data().join("old")));
    assert_eq!(live.1, counted_from_files(&s.data().join("new")));

    // The reconcile command finds nothing to change after a clean stop.
    let dir = s.stop().await;
    let config = config_with(dir.path(), &format!("token = \"{TOKEN}\""));
    let (code, out) = reconcile_command(&config);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("reconciled 2 repositories: 0 changed"),
        "{out}"
    );

    // Without any state, start-up rebuilds the same counters.
    for f in ["state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm"] {
        let _ = std::fs::remove_file(dir.path().join("data/.vger-server").join(f));
    }
    let s = TestServer::start_in(dir, "").await;
    assert_eq!(
        (
            stats_triple(&s.stats("old").await),
            stats_triple(&s.stats("new").await)
        ),
        live
    );
}

#[tokio::test]
async fn the_reconcile_command_repairs_counters_and_reports_the_change() {
    let s = TestServer::start().await;
    s.put("r/config", "c").await;
    let dir = s.stop().await;
    // Someone copies an object in behind the server's back.
    std::fs::create_dir_all(dir.path().join("data/r/snapshots")).unwrap();
    std::fs::write(dir.path().join("data/r/snapshots/copied"), "12345").unwrap();
    // The command serves nothing, so its config needs no token.
    let config = config_with(dir.path(), "");
    let (code, out) = reconcile_command(&config);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("r: 1 -> 6 bytes, 1 -> 2 objects"), "{out}");
    let s = TestServer::start_in(dir, "").await;
    assert_eq!(stats_triple(&s.stats("r").await), (6, 2, 0));
}

#[test]
fn the_reconcile_command_refuses_while_a_server_runs() {
    let d = tempfile::tempdir().unwrap();
    let c = config_with(d.path(), &format!("{CHILD_LINES}\ntoken = \"{TOKEN}\""));
    let _server = spawn_server(&c, None);
    let (code, out) = reconcile_command(&c);
    assert_refused(code, &out, "in use by another vger-server");
}

#[test]
fn a_state_database_from_a_newer_server_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let state_dir = d.path().join("data/.vger-server");
    let (db, _) = vger_server::state::Db::open(&state_dir).unwrap();
    db.with(|c| {
        c.pragma_update(None, "user_version", 99).unwrap();
        Ok(())
    })
    .unwrap();
    drop(db);
    let c = config_with(d.path(), &format!("token = \"{TOKEN}\""));
    let (code, err) = run_to_exit(&c, None);
    assert_refused(code, &err, "schema version 99, newer than this vger-server");
}

#[tokio::test]
async fn a_configured_state_dir_keeps_the_state_outside_the_data_dir() {
    let outside = tempfile::tempdir().unwrap();
    let extra = format!("state_dir = {:?}", outside.path().join("state"));
    let s = TestServer::start_with(&extra).await;
    s.put("r/config", "c").await;
    assert!(outside.path().join("state/state.sqlite3").is_file());
    assert!(!s.data().join(".vger-server/state.sqlite3").exists());
    let listed: Vec<String> = s.json(Method::GET, "").await;
    assert_eq!(listed, vec!["r"]);
}

#[tokio::test]
async fn a_repository_copied_in_while_the_server_runs_is_counted_on_first_use() {
    let s = TestServer::start().await;
    copy_fixture("client-0.16", &s.data(), "copied");
    let stats = s.stats("copied").await;
    assert_eq!(
        stats_triple(&stats),
        counted_from_files(&s.data().join("copied"))
    );
    assert!(
        stats["last_backup_at"].is_string(),
        "estimated from its snapshots"
    );
}

#[tokio::test]
async fn a_repository_copied_in_while_the_server_runs_is_counted_before_its_first_write() {
    let s = TestServer::start_with("quota_bytes = 1000000").await;
    copy_fixture("client-0.7", &s.data(), "copied");
    let files = counted_from_files(&s.data().join("copied"));
    assert_eq!(s.put("copied/locks/x", "12345").await, StatusCode::CREATED);
    let stats = s.stats("copied").await;
    assert_eq!(stats_triple(&stats), (files.0 + 5, files.1 + 1, files.2));
}

#[test]
fn a_state_dir_that_would_be_served_as_a_repository_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let inside = d.path().join("data/state");
    let c = config_with(
        d.path(),
        &format!("token = \"{TOKEN}\"\nstate_dir = {inside:?}"),
    );
    let (code, err) = run_to_exit(&c, None);
    assert_refused(code, &err, "would be served as a repository");
}

/// Stops a child server with SIGTERM and waits for it to exit.
fn terminate(server: &mut crate::startup::ChildServer) {
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    for _ in 0..100 {
        if server.child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not stop on SIGTERM");
}

fn recounted(server: &crate::startup::ChildServer) -> bool {
    std::thread::sleep(Duration::from_millis(200));
    server
        .logs
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("recounted repositories"))
}

#[tokio::test]
async fn only_a_run_that_did_not_stop_cleanly_makes_the_next_start_recount() {
    let d = tempfile::tempdir().unwrap();
    let c = config_with(d.path(), &format!("{CHILD_LINES}\ntoken = \"{TOKEN}\""));
    let client = reqwest::Client::new();
    let write = |addr: String| {
        client
            .put(format!("http://{addr}/r/index"))
            .bearer_auth(TOKEN)
            .body("x")
            .send()
    };
    let mut server = spawn_server(&c, None);
    assert!(
        write(server.addr.clone())
            .await
            .unwrap()
            .status()
            .is_success()
    );
    terminate(&mut server);
    let server = spawn_server(&c, None);
    assert!(!recounted(&server), "a clean stop needs no recount");
    assert!(
        write(server.addr.clone())
            .await
            .unwrap()
            .status()
            .is_success()
    );
    drop(server); // SIGKILL
    let server = spawn_server(&c, None);
    assert!(recounted(&server), "a killed run is recounted");
}
