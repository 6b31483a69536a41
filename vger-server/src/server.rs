//! Start-up and serving: prepare the data dir, clean up after a crash,
//! bind, serve until a shutdown signal.

use std::io;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::app::App;
use crate::config::Config;
use crate::service::lifecycle;
use crate::state::State;
use crate::store::{RepoStore, STATE_DIR_NAME, durable};
use crate::{connections, http};

/// Why the server could not start. Each message is one line naming the key
/// or path at fault.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data dir cannot be created or written.
    #[error("data_dir {path}: {message}")]
    DataDir {
        /// The data dir.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The state cannot be opened or brought in line with the files.
    #[error("{0}")]
    State(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: io::Error,
    },
}

fn data_dir_err(path: &Path, message: impl Into<String>) -> StartError {
    StartError::DataDir {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// The data dir, locked for this process, with its store and state open.
#[derive(Debug)]
pub struct Opened {
    /// The objects.
    pub store: RepoStore,
    /// The state.
    pub state: State,
    /// The exclusive locks on the data dir (and a separate state dir).
    pub lock: Vec<std::fs::File>,
}

/// Creates the data dir if missing, proves it writable, locks it against a
/// second server, and opens the store and the state.
pub fn open_data_dir(config: &Config) -> Result<Opened, StartError> {
    let dir = &config.data_dir;
    match std::fs::metadata(dir) {
        Ok(md) if !md.is_dir() => return Err(data_dir_err(dir, "exists but is not a directory")),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            durable::private_dir_builder()
                .recursive(true)
                .create(dir)
                .map_err(|e| data_dir_err(dir, format!("cannot create it: {e}")))?;
            tracing::info!(data_dir = %dir.display(), "created data directory");
        }
        Err(e) => return Err(data_dir_err(dir, format!("cannot use it: {e}"))),
    }
    // A real write proves more than permission bits (read-only mounts, full disks).
    let (probe, _) = durable::create_temp(dir)
        .map_err(|e| data_dir_err(dir, format!("is not writable: {e}")))?;
    let _ = std::fs::remove_file(probe);
    warn_if_open_to_others(dir, "data_dir");
    let mut lock = vec![lock_data_dir(dir)?];
    lock.extend(lock_state_dir(config)?);
    warn_if_open_to_others(&config.state_dir, "state_dir");
    let store = RepoStore::open(dir, config.max_object_bytes)
        .map_err(|e| data_dir_err(dir, format!("cannot open it: {e}")))?;
    let state = State::open(&config.state_dir, config.lock_ttl)
        .map_err(|e| StartError::State(e.to_string()))?;
    Ok(Opened { store, state, lock })
}

/// Logs a warning when `dir` can be entered or read by other users: the
/// server creates everything private, but a directory made by hand may
/// not be.
fn warn_if_open_to_others(dir: &Path, key: &str) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(md) = std::fs::metadata(dir) {
        let mode = md.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %dir.display(),
                "{key} has mode {mode:o}, open to other users; chmod 700 it"
            );
        }
    }
}

