//! The cost of checking a client token as scoped tokens accumulate: every
//! request's token is hashed and compared, in constant time, with the
//! config's token and the one scoped token whose id it claims. The
//! baseline, measured in the same run, is the hash alone (what one token
//! cost before scoped tokens).
//!
//! Run: `cargo bench -p vger-server --bench token_check`

use std::hint::black_box;
use std::time::Instant;

use shared_proto::RepoName;
use shared_proto::admin::TokenMode;
use vger_server::policy::Authenticator;
use vger_server::policy::auth::{scoped_secret, token_digest};
use vger_server::state::TokenRecord;

/// Checks per measurement.
const ROUNDS: u32 = 20_000;

fn scoped(n: usize) -> Vec<TokenRecord> {
    (0..n)
        .map(|i| TokenRecord {
            id: i as u64 + 1,
            label: format!("host-{i}"),
            digest: token_digest(&scoped_secret(i as u64 + 1, &format!("{i:064x}"))),
            repo: Some(RepoName::parse(&format!("repo-{i}")).unwrap()),
            mode: TokenMode::AppendOnly,
            created_at: 0,
            expires_at: None,
            revoked_at: None,
        })
        .collect()
}

/// Nanoseconds per call of `f`, the median of five runs.
fn ns_per_call(mut f: impl FnMut()) -> f64 {
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..ROUNDS {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(ROUNDS)
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[2]
}

fn main() {
    let token = "vger_00000000000000000000000000000000000000000000000000000000000000ff";
    let auth = Authenticator::new("config-token-0123456789");
    let hash = ns_per_call(|| {
        black_box(token_digest(black_box(token)));
    });
    println!("token check, {ROUNDS} checks per run, median of 5 runs");
    println!(
        "{:>14} {:>12} {:>14}",
        "scoped tokens", "ns/check", "x hash alone"
    );
    println!("{:>14} {:>12.0} {:>14.2}", "(hash alone)", hash, 1.0);
    for n in [0usize, 10, 100, 1_000, 10_000] {
        let tokens = scoped(n);
        // The newest token: the one at the end of the list.
        let presented = if n > 0 {
            scoped_secret(n as u64, &format!("{:064x}", n - 1))
        } else {
            token.to_owned()
        };
        let ns = ns_per_call(|| {
            black_box(auth.check(black_box(&presented), black_box(&tokens), 0));
        });
        println!("{n:>14} {ns:>12.0} {:>14.2}", ns / hash);
    }
}
