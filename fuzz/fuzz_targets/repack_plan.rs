//! Repack plans run for real against a small repository: a plan is either
//! refused or produces packs that hash to their names and hold exactly
//! the kept blobs at the offsets the answer gives. Sources are never
//! deleted here (`delete_after` is cleared) so every input meets the same
//! repository.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared_proto::api::RepackPlan;
use vger_fuzz::{REPO, blake2b_hex, fixture, ledger};

fuzz_target!(|data: &[u8]| {
    let Ok(mut plan) = serde_json::from_slice::<RepackPlan>(data) else {
        return;
    };
    for op in &mut plan.operations {
        op.delete_after = false;
    }
    let f = fixture();
    let ops = plan.operations.clone();
    let result = f
        .runtime
        .block_on(f.store.repack(&f.repo, plan, f.journal.clone(), ledger()));
    let Ok(result) = result else {
        return;
    };
    assert_eq!(result.completed.len(), ops.len());
    let repo_dir = f.data.join(REPO);
    for (done, op) in result.completed.iter().zip(&ops) {
        assert!(!done.deleted);
        let Some(new_pack) = &done.new_pack else {
            assert!(op.keep_blobs.is_empty());
            continue;
        };
        assert_eq!(done.new_offsets.len(), op.keep_blobs.len());
        let new_bytes = std::fs::read(repo_dir.join(new_pack)).expect("the new pack exists");
        // A plan keeping all of a pack keeps the pack itself, as it is
        // (its name is then the client's claim, not checked here);
        // anything else is written anew and named by its content.
        if *new_pack != op.source_pack {
            assert_eq!(
                new_pack.rsplit('/').next(),
                Some(blake2b_hex(&new_bytes).as_str())
            );
        }
        let source = std::fs::read(repo_dir.join(&op.source_pack)).expect("the source stays");
        for (blob, &at) in op.keep_blobs.iter().zip(&done.new_offsets) {
            let (o, l, n) = (blob.offset as usize, blob.length as usize, at as usize);
            assert_eq!(&new_bytes[n..n + l], &source[o..o + l]);
            let framed = u32::from_le_bytes(new_bytes[n - 4..n].try_into().expect("4 bytes"));
            assert_eq!(framed as usize, l);
        }
    }
});
