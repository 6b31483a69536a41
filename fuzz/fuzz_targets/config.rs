//! The configuration file: any text is either refused with a one-line
//! message naming the problem, or yields settings inside their ranges.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use vger_server::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_toml(text, Path::new("fuzz.toml"), None) {
        Ok(c) => {
            assert!(!c.token.expose().is_empty());
            assert!(c.max_object_bytes >= 1);
            assert!(c.lock_ttl.as_secs() >= 1);
            assert!(c.connections.max_connections >= 1);
            assert!(c.connections.header_timeout.as_secs() >= 1);
            assert!(c.connections.idle_timeout.as_secs() >= 1);
            assert!(c.freshness_threshold_seconds >= 1);
            for t in &c.admin.tokens {
                assert!(t.secret.expose().chars().count() >= 16);
                assert_ne!(t.secret.expose(), c.token.expose());
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty());
            assert!(!msg.contains('\n'), "{msg:?}");
        }
    }
});
