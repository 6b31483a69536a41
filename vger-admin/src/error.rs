//! What can go wrong, and the exit code a script sees for each.

use std::fmt;
use std::process::ExitCode;

/// A failure of one command.
#[derive(Debug)]
pub enum CliError {
    /// The server cannot be reached (3).
    Unreachable(String),
    /// The admin token was refused (4).
    Unauthorized(String),
    /// The token may not do this (5).
    Forbidden(String),
    /// What the command names does not exist (6).
    NotFound(String),
    /// The command contradicts what exists (7).
    Conflict(String),
    /// A destructive command was not confirmed (8).
    NotConfirmed(String),
    /// Bad settings or arguments found after parsing (2).
    Usage(String),
    /// Anything else: a server error, a refused request, a failed check (1).
    Failed(String),
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Self::Failed(_) => 1,
            Self::Usage(_) => 2,
            Self::Unreachable(_) => 3,
            Self::Unauthorized(_) => 4,
            Self::Forbidden(_) => 5,
            Self::NotFound(_) => 6,
            Self::Conflict(_) => 7,
            Self::NotConfirmed(_) => 8,
        })
    }

    /// The error for an API answer with `status` and `message`.
    pub fn from_status(status: u16, message: String) -> Self {
        match status {
            401 => Self::Unauthorized(format!(
                "{message} (check --token, VGER_ADMIN_TOKEN or the context's token)"
            )),
            403 => Self::Forbidden(message),
            404 => Self::NotFound(message),
            409 => Self::Conflict(message),
            _ => Self::Failed(format!("server answered {status}: {message}")),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(m)
            | Self::Unauthorized(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::Conflict(m)
            | Self::NotConfirmed(m)
            | Self::Usage(m)
            | Self::Failed(m) => f.write_str(m),
        }
    }
}

/// Shorthand for command results.
pub type CliResult<T> = Result<T, CliError>;
