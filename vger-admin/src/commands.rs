//! One function per command: call the API, then print a table (or the
//! API's JSON with `--json`).

use std::io::IsTerminal;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde::Serialize;
use shared_proto::admin::{
    AuditList, CreateRepo, CreateToken, DeleteRepo, Job, JobKind, JobState, LimitSource,
    LockBroken, LockKind, LockList, RepoDeleted, RepoInfo, RepoList, ServerStatus, SetPolicy,
    SetQuota, StartJob, TokenCreated, TokenInfo, TokenList, TokenMode,
};

use crate::cli::{
    AuditArgs, Command, LockCommand, Mode, PolicyCommand, QuotaCommand, RepoCommand, Scope, Switch,
    TokenCommand,
};
use crate::client::{Answer, Client};
use crate::confirm::confirm;
use crate::error::{CliError, CliResult};
use crate::output::{ago, pairs, size, span, table};

/// Share of the quota from which a repository is shown as nearly full.
const NEARLY_FULL: f64 = 0.9;
/// How often a job's progress is polled.
const POLL: Duration = Duration::from_millis(250);

/// Runs one command.
pub async fn run(client: &Client, json: bool, command: Command) -> CliResult<()> {
    let out = Out { json };
    match command {
        Command::Status => status(client, out).await,
        Command::Repo(c) => repo(client, out, c).await,
        Command::Quota(c) => quota(client, out, c).await,
        Command::Policy(PolicyCommand::Set {
            repo,
            append_only,
            freshness,
        }) => {
            let req = SetPolicy {
                append_only: append_only.map(|s| s == Switch::On),
                freshness_threshold_seconds: freshness,
            };
            let a: Answer<RepoInfo> = client
                .call(Method::PATCH, &repo_path(&repo, "/policy"), Some(&req))
                .await?;
            out.show(&a, print_repo)
        }
        Command::Lock(c) => lock(client, out, c).await,
        Command::Token(c) => token(client, out, c).await,
        Command::Check(scope) => job(client, out, JobKind::Check, scope).await,
        Command::Reconcile(scope) => job(client, out, JobKind::Reconcile, scope).await,
        Command::Audit(args) => audit(client, out, args).await,
        Command::Completions { .. } | Command::Man => {
            unreachable!("handled before connecting")
        }
    }
}

/// How to print.
#[derive(Debug, Clone, Copy)]
struct Out {
    json: bool,
}

impl Out {
    /// Prints the API's JSON, or `human` of the typed answer.
    fn show<T>(self, a: &Answer<T>, human: impl FnOnce(&T)) -> CliResult<()> {
        if self.json {
            print_json(&a.raw);
        } else {
            human(&a.value);
        }
        Ok(())
    }
}

fn print_json(v: &impl Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into())
    );
}

/// `/v1/repos/<name><rest>`, with the name escaped for the path.
fn repo_path(repo: &str, rest: &str) -> String {
    format!("/v1/repos/{}{rest}", escape(repo))
}

/// Percent-encodes a path segment or query value (RFC 3986 unreserved
/// characters stay as they are).
fn escape(segment: &str) -> String {
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(segment, KEEP).to_string()
}

