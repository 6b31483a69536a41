//! Server configuration: defaults, then the TOML file, then the environment.
//!
//! The file format is the one operators of vger servers already have
//! (`[server] listen, data_dir, token, append_only, log_format, quota_bytes,
//! lock_ttl_seconds`), extended with keys of our own. Unknown keys are
//! refused rather than ignored: a misspelt `append_only` must not silently
//! leave a repository deletable.

use std::fmt;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Environment variable that supplies the client token.
pub const ENV_TOKEN: &str = "VGER_TOKEN";
/// Environment variable that supplies an admin token (role `admin`).
pub const ENV_ADMIN_TOKEN: &str = "VGER_ADMIN_TOKEN";
/// Default admin API address.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:8485";
/// Shortest admin token accepted: it opens every repository's policies.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;
/// Default freshness threshold: a daily backup, with two hours' slack.
pub const DEFAULT_FRESHNESS_THRESHOLD_SECONDS: u64 = 26 * 3600;
/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8484";
/// Default lock lease in seconds.
pub const DEFAULT_LOCK_TTL_SECONDS: u64 = 3600;
/// Longest lock lease accepted (one year).
pub const MAX_LOCK_TTL_SECONDS: u64 = 365 * 24 * 3600;
/// The state directory inside the data dir unless `state_dir` says otherwise.
pub const DEFAULT_STATE_DIR_NAME: &str = ".vger-server";
/// Default largest object in bytes (1 GiB: a large repository's `index`
/// can be hundreds of MB).
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 1 << 30;
/// Default time a client has to send a request's headers (and the time an
/// idle kept-alive connection stays open).
pub const DEFAULT_HEADER_TIMEOUT_SECONDS: u64 = 30;
/// Default time a request may go without a byte moving either way in the
/// middle of its body.
pub const DEFAULT_IDLE_TIMEOUT_SECONDS: u64 = 120;
/// Default number of client connections served at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Longest timeout accepted for either setting (one day).
pub const MAX_TIMEOUT_SECONDS: u64 = 24 * 3600;

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The file as written by the operator.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    server: ServerSection,
    admin: Option<AdminSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminSection {
    listen: Option<String>,
    token_file: Option<PathBuf>,
    #[serde(default)]
    tokens: Vec<AdminTokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminTokenEntry {
    label: String,
    role: AdminRole,
    token: Option<String>,
    token_file: Option<PathBuf>,
}

impl fmt::Debug for AdminSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminSection").finish_non_exhaustive()
    }
}

/// What an admin token may do on the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    /// Everything.
    Admin,
    /// GET only (what the exporter uses).
    Read,
}

impl AdminRole {
    /// Its name in the config and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Read => "read",
        }
    }
}

/// One configured admin token.
#[derive(Debug, Clone)]
pub struct AdminToken {
    /// Who uses it (the audit log's actor).
    pub label: String,
    /// What it may do.
    pub role: AdminRole,
    /// The secret.
    pub secret: Secret,
    /// Where it came from, for the start-up line.
    pub source: String,
}

/// The admin API's settings.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Address of its own listener.
    pub listen: SocketAddr,
    /// Its tokens; none means the admin API is off.
    pub tokens: Vec<AdminToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    token: Option<String>,
    token_file: Option<PathBuf>,
    #[serde(default)]
    append_only: bool,
    #[serde(default)]
    log_format: LogFormat,
    #[serde(default)]
    quota_bytes: u64,
    lock_ttl_seconds: Option<u64>,
    max_object_bytes: Option<u64>,
    public_health_details: Option<bool>,
    header_timeout_seconds: Option<u64>,
    idle_timeout_seconds: Option<u64>,
    max_connections: Option<usize>,
    freshness_threshold_seconds: Option<u64>,
    // Accepted so existing configs keep working; not enforced (see docs).
    rate_limit_rps: Option<toml::Value>,
    rate_limit_mbps: Option<toml::Value>,
}

impl fmt::Debug for ServerSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSection").finish_non_exhaustive()
    }
}

/// Where the token came from (for the start-up log; never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `token` in the config file.
    ConfigFile,
    /// The file named by `token_file`.
    TokenFile(PathBuf),
    /// The `VGER_TOKEN` environment variable.
    Environment,
    /// None was configured, and none is needed: a maintenance command
    /// that serves nothing (the token is empty and never compared).
    NotNeeded,
}

