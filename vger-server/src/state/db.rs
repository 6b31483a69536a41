//! The state database: one SQLite file in WAL mode, opened once, with its
//! schema migrated at start-up.
//!
//! Every write commits with `synchronous = FULL`, so a change the server
//! has acted on survives a crash or power loss just as the objects do.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::Connection;

use super::schema;

/// File name of the database inside the state directory.
pub const DB_FILE_NAME: &str = "state.sqlite3";

/// Errors of the state layer.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The database was written by a newer server.
    #[error(
        "state database {path} has schema version {found}, newer than this vger-server understands (up to {known}); run the newer vger-server, or restore a state directory it wrote"
    )]
    Newer {
        /// The database file.
        path: String,
        /// Its schema version.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// A database operation failed.
    #[error("state database: {context}: {source}")]
    Sqlite {
        /// What the state layer was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// A repository's first save failed and it was dropped from memory
    /// while another change was recorded against it.
    #[error(
        "repository {repo} was dropped after its first save failed; its counters are rebuilt from the files at the next start"
    )]
    Forgotten {
        /// The repository.
        repo: String,
    },
    /// The state directory cannot be used.
    #[error("state directory {path}: {source}")]
    Dir {
        /// The directory.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl StateError {
    /// Whether the failure is a full disk, which deserves a 507.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self,
            Self::Sqlite {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            } if e.code == rusqlite::ErrorCode::DiskFull
        )
    }
}

/// Attaches what was being done to a SQLite error.
pub(crate) fn sql_err(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> StateError {
    let context = context.into();
    move |source| StateError::Sqlite { context, source }
}

/// Shorthand for state results.
pub type StateResult<T> = Result<T, StateError>;

/// The open database.
#[derive(Debug)]
pub struct Db {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// How the database was found when opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// It did not exist (or was empty) and was created: the server knows
    /// nothing yet and must rebuild its state from the files.
    Created,
    /// It existed and was migrated if needed.
    Existing,
}

impl Db {
    /// Opens (creating if needed) the database in `state_dir`.
    pub fn open(state_dir: &Path) -> StateResult<(Self, Opened)> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(|source| StateError::Dir {
                path: state_dir.display().to_string(),
                source,
            })?;
        let path = state_dir.join(DB_FILE_NAME);
        let conn = Connection::open(&path).map_err(sql_err(format!("open {}", path.display())))?;
        // SQLite creates its files 0644 less the umask, and gives the WAL
        // and shared-memory files the database's mode: making the database
        // private before WAL mode is set makes all three private, also for
        // files an older version left open to others.
        for suffix in ["", "-wal", "-shm"] {
            let file = state_dir.join(format!("{DB_FILE_NAME}{suffix}"));
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StateError::Dir {
                        path: file.display().to_string(),
                        source: e,
                    });
                }
                _ => {}
            }
        }
        Self::setup(conn, path)
    }

    /// A private in-memory database, for tests.
    pub fn open_in_memory() -> StateResult<Self> {
        let conn = Connection::open_in_memory().map_err(sql_err("open in memory"))?;
        Ok(Self::setup(conn, PathBuf::from(":memory:"))?.0)
    }

    fn setup(mut conn: Connection, path: PathBuf) -> StateResult<(Self, Opened)> {
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(sql_err("set the busy timeout"))?;
        // WAL: readers never block the writer; FULL: a commit is on disk
        // before it returns.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql_err("enable WAL"))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql_err("set synchronous"))?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sql_err("enable foreign keys"))?;
        let opened = schema::migrate(&mut conn, &path)?;
        Ok((
            Self {
                conn: Mutex::new(conn),
                path,
            },
            opened,
        ))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with the connection. Callers keep `f` short: one statement
    /// or one transaction.
    pub fn with<T>(&self, f: impl FnOnce(&mut Connection) -> StateResult<T>) -> StateResult<T> {
        // A panic in another caller leaves a usable connection (SQLite
        // rolls back an unfinished transaction when it is reused).
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }

    /// Whether the database file is still in place and answers a
    /// trivial query.
    pub fn check(&self) -> StateResult<()> {
        if self.path != Path::new(":memory:") {
            std::fs::metadata(&self.path).map_err(|source| StateError::Dir {
                path: self.path.display().to_string(),
                source,
            })?;
        }
        self.with(|c| {
            c.query_row("SELECT count(*) FROM repos", [], |_| Ok(()))
                .map_err(sql_err("read"))
        })
    }
}
