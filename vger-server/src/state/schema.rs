//! The schema and its migrations, versioned by SQLite's `user_version`.
//!
//! Each migration is applied once, in order, in its own transaction.
//! Later features add tables in new migrations; existing ones are never
//! edited after release.

use std::path::Path;

use rusqlite::Connection;

use super::db::{Opened, StateError, StateResult, sql_err};

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: repositories, their policies, counters and freshness; server locks.
    "
    CREATE TABLE repos (
        name TEXT PRIMARY KEY NOT NULL,
        created_at INTEGER NOT NULL,
        quota_bytes INTEGER,
        append_only INTEGER,
        freshness_threshold_seconds INTEGER,
        used_bytes INTEGER NOT NULL DEFAULT 0,
        objects INTEGER NOT NULL DEFAULT 0,
        packs INTEGER NOT NULL DEFAULT 0,
        last_backup_at INTEGER,
        pending_snapshot_at INTEGER,
        needs_reconcile INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE TABLE locks (
        repo TEXT NOT NULL,
        id TEXT NOT NULL,
        hostname TEXT NOT NULL,
        pid INTEGER NOT NULL,
        acquired_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (repo, id)
    ) STRICT;
    ",
    // 2: scoped client tokens (hashed) and the audit log.
    "
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL,
        digest BLOB NOT NULL UNIQUE,
        repo TEXT,
        mode TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER
    ) STRICT;
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        repo TEXT,
        detail TEXT NOT NULL,
        outcome TEXT NOT NULL
    ) STRICT;
    CREATE INDEX audit_at ON audit (at);
    CREATE INDEX audit_repo_at ON audit (repo, at);
    ",
];

/// The schema version this build writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema up to [`CURRENT_VERSION`]; refuses a newer one.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> StateResult<Opened> {
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sql_err("read the schema version"))?;
    if found > CURRENT_VERSION {
        return Err(StateError::Newer {
            path: path.display().to_string(),
            found,
            known: CURRENT_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as i64 + 1;
        let tx = conn.transaction().map_err(sql_err("begin a migration"))?;
        tx.execute_batch(sql)
            .map_err(sql_err(format!("migrate to schema version {version}")))?;
        tx.pragma_update(None, "user_version", version)
            .map_err(sql_err("record the schema version"))?;
        tx.commit()
            .map_err(sql_err(format!("commit schema version {version}")))?;
    }
    Ok(if found == 0 {
        Opened::Created
    } else {
        Opened::Existing
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_database_gets_the_current_version() {
        let mut c = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut c, Path::new("x")).unwrap(), Opened::Created);
        let v: i64 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, CURRENT_VERSION);
        assert_eq!(migrate(&mut c, Path::new("x")).unwrap(), Opened::Existing);
    }

    #[test]
    fn a_newer_database_is_refused_with_its_version() {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "user_version", CURRENT_VERSION + 1)
            .unwrap();
        let e = migrate(&mut c, Path::new("/s/state.sqlite3")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("/s/state.sqlite3"), "{msg}");
        assert!(
            msg.contains(&format!("version {}", CURRENT_VERSION + 1)),
            "{msg}"
        );
    }
}