/// A secret string whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: String) -> Self {
        Self(s)
    }

    /// The secret itself; call only where it is needed.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The resolved server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory holding the repositories.
    pub data_dir: PathBuf,
    /// Directory holding the server's state database and repack journals.
    pub state_dir: PathBuf,
    /// The client token with full access.
    pub token: Secret,
    /// Where the token came from.
    pub token_source: TokenSource,
    /// Refuse deletes and overwrites of history (server-wide).
    pub append_only: bool,
    /// Log output format.
    pub log_format: LogFormat,
    /// Default per-repository limit in bytes; 0 = unlimited.
    pub quota_bytes: u64,
    /// Lock lease.
    pub lock_ttl: Duration,
    /// Largest object accepted.
    pub max_object_bytes: u64,
    /// Whether anonymous `/health` callers see uptime, disk and repo count.
    pub public_health_details: bool,
    /// Limits that keep slow or idle clients from exhausting the server.
    pub connections: ConnectionLimits,
    /// How old a repository's last backup may get before it is overdue,
    /// unless the repository sets its own.
    pub freshness_threshold_seconds: u64,
    /// The admin API.
    pub admin: AdminConfig,
    /// Rate-limit keys that were present but are not enforced.
    pub ignored_keys: Vec<&'static str>,
}

/// How long clients may dawdle, and how many may connect at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time to send a request's headers; also how long an idle kept-alive
    /// connection is kept.
    pub header_timeout: Duration,
    /// Longest pause in a request body, or in a response the client is
    /// not reading.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECONDS),
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECONDS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Why the configuration cannot be used. Each message is one line that
/// names the key or path at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("config file {path}{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// `:LINE` when known.
        line: String,
        /// The parser's message.
        message: String,
    },
    /// A value is missing or unusable.
    #[error("config file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// A path as messages show it: one line, whatever it holds.
fn shown(path: &Path) -> String {
    path.display().to_string().escape_debug().to_string()
}

/// Reads a secret file, refusing one that other users can read.
fn read_secret_file(path: &Path) -> Result<String, String> {
    let md = std::fs::metadata(path)
        .map_err(|e| format!("cannot read token_file {}: {e}", shown(path)))?;
    shared_proto::secret::check_private_mode(md.permissions().mode())
        .map_err(|e| format!("token_file {} {e}", shown(path)))?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read token_file {}: {e}", shown(path)))?;
    Ok(text.trim().to_owned())
}

