//! What the server remembers of each repository: policies, usage counters
//! and freshness, kept in memory for O(1) reads and written through to
//! the database on every change.
//!
//! Each repository has two mutexes: the entry's, held only for memory
//! work (request threads read it for quota checks and stats), and a save
//! mutex, held while a row is written. Every save writes the entry as it
//! stands when the save starts, so saves land in the order the changes
//! were made and the database never holds an older row than one already
//! acted upon. Concurrent writers share saves (group commit): a writer
//! whose change was already included in someone else's save returns
//! without writing again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, params};
use shared_proto::RepoName;

use super::db::{Db, StateError, StateResult, sql_err};

/// Object counts of a repository.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Bytes of all objects.
    pub bytes: u64,
    /// Number of objects.
    pub objects: u64,
    /// Number of packs.
    pub packs: u64,
}

/// The persistent record of one repository. Times are Unix milliseconds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RepoRecord {
    /// When the server first saw the repository.
    pub created_at: i64,
    /// Quota override in bytes (`Some(0)` = unlimited); `None` = server default.
    pub quota_bytes: Option<u64>,
    /// Append-only override; `Some(true)` turns it on for this repository.
    pub append_only: Option<bool>,
    /// How old the last backup may get before operators are alerted.
    pub freshness_threshold_seconds: Option<u64>,
    /// Usage counters.
    pub counters: Counters,
    /// When a backup last completed.
    pub last_backup_at: Option<i64>,
    /// When a new snapshot was stored that no manifest write has committed yet.
    pub pending_snapshot_at: Option<i64>,
    /// The files may have changed without the counters (a run that did not
    /// shut down cleanly was writing): rebuild them before trusting them.
    pub needs_reconcile: bool,
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The last instant RFC 3339 can write (9999-12-31T23:59:59Z), in ms.
const LAST_RFC3339_MS: i64 = 253_402_300_799_000;

/// Unix milliseconds as RFC 3339 (UTC, seconds), clamped to the years
/// RFC 3339 can write (a file's mtime can be anything).
pub fn rfc3339_ms(ms: i64) -> String {
    let ms = ms.clamp(0, LAST_RFC3339_MS) as u64;
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// A repository's live entry: its record, and what lives in memory only
/// (reservations and overwrite credits of uploads in flight die with the
/// process).
#[derive(Debug, Default)]
pub struct Entry {
    /// The record as last changed.
    pub record: RepoRecord,
    /// Bytes reserved by uploads not yet committed.
    pub reserved: u64,
    /// Keys whose current size an upload in flight may count as credit:
    /// only one upload per key gets it, so concurrent overwrites cannot
    /// each stream the old size for free.
    pub credited: HashSet<String>,
    /// Whether this run has already marked the repository as changing.
    marked: bool,
    /// A save failed: the saved counters may be behind the files, so the
    /// repository stays marked for a rebuild even at a clean shutdown.
    drifted: bool,
    /// The counters describe the files: loaded from the database, counted
    /// from the files, or started at zero for a repository that did not
    /// exist on disk. An entry made any other way (a repository copied in
    /// while the server runs) is counted before it is trusted.
    pub counted: bool,
    /// Number of changes applied; a save covers all changes up to the
    /// version it read.
    version: u64,
}

/// One repository's entry, and the mutex that orders its saves. The entry
/// mutex is only ever held for in-memory work, so request threads that
/// read it (quota checks, stats) never wait for a disk write. The save
/// mutex holds the version of the entry last saved.
#[derive(Debug, Default)]
struct Slot {
    entry: Mutex<Entry>,
    save: Mutex<u64>,
}

const COLUMNS: &str = "name, created_at, quota_bytes, append_only, freshness_threshold_seconds, used_bytes, objects, packs, last_backup_at, pending_snapshot_at, needs_reconcile";

fn save_row(conn: &Connection, name: &RepoName, r: &RepoRecord) -> StateResult<()> {
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO repos ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))
    .and_then(|mut st| {
        st.execute(params![
            name.as_str(),
            r.created_at,
            r.quota_bytes.map(|q| q as i64),
            r.append_only,
            r.freshness_threshold_seconds.map(|s| s as i64),
            r.counters.bytes as i64,
            r.counters.objects as i64,
            r.counters.packs as i64,
            r.last_backup_at,
            r.pending_snapshot_at,
            r.needs_reconcile,
        ])
    })
    .map(|_| ())
    .map_err(sql_err(format!("save repository {name}")))
}

