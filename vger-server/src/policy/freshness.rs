//! Backup freshness: when a repository last completed a backup.
//!
//! A 0.7 client stores `snapshots/<id>` early in a backup and commits by
//! rewriting `manifest` at the end; a backup that fails in between leaves
//! an orphan snapshot and did not complete. Later clients have no manifest
//! and commit by storing the snapshot last. So:
//! - with a manifest, a new snapshot is only *pending* until the next
//!   manifest write, which completes the backup;
//! - without one, a new snapshot completes the backup at once.
//!
//! A pending snapshot belongs to the lock session that wrote it: when a
//! new holder takes the server lock, or the lock is released, an
//! uncommitted snapshot is forgotten, so a prune after a failed backup is
//! not mistaken for a backup.

use crate::state::RepoRecord;

/// A new `snapshots/<id>` object was stored at `now` (Unix ms).
pub fn snapshot_created(record: &mut RepoRecord, repo_has_manifest: bool, now: i64) {
    if repo_has_manifest {
        record.pending_snapshot_at.get_or_insert(now);
    } else {
        record.last_backup_at = Some(now);
        record.pending_snapshot_at = None;
    }
}

/// `manifest` was written at `now` (Unix ms).
pub fn manifest_written(record: &mut RepoRecord, now: i64) {
    if record.pending_snapshot_at.take().is_some() {
        record.last_backup_at = Some(now);
    }
}

/// A lock session began or ended: a snapshot still pending was never
/// committed by its backup.
pub fn session_boundary(record: &mut RepoRecord) {
    record.pending_snapshot_at = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_write_after_a_new_snapshot_is_a_backup() {
        let mut r = RepoRecord::default();
        snapshot_created(&mut r, true, 10);
        assert_eq!(r.last_backup_at, None);
        manifest_written(&mut r, 20);
        assert_eq!(r.last_backup_at, Some(20));
    }

    #[test]
    fn a_manifest_write_alone_is_not_a_backup() {
        let mut r = RepoRecord::default();
        manifest_written(&mut r, 20);
        assert_eq!(r.last_backup_at, None);
    }

    #[test]
    fn without_a_manifest_a_new_snapshot_is_a_backup() {
        let mut r = RepoRecord::default();
        snapshot_created(&mut r, false, 10);
        assert_eq!(r.last_backup_at, Some(10));
    }

    #[test]
    fn a_snapshot_left_by_a_failed_session_does_not_make_the_next_manifest_a_backup() {
        let mut r = RepoRecord {
            last_backup_at: Some(1),
            ..RepoRecord::default()
        };
        snapshot_created(&mut r, true, 10);
        session_boundary(&mut r);
        manifest_written(&mut r, 20);
        assert_eq!(r.last_backup_at, Some(1));
    }
}
