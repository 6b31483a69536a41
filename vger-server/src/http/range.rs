//! `Range: bytes=…` for object reads.
//!
//! One range per request: `S-E`, `S-` or `-N`. A multi-range or malformed
//! header is 400 (clients send single ranges, and a 200 with the whole pack
//! would be a surprise), a start at or past the end is 416.

/// Why a range cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeError {
    /// Not a single well-formed byte range.
    Malformed,
    /// Well-formed but starts at or past the end of the object.
    Unsatisfiable,
}

fn number(s: &str) -> Result<u64, RangeError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RangeError::Malformed);
    }
    s.parse().map_err(|_| RangeError::Malformed)
}

/// Resolves a `Range` header value against an object of `len` bytes into
/// an inclusive `(first, last)` byte pair.
pub fn resolve(header: &str, len: u64) -> Result<(u64, u64), RangeError> {
    let spec = header.trim();
    let Some((unit, set)) = spec.split_once('=') else {
        return Err(RangeError::Malformed);
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return Err(RangeError::Malformed);
    }
    let Some((a, b)) = set.trim().split_once('-') else {
        return Err(RangeError::Malformed);
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let n = number(b)?;
        if n == 0 || len == 0 {
            return Err(RangeError::Unsatisfiable);
        }
        return Ok((len.saturating_sub(n), len - 1));
    }
    let start = number(a)?;
    let end = if b.is_empty() { None } else { Some(number(b)?) };
    if end.is_some_and(|e| e < start) {
        return Err(RangeError::Malformed);
    }
    if start >= len {
        return Err(RangeError::Unsatisfiable);
    }
    let last = end.map_or(len - 1, |e| e.min(len - 1));
    Ok((start, last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeError::*;

    #[test]
    fn closed_ranges_clamp_their_end() {
        assert_eq!(resolve("bytes=0-9", 100), Ok((0, 9)));
        assert_eq!(resolve("bytes=13-23877", 23878), Ok((13, 23877)));
        assert_eq!(resolve("bytes=90-500", 100), Ok((90, 99)));
        assert_eq!(resolve("bytes=99-99", 100), Ok((99, 99)));
    }

    #[test]
    fn open_and_suffix_ranges() {
        assert_eq!(resolve("bytes=10-", 100), Ok((10, 99)));
        assert_eq!(resolve("bytes=-10", 100), Ok((90, 99)));
        assert_eq!(resolve("bytes=-1000", 100), Ok((0, 99)));
    }

    #[test]
    fn starts_past_the_end_are_unsatisfiable() {
        assert_eq!(resolve("bytes=100-200", 100), Err(Unsatisfiable));
        assert_eq!(resolve("bytes=0-0", 0), Err(Unsatisfiable));
        assert_eq!(resolve("bytes=-0", 100), Err(Unsatisfiable));
        assert_eq!(resolve("bytes=-5", 0), Err(Unsatisfiable));
    }

    #[test]
    fn malformed_headers() {
        for h in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=5-1",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=+1-2",
            "bytes=1-2-3",
            "bytes=99999999999999999999999-",
            "bytes=0x10-20",
        ] {
            assert_eq!(resolve(h, 100), Err(Malformed), "{h:?}");
        }
    }
}
