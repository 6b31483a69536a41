//! What the exporter watches and how: a TOML file (or the same settings
//! from the command line), checked whole at start-up so that a mistake
//! stops the exporter with a message instead of showing up as `vger_up 0`.

use std::fmt;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The port from Prometheus' default port allocations list: 9110 was
/// given to the first blackbox prober, which moved to 9115, so no
/// well-known exporter listens there.
pub const DEFAULT_PORT: u16 = 9110;

/// Where the exporter listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9110";

/// How long one scrape may take at most. Prometheus' default scrape
/// timeout is 10 s; answering well before it keeps `vger_up 0` visible
/// instead of a failed scrape.
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(8);

/// How long an answer from a server is reused: two Prometheus replicas
/// scraping together cost the server one set of requests.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(5);

/// The exporter's settings, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address of `/metrics`.
    pub listen: SocketAddr,
    /// The longest a scrape may take.
    pub scrape_timeout: Duration,
    /// How long a server's answer is reused.
    pub cache_ttl: Duration,
    /// The servers watched, in the file's order.
    pub targets: Vec<Target>,
}

/// One vger-server's admin API.
#[derive(Clone)]
pub struct Target {
    /// The `server` label of its series.
    pub name: String,
    /// Base URL of the admin API, without a trailing slash.
    pub url: String,
    /// A `read` (or `admin`) token of that server.
    pub token: String,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said, with the line.
        message: String,
    },
    /// A value is wrong.
    #[error("{0}")]
    Invalid(String),
}

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    exporter: ExporterSection,
    #[serde(default)]
    target: Vec<TargetSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExporterSection {
    listen: Option<String>,
    scrape_timeout_seconds: Option<f64>,
    cache_ttl_seconds: Option<f64>,
}

/// One `[[target]]` as written, or the command line's single target.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSection {
    /// The `server` label; defaults to the URL's host:port, with a loopback
    /// host replaced by this machine's name.
    pub name: Option<String>,
    /// Base URL of the admin API.
    pub url: String,
    /// File holding the token.
    pub token_file: PathBuf,
}

impl Config {
    /// Loads and checks a TOML file; `listen` (from the command line)
    /// wins over the file's.
    pub fn load(path: &Path, listen: Option<&str>) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let file: File = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: shown.clone(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        if file.target.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "{shown}: no [[target]]: add one with url and token_file for each vger-server to watch"
            )));
        }
        let e = file.exporter;
        Self::build(
            listen.or(e.listen.as_deref()),
            e.scrape_timeout_seconds,
            e.cache_ttl_seconds,
            file.target,
        )
    }

    /// Settings for one target given on the command line.
    pub fn single(listen: Option<&str>, target: TargetSection) -> Result<Self, ConfigError> {
        Self::build(listen, None, None, vec![target])
    }

    fn build(
        listen: Option<&str>,
        scrape_timeout: Option<f64>,
        cache_ttl: Option<f64>,
        sections: Vec<TargetSection>,
    ) -> Result<Self, ConfigError> {
        let listen_text = listen.unwrap_or(DEFAULT_LISTEN);
        let listen = listen_text.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "listen = {listen_text:?} is not an address: write IP:PORT, e.g. \"0.0.0.0:{DEFAULT_PORT}\""
            ))
        })?;
        let scrape_timeout =
            seconds("scrape_timeout_seconds", scrape_timeout)?.unwrap_or(DEFAULT_SCRAPE_TIMEOUT);
        if scrape_timeout.is_zero() {
            return Err(ConfigError::Invalid(
                "scrape_timeout_seconds must be above 0".into(),
            ));
        }
        let cache_ttl = seconds("cache_ttl_seconds", cache_ttl)?.unwrap_or(DEFAULT_CACHE_TTL);
        let mut targets: Vec<Target> = Vec::with_capacity(sections.len());
        for (i, s) in sections.into_iter().enumerate() {
            let t = target(i, s)?;
            if targets.iter().any(|o| o.name == t.name) {
                return Err(ConfigError::Invalid(format!(
                    "two targets are named {:?}: give each [[target]] its own name (it becomes the server label)",
                    t.name
                )));
            }
            targets.push(t);
        }
        Ok(Self {
            listen,
            scrape_timeout,
            cache_ttl,
            targets,
        })
    }
}