async fn status(client: &Client, out: Out) -> CliResult<()> {
    let a: Answer<ServerStatus> = client.get("/v1/status").await?;
    out.show(&a, |s| {
        let requests: u64 = s.traffic.requests.iter().map(|r| r.count).sum();
        let errors: u64 = s
            .traffic
            .requests
            .iter()
            .filter(|r| r.status >= 500)
            .map(|r| r.count)
            .sum();
        let used_pct = if s.disk_total_bytes > 0 {
            100.0 * (1.0 - s.disk_free_bytes as f64 / s.disk_total_bytes as f64)
        } else {
            0.0
        };
        let mut rows: Vec<(&str, String)> = Vec::new();
        rows.push(("version", s.version.clone()));
        rows.push((
            "up",
            format!("{} (since {})", span(s.uptime_seconds), s.started_at),
        ));
        rows.push(("data dir", s.data_dir.clone()));
        rows.push((
            "disk",
            format!(
                "{} free of {} ({used_pct:.0}% used)",
                size(s.disk_free_bytes),
                size(s.disk_total_bytes)
            ),
        ));
        rows.push((
            "repositories",
            format!(
                "{}: {} in {} objects ({} packs), {} lock(s)",
                s.repos,
                size(s.used_bytes),
                s.objects,
                s.packs,
                s.locks
            ),
        ));
        rows.push((
            "traffic",
            format!(
                "{requests} requests ({errors} server errors), {} in, {} out",
                size(s.traffic.received_bytes),
                size(s.traffic.sent_bytes)
            ),
        ));
        let c = &s.config;
        rows.push((
            "config",
            format!(
                "listen {}, admin {}, append_only {}, quota {}, freshness {}, lock TTL {}",
                c.listen,
                c.admin_listen,
                c.append_only,
                if c.quota_bytes == 0 {
                    "unlimited".into()
                } else {
                    size(c.quota_bytes)
                },
                span(c.freshness_threshold_seconds),
                span(c.lock_ttl_seconds)
            ),
        ));
        rows.push(("admin tokens", c.admin_tokens.join(", ")));
        println!("{}", pairs(rows));
    })
}

fn quota_text(r: &RepoInfo) -> (String, String) {
    match r.quota_bytes {
        None => ("unlimited".into(), String::new()),
        Some(q) => {
            let share = r.used_bytes as f64 / q as f64;
            let mut pct = format!("{:.0}%", share * 100.0);
            if share >= NEARLY_FULL {
                pct.push_str(" NEARLY FULL");
            }
            (size(q), pct)
        }
    }
}

fn backup_text(r: &RepoInfo) -> String {
    let mut s = match r.last_backup_age_seconds {
        Some(age) => ago(age),
        None => "never".into(),
    };
    if r.overdue {
        s.push_str(" OVERDUE");
    }
    s
}

fn print_repos(list: &RepoList) {
    if list.repos.is_empty() {
        println!("no repositories; create one with: vger-admin repo create NAME");
        return;
    }
    let mut t = table(&[
        "REPO",
        "USED",
        "QUOTA",
        "USE",
        "OBJECTS",
        "LAST BACKUP",
        "THRESHOLD",
        "APPEND-ONLY",
        "LOCKS",
    ]);
    for r in &list.repos {
        let (quota, pct) = quota_text(r);
        t.add_row(vec![
            r.name.clone(),
            size(r.used_bytes),
            quota,
            pct,
            r.objects.to_string(),
            backup_text(r),
            span(r.freshness_threshold_seconds),
            if r.append_only { "yes" } else { "no" }.into(),
            r.locks.len().to_string(),
        ]);
    }
    println!("{t}");
    let overdue = list.repos.iter().filter(|r| r.overdue).count();
    if overdue > 0 {
        println!("{overdue} repository(ies) OVERDUE: no backup within their threshold");
    }
}

fn print_repo(r: &RepoInfo) {
    let source = |s: LimitSource| match s {
        LimitSource::Repo => "set for this repository",
        LimitSource::ServerDefault => "server default",
    };
    let (quota, pct) = quota_text(r);
    let mut rows: Vec<(&str, String)> = Vec::new();
    rows.push(("repository", r.name.clone()));
    rows.push(("created", r.created_at.clone()));
    rows.push((
        "used",
        format!(
            "{} in {} objects ({} packs)",
            size(r.used_bytes),
            r.objects,
            r.packs
        ),
    ));
    rows.push((
        "quota",
        format!("{quota} {pct} ({})", source(r.quota_source)).replace("  ", " "),
    ));
    rows.push((
        "last backup",
        match &r.last_backup_at {
            Some(at) => format!("{} ({at})", backup_text(r)),
            None => backup_text(r),
        },
    ));
    rows.push((
        "freshness threshold",
        format!(
            "{} ({})",
            span(r.freshness_threshold_seconds),
            source(r.freshness_source)
        ),
    ));
    rows.push((
        "append-only",
        match (r.append_only, r.append_only_override) {
            (true, Some(true)) => "yes (set for this repository)".into(),
            (true, _) => "yes (server-wide)".into(),
            (false, _) => "no".to_string(),
        },
    ));
    rows.push(("locks", r.locks.len().to_string()));
    println!("{}", pairs(rows));
    if !r.locks.is_empty() {
        print_locks(&LockList {
            locks: r.locks.clone(),
        });
    }
}

