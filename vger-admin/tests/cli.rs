//! The built `vger-admin` binary against a real server on 127.0.0.1:0:
//! tables and JSON, exit codes, confirmations, sizes, progress, contexts.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use vger_server::config::Config;
use vger_server::server;

const CLIENT_TOKEN: &str = "client-token-0123456789";
const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";
const READ_TOKEN: &str = "read-token-0123456789abcdef";

/// A real server (client and admin listeners) on loopback ports.
struct Server {
    admin_url: String,
    client_url: String,
    dir: tempfile::TempDir,
    stop: watch::Sender<bool>,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start() -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\ntoken = {CLIENT_TOKEN:?}\n\
             [[admin.tokens]]\nlabel = \"exporter\"\nrole = \"read\"\ntoken = {READ_TOKEN:?}\n",
            dir.path().join("data")
        );
        let config = Config::from_toml_with_admin(
            &text,
            Path::new("t.toml"),
            None,
            Some(ADMIN_TOKEN.into()),
        )
        .unwrap();
        let app = server::prepare(&config).unwrap();
        let (stop, rx) = watch::channel(false);
        let (client_addr, admin_addr) = runtime.block_on(async {
            let client = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addrs = (client.local_addr().unwrap(), admin.local_addr().unwrap());
            let stopped = |mut rx: watch::Receiver<bool>| async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            tokio::spawn(server::serve(client, app.clone(), stopped(rx.clone())));
            tokio::spawn(server::serve_admin(admin, app, stopped(rx)));
            addrs
        });
        Self {
            admin_url: format!("http://{admin_addr}"),
            client_url: format!("http://{client_addr}"),
            dir,
            stop,
            runtime,
        }
    }

    /// Runs `vger-admin ARGS` against this server with the admin token,
    /// stdin and stdout not a terminal.
    fn admin(&self, args: &[&str]) -> Output {
        self.admin_with(ADMIN_TOKEN, args)
    }

    fn admin_with(&self, token: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_vger-admin"))
            .args(args)
            .env("VGER_ADMIN_URL", &self.admin_url)
            .env("VGER_ADMIN_TOKEN", token)
            .env_remove("VGER_ADMIN_CONFIG")
            .env("XDG_CONFIG_HOME", self.dir.path().join("no-config"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    /// PUTs an object through the client API.
    fn put(&self, path: &str, body: &'static str) {
        let url = format!("{}/{path}", self.client_url);
        self.runtime.block_on(async {
            let r = reqwest::Client::new()
                .put(url)
                .bearer_auth(CLIENT_TOKEN)
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
        });
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn ok(o: Output) -> String {
    assert_eq!(
        code(&o),
        0,
        "stdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

#[test]
fn repo_list_prints_a_table_in_human_units() {
    let s = Server::start();
    ok(s.admin(&[
        "repo",
        "create",
        "laptop",
        "--quota",
        "1.5GiB",
        "--freshness",
        "26h",
    ]));
    let out = ok(s.admin(&["repo", "list"]));
    assert!(out.contains("REPO"), "{out}");
    assert!(out.contains("laptop"), "{out}");
    assert!(out.contains("1.5 GiB"), "{out}");
    assert!(out.contains("26h"), "{out}");
    assert!(out.contains("never"), "{out}");
}

#[test]
fn json_output_is_the_apis_json() {
    let s = Server::start();
    ok(s.admin(&["repo", "create", "laptop", "--quota", "750MB"]));
    let out = ok(s.admin(&["--json", "repo", "list"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["repos"][0]["name"], "laptop");
    assert_eq!(v["repos"][0]["quota_bytes"], 750_000_000);
}

#[test]
fn sizes_are_read_with_their_suffixes() {
    let s = Server::start();
    ok(s.admin(&["repo", "create", "r"]));
    for (text, bytes) in [
        ("500G", 500_000_000_000u64),
        ("1.5TiB", 3 << 39),
        ("750MB", 750_000_000),
        ("0", 0),
    ] {
        ok(s.admin(&["quota", "set", "r", text]));
        let v: serde_json::Value =
            serde_json::from_str(&ok(s.admin(&["--json", "repo", "show", "r"]))).unwrap();
        let expected = if bytes == 0 {
            serde_json::Value::Null
        } else {
            bytes.into()
        };
        assert_eq!(v["quota_bytes"], expected, "{text}");
    }
    let o = s.admin(&["quota", "set", "r", "5 parsecs"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("500GiB"), "{}", stderr(&o));
}

#[test]
fn a_near_full_quota_and_an_overdue_backup_stand_out() {
    let s = Server::start();
    s.put("r/index", "0123456789");
    ok(s.admin(&["quota", "set", "r", "10"]));
    ok(s.admin(&["policy", "set", "r", "--freshness", "1s"]));
    std::thread::sleep(Duration::from_millis(2100));
    let out = ok(s.admin(&["repo", "list"]));
    assert!(out.contains("NEARLY FULL"), "{out}");
    assert!(out.contains("OVERDUE"), "{out}");
}

#[test]
fn a_destructive_command_without_a_terminal_is_refused_unless_yes() {
    let s = Server::start();
    ok(s.admin(&["repo", "create", "r"]));
    let o = s.admin(&["repo", "delete", "r"]);
    assert_eq!(code(&o), 8);
    assert!(stderr(&o).contains("--yes"), "{}", stderr(&o));
    assert!(s.dir.path().join("data/r").is_dir(), "nothing was deleted");
    ok(s.admin(&["repo", "delete", "r", "--yes"]));
    assert!(!s.dir.path().join("data/r").exists());
}

#[test]
fn exit_codes_tell_what_went_wrong() {
    let s = Server::start();
    ok(s.admin(&["repo", "create", "r"]));
    assert_eq!(code(&s.admin(&["repo", "create", "r"])), 7, "conflict");
    assert_eq!(code(&s.admin(&["repo", "show", "nope"])), 6, "not found");
    assert_eq!(
        code(&s.admin_with("wrong-token-0123456789", &["status"])),
        4,
        "bad token"
    );
    assert_eq!(
        code(&s.admin_with(CLIENT_TOKEN, &["status"])),
        4,
        "client token"
    );
    assert_eq!(
        code(&s.admin_with(READ_TOKEN, &["quota", "set", "r", "1G"])),
        5,
        "forbidden"
    );
    assert_eq!(
        code(&s.admin_with(READ_TOKEN, &["status"])),
        0,
        "a read token reads"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_vger-admin"))
        .args([
            "--url",
            "http://127.0.0.1:1",
            "--token",
            ADMIN_TOKEN,
            "status",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "unreachable");
    assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
}

#[test]
fn a_check_shows_results_and_no_progress_bar_when_piped() {
    let s = Server::start();
    s.put("r/config", "c");
    let o = s.admin(&["check", "--all"]);
    assert_eq!(code(&o), 1, "the repository lacks its keys and index");
    assert!(stdout(&o).contains("PROBLEMS"), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        !err.contains('\r') && !err.contains('\u{1b}') && !err.contains("checking"),
        "{err:?}"
    );
    let o = s.admin(&["reconcile", "r"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("counters were right"), "{}", stdout(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn a_token_is_created_listed_and_revoked() {
    let s = Server::start();
    ok(s.admin(&["repo", "create", "laptop"]));
    let out = ok(s.admin(&[
        "token",
        "create",
        "--label",
        "laptop",
        "--repo",
        "laptop",
        "--mode",
        "append-only",
    ]));
    let secret = out.lines().last().unwrap().trim().to_owned();
    assert!(secret.starts_with("vger_"), "{out}");
    let list = ok(s.admin(&["token", "list"]));
    assert!(
        list.contains("append-only") && list.contains("active"),
        "{list}"
    );
    assert!(!list.contains(&secret));
    assert_eq!(code(&s.admin(&["token", "revoke", "1"])), 8, "asks first");
    ok(s.admin(&["token", "revoke", "1", "--yes"]));
    assert!(ok(s.admin(&["token", "list"])).contains("revoked"));
}

#[test]
fn a_stuck_lock_is_listed_and_broken() {
    let s = Server::start();
    s.put("r/config", "c");
    s.put("r/locks/1-stuck.json", "{}");
    let out = ok(s.admin(&["lock", "list"]));
    assert!(
        out.contains("1-stuck.json") && out.contains("object"),
        "{out}"
    );
    ok(s.admin(&["lock", "break", "r", "1-stuck.json", "--yes"]));
    assert!(ok(s.admin(&["lock", "list"])).contains("no locks held"));
}

#[test]
fn the_audit_log_shows_who_did_what() {
    let s = Server::start();
    ok(s.admin(&["repo", "create", "r"]));
    ok(s.admin(&["quota", "set", "r", "1G"]));
    let out = ok(s.admin(&["audit", "--since", "1h", "--repo", "r"]));
    assert!(
        out.contains("quota.set") && out.contains("repo.create"),
        "{out}"
    );
    assert!(out.contains("admin:admin"), "{out}");
    assert_eq!(code(&s.admin(&["audit", "--since", "whenever"])), 2);
    ok(s.admin(&["audit", "--since", "100y"]));
}

#[test]
fn a_named_context_picks_the_server_and_token() {
    let s = Server::start();
    let cfg = s.dir.path().join("admin.toml");
    let token_file = s.dir.path().join("token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "default_context = \"down\"\n[contexts.down]\nurl = \"http://127.0.0.1:1\"\ntoken = \"x\"\n\
             [contexts.up]\nurl = \"{}\"\ntoken_file = {:?}\n",
            s.admin_url, token_file
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vger-admin"))
            .args(args)
            .env_remove("VGER_ADMIN_URL")
            .env_remove("VGER_ADMIN_TOKEN")
            .env("VGER_ADMIN_CONFIG", &cfg)
            .output()
            .unwrap()
    };
    assert_eq!(code(&run(&["status"])), 3, "the default context is down");
    assert_eq!(code(&run(&["--context", "up", "status"])), 0);
    let o = run(&["--context", "nope", "status"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("down, up"), "{}", stderr(&o));
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_vger-admin"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("vger-admin"));
    let man = Command::new(env!("CARGO_BIN_EXE_vger-admin"))
        .arg("man")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&man.stdout);
    assert!(text.starts_with(".ie") || text.contains(".TH"), "{text}");
    assert!(text.contains("quota"), "{text}");
}
