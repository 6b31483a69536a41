//! The `vger-exporter` binary: read the settings, bind, serve.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{ArgGroup, Parser};
use vger_exporter::collect::Exporter;
use vger_exporter::config::{Config, TargetSection};
use vger_exporter::server;

/// Prometheus exporter for vger-server: backup freshness, quotas, usage,
/// locks and disk space, read from the admin API on each scrape.
#[derive(Debug, Parser)]
#[command(version, about)]
#[command(group(ArgGroup::new("source").required(true).args(["config", "admin_url"])))]
struct Cli {
    /// Configuration file (TOML with [exporter] and [[target]] sections).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Watch one server: its admin API URL (instead of --config).
    #[arg(
        long,
        value_name = "URL",
        requires = "token_file",
        conflicts_with = "config"
    )]
    admin_url: Option<String>,
    /// File with a read token of that server (chmod 600).
    #[arg(long, value_name = "FILE", requires = "admin_url")]
    token_file: Option<PathBuf>,
    /// The `server` label for that server (default: the URL's host:port,
    /// with a loopback host replaced by this machine's name).
    #[arg(long, value_name = "NAME", requires = "admin_url")]
    name: Option<String>,
    /// Address to serve /metrics on (default 0.0.0.0:9110).
    #[arg(long, value_name = "IP:PORT")]
    listen: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let loaded = match (&cli.config, &cli.admin_url, &cli.token_file) {
        (Some(path), _, _) => Config::load(path, cli.listen.as_deref()),
        (None, Some(url), Some(token_file)) => Config::single(
            cli.listen.as_deref(),
            TargetSection {
                name: cli.name.clone(),
                url: url.clone(),
                token_file: token_file.clone(),
            },
        ),
        _ => unreachable!("clap requires --config or --admin-url with --token-file"),
    };
    let config = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("vger-exporter: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vger-exporter: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: Config) -> ExitCode {
    let listener = match server::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vger-exporter: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().map_or(config.listen, |a| a);
    let names: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    tracing::info!(
        "vger-exporter {} listening on http://{addr}/metrics, watching {}; scrape timeout {:?}, cache {:?}",
        vger_exporter::metrics::VERSION,
        names.join(", "),
        config.scrape_timeout,
        config.cache_ttl
    );
    let exporter = Arc::new(Exporter::new(&config));
    match server::serve(listener, exporter, stop_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vger-exporter: {e}");
            ExitCode::FAILURE
        }
    }
}

/// SIGINT or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("stopping");
}
