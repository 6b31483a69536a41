//! Which server to talk to, and with which token (see [`resolve`]).
//!
//! The config file names several servers:
//!
//! ```toml
//! default_context = "home"
//! [contexts.home]
//! url = "http://127.0.0.1:8485"
//! token_file = "/home/me/.config/vger-admin/home.token"
//! ```

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::Cli;
use crate::error::{CliError, CliResult};

/// The admin API address when nothing says otherwise.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8485";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    default_context: Option<String>,
    #[serde(default)]
    contexts: BTreeMap<String, Context>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Context {
    url: String,
    token: Option<String>,
    token_file: Option<PathBuf>,
}

/// Where to connect and with what.
#[derive(Debug)]
pub struct Target {
    /// Base URL, without a trailing slash.
    pub url: String,
    /// The admin token.
    pub token: String,
}

fn default_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("vger-admin").join("config.toml"))
}

/// Reads a token file, refusing one other users can read.
fn read_token_file(path: &Path) -> CliResult<String> {
    let bad = |m: String| CliError::Usage(format!("token file {}: {m}", path.display()));
    let md = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    shared_proto::secret::check_private_mode(md.permissions().mode()).map_err(bad)?;
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let token = text.trim().to_owned();
    if token.is_empty() {
        return Err(bad("is empty".into()));
    }
    Ok(token)
}

fn load_file(path: &Path) -> CliResult<File> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("config file {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        CliError::Usage(format!(
            "config file {}: {}",
            path.display(),
            e.message().trim()
        ))
    })
}

/// Looks up context `name` in `file`.
fn context<'a>(file: &'a File, name: &str, what: &str) -> CliResult<&'a Context> {
    file.contexts.get(name).ok_or_else(|| {
        let known: Vec<&str> = file.contexts.keys().map(String::as_str).collect();
        CliError::Usage(format!(
            "{what} {name:?} is not in the config file; it has: {}",
            known.join(", ")
        ))
    })
}

/// The token a context names.
fn context_token(c: &Context) -> CliResult<Option<String>> {
    match (&c.token, &c.token_file) {
        (Some(t), _) => Ok(Some(t.trim().to_owned())),
        (None, Some(f)) => read_token_file(f).map(Some),
        (None, None) => Ok(None),
    }
}

/// Resolves the server and token for this run. An explicit choice beats
/// an ambient one: flags, then `--context`, then the environment
/// (`VGER_ADMIN_URL`, `VGER_ADMIN_TOKEN`), then the config file's
/// `default_context`, then the default address. A context's token never
/// goes to another context's server, and vice versa.
pub fn resolve(cli: &Cli) -> CliResult<Target> {
    resolve_with(cli, |name| {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    })
}

fn resolve_with(cli: &Cli, env: impl Fn(&str) -> Option<String>) -> CliResult<Target> {
    let path = cli.config.clone().or_else(default_config_path);
    let file = match &path {
        Some(p) if cli.config.is_some() || p.exists() => Some(load_file(p)?),
        _ => None,
    };
    let explicit = match (&cli.context, &file) {
        (Some(name), Some(f)) => Some(context(f, name, "context")?),
        (Some(name), None) => {
            return Err(CliError::Usage(format!(
                "--context {name} needs a config file ({}) with [contexts.{name}]",
                path.map(|p| p.display().to_string()).unwrap_or_default()
            )));
        }
        (None, _) => None,
    };
    let ambient = match (&file, explicit) {
        (Some(f), None) => f
            .default_context
            .as_deref()
            .map(|name| context(f, name, "default_context"))
            .transpose()?,
        _ => None,
    };
    let url = cli
        .url
        .clone()
        .or_else(|| explicit.map(|c| c.url.clone()))
        .or_else(|| env("VGER_ADMIN_URL"))
        .or_else(|| ambient.map(|c| c.url.clone()))
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    // A context's token only ever goes to that context's address.
    let own = |c: Option<&Context>| -> CliResult<Option<String>> {
        match c.filter(|c| c.url == url) {
            Some(c) => context_token(c),
            None => Ok(None),
        }
    };
    let token = if let Some(t) = &cli.token {
        t.trim().to_owned()
    } else if let Some(f) = &cli.token_file {
        read_token_file(f)?
    } else if let Some(t) = own(explicit)? {
        t
    } else if let Some(t) = env("VGER_ADMIN_TOKEN") {
        t.trim().to_owned()
    } else if let Some(t) = own(ambient)? {
        t
    } else {
        return Err(CliError::Usage(
            "no admin token: set VGER_ADMIN_TOKEN, pass --token-file FILE, or use a --context with a token".into(),
        ));
    };
    // The admin API listens on loopback by default; a remote one is
    // reached through an SSH tunnel (see docs/admin.md), so plain HTTP is
    // all the client speaks.
    if !url.starts_with("http://") {
        return Err(CliError::Usage(format!(
            "{url:?} is not an http:// URL such as {DEFAULT_URL}; reach a remote server's admin API through an SSH tunnel"
        )));
    }
    Ok(Target {
        url: url.trim_end_matches('/').to_owned(),
        token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str], config: &Path) -> Cli {
        let mut all = vec!["vger-admin", "--config", config.to_str().unwrap()];
        all.extend_from_slice(args);
        all.push("status");
        Cli::parse_from(all)
    }

    fn config() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "default_context = \"a\"\n[contexts.a]\nurl = \"http://a:1\"\ntoken = \"ta\"\n[contexts.b]\nurl = \"http://b:1\"\ntoken = \"tb\"\n",
        )
        .unwrap();
        (dir, path)
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "VGER_ADMIN_URL" => Some("http://env:1".into()),
            "VGER_ADMIN_TOKEN" => Some("tenv".into()),
            _ => None,
        }
    }

    #[test]
    fn an_explicit_context_beats_the_environment() {
        let (_d, path) = config();
        let t = resolve_with(&cli(&["--context", "b"], &path), env).unwrap();
        assert_eq!((t.url.as_str(), t.token.as_str()), ("http://b:1", "tb"));
    }

    #[test]
    fn the_environment_beats_the_default_context() {
        let (_d, path) = config();
        let t = resolve_with(&cli(&[], &path), env).unwrap();
        assert_eq!((t.url.as_str(), t.token.as_str()), ("http://env:1", "tenv"));
        let t = resolve_with(&cli(&[], &path), |_| None).unwrap();
        assert_eq!((t.url.as_str(), t.token.as_str()), ("http://a:1", "ta"));
    }

    #[test]
    fn an_environment_token_alone_goes_to_the_default_contexts_address() {
        let (_d, path) = config();
        let only_token = |name: &str| (name == "VGER_ADMIN_TOKEN").then(|| "tenv".to_owned());
        let t = resolve_with(&cli(&[], &path), only_token).unwrap();
        assert_eq!((t.url.as_str(), t.token.as_str()), ("http://a:1", "tenv"));
    }

    #[test]
    fn a_contexts_token_never_goes_to_another_address() {
        let (_d, path) = config();
        let only_url = |name: &str| (name == "VGER_ADMIN_URL").then(|| "http://env:1".to_owned());
        let e = resolve_with(&cli(&[], &path), only_url).unwrap_err();
        assert!(e.to_string().contains("no admin token"), "{e}");
    }

    #[test]
    fn flags_beat_everything() {
        let (_d, path) = config();
        let t = resolve_with(
            &cli(
                &["--context", "b", "--url", "http://f:1", "--token", "tf"],
                &path,
            ),
            env,
        )
        .unwrap();
        assert_eq!((t.url.as_str(), t.token.as_str()), ("http://f:1", "tf"));
    }
}