fn seconds(key: &str, value: Option<f64>) -> Result<Option<Duration>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) => Duration::try_from_secs_f64(v).map(Some).map_err(|_| {
            ConfigError::Invalid(format!(
                "{key} = {v} is not a duration: give seconds, 0 or more"
            ))
        }),
    }
}

fn target(index: usize, s: TargetSection) -> Result<Target, ConfigError> {
    let at = format!("target {}", index + 1);
    let url = s.url.trim().trim_end_matches('/').to_owned();
    let parsed = reqwest::Url::parse(&url).map_err(|e| {
        ConfigError::Invalid(format!(
            "{at}: url {:?} is not a URL ({e}); write e.g. \"http://127.0.0.1:8485\"",
            s.url
        ))
    })?;
    match parsed.scheme() {
        "http" => {}
        "https" => {
            return Err(ConfigError::Invalid(format!(
                "{at}: url {url:?}: https is not supported; run the exporter on the server's host and read the admin API over loopback (http://127.0.0.1:8485)"
            )));
        }
        other => {
            return Err(ConfigError::Invalid(format!(
                "{at}: url {url:?}: scheme {other:?} is not http"
            )));
        }
    }
    let Some(host) = parsed.host_str() else {
        return Err(ConfigError::Invalid(format!(
            "{at}: url {url:?} has no host"
        )));
    };
    let name = match s.name {
        Some(n) => n.trim().to_owned(),
        None => default_name(host, parsed.port_or_known_default()),
    };
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(ConfigError::Invalid(format!(
            "{at}: name {name:?} must be a non-empty line of text"
        )));
    }
    let token = read_token_file(&s.token_file).map_err(|m| {
        ConfigError::Invalid(format!(
            "{at} ({name}): token_file {}: {m}",
            s.token_file.display()
        ))
    })?;
    Ok(Target { name, url, token })
}

