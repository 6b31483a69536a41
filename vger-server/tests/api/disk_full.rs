//! A full disk: 507, nothing half-written left behind, and the server keeps
//! serving. Needs a small tmpfs, so it runs where the test may mount one
//! (as root, as in CI) and says so when it cannot.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::{Method, StatusCode};

use crate::support::{TestServer, files_below, noise};

/// A 1 MiB tmpfs mounted at a temp dir; unmounted on drop.
struct SmallDisk {
    mountpoint: PathBuf,
}

impl SmallDisk {
    fn mount(at: &Path) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self {
            mountpoint: at.to_path_buf(),
        })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.mountpoint)
            .status();
    }
}

#[tokio::test]
async fn a_full_disk_is_507_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let Some(_disk) = SmallDisk::mount(&dir.path().join("data")) else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    };
    let s = TestServer::start_in(dir, "").await;
    assert_eq!(s.put("r/config", "c").await, StatusCode::CREATED);
    let r = s
        .req(Method::PUT, "r/index")
        .body(noise(1, 2 << 20))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE);
    assert!(r.text().await.unwrap().contains("no space left"));
    assert_eq!(
        files_below(&s.data().join("r")),
        vec!["config"],
        "no temp file is left"
    );
    assert_eq!(
        s.status(Method::GET, "r/index").await,
        StatusCode::NOT_FOUND
    );
    let stats = s.stats("r").await;
    assert_eq!(
        (stats["total_bytes"].clone(), stats["total_objects"].clone()),
        (1.into(), 1.into())
    );
    // Space is back once the failed upload is gone: the server still writes.
    assert_eq!(
        s.put("r/index", noise(2, 100_000)).await,
        StatusCode::CREATED
    );
    assert_eq!(s.stats("r").await["total_bytes"], 100_001);
}

#[tokio::test]
async fn a_repack_that_runs_out_of_space_deletes_no_source() {
    let dir = tempfile::tempdir().unwrap();
    let Some(_disk) = SmallDisk::mount(&dir.path().join("data")) else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    };
    let s = TestServer::start_in(dir, "").await;
    // Two packs of ~300 KiB each fit; copying both does not.
    let mut ops = Vec::new();
    let mut sources = Vec::new();
    for i in 0..2 {
        let (a, b) = (noise(10 + i, 300 << 10), noise(20 + i, 16));
        let (key, body) = crate::support::make_pack(&[&a, &b]);
        assert_eq!(s.put(&format!("r/{key}"), body).await, StatusCode::CREATED);
        ops.push(serde_json::json!({"source_pack":key,"keep_blobs":[{"offset":13,"length":a.len()}],"delete_after":true}));
        sources.push(key);
    }
    let r = s
        .req(Method::POST, "r?repack")
        .json(&serde_json::json!({"operations": ops}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE);
    for key in &sources {
        assert_eq!(
            s.status(Method::HEAD, &format!("r/{key}")).await,
            StatusCode::OK,
            "{key} must survive"
        );
    }
    let leftovers: Vec<String> = files_below(&s.data().join("r"))
        .into_iter()
        .filter(|f| f.contains(".vger-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
