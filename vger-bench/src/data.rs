//! The bytes the benchmarks move: unique, incompressible packs named by
//! their BLAKE2b-256 as a client names them, small objects, and a large
//! repository written straight to disk.

use std::fs;
use std::io;
use std::path::Path;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use shared_proto::pack::{PACK_HEADER_LEN, RECORD_PREFIX_LEN, pack_header};

/// Lowercase hex BLAKE2b-256 of `data`.
pub fn blake2b_hex(data: &[u8]) -> String {
    blake2b_simd::Params::new()
        .hash_length(32)
        .hash(data)
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A pack as a client would upload it.
#[derive(Debug, Clone)]
pub struct Pack {
    /// `packs/<hh>/<hex>`.
    pub key: String,
    /// The whole pack.
    pub bytes: Bytes,
    /// Where each blob starts (just past its length prefix) and its length.
    pub blobs: Vec<(u64, u64)>,
}

/// Random bytes from a seeded generator: incompressible, reproducible.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    SmallRng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

/// A pack of about `size` bytes made of blobs of at most `blob` bytes,
/// unique for each `seed`.
pub fn pack(seed: u64, size: usize, blob: usize) -> Pack {
    let header = PACK_HEADER_LEN as usize;
    let prefix = RECORD_PREFIX_LEN as usize;
    let mut body = noise(seed, size.max(header + prefix + 1));
    body[..header].copy_from_slice(&pack_header());
    let mut blobs = Vec::new();
    let mut at = header;
    while at + prefix < body.len() {
        let len = blob.min(body.len() - at - prefix);
        body[at..at + prefix].copy_from_slice(&(len as u32).to_le_bytes());
        blobs.push(((at + prefix) as u64, len as u64));
        at += prefix + len;
    }
    body.truncate(at);
    let hex = blake2b_hex(&body);
    Pack {
        key: format!("packs/{}/{hex}", &hex[..2]),
        bytes: Bytes::from(body),
        blobs,
    }
}

/// `count` packs of `size` bytes, unique across `set` numbers.
pub fn packs(set: u64, count: usize, size: usize) -> Vec<Pack> {
    (0..count as u64)
        .map(|i| pack((set << 32) | i, size, 1 << 20))
        .collect()
}

/// Writes a repository of `objects` objects (`config`, `index`,
/// `manifest`, `keys/repokey`, the rest small packs across the 256 shards)
/// into `repo`, without fsync: the set-up of the large-repository
/// workloads, not part of any measurement.
pub fn write_large_repo(repo: &Path, objects: usize) -> io::Result<()> {
    for dir in ["keys", "snapshots", "locks"] {
        fs::create_dir_all(repo.join(dir))?;
    }
    for shard in 0..256 {
        fs::create_dir_all(repo.join(format!("packs/{shard:02x}")))?;
    }
    for (name, size) in [
        ("config", 512),
        ("index", 4096),
        ("manifest", 1024),
        ("keys/repokey", 512),
    ] {
        fs::write(repo.join(name), noise(size as u64, size))?;
    }
    for i in 0..objects.saturating_sub(4) {
        let p = pack(1 << 40 | i as u64, 200, 200);
        fs::write(repo.join(&p.key), &p.bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_proto::Key;

    #[test]
    fn a_pack_is_named_by_its_digest_and_valid_as_a_key() {
        let p = pack(7, 10_000, 1000);
        assert!(p.key.ends_with(&blake2b_hex(&p.bytes)));
        assert!(Key::parse(&p.key).is_ok(), "{}", p.key);
        assert!(shared_proto::pack::is_pack_header(&p.bytes));
    }

    #[test]
    fn a_pack_s_blobs_follow_their_length_prefixes_to_the_end() {
        let p = pack(1, 5000, 1000);
        let mut end = PACK_HEADER_LEN;
        for &(off, len) in &p.blobs {
            let at = (off - RECORD_PREFIX_LEN) as usize;
            let prefix = u32::from_le_bytes(p.bytes[at..at + 4].try_into().unwrap());
            assert_eq!(prefix as u64, len);
            assert_eq!(at as u64, end);
            end = off + len;
        }
        assert_eq!(end, p.bytes.len() as u64);
    }

    #[test]
    fn packs_of_different_sets_differ() {
        let a = packs(1, 2, 4096);
        let b = packs(2, 2, 4096);
        assert_ne!(a[0].key, a[1].key);
        assert_ne!(a[0].key, b[0].key);
    }

    #[test]
    fn a_large_repo_holds_the_asked_number_of_objects() {
        let dir = tempfile::tempdir().unwrap();
        write_large_repo(dir.path(), 300).unwrap();
        let packs: usize = fs::read_dir(dir.path().join("packs"))
            .unwrap()
            .map(|s| fs::read_dir(s.unwrap().path()).unwrap().count())
            .sum();
        assert_eq!(packs + 4, 300);
    }
}
