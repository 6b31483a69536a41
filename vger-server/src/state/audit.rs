//! The audit log: every admin write and every destructive client action,
//! appended to the state database and never rewritten.

use std::sync::Arc;

use rusqlite::params;

use super::db::{Db, StateResult, sql_err};
use super::repos::now_ms;

/// One record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Its id (increasing).
    pub id: u64,
    /// Unix ms.
    pub at: i64,
    /// The token's label, with its kind.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// Which repository, if one.
    pub repo: Option<String>,
    /// What was asked.
    pub detail: String,
    /// `ok`, or why not.
    pub outcome: String,
}

/// Which records to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Oldest (Unix ms, inclusive).
    pub since: Option<i64>,
    /// Newest (Unix ms, inclusive).
    pub until: Option<i64>,
    /// Only this repository.
    pub repo: Option<String>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// The audit log.
#[derive(Debug)]
pub struct AuditLog {
    db: Arc<Db>,
}

impl AuditLog {
    /// The log in `db`.
    pub fn new(db: Arc<Db>) -> Self {
        Self { db }
    }

    /// Appends a record, durably, before the caller answers.
    pub fn append(
        &self,
        actor: &str,
        action: &str,
        repo: Option<&str>,
        detail: &str,
        outcome: &str,
    ) -> StateResult<()> {
        self.db.with(|c| {
            c.prepare_cached(
                "INSERT INTO audit (at, actor, action, repo, detail, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut st| st.execute(params![now_ms(), actor, action, repo, detail, outcome]))
            .map(|_| ())
            .map_err(sql_err("append to the audit log"))
        })
    }

    /// Records matching `filter`, newest first.
    pub fn query(&self, filter: &AuditFilter) -> StateResult<Vec<AuditRecord>> {
        self.db.with(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT id, at, actor, action, repo, detail, outcome FROM audit
                     WHERE at >= ?1 AND at <= ?2 AND (?3 IS NULL OR repo = ?3)
                     ORDER BY id DESC LIMIT ?4",
                )
                .map_err(sql_err("read the audit log"))?;
            st.query_map(
                params![
                    filter.since.unwrap_or(i64::MIN),
                    filter.until.unwrap_or(i64::MAX),
                    filter.repo,
                    filter.limit
                ],
                |r| {
                    Ok(AuditRecord {
                        id: r.get::<_, i64>(0)? as u64,
                        at: r.get(1)?,
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        repo: r.get(4)?,
                        detail: r.get(5)?,
                        outcome: r.get(6)?,
                    })
                },
            )
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql_err("read the audit log"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> AuditLog {
        let log = AuditLog::new(Arc::new(Db::open_in_memory().unwrap()));
        log.append("admin:ops", "quota.set", Some("a"), "10 B", "ok")
            .unwrap();
        log.append("client:x", "client.delete", Some("b"), "snapshots/1", "ok")
            .unwrap();
        log.append("admin:ops", "token.create", None, "label", "ok")
            .unwrap();
        log
    }

    #[test]
    fn records_come_back_newest_first() {
        let all = log()
            .query(&AuditFilter {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        let actions: Vec<&str> = all.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["token.create", "client.delete", "quota.set"]);
    }

    #[test]
    fn records_filter_by_repository_time_and_limit() {
        let log = log();
        let q = |f: AuditFilter| log.query(&f).unwrap().len();
        let base = AuditFilter {
            limit: 10,
            ..Default::default()
        };
        assert_eq!(
            q(AuditFilter {
                repo: Some("b".into()),
                ..base.clone()
            }),
            1
        );
        assert_eq!(
            q(AuditFilter {
                since: Some(now_ms() + 60_000),
                ..base.clone()
            }),
            0
        );
        assert_eq!(q(AuditFilter { limit: 2, ..base }), 2);
    }
}
