//! Asking before destructive work: on a terminal, a y/N question; without
//! one, a refusal unless `--yes` was given, so a script never deletes by
//! accident.

use std::io::{BufRead, IsTerminal, Write};

use crate::error::{CliError, CliResult};

/// Shows `what` will happen and asks; `yes` skips the question.
pub fn confirm(what: &str, yes: bool) -> CliResult<()> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::NotConfirmed(format!(
            "{what}\nnot confirmed: there is no terminal to ask on; add --yes to proceed"
        )));
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "{what}\nProceed? [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::NotConfirmed(format!("cannot read the answer: {e}")))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(CliError::NotConfirmed(
            "cancelled; nothing was changed".into(),
        )),
    }
}
