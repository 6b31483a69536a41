//! Range headers: a served range always lies inside the object.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vger_server::http::range::resolve;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (len, header) = data.split_at(8);
    let len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    for len in [len, len % 1000, 0, 1] {
        if let Ok((first, last)) = resolve(header, len) {
            assert!(first <= last, "{header:?} on {len}: {first}-{last}");
            assert!(last < len, "{header:?} on {len}: {first}-{last}");
        }
    }
});