fn row_to_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, RepoRecord)> {
    Ok((
        row.get(0)?,
        RepoRecord {
            created_at: row.get(1)?,
            quota_bytes: row.get::<_, Option<i64>>(2)?.map(|v| v as u64),
            append_only: row.get(3)?,
            freshness_threshold_seconds: row.get::<_, Option<i64>>(4)?.map(|v| v as u64),
            counters: Counters {
                bytes: row.get::<_, i64>(5)? as u64,
                objects: row.get::<_, i64>(6)? as u64,
                packs: row.get::<_, i64>(7)? as u64,
            },
            last_backup_at: row.get(8)?,
            pending_snapshot_at: row.get(9)?,
            needs_reconcile: row.get(10)?,
        },
    ))
}

type Shared = Arc<Slot>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Every known repository, by name.
#[derive(Debug)]
pub struct Repos {
    db: Arc<Db>,
    map: Mutex<HashMap<RepoName, Shared>>,
}

impl Repos {
    /// Loads every repository record from the database.
    pub fn load(db: Arc<Db>) -> StateResult<Self> {
        let rows = db.with(|c| {
            let mut st = c
                .prepare(&format!("SELECT {COLUMNS} FROM repos"))
                .map_err(sql_err("read repositories"))?;
            let rows = st
                .query_map([], row_to_record)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(sql_err("read repositories"))?;
            Ok(rows)
        })?;
        let mut map = HashMap::new();
        for (name, record) in rows {
            match RepoName::parse(&name) {
                Ok(n) => {
                    let slot = Slot::default();
                    {
                        let mut e = lock(&slot.entry);
                        e.record = record;
                        e.counted = true;
                    }
                    map.insert(n, Arc::new(slot));
                }
                Err(e) => {
                    tracing::warn!(repo = %name.escape_debug(), error = %e, "ignoring a repository row with an invalid name")
                }
            }
        }
        Ok(Self {
            db,
            map: Mutex::new(map),
        })
    }

