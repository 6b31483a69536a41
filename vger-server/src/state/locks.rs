//! Server locks of the 0.7 lock API, with leases, kept in the state
//! database so a restart does not drop a lock a running backup holds.
//!
//! A lock's lease runs `ttl` from the last mutating request to its
//! repository, not from when it was taken: 0.7 clients never refresh their
//! lock, so a long backup must keep it by working, and a crashed client's
//! lock must lapse on its own. Lease times are wall-clock Unix
//! milliseconds, so they mean the same after a restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::params;
use shared_proto::RepoName;
use shared_proto::api::{LockInfo, LockRequest};

use super::db::{Db, StateError, StateResult, sql_err};
use super::repos::{now_ms, rfc3339_ms};

/// One held lock.
#[derive(Debug, Clone)]
struct Held {
    hostname: String,
    pid: u64,
    acquired_at: i64,
    expires_at: i64,
    /// The expiry last written to the database; renewals are saved lazily.
    saved_expires_at: i64,
}

/// Why a lock could not be taken or released.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another holder's lock is still live.
    #[error(
        "lock {id} of {repo} is held by {hostname:?} (pid {pid}) since {since}; it is released by its holder or expires {ttl_seconds} s after the repository's last write"
    )]
    Held {
        /// Repository.
        repo: String,
        /// Lock id.
        id: String,
        /// Holder's host name.
        hostname: String,
        /// Holder's pid.
        pid: u64,
        /// When it was taken (RFC 3339).
        since: String,
        /// The lease length.
        ttl_seconds: u64,
    },
    /// The lock could not be saved.
    #[error(transparent)]
    State(#[from] StateError),
}

/// What [`LockTable::acquire`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// A new holder took the lock: a new session on the repository begins.
    Fresh,
    /// The holder already had it; its lease was renewed.
    Renewed,
}

/// One live lock, for the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveLock {
    /// The repository.
    pub repo: RepoName,
    /// Lock id.
    pub id: String,
    /// Holder's host name.
    pub hostname: String,
    /// Holder's pid.
    pub pid: u64,
    /// Unix ms when taken.
    pub acquired_at: i64,
    /// Unix ms when the lease lapses unless renewed.
    pub expires_at: i64,
}

type Table = HashMap<RepoName, HashMap<String, Held>>;

/// All server locks, by repository and lock id.
#[derive(Debug)]
pub struct LockTable {
    ttl: Duration,
    db: Arc<Db>,
    locks: Mutex<Table>,
    /// Held by every change from its decision until it is saved, so saves
    /// land in order while the table mutex is only held for memory work
    /// (request threads list locks without waiting for a disk write).
    save: Mutex<()>,
}

