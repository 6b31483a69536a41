//! Verify-packs plans run for real against a small repository: a plan is
//! refused as a whole or answered with one verdict per pack (fewer only
//! when truncated), and the verdicts agree with the files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared_proto::api::VerifyPacksPlan;
use vger_fuzz::{blake2b_hex, fixture};

fuzz_target!(|data: &[u8]| {
    let Ok(plan) = serde_json::from_slice::<VerifyPacksPlan>(data) else {
        return;
    };
    let f = fixture();
    let asked = plan.packs.clone();
    let Ok(result) = f.runtime.block_on(f.store.verify_packs(&f.repo, plan)) else {
        return;
    };
    if result.truncated {
        assert!(result.results.len() < asked.len());
    } else {
        assert_eq!(result.results.len(), asked.len());
    }
    for (verdict, ask) in result.results.iter().zip(&asked) {
        assert_eq!(verdict.pack_key, ask.pack_key);
        let known = f.packs.iter().find(|(k, _)| *k == ask.pack_key);
        match known {
            Some((key, bytes)) => {
                let named = key.rsplit('/').next() == Some(blake2b_hex(bytes).as_str());
                // No false positives: a verdict may stop early (a size
                // mismatch), but what it vouches for must be true.
                if verdict.hash_valid {
                    assert!(named, "{verdict:?}");
                }
                if verdict.blobs_valid {
                    assert!(verdict.header_valid, "{verdict:?}");
                }
                if verdict.error.is_none() {
                    assert!(
                        named && verdict.hash_valid && verdict.header_valid,
                        "{verdict:?}"
                    );
                    assert_eq!(ask.expected_size, bytes.len() as u64, "{verdict:?}");
                }
            }
            None => {
                assert!(!verdict.hash_valid && !verdict.header_valid && !verdict.blobs_valid);
                assert!(verdict.error.is_some());
            }
        }
    }
});
