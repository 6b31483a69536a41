//! Server locks of the 0.7 lock API, with leases.
//!
//! A lock's lease runs `ttl` from the last mutating request to its
//! repository, not from when it was taken: 0.7 clients never refresh their
//! lock, so a long backup must keep it by working, and a crashed client's
//! lock must lapse on its own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use shared_proto::RepoName;
use shared_proto::api::{LockInfo, LockRequest};

/// One held lock.
#[derive(Debug, Clone)]
struct Held {
    hostname: String,
    pid: u64,
    acquired_at: SystemTime,
    expires: Instant,
}

/// Why a lock could not be taken or released.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Another holder's lock is still live.
    #[error(
        "lock {id} of {repo} is held by {hostname} (pid {pid}) until it is released or expires"
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
    },
}

/// All server locks, by repository and lock id.
#[derive(Debug)]
pub struct LockTable {
    ttl: Duration,
    locks: Mutex<HashMap<RepoName, HashMap<String, Held>>>,
}

impl LockTable {
    /// An empty table whose leases last `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// The lease length.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<RepoName, HashMap<String, Held>>) -> T) -> T {
        // A panic while holding the lock leaves plain data behind; keep going.
        let mut g = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// Takes lock `id` of `repo`. The same holder (host name and pid) may
    /// take it again, which renews it; anyone else is refused while it lives.
    pub fn acquire(&self, repo: &RepoName, id: &str, who: &LockRequest) -> Result<(), LockError> {
        let now = Instant::now();
        let expires = now + self.ttl;
        self.with(|all| {
            let repo_locks = all.entry(repo.clone()).or_default();
            if let Some(h) = repo_locks.get(id) {
                let same = h.hostname == who.hostname && h.pid == who.pid;
                if h.expires > now && !same {
                    return Err(LockError::Held {
                        repo: repo.to_string(),
                        id: id.to_owned(),
                        hostname: h.hostname.clone(),
                        pid: h.pid,
                    });
                }
            }
            repo_locks.insert(
                id.to_owned(),
                Held {
                    hostname: who.hostname.clone(),
                    pid: who.pid,
                    acquired_at: SystemTime::now(),
                    expires,
                },
            );
            Ok(())
        })
    }

    /// Releases lock `id`; `false` when no live lock had that id.
    pub fn release(&self, repo: &RepoName, id: &str) -> bool {
        let now = Instant::now();
        self.with(|all| {
            let Some(repo_locks) = all.get_mut(repo) else {
                return false;
            };
            let live = repo_locks.remove(id).is_some_and(|h| h.expires > now);
            if repo_locks.is_empty() {
                all.remove(repo);
            }
            live
        })
    }

    /// Renews the lease of every live lock of `repo`: called on each
    /// mutating request to it.
    pub fn touch(&self, repo: &RepoName) {
        let now = Instant::now();
        self.with(|all| {
            if let Some(repo_locks) = all.get_mut(repo) {
                for h in repo_locks.values_mut().filter(|h| h.expires > now) {
                    h.expires = now + self.ttl;
                }
            }
        });
    }

    /// Live locks of `repo`, sorted by id.
    pub fn list(&self, repo: &RepoName) -> Vec<LockInfo> {
        let now = Instant::now();
        let ttl = self.ttl.as_secs();
        self.with(|all| {
            let mut out: Vec<LockInfo> = all
                .get(repo)
                .into_iter()
                .flat_map(|m| m.iter())
                .filter(|(_, h)| h.expires > now)
                .map(|(id, h)| LockInfo {
                    id: id.clone(),
                    hostname: h.hostname.clone(),
                    pid: h.pid,
                    acquired_at: humantime::format_rfc3339_seconds(h.acquired_at).to_string(),
                    ttl_seconds: ttl,
                })
                .collect();
            out.sort_by(|a, b| a.id.cmp(&b.id));
            out
        })
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

    #[test]
    fn another_holder_is_refused_while_the_lock_lives() {
        let t = LockTable::new(Duration::from_secs(60));
        t.acquire(&repo(), "repo-lock", &who("a", 1)).unwrap();
        assert!(t.acquire(&repo(), "repo-lock", &who("b", 2)).is_err());
        assert!(t.acquire(&repo(), "repo-lock", &who("a", 1)).is_ok());
    }

    #[test]
    fn an_expired_lock_can_be_taken_and_is_not_listed() {
        let t = LockTable::new(Duration::from_millis(20));
        t.acquire(&repo(), "repo-lock", &who("a", 1)).unwrap();
        std::thread::sleep(Duration::from_millis(40));
        assert!(t.list(&repo()).is_empty());
        assert!(t.acquire(&repo(), "repo-lock", &who("b", 2)).is_ok());
    }

    #[test]
    fn touching_the_repo_renews_the_lease() {
        let t = LockTable::new(Duration::from_millis(80));
        t.acquire(&repo(), "repo-lock", &who("a", 1)).unwrap();
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(40));
            t.touch(&repo());
        }
        assert_eq!(t.list(&repo()).len(), 1);
    }

    #[test]
    fn release_reports_whether_a_live_lock_was_held() {
        let t = LockTable::new(Duration::from_secs(60));
        assert!(!t.release(&repo(), "repo-lock"));
        t.acquire(&repo(), "repo-lock", &who("a", 1)).unwrap();
        assert!(t.release(&repo(), "repo-lock"));
        assert!(!t.release(&repo(), "repo-lock"));
    }
}
