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
    // Space is back once the failed upload is gone: the server still writes.
    assert_eq!(
        s.put("r/index", noise(2, 100_000)).await,
        StatusCode::CREATED
    );
}
