//! Append-only rules: history is write-once; what a backup must rewrite to
//! commit, and what clients use to coordinate, stays writable.

use shared_proto::Key;
use shared_proto::api::RepackPlan;

/// A refusal under append-only, naming the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("append-only: {0}")]
pub struct AppendOnlyRefusal(pub String);

/// Whether a PUT of `key` may replace an existing object.
pub fn may_replace(key: &Key) -> bool {
    key.kind().is_rewritable_in_append_only()
}

/// Checks a DELETE of `key`.
pub fn check_delete(key: &Key) -> Result<(), AppendOnlyRefusal> {
    if key.kind().is_deletable_in_append_only() {
        Ok(())
    } else {
        Err(AppendOnlyRefusal(format!(
            "{key} cannot be deleted; only locks/* and sessions/* may be deleted in an append-only repository"
        )))
    }
}

/// Batch-delete is refused outright.
pub fn batch_delete_refusal() -> AppendOnlyRefusal {
    AppendOnlyRefusal("batch-delete is refused in an append-only repository".into())
}

/// Repack may copy but not delete.
pub fn check_repack(plan: &RepackPlan) -> Result<(), AppendOnlyRefusal> {
    match plan.operations.iter().find(|op| op.delete_after) {
        Some(op) => Err(AppendOnlyRefusal(format!(
            "repack would delete {}; repack with delete_after is refused in an append-only repository",
            op.source_pack
        ))),
        None => Ok(()),
    }
}

/// The refusal for overwriting a write-once object.
pub fn overwrite_refusal(key: &Key) -> AppendOnlyRefusal {
    AppendOnlyRefusal(format!(
        "{key} already exists and is write-once; only manifest, index, index.gen, pending_index*, locks/* and sessions/* may be overwritten"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        Key::parse(s).unwrap()
    }

    #[test]
    fn history_is_write_once() {
        for k in ["config", "keys/repokey", "snapshots/a"] {
            assert!(!may_replace(&key(k)), "{k}");
            assert!(check_delete(&key(k)).is_err(), "{k}");
        }
    }

    #[test]
    fn commit_and_coordination_objects_stay_writable() {
        for k in [
            "manifest",
            "index",
            "index.gen",
            "pending_index",
            "locks/x",
            "sessions/y",
        ] {
            assert!(may_replace(&key(k)), "{k}");
        }
        assert!(check_delete(&key("locks/x")).is_ok());
        assert!(check_delete(&key("sessions/y")).is_ok());
        assert!(check_delete(&key("index")).is_err());
    }
}