async fn repo(client: &Client, out: Out, c: RepoCommand) -> CliResult<()> {
    match c {
        RepoCommand::List => {
            let a: Answer<RepoList> = client.get("/v1/repos").await?;
            out.show(&a, print_repos)
        }
        RepoCommand::Show { repo } => {
            let a: Answer<RepoInfo> = client.get(&repo_path(&repo, "")).await?;
            out.show(&a, print_repo)
        }
        RepoCommand::Create {
            repo,
            quota,
            append_only,
            freshness,
        } => {
            let req = CreateRepo {
                name: repo,
                quota_bytes: quota,
                append_only: append_only.then_some(true),
                freshness_threshold_seconds: freshness,
            };
            let a: Answer<RepoInfo> = client.call(Method::POST, "/v1/repos", Some(&req)).await?;
            out.show(&a, |r| {
                println!("created repository {}", r.name);
                print_repo(r);
            })
        }
        RepoCommand::Delete { repo, force, yes } => {
            let current: Answer<RepoInfo> = client.get(&repo_path(&repo, "")).await?;
            let r = &current.value;
            let mut what = format!(
                "This deletes repository {} and all its data: {} in {} objects, last backup {}, and revokes the client tokens bound to it. It cannot be undone.",
                r.name,
                size(r.used_bytes),
                r.objects,
                backup_text(r)
            );
            if !r.locks.is_empty() {
                what.push_str(&format!(
                    "\nIt holds {} lock(s): a client may be using it{}.",
                    r.locks.len(),
                    if force {
                        "; --force deletes anyway"
                    } else {
                        "; the server refuses without --force"
                    }
                ));
            }
            confirm(&what, yes)?;
            let req = DeleteRepo {
                confirm: repo.clone(),
                force,
            };
            let a: Answer<RepoDeleted> = client
                .call(Method::DELETE, &repo_path(&repo, ""), Some(&req))
                .await?;
            out.show(&a, |d| {
                println!(
                    "deleted repository {}: {} in {} objects freed",
                    d.name,
                    size(d.freed_bytes),
                    d.objects
                );
                if !d.revoked_tokens.is_empty() {
                    let ids: Vec<String> = d.revoked_tokens.iter().map(u64::to_string).collect();
                    println!("revoked the client tokens bound to it: {}", ids.join(", "));
                }
            })
        }
    }
}

async fn quota(client: &Client, out: Out, c: QuotaCommand) -> CliResult<()> {
    let a: Answer<RepoInfo> = match c {
        QuotaCommand::Set { repo, size: bytes } => {
            client
                .call(
                    Method::PUT,
                    &repo_path(&repo, "/quota"),
                    Some(&SetQuota { quota_bytes: bytes }),
                )
                .await?
        }
        QuotaCommand::Clear { repo } => {
            client
                .call(Method::DELETE, &repo_path(&repo, "/quota"), None::<&()>)
                .await?
        }
    };
    out.show(&a, |r| {
        let (quota, pct) = quota_text(r);
        println!(
            "{}: quota {quota}{} ({} used)",
            r.name,
            if pct.is_empty() {
                String::new()
            } else {
                format!(", {pct}")
            },
            size(r.used_bytes)
        );
    })
}

