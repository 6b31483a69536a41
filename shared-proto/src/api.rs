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
