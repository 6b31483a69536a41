//! BLAKE2b-256, the content hash that names packs and checks uploads.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};

/// The unkeyed BLAKE2b with a 32-byte output that vger clients use.
pub type Blake2b256 = Blake2b<U32>;

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
}