impl LockTable {
    /// Loads the live locks from the database, forgetting expired ones.
    pub fn load(db: Arc<Db>, ttl: Duration) -> StateResult<Self> {
        let now = now_ms();
        let rows = db.with(|c| {
            c.execute("DELETE FROM locks WHERE expires_at <= ?1", [now])
                .map_err(sql_err("forget expired locks"))?;
            let mut st = c
                .prepare("SELECT repo, id, hostname, pid, acquired_at, expires_at FROM locks")
                .map_err(sql_err("read locks"))?;
            st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    Held {
                        hostname: r.get(2)?,
                        pid: r.get::<_, i64>(3)? as u64,
                        acquired_at: r.get(4)?,
                        expires_at: r.get(5)?,
                        saved_expires_at: r.get(5)?,
                    },
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql_err("read locks"))
        })?;
        let mut table = Table::new();
        for (repo, id, held) in rows {
            if let Ok(repo) = RepoName::parse(&repo) {
                table.entry(repo).or_default().insert(id, held);
            }
        }
        Ok(Self {
            ttl,
            db,
            locks: Mutex::new(table),
            save: Mutex::new(()),
        })
    }

    fn ttl_ms(&self) -> i64 {
        self.ttl.as_millis() as i64
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.locks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn saving(&self) -> MutexGuard<'_, ()> {
        self.save.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, repo: &RepoName, id: &str, h: &Held) -> StateResult<()> {
        self.db.with(|c| {
            c.prepare_cached(
                "INSERT OR REPLACE INTO locks (repo, id, hostname, pid, acquired_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    repo.as_str(),
                    id,
                    h.hostname,
                    h.pid as i64,
                    h.acquired_at,
                    h.expires_at
                ])
            })
            .map(|_| ())
            .map_err(sql_err(format!("save lock {id} of {repo}")))
        })
    }

    fn forget(&self, repo: &RepoName, id: &str) -> StateResult<()> {
        self.db.with(|c| {
            c.execute(
                "DELETE FROM locks WHERE repo = ?1 AND id = ?2",
                params![repo.as_str(), id],
            )
            .map(|_| ())
            .map_err(sql_err(format!("remove lock {id} of {repo}")))
        })
    }

    /// Takes lock `id` of `repo`. The same holder (host name and pid) may
    /// take it again, which renews it; anyone else is refused while it
    /// lives. The lock is saved before this returns.
    pub fn acquire(
        &self,
        repo: &RepoName,
        id: &str,
        who: &LockRequest,
    ) -> Result<Acquired, LockError> {
        let now = now_ms();
        let _save = self.saving();
        let current = self.table().get(repo).and_then(|m| m.get(id)).cloned();
        let mut acquired = Acquired::Fresh;
        let mut acquired_at = now;
        if let Some(h) = current.filter(|h| h.expires_at > now) {
            if h.hostname != who.hostname || h.pid != who.pid {
                return Err(LockError::Held {
                    repo: repo.to_string(),
                    id: id.to_owned(),
                    hostname: h.hostname.clone(),
                    pid: h.pid,
                    since: rfc3339_ms(h.acquired_at),
                    ttl_seconds: self.ttl.as_secs(),
                });
            }
            acquired = Acquired::Renewed;
            acquired_at = h.acquired_at;
        }
        let held = Held {
            hostname: who.hostname.clone(),
            pid: who.pid,
            acquired_at,
            expires_at: now + self.ttl_ms(),
            saved_expires_at: now + self.ttl_ms(),
        };
        self.save(repo, id, &held)?;
        self.table()
            .entry(repo.clone())
            .or_default()
            .insert(id.to_owned(), held);
        Ok(acquired)
    }

    /// Releases lock `id`; `false` when no live lock had that id.
    pub fn release(&self, repo: &RepoName, id: &str) -> StateResult<bool> {
        let now = now_ms();
        let _save = self.saving();
        let Some(held) = self.table().get(repo).and_then(|m| m.get(id)).cloned() else {
            return Ok(false);
        };
        self.forget(repo, id)?;
        let mut all = self.table();
        if let Some(m) = all.get_mut(repo) {
            m.remove(id);
            if m.is_empty() {
                all.remove(repo);
            }
        }
        Ok(held.expires_at > now)
    }

    /// Renews the lease of every live lock of `repo`: called on each
    /// mutating request to it. The database copy is brought up to date
    /// when it lags by more than a quarter of the lease or a second,
    /// whichever is less, so a busy backup costs about one write a second
    /// rather than one per request, and a restart shortens a lease by at
    /// most that much.
    pub fn touch(&self, repo: &RepoName) -> StateResult<()> {
        let now = now_ms();
        let slack = (self.ttl_ms() / 4).min(1000);
        let _save = self.saving();
        let due: Vec<(String, Held)> = {
            let mut all = self.table();
            let Some(m) = all.get_mut(repo) else {
                return Ok(());
            };
            m.iter_mut()
                .filter(|(_, h)| h.expires_at > now)
                .filter_map(|(id, h)| {
                    h.expires_at = now + self.ttl_ms();
                    (h.expires_at - h.saved_expires_at > slack).then(|| (id.clone(), h.clone()))
                })
                .collect()
        };
        for (id, h) in due {
            self.save(repo, &id, &h)?;
            if let Some(live) = self.table().get_mut(repo).and_then(|m| m.get_mut(&id)) {
                live.saved_expires_at = h.expires_at;
            }
        }
        Ok(())
    }

    /// Whether `repo` holds any lock (expired or not); lets callers skip
    /// [`touch`](Self::touch) cheaply.
    pub fn has_locks(&self, repo: &RepoName) -> bool {
        self.table().contains_key(repo)
    }

    /// Every live lock of every repository, sorted by repository and id.
    pub fn all_live(&self) -> Vec<LiveLock> {
        self.live(None)
    }

    /// The live locks of `repo`, sorted by id.
    pub fn live_of(&self, repo: &RepoName) -> Vec<LiveLock> {
        self.live(Some(repo))
    }

    fn live(&self, only: Option<&RepoName>) -> Vec<LiveLock> {
        let now = now_ms();
        let all = self.table();
        let repos: Vec<(&RepoName, &HashMap<String, Held>)> = match only {
            Some(r) => all.get_key_value(r).into_iter().collect(),
            None => all.iter().collect(),
        };
        let mut out: Vec<LiveLock> = repos
            .into_iter()
            .flat_map(|(repo, m)| m.iter().map(move |(id, h)| (repo, id, h)))
            .filter(|(_, _, h)| h.expires_at > now)
            .map(|(repo, id, h)| LiveLock {
                repo: repo.clone(),
                id: id.clone(),
                hostname: h.hostname.clone(),
                pid: h.pid,
                acquired_at: h.acquired_at,
                expires_at: h.expires_at,
            })
            .collect();
        out.sort_by(|a, b| (&a.repo, &a.id).cmp(&(&b.repo, &b.id)));
        out
    }

    /// Forgets every lock of `repo` (the repository is being deleted).
    pub fn forget_repo(&self, repo: &RepoName) -> StateResult<()> {
        let _save = self.saving();
        self.db.with(|c| {
            c.execute("DELETE FROM locks WHERE repo = ?1", [repo.as_str()])
                .map(|_| ())
                .map_err(sql_err(format!("remove the locks of {repo}")))
        })?;
        self.table().remove(repo);
        Ok(())
    }

    /// Live locks of `repo`, sorted by id.
    pub fn list(&self, repo: &RepoName) -> Vec<LockInfo> {
        let now = now_ms();
        let ttl = self.ttl.as_secs();
        let all = self.table();
        let mut out: Vec<LockInfo> = all
            .get(repo)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(|(_, h)| h.expires_at > now)
            .map(|(id, h)| LockInfo {
                id: id.clone(),
                hostname: h.hostname.clone(),
                pid: h.pid,
                acquired_at: rfc3339_ms(h.acquired_at),
                ttl_seconds: ttl,
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> RepoName {
        RepoName::parse("r").unwrap()
    }

    fn who(host: &str, pid: u64) -> LockRequest {
        LockRequest {
            hostname: host.into(),
            pid,
        }
    }

    fn table(db: &Arc<Db>, ttl: Duration) -> LockTable {
        LockTable::load(db.clone(), ttl).unwrap()
    }

    fn db() -> Arc<Db> {
        Arc::new(Db::open_in_memory().unwrap())
    }

    #[test]
    fn another_holder_is_refused_while_the_lock_lives() {
        let t = table(&db(), Duration::from_secs(60));
        assert_eq!(
            t.acquire(&repo(), "repo-lock", &who("a", 1)).unwrap(),
            Acquired::Fresh
        );
        assert!(t.acquire(&repo(), "repo-lock", &who("b", 2)).is_err());
        assert_eq!(
            t.acquire(&repo(), "repo-lock", &who("a", 1)).unwrap(),
            Acquired::Renewed
        );
    }

    #[test]
    fn an_expired_lock_can_be_taken_and_is_not_listed() {
        let t = table(&db(), Duration::from_millis(20));
        t.acquire(&repo(), "repo-lock", &who("a", 1)).unwrap();
        std::thread::sleep(Duration::from_millis(40));
        assert!(t.list(&repo()).is_empty());
        assert!(t.acquire(&repo(), "repo-lock", &who("b", 2)).is_ok());
    }

    #[test]
    fn touching_the_repo_renews_the_lease() {
        let t = table(&db(), Duration::from_millis(80));
        t.acquire(&repo(), "repo-lock", &who("a", 1)).unwrap();
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(40));
            t.touch(&repo()).unwrap();
        }
        assert_eq!(t.list(&repo()).len(), 1);
    }

    #[test]
    fn release_reports_whether_a_live_lock_was_held() {
        let t = table(&db(), Duration::from_secs(60));
        assert!(!t.release(&repo(), "repo-lock").unwrap());
        t.acquire(&repo(), "repo-lock", &who("a", 1)).unwrap();
        assert!(t.release(&repo(), "repo-lock").unwrap());
        assert!(!t.release(&repo(), "repo-lock").unwrap());
    }

    #[test]
    fn a_lock_survives_reloading_the_table() {
        let db = db();
        let t = table(&db, Duration::from_secs(60));
        t.acquire(&repo(), "repo-lock", &who("a", 1)).unwrap();
        let again = table(&db, Duration::from_secs(60));
        assert_eq!(again.list(&repo()), t.list(&repo()));
        assert!(again.acquire(&repo(), "repo-lock", &who("b", 2)).is_err());
    }

    #[test]
    fn a_released_lock_is_gone_after_reloading() {
        let db = db();
        let t = table(&db, Duration::from_secs(60));
        t.acquire(&repo(), "repo-lock", &who("a", 1)).unwrap();
        t.release(&repo(), "repo-lock").unwrap();
        assert!(table(&db, Duration::from_secs(60)).list(&repo()).is_empty());
    }
}
