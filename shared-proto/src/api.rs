//! JSON bodies of the client REST API (see `docs/protocol.md`).

use serde::{Deserialize, Serialize};

/// Highest repack / verify-packs `protocol_version` the server understands.
pub const MAX_PLAN_PROTOCOL_VERSION: u32 = 1;
/// Most operations one repack plan may hold.
pub const MAX_REPACK_OPS: usize = 10_000;
/// Most kept blobs one repack operation may hold.
pub const MAX_REPACK_BLOBS_PER_OP: usize = 200_000;
/// Most packs one verify-packs request may name.
pub const MAX_VERIFY_PACKS: usize = 100;
/// Most bytes of packs one verify-packs request may make the server read.
pub const MAX_VERIFY_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`, or why the server cannot serve.
    pub status: String,
    /// Server version.
    pub version: String,
    /// Seconds since start (absent in the reduced anonymous answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_seconds: Option<u64>,
    /// Free bytes on the data dir's filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_free_bytes: Option<u64>,
    /// Number of repositories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repos: Option<u64>,
}

/// `GET <repo>?stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoStats {
    /// Bytes of all objects.
    pub total_bytes: u64,
    /// Number of objects.
    pub total_objects: u64,
    /// Number of pack objects.
    pub total_packs: u64,
    /// When the last backup completed (RFC 3339), if ever.
    pub last_backup_at: Option<String>,
    /// The repository's byte limit; 0 = unlimited.
    pub quota_bytes: u64,
    /// Bytes counted against the limit.
    pub quota_used_bytes: u64,
}

/// `GET <repo>?verify-structure`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StructureReport {
    /// True when no error was found.
    pub ok: bool,
    /// One line per problem found.
    pub errors: Vec<String>,
    /// Number of pack objects.
    pub pack_count: u64,
    /// Bytes of all pack objects.
    pub total_size: u64,
    /// Lock objects older than the lock TTL.
    pub stale_locks: u64,
}

/// One blob of a pack, addressed as in the client's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    /// Offset just past the blob's u32 length prefix.
    pub offset: u64,
    /// The blob's length in bytes.
    pub length: u64,
}

/// One operation of a repack plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepackOp {
    /// `packs/<hh>/<hex>` to read from.
    pub source_pack: String,
    /// Blobs to copy into the new pack, in order.
    pub keep_blobs: Vec<BlobRef>,
    /// Whether to delete the source once every new pack is durable.
    #[serde(default)]
    pub delete_after: bool,
}

/// `POST <repo>?repack` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepackPlan {
    /// The operations, executed in order.
    pub operations: Vec<RepackOp>,
    /// Plan format version; absent means 0.
    #[serde(default)]
    pub protocol_version: u32,
}

/// The result of one repack operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepackDone {
    /// The operation's source pack.
    pub source_pack: String,
    /// The new pack's key, or null when nothing was kept.
    pub new_pack: Option<String>,
    /// Offsets of the kept blobs in the new pack, in plan order.
    pub new_offsets: Vec<u64>,
    /// Whether the source pack was deleted.
    pub deleted: bool,
}

/// `POST <repo>?repack` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepackResult {
    /// One entry per operation, in plan order.
    pub completed: Vec<RepackDone>,
}

/// One pack to check in a verify-packs request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyPack {
    /// `packs/<hh>/<hex>`.
    pub pack_key: String,
    /// The size the client's index expects.
    pub expected_size: u64,
    /// Blobs the client's index places in this pack.
    #[serde(default)]
    pub expected_blobs: Vec<BlobRef>,
}

/// `POST <repo>?verify-packs` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyPacksPlan {
    /// Packs to check, in order.
    pub packs: Vec<VerifyPack>,
    /// Plan format version; absent means 0.
    #[serde(default)]
    pub protocol_version: u32,
}

/// The verdict on one pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackVerdict {
    /// The pack checked.
    pub pack_key: String,
    /// Content hashes to the pack's name.
    pub hash_valid: bool,
    /// Starts with a valid pack header.
    pub header_valid: bool,
    /// Every expected blob sits on a record boundary inside the file.
    pub blobs_valid: bool,
    /// What is wrong, if anything.
    pub error: Option<String>,
}

