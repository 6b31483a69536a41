//! Which server to talk to, and with which token: flags, then the
//! environment (both through clap), then the config file's context, then
//! the default address.
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
    let mode = md.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(bad(format!(
            "is readable by other users (mode {mode:03o}); run chmod 600 on it"
        )));
    }
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

/// Resolves the server and token for this run.
pub fn resolve(cli: &Cli) -> CliResult<Target> {
    let path = cli.config.clone().or_else(default_config_path);
    let file = match &path {
        Some(p) if cli.config.is_some() || p.exists() => Some(load_file(p)?),
        _ => None,
    };
    let context = match (&cli.context, &file) {
        (Some(name), Some(f)) => Some(f.contexts.get(name).ok_or_else(|| {
            let known: Vec<&str> = f.contexts.keys().map(String::as_str).collect();
            CliError::Usage(format!(
                "no context {name:?} in the config file; it has: {}",
                known.join(", ")
            ))
        })?),
        (Some(name), None) => {
            return Err(CliError::Usage(format!(
                "--context {name} needs a config file ({}) with [contexts.{name}]",
                path.map(|p| p.display().to_string()).unwrap_or_default()
            )));
        }
        (None, Some(f)) => match &f.default_context {
            Some(name) => Some(f.contexts.get(name).ok_or_else(|| {
                CliError::Usage(format!(
                    "default_context {name:?} is not among the config file's contexts"
                ))
            })?),
            None => None,
        },
        (None, None) => None,
    };
    let url = cli
        .url
        .clone()
        .or_else(|| context.map(|c| c.url.clone()))
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let token = match (&cli.token, &cli.token_file, context) {
        (Some(t), _, _) => t.trim().to_owned(),
        (None, Some(f), _) => read_token_file(f)?,
        (None, None, Some(Context { token: Some(t), .. })) => t.trim().to_owned(),
        (
            None,
            None,
            Some(Context {
                token_file: Some(f),
                ..
            }),
        ) => read_token_file(f)?,
        _ => {
            return Err(CliError::Usage(
                "no admin token: set VGER_ADMIN_TOKEN, pass --token-file FILE, or use a --context with a token".into(),
            ));
        }
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
