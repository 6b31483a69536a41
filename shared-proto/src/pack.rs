//! The pack file format, as far as the server needs to know it.
//!
//! A pack is `VGERPACK`, a version byte `1`, then records of
//! `[u32 little-endian length][length bytes]` to the end of the file. The
//! server never decrypts records; it only checks and copies their framing.

/// The 8-byte magic at the start of every pack.
pub const PACK_MAGIC: &[u8; 8] = b"VGERPACK";
/// The only pack format version clients write.
pub const PACK_VERSION: u8 = 1;
/// Bytes before the first record: magic plus version.
pub const PACK_HEADER_LEN: u64 = 9;
/// Bytes of a record's length prefix.
pub const RECORD_PREFIX_LEN: u64 = 4;

/// The header every pack starts with.
pub fn pack_header() -> [u8; PACK_HEADER_LEN as usize] {
    let mut h = [0u8; PACK_HEADER_LEN as usize];
    h[..8].copy_from_slice(PACK_MAGIC);
    h[8] = PACK_VERSION;
    h
}

/// Whether `bytes` (at least the first 9 bytes of a file) is a valid pack header.
pub fn is_pack_header(bytes: &[u8]) -> bool {
    bytes.len() >= PACK_HEADER_LEN as usize && &bytes[..8] == PACK_MAGIC && bytes[8] == PACK_VERSION
}

/// Offsets of `lengths` blobs in a pack written as header + framed records,
/// each offset pointing just past the blob's length prefix.
pub fn offsets_for(lengths: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut pos = PACK_HEADER_LEN;
    lengths
        .into_iter()
        .map(|len| {
            let off = pos + RECORD_PREFIX_LEN;
            pos = off + len;
            off
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        assert!(is_pack_header(&pack_header()));
        assert!(!is_pack_header(b"VGERPACK"));
        assert!(!is_pack_header(b"VGERPACK\x02"));
        assert!(!is_pack_header(b"XGERPACK\x01"));
    }

    #[test]
    fn offsets_skip_header_and_prefixes() {
        assert_eq!(offsets_for([10, 20, 1]), vec![13, 27, 51]);
        assert!(offsets_for([]).is_empty());
    }
}
