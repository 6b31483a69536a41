//! The `vger-server` binary: parse arguments, load the config, serve.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use vger_server::config::{Config, TokenSource};
use vger_server::{logging, server};

/// Self-hosted REST server for vger backup repositories.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML, with a [server] section).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("vger-server: {e}");
            return ExitCode::from(2);
        }
    };
    logging::init(config.log_format);
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
    };
    let app = server::prepare(&config)?;
    let listener = server::bind(&config).await?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        data_dir = %config.data_dir.display(),
        token_from,
        append_only = config.append_only,
        "vger-server listening"
    );
    server::serve(listener, app, server::shutdown_signal()).await
}