/// Opens the data dir and brings the state in line with the files (see
/// [`lifecycle::startup`]); returns the ready server state.
pub fn prepare(config: &Config) -> Result<Arc<App>, StartError> {
    let Opened { store, state, lock } = open_data_dir(config)?;
    let started = std::time::Instant::now();
    let report = lifecycle::startup(&store, &state, &config.state_dir).map_err(|e| {
        StartError::State(format!(
            "cannot bring the state in line with the files: {e}"
        ))
    })?;
    if report.full_rebuild && report.rebuilt.is_empty() {
        tracing::info!(state_dir = %config.state_dir.display(), "created the state database");
    } else if report.full_rebuild {
        tracing::info!(
            repos = report.rebuilt.len(),
            state_dir = %config.state_dir.display(),
            "no state database was found: counted every repository from its files"
        );
    } else if !report.rebuilt.is_empty() {
        tracing::warn!(
            repos = report.rebuilt.len(),
            "recounted repositories that the last run did not close cleanly (or that are new to the state)"
        );
    }
    // A repository delete that a crash interrupted: its files are in the
    // trash, its state may remain. Finish both.
    match store.empty_trash() {
        Ok(repos) => {
            for repo in repos.iter().filter(|r| !store.repo_exists_blocking(r)) {
                state
                    .locks
                    .forget_repo(repo)
                    .and_then(|()| state.repos.forget(repo))
                    .map_err(|e| StartError::State(e.to_string()))?;
                tracing::info!(repo = %repo, "finished deleting a repository (interrupted by a crash)");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot empty the trash of deleted repositories"),
    }
    let temps: u64 =
        report.temps_removed + report.rebuilt.iter().map(|r| r.temps_removed).sum::<u64>();
    if temps > 0 {
        tracing::info!(
            removed = temps,
            "removed temp files left by an interrupted run"
        );
    }
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "state ready"
    );
    Ok(Arc::new(App::new(config, store, Arc::new(state), lock)))
}

/// Takes an exclusive lock on the data dir for the life of the process:
/// two servers on one data dir would delete each other's uploads at
/// start-up and race on repacks.
fn lock_data_dir(dir: &Path) -> Result<std::fs::File, StartError> {
    let state = dir.join(STATE_DIR_NAME);
    lock_in(&state).map_err(|e| data_dir_err(dir, e))
}

/// Creates `dir` (mode 0700) and takes the exclusive lock on `dir/lock`.
fn lock_in(dir: &Path) -> Result<std::fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    durable::private_dir_builder()
        .recursive(true)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(file),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(format!(
            "is in use by another vger-server process (it holds {}); stop it first",
            path.display()
        )),
        Err(e) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

/// Checks that the state dir cannot be mistaken for a repository, and
/// locks it too when it lies outside the data dir (two servers must not
/// share one state database either).
fn lock_state_dir(config: &Config) -> Result<Option<std::fs::File>, StartError> {
    let bad =
        |m: String| StartError::State(format!("state_dir {}: {m}", config.state_dir.display()));
    let default = config.data_dir.join(STATE_DIR_NAME);
    durable::private_dir_builder()
        .recursive(true)
        .create(&config.state_dir)
        .map_err(|e| bad(format!("cannot create it: {e}")))?;
    let (data, state, default) = match (
        config.data_dir.canonicalize(),
        config.state_dir.canonicalize(),
        default.canonicalize(),
    ) {
        (Ok(d), Ok(s), Ok(x)) => (d, s, x),
        (_, Err(e), _) | (Err(e), _, _) | (_, _, Err(e)) => {
            return Err(bad(format!("cannot resolve it: {e}")));
        }
    };
    if state == default {
        return Ok(None);
    }
    if let Ok(inside) = state.strip_prefix(&data) {
        let hidden = inside
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .is_some_and(|c| c.starts_with('.'));
        if !hidden {
            return Err(bad(format!(
                "lies inside data_dir {} where it would be served as a repository; put it outside data_dir, or in a directory whose name starts with a dot",
                config.data_dir.display()
            )));
        }
    }
    lock_in(&state).map(Some).map_err(bad)
}

/// Binds the configured address.
pub async fn bind(config: &Config) -> Result<TcpListener, StartError> {
    TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: format!("{} (listen in [server])", config.listen),
            source,
        })
}

/// Binds the admin API's address.
pub async fn bind_admin(config: &Config) -> Result<TcpListener, StartError> {
    TcpListener::bind(config.admin.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: format!("{} (listen in [admin])", config.admin.listen),
            source,
        })
}

/// Serves the admin API on `listener` until `shutdown` completes.
pub async fn serve_admin(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let limits = app.settings.connections;
    connections::serve(listener, http::admin::router(app), limits, shutdown).await;
}

/// Serves the client API on `listener` until `shutdown` completes, then
/// lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let limits = app.settings.connections;
    connections::serve(listener, http::router(app), limits, shutdown).await;
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down; finishing requests in flight");
}
