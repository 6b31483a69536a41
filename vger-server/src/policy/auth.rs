//! Bearer tokens and what each may reach.
//!
//! Tokens are kept only as BLAKE2b-256 digests. A presented token is
//! hashed, and the digest compared in constant time, so neither its length
//! nor where it differs shows in the timing. Scoped tokens carry their
//! public id (`vger_<id>_<secret>`), so a check compares with one digest
//! whatever the number of tokens; the id is no secret (`token list` shows
//! it), and it is hashed with the rest, so it cannot be swapped.
//!
//! Three kinds of token: the config's `token` (every repository,
//! everything, as existing setups expect), scoped client tokens created
//! through the admin API (one repository or all; full, append-only or
//! read-only), and admin tokens (the admin API only; role `admin` or
//! `read`). A token of one kind is never accepted where another is
//! expected.

use shared_proto::RepoName;
use shared_proto::admin::TokenMode;
use subtle::ConstantTimeEq;

use crate::config::{AdminRole, AdminToken};
use crate::state::TokenRecord;
use crate::store::digest::Blake2b256;

/// Prefix of secrets the server generates, so a leaked one is easy to
/// recognise (and to grep for in logs).
pub const SECRET_PREFIX: &str = "vger_";

/// The digest a token is stored and compared as.
pub fn token_digest(token: &str) -> [u8; 32] {
    Blake2b256::digest(token.as_bytes())
}

/// 256 random bits from the OS, in hex: the secret part of a new token.
pub fn random_hex() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The secret of scoped token `id` with random part `hex`.
pub fn scoped_secret(id: u64, hex: &str) -> String {
    format!("{SECRET_PREFIX}{id}_{hex}")
}

/// The id a presented token claims, if it has the shape of a scoped one.
fn claimed_id(token: &str) -> Option<u64> {
    let (id, _) = token.strip_prefix(SECRET_PREFIX)?.split_once('_')?;
    id.parse().ok()
}

/// What an authenticated client may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// The config's token: every repository, every operation.
    Config,
    /// A scoped token.
    Scoped {
        /// Its id.
        id: u64,
        /// Its label.
        label: String,
        /// The one repository it opens; `None` = all.
        repo: Option<RepoName>,
        /// What it may do.
        mode: TokenMode,
    },
}

/// What a client request needs of its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reading.
    Read,
    /// Writing a coordination object (`locks/*`, `sessions/*`,
    /// `index.gen`, the 0.7 lock API): readers write these too.
    Coordinate,
    /// Writing or removing anything else.
    Write,
}

/// A request the token does not allow (403), naming the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScopeRefusal(pub String);

impl Grant {
    /// Who acted, for the audit log and the request log.
    pub fn actor(&self) -> String {
        match self {
            Self::Config => "client:config-token".into(),
            Self::Scoped { id, label, .. } => format!("client:{label} (token {id})"),
        }
    }

    /// Whether the token itself imposes the append-only rules.
    pub fn forces_append_only(&self) -> bool {
        matches!(
            self,
            Self::Scoped {
                mode: TokenMode::AppendOnly,
                ..
            }
        )
    }

    /// Whether a write may create the repository it names. A read-only
    /// token's coordination writes go to repositories that exist.
    pub fn may_create_repos(&self) -> bool {
        !matches!(
            self,
            Self::Scoped {
                mode: TokenMode::ReadOnly,
                ..
            }
        )
    }

    /// Whether `repo` is one this token opens.
    pub fn opens(&self, repo: &RepoName) -> bool {
        match self {
            Self::Config | Self::Scoped { repo: None, .. } => true,
            Self::Scoped { repo: Some(r), .. } => r == repo,
        }
    }

    /// Checks a request on `repo` (or on the server root) needing `need`.
    pub fn check(&self, repo: Option<&RepoName>, need: Need) -> Result<(), ScopeRefusal> {
        let Self::Scoped {
            id,
            label,
            repo: bound,
            mode,
        } = self
        else {
            return Ok(());
        };
        if let (Some(repo), Some(bound)) = (repo, bound) {
            if repo != bound {
                return Err(ScopeRefusal(format!(
                    "token {label:?} (id {id}) is bound to repository {bound}, not {repo}"
                )));
            }
        }
        if *mode == TokenMode::ReadOnly && need == Need::Write {
            return Err(ScopeRefusal(format!(
                "token {label:?} (id {id}) is read-only: it may read, and write only locks/*, sessions/* and index.gen"
            )));
        }
        Ok(())
    }
}

/// Checks presented client tokens: the config's, then the scoped ones.
pub struct Authenticator {
    config: [u8; 32],
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator { .. }")
    }
}

impl Authenticator {
    /// An authenticator accepting the config's `token` with full access.
    pub fn new(token: &str) -> Self {
        Self {
            config: token_digest(token),
        }
    }

    /// The grant of `token` among the config's token and `scoped` (sorted
    /// by id, active at `now`, Unix ms), or `None` when it opens nothing.
    pub fn check(&self, token: &str, scoped: &[TokenRecord], now: i64) -> Option<Grant> {
        let d = token_digest(token);
        let config = bool::from(d.ct_eq(&self.config));
        let claimed = claimed_id(token)
            .and_then(|id| scoped.binary_search_by_key(&id, |t| t.id).ok())
            .map(|i| &scoped[i]);
        let found = claimed.filter(|t| bool::from(d.ct_eq(&t.digest)));
        if config {
            return Some(Grant::Config);
        }
        found.filter(|t| t.is_active(now)).map(|t| Grant::Scoped {
            id: t.id,
            label: t.label.clone(),
            repo: t.repo.clone(),
            mode: t.mode,
        })
    }
}

