//! `vger-admin`: the operator's CLI for vger-server's admin API.

mod cli;
mod client;
mod commands;
mod confirm;
mod error;
mod output;
mod settings;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};
use error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "vger-admin",
                &mut std::io::stdout(),
            );
            return ExitCode::SUCCESS;
        }
        Command::Man => {
            return match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&CliError::Failed(format!("cannot write the man page: {e}"))),
            };
        }
        _ => {}
    }
    let result = settings::resolve(&cli).and_then(|target| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::Failed(format!("cannot start: {e}")))?;
        let client = client::Client::new(target)?;
        runtime.block_on(commands::run(&client, cli.json, cli.command))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &CliError) -> ExitCode {
    eprintln!("vger-admin: {e}");
    e.exit_code()
}