fn print_locks(list: &LockList) {
    if list.locks.is_empty() {
        println!("no locks held");
        return;
    }
    let mut t = table(&["REPO", "ID", "KIND", "HOLDER", "AGE", "EXPIRES"]);
    for l in &list.locks {
        let holder = match (&l.hostname, l.pid) {
            (Some(h), Some(p)) if !h.is_empty() => format!("{h} (pid {p})"),
            (Some(_), _) => "anonymous".into(),
            _ => "-".into(),
        };
        t.add_row(vec![
            l.repo.clone(),
            l.id.clone(),
            match l.kind {
                LockKind::Server => "server",
                LockKind::Object => "object",
            }
            .into(),
            holder,
            ago(l.age_seconds),
            l.expires_at.clone(),
        ]);
    }
    println!("{t}");
}

async fn lock(client: &Client, out: Out, c: LockCommand) -> CliResult<()> {
    match c {
        LockCommand::List => {
            let a: Answer<LockList> = client.get("/v1/locks").await?;
            out.show(&a, print_locks)
        }
        LockCommand::Break { repo, id, yes } => {
            confirm(
                &format!(
                    "This removes lock {id} of repository {repo}. If its client is still running, two clients may then write at once."
                ),
                yes,
            )?;
            let a: Answer<LockBroken> = client
                .call(
                    Method::DELETE,
                    &repo_path(&repo, &format!("/locks/{}", escape(&id))),
                    None::<&()>,
                )
                .await?;
            out.show(&a, |b| {
                println!(
                    "broke lock {} of {} (held {})",
                    b.lock.id,
                    b.lock.repo,
                    ago(b.lock.age_seconds)
                )
            })
        }
    }
}

fn token_status(t: &TokenInfo) -> String {
    match (&t.revoked_at, t.active) {
        (Some(at), _) => format!("revoked {at}"),
        (None, false) => "expired".into(),
        (None, true) => "active".into(),
    }
}

async fn token(client: &Client, out: Out, c: TokenCommand) -> CliResult<()> {
    match c {
        TokenCommand::Create {
            label,
            repo,
            mode,
            expires,
        } => {
            let req = CreateToken {
                label,
                repo,
                mode: match mode {
                    Mode::Full => TokenMode::Full,
                    Mode::AppendOnly => TokenMode::AppendOnly,
                    Mode::ReadOnly => TokenMode::ReadOnly,
                },
                expires_in_seconds: expires,
            };
            let a: Answer<TokenCreated> =
                client.call(Method::POST, "/v1/tokens", Some(&req)).await?;
            out.show(&a, |c| {
                let t = &c.token;
                println!(
                    "created token {} ({:?}, {}, {}{})",
                    t.id,
                    t.label,
                    t.mode.as_str(),
                    t.repo
                        .as_deref()
                        .map_or("all repositories".into(), |r| format!("repository {r}")),
                    t.expires_at
                        .as_deref()
                        .map_or(String::new(), |e| format!(", expires {e}"))
                );
                println!("secret (shown only now; give it to the client as its REST token):");
                println!("{}", c.secret);
            })
        }
        TokenCommand::List => {
            let a: Answer<TokenList> = client.get("/v1/tokens").await?;
            out.show(&a, |l| {
                if l.tokens.is_empty() {
                    println!(
                        "no client tokens; create one with: vger-admin token create --label NAME"
                    );
                    return;
                }
                let mut t = table(&[
                    "ID", "LABEL", "REPO", "MODE", "CREATED", "EXPIRES", "STATUS",
                ]);
                for k in &l.tokens {
                    t.add_row(vec![
                        k.id.to_string(),
                        k.label.clone(),
                        k.repo.clone().unwrap_or_else(|| "(all)".into()),
                        k.mode.as_str().into(),
                        k.created_at.clone(),
                        k.expires_at.clone().unwrap_or_else(|| "never".into()),
                        token_status(k),
                    ]);
                }
                println!("{t}");
            })
        }
        TokenCommand::Revoke { id, yes } => {
            confirm(
                &format!("This revokes client token {id}: clients using it are refused at once."),
                yes,
            )?;
            let a: Answer<TokenInfo> = client
                .call(Method::DELETE, &format!("/v1/tokens/{id}"), None::<&()>)
                .await?;
            out.show(&a, |t| println!("revoked token {} ({:?})", t.id, t.label))
        }
    }
}

