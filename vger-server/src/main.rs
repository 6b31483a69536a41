//! The `vger-server` binary: parse arguments, load the config, then serve
//! or run a maintenance command.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use vger_server::config::{Config, TokenSource};
use vger_server::service::lifecycle;
use vger_server::{logging, maintenance, server};

/// Self-hosted REST server for vger backup repositories.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML, with a [server] section).
    #[arg(long, short = 'c', value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the client API (the default).
    Serve,
    /// Rebuild every repository's usage counters from its files, then
    /// exit. The server must be stopped (the data dir is locked while it
    /// runs).
    Reconcile,
}

/// How long a stopping server waits for changes still in flight.
const SHUTDOWN_PATIENCE: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    // Whatever the server or SQLite creates is private to its user, even
    // where no explicit mode is given.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    let Some(config_path) = cli.config else {
        Cli::command()
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "--config FILE is required",
            )
            .exit();
    };
    let maintenance = matches!(cli.command, Some(Command::Reconcile));
    let loaded = if maintenance {
        Config::load_for_maintenance(&config_path)
    } else {
        Config::load(&config_path)
    };
    let config = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("vger-server: {e}");
            return ExitCode::from(2);
        }
    };
    logging::init(config.log_format);
    if matches!(cli.command, Some(Command::Reconcile)) {
        return match maintenance::reconcile(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vger-server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vger-server: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("vger-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), server::StartError> {
    for key in &config.ignored_keys {
        tracing::warn!(
            key,
            "{key} is accepted for compatibility but not enforced; rate-limit at the reverse proxy"
        );
    }
    let token_from = match &config.token_source {
        TokenSource::ConfigFile => "config file".to_owned(),
        TokenSource::TokenFile(p) => format!("token_file {}", p.display()),
        TokenSource::Environment => "VGER_TOKEN".to_owned(),
        // Only maintenance commands load a config without a token.
        TokenSource::NotNeeded => "nowhere".to_owned(),
    };
    let app = server::prepare(&config)?;
    let listener = server::bind(&config).await?;
    let admin_listener = if config.admin.tokens.is_empty() {
        None
    } else {
        Some(server::bind_admin(&config).await?)
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        data_dir = %config.data_dir.display(),
        token_from,
        append_only = config.append_only,
        "vger-server listening"
    );
    match &admin_listener {
        Some(l) => {
            let sources: Vec<String> = config
                .admin
                .tokens
                .iter()
                .map(|t| format!("{} ({}) from {}", t.label, t.role.as_str(), t.source))
                .collect();
            tracing::info!(
                listen = %l.local_addr().map(|a| a.to_string()).unwrap_or_default(),
                tokens = %sources.join(", "),
                "admin API listening"
            );
        }
        None => tracing::info!(
            "admin API off: no admin token configured ([admin] token_file or tokens, or VGER_ADMIN_TOKEN)"
        ),
    }
    // One signal stops both listeners.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        server::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let admin = admin_listener.map(|l| {
        tokio::spawn(server::serve_admin(
            l,
            app.clone(),
            stopped(stop_rx.clone()),
        ))
    });
    server::serve(listener, app.clone(), stopped(stop_rx)).await;
    if let Some(admin) = admin {
        let _ = admin.await;
    }
    if lifecycle::settle(&app, SHUTDOWN_PATIENCE).await {
        tracing::info!("state settled; stopped cleanly");
    }
    Ok(())
}
