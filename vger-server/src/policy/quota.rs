//! Quotas: which limit applies to a repository, and reservations that
//! hold bytes for uploads in flight so concurrent writes cannot jointly
//! exceed it.
//!
//! A write reserves what it may add before the bytes reach the disk
//! (Content-Length up front, otherwise chunk by chunk) and turns the
//! reservation into usage when it commits. Usage plus every reservation
//! never exceeds the limit, so neither does usage; the one exception is a
//! repack, which reserves its new packs less the sources it deletes, and
//! so may pass the limit while it runs by at most what it then frees.

use std::sync::Arc;

use shared_proto::RepoName;

use crate::state::{Entry, RepoRecord, State, StateError};

/// The byte limit of a repository: its override if set, else the server
/// default; `None` means unlimited (a limit of 0).
pub fn limit_for(record: Option<&RepoRecord>, default_bytes: u64) -> Option<u64> {
    let bytes = record.and_then(|r| r.quota_bytes).unwrap_or(default_bytes);
    (bytes > 0).then_some(bytes)
}

/// A write that does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "quota exceeded for repository {repo}: limit {limit} bytes, {used} bytes used{}, and this write needs {need} more bytes; free space (prune and compact) or ask the operator to raise the quota",
    if *reserved > 0 { format!(" and {reserved} reserved by uploads in progress") } else { String::new() }
)]
pub struct QuotaExceeded {
    /// Repository.
    pub repo: String,
    /// Its limit in bytes.
    pub limit: u64,
    /// Bytes stored.
    pub used: u64,
    /// Bytes reserved by other uploads.
    pub reserved: u64,
    /// Bytes the refused write needed beyond what it had reserved.
    pub need: u64,
}

/// Why bytes could not be reserved.
#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    /// They do not fit.
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    /// The state could not record the repository.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Checks whether `need` more bytes fit in `entry`, and reserves them.
fn reserve_in(
    repo: &RepoName,
    entry: &mut Entry,
    default_bytes: u64,
    need: u64,
) -> Result<(), QuotaExceeded> {
    if need == 0 {
        return Ok(());
    }
    if let Some(limit) = limit_for(Some(&entry.record), default_bytes) {
        let used = entry.record.counters.bytes;
        if used.saturating_add(entry.reserved).saturating_add(need) > limit {
            return Err(QuotaExceeded {
                repo: repo.to_string(),
                limit,
                used,
                reserved: entry.reserved,
                need,
            });
        }
    }
    entry.reserved = entry.reserved.saturating_add(need);
    Ok(())
}

/// Bytes held for one write; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    state: Arc<State>,
    repo: RepoName,
    default_bytes: u64,
    bytes: u64,
}

impl Reservation {
    /// An empty reservation on `repo`, whose default limit is `default_bytes`.
    pub fn new(state: Arc<State>, repo: RepoName, default_bytes: u64) -> Self {
        Self {
            state,
            repo,
            default_bytes,
            bytes: 0,
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Grows the reservation to at least `total` bytes, or refuses.
    pub fn grow_to(&mut self, total: u64) -> Result<(), ReserveError> {
        if total <= self.bytes {
            return Ok(());
        }
        let need = total - self.bytes;
        let (repo, default) = (&self.repo, self.default_bytes);
        self.state
            .repos
            .with_entry(repo, |e| reserve_in(repo, e, default, need))??;
        self.bytes = total;
        Ok(())
    }

    /// Turns up to `added` reserved bytes into usage: within `entry`'s
    /// mutex, the caller adds what the write really stored to the
    /// counters, and as much is taken off the reservation. What is left
    /// stays held for the rest of the operation (a repack's later packs)
    /// and is given back when the reservation is dropped.
    pub fn settle(&mut self, entry: &mut Entry, added: u64) {
        let taken = added.min(self.bytes);
        entry.reserved = entry.reserved.saturating_sub(taken);
        self.bytes -= taken;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes > 0 {
            let bytes = self.bytes;
            let _ = self.state.repos.with_entry(&self.repo, |e| {
                e.reserved = e.reserved.saturating_sub(bytes);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn state() -> Arc<State> {
        Arc::new(State::in_memory(Duration::from_secs(60)).unwrap())
    }

    fn repo() -> RepoName {
        RepoName::parse("r").unwrap()
    }

    #[test]
    fn the_override_beats_the_default_and_zero_means_unlimited() {
        let mut r = RepoRecord::default();
        assert_eq!(limit_for(Some(&r), 100), Some(100));
        assert_eq!(limit_for(None, 0), None);
        r.quota_bytes = Some(5);
        assert_eq!(limit_for(Some(&r), 100), Some(5));
        r.quota_bytes = Some(0);
        assert_eq!(limit_for(Some(&r), 100), None);
    }

    #[test]
    fn reservations_together_never_exceed_the_limit() {
        let s = state();
        let mut held = Vec::new();
        let mut refused = 0;
        for _ in 0..10 {
            let mut r = Reservation::new(s.clone(), repo(), 100);
            match r.grow_to(30) {
                Ok(()) => held.push(r),
                Err(ReserveError::Quota(q)) => {
                    assert_eq!((q.limit, q.need), (100, 30));
                    refused += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((held.len(), refused), (3, 7));
    }

    #[test]
    fn a_dropped_reservation_gives_its_bytes_back() {
        let s = state();
        let mut a = Reservation::new(s.clone(), repo(), 100);
        a.grow_to(100).unwrap();
        assert!(Reservation::new(s.clone(), repo(), 100).grow_to(1).is_err());
        drop(a);
        assert!(Reservation::new(s, repo(), 100).grow_to(100).is_ok());
    }

    #[test]
    fn settling_part_of_a_reservation_keeps_the_rest_held_until_dropped() {
        let s = state();
        let mut r = Reservation::new(s.clone(), repo(), 100);
        r.grow_to(60).unwrap();
        s.repos
            .with_entry(&repo(), |e| {
                r.settle(e, 20);
                e.record.counters.bytes += 20;
            })
            .unwrap();
        assert_eq!(r.bytes(), 40);
        // 20 used + 40 held: 40 more fit, 41 do not.
        assert!(
            Reservation::new(s.clone(), repo(), 100)
                .grow_to(41)
                .is_err()
        );
        drop(r);
        assert!(Reservation::new(s, repo(), 100).grow_to(80).is_ok());
    }

    #[test]
    fn the_message_names_the_repo_the_limit_and_the_usage() {
        let q = QuotaExceeded {
            repo: "laptop".into(),
            limit: 1000,
            used: 900,
            reserved: 50,
            need: 200,
        };
        let m = q.to_string();
        for part in [
            "laptop",
            "limit 1000 bytes",
            "900 bytes used",
            "50 reserved",
            "200 more",
        ] {
            assert!(m.contains(part), "{m}");
        }
    }
}
