//! The binary's start-up errors: each says what is wrong and exits
//! non-zero before serving anything.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn exporter(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vger-exporter"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn token_file(dir: &std::path::Path, mode: u32) -> String {
    let p = dir.join("read.token");
    std::fs::write(&p, "read-token-0123456789abcdef\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p.display().to_string()
}

#[test]
fn a_config_with_a_syntax_error_exits_2_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("e.toml");
    std::fs::write(
        &p,
        "[[target]]\nurl = \"http://127.0.0.1:8485\"\ntoken_file = \n",
    )
    .unwrap();
    let o = exporter(&["--config", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("line 3"), "{}", stderr(&o));
}

#[test]
fn a_missing_config_file_exits_2_naming_it() {
    let o = exporter(&["--config", "/nonexistent/exporter.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read /nonexistent/exporter.toml"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_unreadable_token_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path(), 0o644);
    let o = exporter(&[
        "--admin-url",
        "http://127.0.0.1:8485",
        "--token-file",
        &token,
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains(&token) && e.contains("chmod 600"), "{e}");
}

#[test]
fn a_port_in_use_exits_1_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path(), 0o600);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = exporter(&[
        "--admin-url",
        "http://127.0.0.1:8485",
        "--token-file",
        &token,
        "--listen",
        &addr,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains(&addr) && e.contains("in use"), "{e}");
}

#[test]
fn no_target_at_all_is_a_usage_error() {
    let o = exporter(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--config"), "{}", stderr(&o));
}
