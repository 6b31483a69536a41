//! Bearer-token authentication.
//!
//! Tokens are kept only as BLAKE2b-256 digests. A presented token is hashed
//! and compared with every known digest in constant time, so neither the
//! token's length nor the position of a mismatch shows in the timing.

use subtle::ConstantTimeEq;

use crate::store::digest::Blake2b256;

/// What an authenticated caller may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// The config's token: every repository, every operation.
    Full,
}

/// Checks presented tokens against the configured ones.
pub struct Authenticator {
    full: [u8; 32],
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator { .. }")
    }
}

fn digest(token: &str) -> [u8; 32] {
    Blake2b256::digest(token.as_bytes())
}

impl Authenticator {
    /// An authenticator accepting `token` with full access.
    pub fn new(token: &str) -> Self {
        Self {
            full: digest(token),
        }
    }

    /// The grant of `token`, or `None` when it is unknown.
    pub fn check(&self, token: &str) -> Option<Grant> {
        bool::from(digest(token).ct_eq(&self.full)).then_some(Grant::Full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_configured_token_is_accepted() {
        let a = Authenticator::new("s3cret-token");
        assert_eq!(a.check("s3cret-token"), Some(Grant::Full));
        assert_eq!(a.check("s3cret-token "), None);
        assert_eq!(a.check(""), None);
        assert_eq!(a.check("S3CRET-TOKEN"), None);
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let a = Authenticator::new("s3cret-token");
        assert!(!format!("{a:?}").contains("s3cret"));
    }
}