/// An authenticated admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminGrant {
    /// The token's label.
    pub label: String,
    /// What it may do.
    pub role: AdminRole,
}

impl AdminGrant {
    /// Who acted, for the audit log.
    pub fn actor(&self) -> String {
        format!("admin:{}", self.label)
    }
}

/// Checks admin tokens.
pub struct AdminAuthenticator {
    tokens: Vec<([u8; 32], AdminGrant)>,
}

impl std::fmt::Debug for AdminAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdminAuthenticator({} tokens)", self.tokens.len())
    }
}

impl AdminAuthenticator {
    /// Hashes the configured admin tokens; the secrets are not kept.
    pub fn new(tokens: &[AdminToken]) -> Self {
        Self {
            tokens: tokens
                .iter()
                .map(|t| {
                    (
                        token_digest(t.secret.expose()),
                        AdminGrant {
                            label: t.label.clone(),
                            role: t.role,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The grant of `token`, or `None`.
    pub fn check(&self, token: &str) -> Option<AdminGrant> {
        let d = token_digest(token);
        let mut found = None;
        for (digest, grant) in &self.tokens {
            if bool::from(d.ct_eq(digest)) {
                found = Some(grant.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    /// Token 7, whose secret is `scoped_secret(7, hex)`.
    fn scoped(hex: &str, repo: Option<&str>, mode: TokenMode) -> TokenRecord {
        TokenRecord {
            id: 7,
            label: "laptop".into(),
            digest: token_digest(&scoped_secret(7, hex)),
            repo: repo.map(|r| RepoName::parse(r).unwrap()),
            mode,
            created_at: 0,
            expires_at: None,
            revoked_at: None,
        }
    }

    fn repo(r: &str) -> RepoName {
        RepoName::parse(r).unwrap()
    }

    #[test]
    fn only_the_configured_token_is_accepted_exactly() {
        let a = Authenticator::new("s3cret-token");
        assert_eq!(a.check("s3cret-token", &[], 0), Some(Grant::Config));
        assert_eq!(a.check("s3cret-token ", &[], 0), None);
        assert_eq!(a.check("", &[], 0), None);
        assert_eq!(a.check("S3CRET-TOKEN", &[], 0), None);
    }

    #[test]
    fn a_scoped_token_is_accepted_while_active() {
        let a = Authenticator::new("config");
        let mut t = scoped("x", Some("r"), TokenMode::ReadOnly);
        let g = a.check("vger_7_x", std::slice::from_ref(&t), 0).unwrap();
        assert!(matches!(g, Grant::Scoped { id: 7, .. }));
        t.revoked_at = Some(1);
        assert_eq!(a.check("vger_7_x", &[t.clone()], 2), None);
        t.revoked_at = None;
        t.expires_at = Some(10);
        assert_eq!(a.check("vger_7_x", &[t], 10), None);
    }

    #[test]
    fn a_scoped_token_must_match_the_digest_of_the_id_it_claims() {
        let a = Authenticator::new("config");
        let t = [scoped("x", None, TokenMode::Full)];
        assert_eq!(a.check("vger_8_x", &t, 0), None);
        assert_eq!(a.check("vger_7_y", &t, 0), None);
        assert_eq!(a.check("vger_x", &t, 0), None);
        assert_eq!(a.check("vger__x", &t, 0), None);
        assert!(a.check("vger_7_x", &t, 0).is_some());
    }

    #[test]
    fn a_repo_bound_token_opens_its_repository_only() {
        let g = Authenticator::new("c")
            .check("vger_7_t", &[scoped("t", Some("r"), TokenMode::Full)], 0)
            .unwrap();
        assert!(g.check(Some(&repo("r")), Need::Write).is_ok());
        let e = g.check(Some(&repo("other")), Need::Read).unwrap_err();
        assert!(e.0.contains("bound to repository r"), "{e}");
    }

    #[test]
    fn a_read_only_token_writes_coordination_objects_only() {
        let g = Authenticator::new("c")
            .check("vger_7_t", &[scoped("t", None, TokenMode::ReadOnly)], 0)
            .unwrap();
        assert!(g.check(Some(&repo("r")), Need::Read).is_ok());
        assert!(g.check(Some(&repo("r")), Need::Coordinate).is_ok());
        assert!(g.check(Some(&repo("r")), Need::Write).is_err());
        assert!(!g.forces_append_only());
    }

    #[test]
    fn an_append_only_token_forces_the_append_only_rules() {
        let g = Authenticator::new("c")
            .check("vger_7_t", &[scoped("t", None, TokenMode::AppendOnly)], 0)
            .unwrap();
        assert!(g.forces_append_only());
        assert!(g.check(Some(&repo("r")), Need::Write).is_ok());
    }

    #[test]
    fn admin_tokens_carry_their_role_and_client_tokens_are_not_admin_tokens() {
        let a = AdminAuthenticator::new(&[AdminToken {
            label: "exporter".into(),
            role: AdminRole::Read,
            secret: Secret::new("read-token-0123456789".into()),
            source: String::new(),
        }]);
        assert_eq!(
            a.check("read-token-0123456789").map(|g| g.role),
            Some(AdminRole::Read)
        );
        assert_eq!(a.check("config"), None);
    }

    #[test]
    fn new_secrets_are_random_and_carry_their_id() {
        let (a, b) = (random_hex().unwrap(), random_hex().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        let s = scoped_secret(12, &a);
        assert_eq!(claimed_id(&s), Some(12));
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let a = Authenticator::new("s3cret-token");
        assert!(!format!("{a:?}").contains("s3cret"));
    }
}
