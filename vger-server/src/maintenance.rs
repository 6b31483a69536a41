//! Maintenance commands run with the server stopped: `vger-server
//! reconcile`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::Config;
use crate::server::{self, Opened, StartError};
use crate::service::reconcile::{Rebuilt, reconcile_all};
use crate::store::cleanup::remove_temp_files_below;

fn describe(r: &Rebuilt) -> Option<String> {
    let after = r.after;
    match r.before {
        Some(b) if b == after => None,
        Some(b) => Some(format!(
            "{}: {} -> {} bytes, {} -> {} objects, {} -> {} packs",
            r.repo, b.bytes, after.bytes, b.objects, after.objects, b.packs, after.packs
        )),
        None => Some(format!(
            "{}: new to the state: {} bytes, {} objects, {} packs",
            r.repo, after.bytes, after.objects, after.packs
        )),
    }
}

/// Rebuilds every repository's counters from its files under the data
/// dir lock, with a progress bar when stderr is a terminal, and prints
/// what changed.
pub fn reconcile(config: &Config) -> Result<(), StartError> {
    if !config.data_dir.is_dir() {
        return Err(StartError::DataDir {
            path: config.data_dir.display().to_string(),
            message: "does not exist or is not a directory; nothing to reconcile".into(),
        });
    }
    let Opened { store, state, lock } = server::open_data_dir(config)?;
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} counting {pos}/{len} repositories {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut changed = Vec::new();
    let rebuilt = reconcile_all(&store, &state, &mut |done, total, r| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(r.repo.to_string());
        if let Some(line) = describe(r) {
            changed.push(line);
        }
    })
    .map_err(|e| StartError::State(format!("reconcile failed: {e}")))?;
    bar.finish_and_clear();
    let temps = remove_temp_files_below(&config.state_dir).unwrap_or(0)
        + rebuilt.iter().map(|r| r.temps_removed).sum::<u64>();
    for line in &changed {
        println!("{line}");
    }
    println!(
        "reconciled {} repositories: {} changed, {} temp files removed",
        rebuilt.len(),
        changed.len(),
        temps
    );
    drop(lock);
    Ok(())
}
