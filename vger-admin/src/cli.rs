//! The command line, as clap sees it: noun-verb commands over the admin
//! API. Shell completions and the man page are generated from this.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Operate a vger-server through its admin API: repositories, quotas,
/// policies, locks, client tokens, checks and the audit log.
#[derive(Debug, Parser)]
#[command(name = "vger-admin", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Admin API address, e.g. http://127.0.0.1:8485 [env: VGER_ADMIN_URL].
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// Admin token; prefer VGER_ADMIN_TOKEN or --token-file (a flag shows
    /// in the process list).
    #[arg(long, global = true)]
    pub token: Option<String>,
    /// File holding the admin token (mode 600).
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Named server from the config file.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Config file with named contexts [default: $XDG_CONFIG_HOME/vger-admin/config.toml].
    #[arg(long, global = true, env = "VGER_ADMIN_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Exit codes, shown under --help.
pub const EXIT_CODES: &str = "Exit codes: 0 ok, 1 failed (or a check found problems), 2 usage, \
3 server unreachable, 4 bad admin token, 5 forbidden, 6 not found, 7 conflict, \
8 not confirmed";

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Server version, uptime, disk, totals and traffic.
    Status,
    /// Repositories.
    #[command(subcommand)]
    Repo(RepoCommand),
    /// Per-repository quotas.
    #[command(subcommand)]
    Quota(QuotaCommand),
    /// Per-repository policies (append-only, freshness threshold).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Locks held by clients.
    #[command(subcommand)]
    Lock(LockCommand),
    /// Client tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Structural check of one repository or all (no keys needed).
    Check(Scope),
    /// Rebuild usage counters from the files, for one repository or all.
    Reconcile(Scope),
    /// The audit log: admin changes and destructive client actions.
    Audit(AuditArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

/// `repo ...`
#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Every repository: usage, quota, last backup, locks.
    List,
    /// One repository in full.
    Show {
        /// Repository name.
        repo: String,
    },
    /// Create a repository (clients can then init it).
    Create {
        /// Repository name.
        repo: String,
        /// Quota, e.g. 500GiB, 1.5TiB, 750MB (0 = unlimited).
        #[arg(long, value_parser = parse_size)]
        quota: Option<u64>,
        /// Refuse deletes and overwrites of history in this repository.
        #[arg(long)]
        append_only: bool,
        /// Alert when the last backup is older than this, e.g. 26h, 7d.
        #[arg(long, value_parser = parse_duration)]
        freshness: Option<u64>,
    },
    /// Delete a repository and all its data.
    Delete {
        /// Repository name.
        repo: String,
        /// Delete even while a client holds a lock.
        #[arg(long)]
        force: bool,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `quota ...`
#[derive(Debug, Subcommand)]
pub enum QuotaCommand {
    /// Set a repository's quota, e.g. `quota set laptop 500GiB` (0 = unlimited).
    Set {
        /// Repository name.
        repo: String,
        /// Size, e.g. 500G, 1.5TiB, 750MB.
        #[arg(value_parser = parse_size)]
        size: u64,
    },
    /// Go back to the server's default quota.
    Clear {
        /// Repository name.
        repo: String,
    },
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

/// `policy ...`
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Change a repository's policies.
    Set {
        /// Repository name.
        repo: String,
        /// Append-only for this repository (the server-wide setting still applies).
        #[arg(long, value_enum)]
        append_only: Option<Switch>,
        /// Freshness threshold, e.g. 26h or 7d; "default" for the server's.
        #[arg(long, value_parser = parse_threshold)]
        freshness: Option<u64>,
    },
}

/// `lock ...`
#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Every lock, with holder, age and expiry.
    List,
    /// Remove a lock a crashed client left (the client may still run!).
    Break {
        /// Repository name.
        repo: String,
        /// Lock id, as `lock list` shows it.
        id: String,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// A client token's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Everything.
    Full,
    /// Backups only: nothing that holds history can be deleted or overwritten.
    AppendOnly,
    /// Restore, list and check only.
    ReadOnly,
}

/// `token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a client token; its secret is shown once.
    Create {
        /// Who uses it, e.g. the machine's name.
        #[arg(long)]
        label: String,
        /// The one repository it opens (default: all).
        #[arg(long)]
        repo: Option<String>,
        /// What it may do.
        #[arg(long, value_enum, default_value = "full")]
        mode: Mode,
        /// Stop working after this long, e.g. 90d.
        #[arg(long, value_parser = parse_duration)]
        expires: Option<u64>,
    },
    /// Every client token (never their secrets).
    List,
    /// Revoke a token: it stops working at once.
    Revoke {
        /// Token id, as `token list` shows it.
        id: u64,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// One repository or all.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Scope {
    /// Repository name.
    pub repo: Option<String>,
    /// Every repository.
    #[arg(long)]
    pub all: bool,
}

/// `audit` filters.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only entries newer than this: a time (2026-11-28T09:00:00Z) or an age (24h, 7d).
    #[arg(long)]
    pub since: Option<String>,
    /// Only entries older than this: a time or an age.
    #[arg(long)]
    pub until: Option<String>,
    /// Only this repository.
    #[arg(long)]
    pub repo: Option<String>,
    /// Most entries to show.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

/// Parses a size with an optional unit: `500G` and `750MB` are decimal
/// (10^9, 10^6), `1.5TiB` and `500GiB` binary; a bare number is bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.is_empty() || t.starts_with('-') {
        return Err(format!(
            "{s:?} is not a size; write e.g. 500GiB, 1.5TiB, 750MB"
        ));
    }
    t.parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|_| format!("{s:?} is not a size; write e.g. 500GiB, 1.5TiB, 750MB"))
}

/// Parses a duration such as `26h`, `7d`, `90d` into seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    match humantime::parse_duration(s.trim()) {
        Ok(d) if d.as_secs() > 0 => Ok(d.as_secs()),
        _ => Err(format!("{s:?} is not a duration; write e.g. 26h, 7d, 90d")),
    }
}

/// A freshness threshold: a duration, or `default` (sent as 0).
fn parse_threshold(s: &str) -> Result<u64, String> {
    if s.trim().eq_ignore_ascii_case("default") {
        Ok(0)
    } else {
        parse_duration(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_decimal_and_binary_suffixes() {
        assert_eq!(parse_size("500G"), Ok(500_000_000_000));
        assert_eq!(parse_size("500GiB"), Ok(500 << 30));
        assert_eq!(parse_size("1.5TiB"), Ok(3 << 39));
        assert_eq!(parse_size("750MB"), Ok(750_000_000));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("0"), Ok(0));
    }

    #[test]
    fn bad_sizes_say_what_to_write() {
        for bad in ["", "-5G", "lots", "5 parsecs", "G"] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.contains("500GiB"), "{bad}: {e}");
        }
    }

    #[test]
    fn durations_are_human() {
        assert_eq!(parse_duration("26h"), Ok(26 * 3600));
        assert_eq!(parse_duration("7d"), Ok(7 * 86400));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_threshold("default"), Ok(0));
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