async fn job(client: &Client, out: Out, kind: JobKind, scope: Scope) -> CliResult<()> {
    let req = StartJob {
        kind,
        repo: if scope.all { None } else { scope.repo },
    };
    let started: Answer<Job> = client.call(Method::POST, "/v1/jobs", Some(&req)).await?;
    let id = started.value.id;
    let bar = if std::io::stderr().is_terminal() && !out.json {
        let bar = indicatif::ProgressBar::new(started.value.total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} repositories")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(match kind {
            JobKind::Check => "checking",
            JobKind::Reconcile => "reconciling",
        });
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let finished = loop {
        let a: Answer<Job> = client.get(&format!("/v1/jobs/{id}")).await?;
        bar.set_length(a.value.total);
        bar.set_position(a.value.done);
        if a.value.state != JobState::Running {
            break a;
        }
        tokio::time::sleep(POLL).await;
    };
    bar.finish_and_clear();
    let job = &finished.value;
    out.show(&finished, |j| {
        let mut t = table(&["REPO", "RESULT", "DETAILS"]);
        for r in &j.results {
            t.add_row(vec![
                r.repo.clone(),
                if r.ok { "ok" } else { "PROBLEMS" }.into(),
                r.messages.join("\n"),
            ]);
        }
        if j.results.is_empty() {
            println!(
                "no repositories to {}",
                if kind == JobKind::Check {
                    "check"
                } else {
                    "reconcile"
                }
            );
        } else {
            println!("{t}");
        }
    })?;
    if let Some(e) = &job.error {
        return Err(CliError::Failed(format!("job {id} failed: {e}")));
    }
    let bad = job.results.iter().filter(|r| !r.ok).count();
    if bad > 0 {
        return Err(CliError::Failed(format!(
            "{bad} of {} repositories have problems",
            job.results.len()
        )));
    }
    Ok(())
}

/// An audit bound: an RFC 3339 time as is, or an age (`24h`) as the time
/// that long ago.
fn audit_time(flag: &str, text: &str) -> CliResult<String> {
    if humantime::parse_rfc3339_weak(text).is_ok() {
        return Ok(text.to_owned());
    }
    let age = humantime::parse_duration(text).map_err(|_| {
        CliError::Usage(format!(
            "--{flag} {text:?} is neither a time (2026-11-28T09:00:00Z) nor an age (24h, 7d)"
        ))
    })?;
    let at = std::time::SystemTime::now()
        .checked_sub(age)
        .filter(|t| *t >= std::time::UNIX_EPOCH)
        .unwrap_or(std::time::UNIX_EPOCH);
    Ok(humantime::format_rfc3339_seconds(at).to_string())
}

async fn audit(client: &Client, out: Out, args: AuditArgs) -> CliResult<()> {
    let mut query = vec![format!("limit={}", args.limit)];
    if let Some(s) = &args.since {
        query.push(format!("since={}", escape(&audit_time("since", s)?)));
    }
    if let Some(u) = &args.until {
        query.push(format!("until={}", escape(&audit_time("until", u)?)));
    }
    if let Some(r) = &args.repo {
        query.push(format!("repo={}", escape(r)));
    }
    let a: Answer<AuditList> = client
        .get(&format!("/v1/audit?{}", query.join("&")))
        .await?;
    out.show(&a, |l| {
        if l.entries.is_empty() {
            println!("no audit entries match");
            return;
        }
        let mut t = table(&["AT", "ACTOR", "ACTION", "REPO", "DETAIL", "OUTCOME"]);
        for e in &l.entries {
            t.add_row(vec![
                e.at.clone(),
                e.actor.clone(),
                e.action.clone(),
                e.repo.clone().unwrap_or_default(),
                e.detail.clone(),
                e.outcome.clone(),
            ]);
        }
        println!("{t}");
    })
}