impl Config {
    /// Loads `path`, then applies the environment (`VGER_TOKEN`).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let env_token = std::env::var(ENV_TOKEN).ok();
        let env_admin = std::env::var(ENV_ADMIN_TOKEN).ok();
        Self::parse(&text, path, env_token, env_admin, true)
    }

    /// Loads `path` for a maintenance command (`reconcile`), which serves
    /// nothing and so needs no client token.
    pub fn load_for_maintenance(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let env_token = std::env::var(ENV_TOKEN).ok();
        Self::parse(&text, path, env_token, None, false)
    }

    /// Builds the configuration from file text and an optional token from
    /// the environment. `path` is used in messages only.
    pub fn from_toml(
        text: &str,
        path: &Path,
        env_token: Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::parse(text, path, env_token, None, true)
    }

    /// Like [`from_toml`](Self::from_toml), with an admin token from the
    /// environment too.
    pub fn from_toml_with_admin(
        text: &str,
        path: &Path,
        env_token: Option<String>,
        env_admin: Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::parse(text, path, env_token, env_admin, true)
    }

    fn parse(
        text: &str,
        path: &Path,
        env_token: Option<String>,
        env_admin: Option<String>,
        require_token: bool,
    ) -> Result<Self, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            line: e
                .span()
                .map(|s| format!(":{}", line_of(text, s.start)))
                .unwrap_or_default(),
            message: e.message().trim().replace('\n', " "),
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let s = file.server;
        let listen_text = s.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            invalid(format!(
                "listen = {listen_text:?} is not an IP address and port such as \"127.0.0.1:8484\""
            ))
        })?;
        let data_dir = s
            .data_dir
            .filter(|d| !d.as_os_str().is_empty())
            .ok_or_else(|| invalid("data_dir is missing in [server]; set it to the directory that holds the repositories".into()))?;

        let (token, token_source) = match (env_token, s.token, s.token_file) {
            (_, Some(_), Some(_)) => {
                return Err(invalid(
                    "set either token or token_file in [server], not both".into(),
                ));
            }
            (Some(t), _, _) => {
                if t.trim().is_empty() {
                    return Err(invalid(format!("{ENV_TOKEN} is set but empty")));
                }
                (t.trim().to_owned(), TokenSource::Environment)
            }
            (None, Some(t), None) => (t.trim().to_owned(), TokenSource::ConfigFile),
            (None, None, Some(f)) => (
                read_secret_file(&f).map_err(invalid)?,
                TokenSource::TokenFile(f),
            ),
            (None, None, None) if !require_token => (String::new(), TokenSource::NotNeeded),
            (None, None, None) => {
                return Err(invalid(format!(
                    "no client token: set token or token_file in [server], or the {ENV_TOKEN} environment variable"
                )));
            }
        };
        if token.is_empty() && token_source != TokenSource::NotNeeded {
            return Err(invalid(match &token_source {
                TokenSource::TokenFile(f) => format!("token_file {} is empty", shown(f)),
                _ => "token is empty; clients could not authenticate".into(),
            }));
        }
        let lock_ttl_seconds = s.lock_ttl_seconds.unwrap_or(DEFAULT_LOCK_TTL_SECONDS);
        if !(1..=MAX_LOCK_TTL_SECONDS).contains(&lock_ttl_seconds) {
            return Err(invalid(format!(
                "lock_ttl_seconds = {lock_ttl_seconds} is out of range; use 1 to {MAX_LOCK_TTL_SECONDS} (one year)"
            )));
        }
        let max_object_bytes = s.max_object_bytes.unwrap_or(DEFAULT_MAX_OBJECT_BYTES);
        if max_object_bytes == 0 {
            return Err(invalid("max_object_bytes must be at least 1".into()));
        }
        let timeout = |key: &str, value: Option<u64>, default: u64| {
            let secs = value.unwrap_or(default);
            if (1..=MAX_TIMEOUT_SECONDS).contains(&secs) {
                Ok(Duration::from_secs(secs))
            } else {
                Err(invalid(format!(
                    "{key} = {secs} is out of range; use 1 to {MAX_TIMEOUT_SECONDS} (one day)"
                )))
            }
        };
        let connections = ConnectionLimits {
            header_timeout: timeout(
                "header_timeout_seconds",
                s.header_timeout_seconds,
                DEFAULT_HEADER_TIMEOUT_SECONDS,
            )?,
            idle_timeout: timeout(
                "idle_timeout_seconds",
                s.idle_timeout_seconds,
                DEFAULT_IDLE_TIMEOUT_SECONDS,
            )?,
            max_connections: match s.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS) {
                0 => return Err(invalid("max_connections must be at least 1".into())),
                n => n,
            },
        };
        let mut ignored_keys = Vec::new();
        if s.rate_limit_rps.is_some() {
            ignored_keys.push("rate_limit_rps");
        }
        if s.rate_limit_mbps.is_some() {
            ignored_keys.push("rate_limit_mbps");
        }
        let freshness_threshold_seconds = s
            .freshness_threshold_seconds
            .unwrap_or(DEFAULT_FRESHNESS_THRESHOLD_SECONDS);
        if freshness_threshold_seconds == 0 {
            return Err(invalid(
                "freshness_threshold_seconds must be at least 1".into(),
            ));
        }
        let admin = admin_config(file.admin, env_admin).map_err(invalid)?;
        if let Some(t) = admin.tokens.iter().find(|t| t.secret.expose() == token) {
            return Err(invalid(format!(
                "admin token {:?} from {} is also the client token; the two APIs need different tokens",
                t.label, t.source
            )));
        }
        if !admin.tokens.is_empty() && admin.listen == listen && listen.port() != 0 {
            return Err(invalid(format!(
                "[admin] listen = \"{}\" is also [server] listen; give the admin API its own port",
                admin.listen
            )));
        }
        let state_dir = match s.state_dir.filter(|d| !d.as_os_str().is_empty()) {
            Some(d) => d,
            None => data_dir.join(DEFAULT_STATE_DIR_NAME),
        };
        Ok(Self {
            listen,
            data_dir,
            state_dir,
            token: Secret::new(token),
            token_source,
            append_only: s.append_only,
            log_format: s.log_format,
            quota_bytes: s.quota_bytes,
            lock_ttl: Duration::from_secs(lock_ttl_seconds),
            max_object_bytes,
            public_health_details: s.public_health_details.unwrap_or(true),
            connections,
            freshness_threshold_seconds,
            admin,
            ignored_keys,
        })
    }
}