/// `POST <repo>?verify-packs` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyPacksResult {
    /// One verdict per checked pack, in request order.
    pub results: Vec<PackVerdict>,
    /// True when the request held more than one request may check, and the
    /// rest was left out.
    pub truncated: bool,
}

/// `POST <repo>/locks/<id>` body (0.7 clients).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRequest {
    /// The holder's host name.
    #[serde(default)]
    pub hostname: String,
    /// The holder's process id.
    #[serde(default)]
    pub pid: u64,
}

/// One entry of `GET <repo>/locks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Lock id (0.7 clients always use `repo-lock`).
    pub id: String,
    /// The holder's host name.
    pub hostname: String,
    /// The holder's process id.
    pub pid: u64,
    /// When the lock was taken (RFC 3339).
    pub acquired_at: String,
    /// The lease length in seconds.
    pub ttl_seconds: u64,
}

/// `POST <repo>?batch-delete` body: a JSON array of keys.
///
/// Entries that are not strings are dropped while parsing (and counted),
/// so a hostile array of nested values costs no more memory than its
/// strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchDeleteList {
    /// The string entries, in order.
    pub keys: Vec<String>,
    /// How many entries were not strings.
    pub non_strings: u64,
}

impl<'de> Deserialize<'de> for BatchDeleteList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        use std::fmt;

        /// One array entry: a string, or anything else (consumed, dropped).
        struct Entry(Option<String>);

        impl<'de> Deserialize<'de> for Entry {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct EntryVisitor;
                impl<'de> Visitor<'de> for EntryVisitor {
                    type Value = Entry;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a key")
                    }
                    fn visit_str<E>(self, v: &str) -> Result<Entry, E> {
                        Ok(Entry(Some(v.to_owned())))
                    }
                    fn visit_string<E>(self, v: String) -> Result<Entry, E> {
                        Ok(Entry(Some(v)))
                    }
                    fn visit_bool<E>(self, _: bool) -> Result<Entry, E> {
                        Ok(Entry(None))
                    }
                    fn visit_i64<E>(self, _: i64) -> Result<Entry, E> {
                        Ok(Entry(None))
                    }
                    fn visit_u64<E>(self, _: u64) -> Result<Entry, E> {
                        Ok(Entry(None))
                    }
                    fn visit_f64<E>(self, _: f64) -> Result<Entry, E> {
                        Ok(Entry(None))
                    }
                    fn visit_unit<E>(self) -> Result<Entry, E> {
                        Ok(Entry(None))
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
                        while seq.next_element::<IgnoredAny>()?.is_some() {}
                        Ok(Entry(None))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
                        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                        Ok(Entry(None))
                    }
                }
                d.deserialize_any(EntryVisitor)
            }
        }

        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = BatchDeleteList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON array of keys")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BatchDeleteList, A::Error> {
                let mut out = BatchDeleteList::default();
                while let Some(Entry(e)) = seq.next_element::<Entry>()? {
                    match e {
                        Some(k) => out.keys.push(k),
                        None => out.non_strings += 1,
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_seq(ListVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_delete_lists_keep_strings_and_count_the_rest() {
        let l: BatchDeleteList =
            serde_json::from_str(r#"["config",1,null,{"a":[1,2]},[["x"]],"index",true]"#).unwrap();
        assert_eq!(l.keys, vec!["config", "index"]);
        assert_eq!(l.non_strings, 5);
    }

    #[test]
    fn batch_delete_bodies_must_be_arrays() {
        for bad in [r#"{"keys":[]}"#, r#""config""#, "", "[\"a\""] {
            assert!(
                serde_json::from_str::<BatchDeleteList>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn plans_default_their_protocol_version_to_zero() {
        let p: RepackPlan = serde_json::from_str(r#"{"operations":[]}"#).unwrap();
        assert_eq!(p.protocol_version, 0);
        let p: VerifyPacksPlan = serde_json::from_str(r#"{"packs":[]}"#).unwrap();
        assert_eq!(p.protocol_version, 0);
    }
}