    fn map(&self) -> MutexGuard<'_, HashMap<RepoName, Shared>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn entry(&self, repo: &RepoName) -> Option<Shared> {
        self.map().get(repo).cloned()
    }

    /// A copy of `repo`'s record, if the server knows it.
    pub fn get(&self, repo: &RepoName) -> Option<RepoRecord> {
        self.entry(repo).map(|e| lock(&e.entry).record.clone())
    }

    /// Names of every known repository, sorted.
    pub fn names(&self) -> Vec<RepoName> {
        let mut names: Vec<RepoName> = self.map().keys().cloned().collect();
        names.sort();
        names
    }

    /// The entry of `repo`, created if the server did not know it. A new
    /// repository is saved at once, marked for a rebuild until its
    /// counters are saved by a change or a count, so a crash in between
    /// cannot leave it at zero.
    fn entry_or_create(&self, repo: &RepoName) -> StateResult<Shared> {
        if let Some(e) = self.entry(repo) {
            return Ok(e);
        }
        let slot = self.map().entry(repo.clone()).or_default().clone();
        let _save = lock(&slot.save);
        let record = {
            let mut e = lock(&slot.entry);
            if e.record.created_at != 0 {
                return Ok(slot.clone());
            }
            e.record.created_at = now_ms();
            e.record.needs_reconcile = true;
            e.record.clone()
        };
        if let Err(err) = self.db.with(|c| save_row(c, repo, &record)) {
            // Forget the unsaved entry, so the next caller starts afresh.
            lock(&slot.entry).record.created_at = 0;
            self.map().remove(repo);
            return Err(err);
        }
        drop(_save);
        Ok(slot)
    }

    /// Applies `f` to `repo`'s entry and saves the record. The change is
    /// made in memory at once (it describes files that already changed);
    /// if the save fails, the repository stays marked for a rebuild.
    pub fn record<T>(&self, repo: &RepoName, f: impl FnOnce(&mut Entry) -> T) -> StateResult<T> {
        let (out, version) = self.apply(repo, f)?;
        self.persist(repo, version)?;
        Ok(out)
    }

    /// Applies `f` to `repo`'s entry in memory only and returns the
    /// version to [`persist`](Self::persist) before the change is acted
    /// upon. Never waits for a disk write once the repository is known.
    pub fn apply<T>(
        &self,
        repo: &RepoName,
        f: impl FnOnce(&mut Entry) -> T,
    ) -> StateResult<(T, u64)> {
        let slot = self.entry_or_create(repo)?;
        let mut e = lock(&slot.entry);
        let out = f(&mut e);
        e.version += 1;
        Ok((out, e.version))
    }

    /// Saves `repo`'s record unless a save since `version` was applied
    /// already covers it. Writers that arrive while a save is running
    /// wait for it, then find their change saved or save everything
    /// applied so far in one write.
    pub fn persist(&self, repo: &RepoName, version: u64) -> StateResult<()> {
        let Some(slot) = self.entry(repo) else {
            return Err(StateError::Forgotten {
                repo: repo.to_string(),
            });
        };
        let mut saved = lock(&slot.save);
        if *saved >= version {
            return Ok(());
        }
        let (record, upto) = {
            let e = lock(&slot.entry);
            (e.record.clone(), e.version)
        };
        if let Err(err) = self.db.with(|c| save_row(c, repo, &record)) {
            lock(&slot.entry).drifted = true;
            return Err(err);
        }
        *saved = upto;
        Ok(())
    }

    /// Called before this run first changes `repo` on disk: records the
    /// repository if new and marks it as changing, so that a crash from
    /// here on makes the next start rebuild its counters. Writes to the
    /// database at most once per repository per run.
    ///
    /// With `empty`, the repository does not exist on disk, so a new
    /// entry's zero counters are right.
    pub fn begin_change(&self, repo: &RepoName, empty: bool) -> StateResult<()> {
        if self.is_marked(repo) {
            return Ok(());
        }
        let slot = self.entry_or_create(repo)?;
        if empty {
            let mut e = lock(&slot.entry);
            if e.record.counters == Counters::default() {
                e.counted = true;
            }
        }
        let _save = lock(&slot.save);
        let record = {
            let e = lock(&slot.entry);
            if e.marked {
                return Ok(());
            }
            let mut r = e.record.clone();
            r.needs_reconcile = true;
            r
        };
        self.db.with(|c| save_row(c, repo, &record))?;
        let mut e = lock(&slot.entry);
        e.record.needs_reconcile = true;
        e.marked = true;
        Ok(())
    }

    /// Whether `repo` was already marked as changing in this run.
    pub fn is_marked(&self, repo: &RepoName) -> bool {
        self.entry(repo).is_some_and(|e| lock(&e.entry).marked)
    }

    /// Whether `repo`'s counters describe its files (see [`Entry::counted`]).
    pub fn is_counted(&self, repo: &RepoName) -> bool {
        self.entry(repo).is_some_and(|e| lock(&e.entry).counted)
    }

    /// Runs `f` on `repo`'s entry without saving: for reservations and
    /// credits, which live in memory only. Never waits for a disk write
    /// once the repository is known.
    pub fn with_entry<T>(
        &self,
        repo: &RepoName,
        f: impl FnOnce(&mut Entry) -> T,
    ) -> StateResult<T> {
        let slot = self.entry_or_create(repo)?;
        let mut e = lock(&slot.entry);
        Ok(f(&mut e))
    }

    /// Changes `repo`'s policies (quota, append-only, freshness
    /// threshold): applied only once saved.
    pub fn set_policy(&self, repo: &RepoName, f: impl FnOnce(&mut RepoRecord)) -> StateResult<()> {
        let slot = self.entry_or_create(repo)?;
        let _save = lock(&slot.save);
        let mut record = lock(&slot.entry).record.clone();
        f(&mut record);
        self.db.with(|c| save_row(c, repo, &record))?;
        let mut e = lock(&slot.entry);
        e.record.quota_bytes = record.quota_bytes;
        e.record.append_only = record.append_only;
        e.record.freshness_threshold_seconds = record.freshness_threshold_seconds;
        Ok(())
    }

    /// Forgets `repo` entirely (its files are gone): its row, its
    /// policies, its counters.
    pub fn forget(&self, repo: &RepoName) -> StateResult<()> {
        let slot = self.entry(repo);
        let _save = slot.as_ref().map(|s| lock(&s.save));
        self.db.with(|c| {
            c.execute("DELETE FROM repos WHERE name = ?1", [repo.as_str()])
                .map(|_| ())
                .map_err(sql_err(format!("forget repository {repo}")))
        })?;
        self.map().remove(repo);
        Ok(())
    }

    /// Called at a clean shutdown, when no change is in flight: saves every
    /// record as it stands in memory, in one transaction, as settled, so
    /// the next start need not count them; a repository whose earlier save
    /// failed stays marked for a rebuild.
    pub fn mark_all_settled(&self) -> StateResult<()> {
        let slots: Vec<(RepoName, Shared)> = self
            .map()
            .iter()
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        // Hold every save mutex, so no older row lands after ours.
        let _saves: Vec<MutexGuard<'_, u64>> = slots.iter().map(|(_, s)| lock(&s.save)).collect();
        let records: Vec<(RepoName, RepoRecord)> = slots
            .iter()
            .map(|(n, s)| {
                let e = lock(&s.entry);
                let mut r = e.record.clone();
                r.needs_reconcile = e.drifted || !e.counted;
                (n.clone(), r)
            })
            .collect();
        self.db.with(|c| {
            let tx = c.transaction().map_err(sql_err("begin settling"))?;
            for (n, r) in &records {
                save_row(&tx, n, r)?;
            }
            tx.commit().map_err(sql_err("commit settling"))
        })?;
        for ((_, slot), (_, r)) in slots.iter().zip(&records) {
            let mut e = lock(&slot.entry);
            e.record.needs_reconcile = r.needs_reconcile;
            e.marked = false;
        }
        Ok(())
    }

    /// Repositories whose counters must be rebuilt before use.
    pub fn needing_reconcile(&self) -> Vec<RepoName> {
        let mut v: Vec<RepoName> = self
            .map()
            .iter()
            .filter(|(_, e)| lock(&e.entry).record.needs_reconcile)
            .map(|(n, _)| n.clone())
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(n: &str) -> RepoName {
        RepoName::parse(n).unwrap()
    }

    fn db() -> Arc<Db> {
        Arc::new(Db::open_in_memory().unwrap())
    }

    #[test]
    fn a_recorded_change_is_read_back_after_reloading() {
        let db = db();
        let repos = Repos::load(db.clone()).unwrap();
        repos
            .record(&repo("a"), |e| {
                e.record.counters.bytes = 42;
                e.record.last_backup_at = Some(7);
            })
            .unwrap();
        let again = Repos::load(db).unwrap();
        let r = again.get(&repo("a")).unwrap();
        assert_eq!(r.counters.bytes, 42);
        assert_eq!(r.last_backup_at, Some(7));
        assert!(r.created_at > 0);
    }

    #[test]
    fn a_change_marks_the_repository_until_a_clean_shutdown() {
        let db = db();
        let repos = Repos::load(db.clone()).unwrap();
        repos.begin_change(&repo("a"), true).unwrap();
        assert_eq!(
            Repos::load(db.clone()).unwrap().needing_reconcile(),
            vec![repo("a")]
        );
        repos.mark_all_settled().unwrap();
        assert!(Repos::load(db).unwrap().needing_reconcile().is_empty());
    }

    #[test]
    fn policies_survive_a_reload() {
        let db = db();
        let repos = Repos::load(db.clone()).unwrap();
        repos
            .set_policy(&repo("a"), |r| {
                r.quota_bytes = Some(10);
                r.append_only = Some(true);
                r.freshness_threshold_seconds = Some(86400);
            })
            .unwrap();
        let r = Repos::load(db).unwrap().get(&repo("a")).unwrap();
        assert_eq!(
            (r.quota_bytes, r.append_only, r.freshness_threshold_seconds),
            (Some(10), Some(true), Some(86400))
        );
    }
}