/// Resolves the `[admin]` section and `VGER_ADMIN_TOKEN`.
fn admin_config(
    section: Option<AdminSection>,
    env_admin: Option<String>,
) -> Result<AdminConfig, String> {
    let section = section.unwrap_or(AdminSection {
        listen: None,
        token_file: None,
        tokens: Vec::new(),
    });
    let listen_text = section
        .listen
        .unwrap_or_else(|| DEFAULT_ADMIN_LISTEN.to_owned());
    let listen: SocketAddr = listen_text.parse().map_err(|_| {
        format!(
            "listen = {listen_text:?} in [admin] is not an IP address and port such as \"127.0.0.1:8485\""
        )
    })?;
    let mut tokens = Vec::new();
    if let Some(f) = section.token_file {
        tokens.push(AdminToken {
            label: "admin".into(),
            role: AdminRole::Admin,
            secret: Secret::new(read_secret_file(&f)?),
            source: format!("token_file {}", shown(&f)),
        });
    }
    for (i, t) in section.tokens.into_iter().enumerate() {
        let at = format!("[[admin.tokens]] #{} ({:?})", i + 1, t.label);
        if t.label.trim().is_empty() {
            return Err(format!("{at}: label is empty; name who uses the token"));
        }
        let (secret, source) = match (t.token, t.token_file) {
            (Some(_), Some(_)) => return Err(format!("{at}: set token or token_file, not both")),
            (None, None) => return Err(format!("{at}: set token or token_file")),
            (Some(s), None) => (s.trim().to_owned(), "config file".to_owned()),
            (None, Some(f)) => (read_secret_file(&f)?, format!("token_file {}", shown(&f))),
        };
        tokens.push(AdminToken {
            label: t.label.trim().to_owned(),
            role: t.role,
            secret: Secret::new(secret),
            source,
        });
    }
    if let Some(t) = env_admin {
        tokens.push(AdminToken {
            label: "admin".into(),
            role: AdminRole::Admin,
            secret: Secret::new(t.trim().to_owned()),
            source: ENV_ADMIN_TOKEN.into(),
        });
    }
    for t in &tokens {
        if t.secret.expose().chars().count() < MIN_ADMIN_TOKEN_CHARS {
            return Err(format!(
                "admin token {:?} from {} is shorter than {MIN_ADMIN_TOKEN_CHARS} characters; generate one with: openssl rand -hex 32",
                t.label, t.source
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(t) = tokens.iter().find(|t| !seen.insert(t.secret.expose())) {
        return Err(format!(
            "admin token {:?} from {} is configured twice; give each role its own token",
            t.label, t.source
        ));
    }
    Ok(AdminConfig { listen, tokens })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: Option<&str>) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("test.toml"), env.map(str::to_owned))
    }

    #[test]
    fn defaults_follow_the_protocol() {
        let c = load("[server]\ndata_dir = \"/d\"\ntoken = \"t0k\"\n", None).unwrap();
        assert_eq!(c.listen, DEFAULT_LISTEN.parse().unwrap());
        assert!(!c.append_only);
        assert_eq!(c.quota_bytes, 0);
        assert_eq!(c.lock_ttl, Duration::from_secs(3600));
        assert_eq!(c.max_object_bytes, 1 << 30);
        assert!(c.public_health_details);
        assert_eq!(c.log_format, LogFormat::Pretty);
        assert_eq!(c.connections, ConnectionLimits::default());
    }

    #[test]
    fn connection_limits_are_read_and_range_checked() {
        let base = "[server]\ndata_dir = \"/d\"\ntoken = \"t\"\n";
        let c = load(
            &format!(
                "{base}header_timeout_seconds = 5\nidle_timeout_seconds = 7\nmax_connections = 9\n"
            ),
            None,
        )
        .unwrap();
        assert_eq!(c.connections.header_timeout, Duration::from_secs(5));
        assert_eq!(c.connections.idle_timeout, Duration::from_secs(7));
        assert_eq!(c.connections.max_connections, 9);
        for bad in [
            "header_timeout_seconds = 0",
            "idle_timeout_seconds = 0",
            "idle_timeout_seconds = 86401",
            "max_connections = 0",
        ] {
            let e = load(&format!("{base}{bad}\n"), None)
                .unwrap_err()
                .to_string();
            assert!(e.contains(bad.split(' ').next().unwrap()), "{bad}: {e}");
        }
    }

    #[test]
    fn an_existing_operator_config_loads_unchanged() {
        let text = r#"
[server]
listen = "0.0.0.0:8484"
data_dir = "/var/lib/vger"
token = "abc"
append_only = true
log_format = "json"
quota_bytes = 1000
lock_ttl_seconds = 60
rate_limit_rps = 100
rate_limit_mbps = 12.5
"#;
        let c = load(text, None).unwrap();
        assert!(c.append_only);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.quota_bytes, 1000);
        assert_eq!(c.ignored_keys, vec!["rate_limit_rps", "rate_limit_mbps"]);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name_and_line() {
        let e = load(
            "[server]\ndata_dir = \"/d\"\ntoken = \"t\"\nappend_onyl = true\n",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("append_onyl"), "{e}");
        assert!(e.contains("test.toml:4"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn a_missing_or_empty_token_is_refused() {
        assert!(
            load("[server]\ndata_dir = \"/d\"\n", None)
                .unwrap_err()
                .to_string()
                .contains("VGER_TOKEN")
        );
        assert!(load("[server]\ndata_dir = \"/d\"\ntoken = \"\"\n", None).is_err());
        assert!(load("[server]\ndata_dir = \"/d\"\n", Some("  ")).is_err());
    }

    #[test]
    fn the_admin_api_is_off_without_an_admin_token() {
        let c = load("[server]\ndata_dir = \"/d\"\ntoken = \"t\"\n", None).unwrap();
        assert!(c.admin.tokens.is_empty());
        assert_eq!(c.admin.listen, DEFAULT_ADMIN_LISTEN.parse().unwrap());
    }

    #[test]
    fn admin_tokens_come_from_the_file_and_the_environment_with_their_roles() {
        let text = "[server]\ndata_dir = \"/d\"\ntoken = \"t\"\n[admin]\nlisten = \"127.0.0.1:9\"\n[[admin.tokens]]\nlabel = \"exporter\"\nrole = \"read\"\ntoken = \"read-token-0123456789\"\n";
        let c = Config::from_toml_with_admin(
            text,
            Path::new("x"),
            None,
            Some("admin-token-0123456789".into()),
        )
        .unwrap();
        let roles: Vec<(&str, AdminRole)> = c
            .admin
            .tokens
            .iter()
            .map(|t| (t.label.as_str(), t.role))
            .collect();
        assert_eq!(
            roles,
            [("exporter", AdminRole::Read), ("admin", AdminRole::Admin)]
        );
        assert_eq!(c.admin.listen, "127.0.0.1:9".parse().unwrap());
        assert!(!format!("{c:?}").contains("0123456789"));
    }

    #[test]
    fn an_admin_token_that_is_also_the_client_token_is_refused() {
        let e = Config::from_toml_with_admin(
            "[server]\ndata_dir = \"/d\"\ntoken = \"same-token-0123456789\"\n",
            Path::new("x"),
            None,
            Some("same-token-0123456789".into()),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("also the client token"), "{e}");
    }

    #[test]
    fn the_admin_api_needs_its_own_port() {
        let text = "[server]\nlisten = \"127.0.0.1:8484\"\ndata_dir = \"/d\"\ntoken = \"t\"\n[admin]\nlisten = \"127.0.0.1:8484\"\n";
        let e = Config::from_toml_with_admin(
            text,
            Path::new("x"),
            None,
            Some("admin-token-0123456789".into()),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("its own port"), "{e}");
    }

    #[test]
    fn short_or_repeated_admin_tokens_are_refused() {
        let base = "[server]\ndata_dir = \"/d\"\ntoken = \"t\"\n";
        let e = Config::from_toml_with_admin(base, Path::new("x"), None, Some("short".into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("shorter than 16"), "{e}");
        let twice = format!(
            "{base}[[admin.tokens]]\nlabel = \"a\"\nrole = \"read\"\ntoken = \"same-token-0123456789\"\n"
        );
        let e = Config::from_toml_with_admin(
            &twice,
            Path::new("x"),
            None,
            Some("same-token-0123456789".into()),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn a_maintenance_command_needs_no_token() {
        let c = Config::parse(
            "[server]\ndata_dir = \"/d\"\n",
            Path::new("x"),
            None,
            None,
            false,
        )
        .unwrap();
        assert_eq!(c.token_source, TokenSource::NotNeeded);
    }

    #[test]
    fn the_environment_token_overrides_the_file() {
        let c = load(
            "[server]\ndata_dir = \"/d\"\ntoken = \"file\"\n",
            Some("env"),
        )
        .unwrap();
        assert_eq!(c.token.expose(), "env");
        assert_eq!(c.token_source, TokenSource::Environment);
    }

    #[test]
    fn a_token_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "secret\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let text = format!("[server]\ndata_dir = \"/d\"\ntoken_file = {:?}\n", f);
        let e = load(&text, None).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(load(&text, None).unwrap().token.expose(), "secret");
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let c = load(
            "[server]\ndata_dir = \"/d\"\ntoken = \"hunter2-token\"\n",
            None,
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