/// The `server` label of a target without a name: its host and port, with
/// a loopback host replaced by this machine's name, so that exporters on
/// several hosts, each reading its own server over loopback, do not all
/// report `server="127.0.0.1:8485"`.
fn default_name(host: &str, port: Option<u16>) -> String {
    let loopback = host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let host = if loopback {
        rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned()
    } else {
        host.to_owned()
    };
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// Reads a token file, refusing one that other users can read.
fn read_token_file(path: &Path) -> Result<String, String> {
    let md = std::fs::metadata(path).map_err(|e| e.to_string())?;
    shared_proto::secret::check_private_mode(md.permissions().mode())?;
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let token = text.trim();
    if token.is_empty() {
        return Err(
            "is empty: put a read token in it (vger-server [[admin.tokens]] with role = \"read\")"
                .into(),
        );
    }
    // Checked here, not at the first scrape, where a header the HTTP client
    // refuses would look like an unreachable server.
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "must hold one token: one line of printable ASCII, without spaces (a second line, a byte-order mark or a space is not part of any token)"
                .into(),
        );
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn token_file(dir: &Path, mode: u32, text: &str) -> PathBuf {
        let p = dir.join(format!("token-{mode:o}"));
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    /// One target from the command line, unnamed, reading `token_file`.
    fn single(token_file: PathBuf) -> Result<Config, ConfigError> {
        Config::single(
            None,
            TargetSection {
                name: None,
                url: "http://h:1".into(),
                token_file,
            },
        )
    }

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let tok = token_file(dir.path(), 0o600, "read-token-0123456789\n");
        let p = dir.path().join("exporter.toml");
        std::fs::write(&p, text.replace("TOKEN", &tok.display().to_string())).unwrap();
        Config::load(&p, None)
    }

    #[test]
    fn defaults_apply_when_only_a_target_is_given() {
        let c =
            load("[[target]]\nurl = \"http://127.0.0.1:8485/\"\ntoken_file = \"TOKEN\"\n").unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.scrape_timeout, DEFAULT_SCRAPE_TIMEOUT);
        assert_eq!(c.cache_ttl, DEFAULT_CACHE_TTL);
        assert_eq!(c.targets[0].url, "http://127.0.0.1:8485");
        assert_eq!(c.targets[0].name, default_name("127.0.0.1", Some(8485)));
        assert_eq!(c.targets[0].token, "read-token-0123456789");
    }

    #[test]
    fn a_file_without_targets_is_refused() {
        let e = load("[exporter]\nlisten = \"127.0.0.1:9110\"\n").unwrap_err();
        assert!(e.to_string().contains("no [[target]]"), "{e}");
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_line() {
        let e = load("[[target]]\nurl = \"http://h:1\"\ntoken_file = \"TOKEN\"\ntokn = 1\n")
            .unwrap_err();
        assert!(e.to_string().contains("tokn"), "{e}");
        assert!(e.to_string().contains("line 4"), "{e}");
    }

    #[test]
    fn https_targets_are_refused_with_advice() {
        let e = load("[[target]]\nurl = \"https://h:8485\"\ntoken_file = \"TOKEN\"\n").unwrap_err();
        assert!(e.to_string().contains("https is not supported"), "{e}");
    }

    #[test]
    fn two_targets_with_one_name_are_refused() {
        let t = "[[target]]\nname = \"a\"\nurl = \"http://h:1\"\ntoken_file = \"TOKEN\"\n";
        let e = load(&format!("{t}{t}")).unwrap_err();
        assert!(e.to_string().contains("two targets are named \"a\""), "{e}");
    }

    #[test]
    fn a_bad_listen_address_is_refused() {
        let e = load(
            "[exporter]\nlisten = \"localhost\"\n[[target]]\nurl = \"http://h:1\"\ntoken_file = \"TOKEN\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("is not an address"), "{e}");
    }

    #[test]
    fn a_negative_timeout_is_refused() {
        let e = load(
            "[exporter]\nscrape_timeout_seconds = -1\n[[target]]\nurl = \"http://h:1\"\ntoken_file = \"TOKEN\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("scrape_timeout_seconds"), "{e}");
    }

    #[test]
    fn a_token_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let tok = token_file(dir.path(), 0o644, "read-token-0123456789");
        let e = single(tok).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }

    #[test]
    fn a_missing_token_file_is_named() {
        let e = Config::single(
            None,
            TargetSection {
                name: Some("b1".into()),
                url: "http://h:1".into(),
                token_file: "/nonexistent/read.token".into(),
            },
        )
        .unwrap_err();
        let m = e.to_string();
        assert!(m.contains("/nonexistent/read.token"), "{m}");
        assert!(m.contains("(b1)"), "{m}");
    }

    #[test]
    fn an_empty_token_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let tok = token_file(dir.path(), 0o600, " \n");
        let e = single(tok).unwrap_err();
        assert!(e.to_string().contains("is empty"), "{e}");
    }

    #[test]
    fn a_token_file_with_two_lines_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let tok = token_file(dir.path(), 0o600, "read-token-0123456789\r\nsecond\n");
        let e = single(tok).unwrap_err();
        assert!(e.to_string().contains("one line of printable ASCII"), "{e}");
    }

    #[test]
    fn a_crlf_line_end_is_not_part_of_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let tok = token_file(dir.path(), 0o600, "read-token-0123456789\r\n");
        let c = single(tok).unwrap();
        assert_eq!(c.targets[0].token, "read-token-0123456789");
    }

    #[test]
    fn a_loopback_target_is_named_after_this_machine() {
        let me = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        assert_eq!(default_name("127.0.0.1", Some(8485)), format!("{me}:8485"));
        assert_eq!(default_name("[::1]", Some(8485)), format!("{me}:8485"));
        assert_eq!(default_name("localhost", Some(80)), format!("{me}:80"));
    }

    #[test]
    fn another_target_is_named_by_its_host_and_port() {
        assert_eq!(default_name("10.0.0.12", Some(8485)), "10.0.0.12:8485");
        assert_eq!(
            default_name("backup.example", Some(80)),
            "backup.example:80"
        );
    }

    #[test]
    fn the_debug_form_never_shows_the_token() {
        let c = load("[[target]]\nurl = \"http://h:1\"\ntoken_file = \"TOKEN\"\n").unwrap();
        assert!(!format!("{c:?}").contains("read-token"));
    }
}
