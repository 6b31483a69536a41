//! Scoped client tokens: created through the admin API, stored as digests
//! only, cached in memory so a request's token check never reads the
//! database.

use std::sync::{Arc, RwLock};

use rusqlite::params;
use shared_proto::RepoName;
use shared_proto::admin::TokenMode;

use super::db::{Db, StateResult, sql_err};
use super::repos::now_ms;

/// One client token as stored (the digest, never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Its id.
    pub id: u64,
    /// Who uses it.
    pub label: String,
    /// BLAKE2b-256 of the secret.
    pub digest: [u8; 32],
    /// The one repository it opens; `None` = all.
    pub repo: Option<RepoName>,
    /// What it may do.
    pub mode: TokenMode,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms after which it is refused.
    pub expires_at: Option<i64>,
    /// Unix ms when it was revoked.
    pub revoked_at: Option<i64>,
}

impl TokenRecord {
    /// Whether the token is accepted at `now` (Unix ms).
    pub fn is_active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|t| now < t)
    }
}

/// A token to create.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Who uses it.
    pub label: String,
    /// The one repository it opens; `None` = all.
    pub repo: Option<RepoName>,
    /// What it may do.
    pub mode: TokenMode,
    /// Unix ms after which it is refused.
    pub expires_at: Option<i64>,
}

/// Every client token, cached.
#[derive(Debug)]
pub struct Tokens {
    db: Arc<Db>,
    /// Sorted by id.
    cache: RwLock<Vec<TokenRecord>>,
}

impl Tokens {
    /// Loads every token from the database.
    pub fn load(db: Arc<Db>) -> StateResult<Self> {
        let rows = db.with(|c| {
            let mut st = c
                .prepare("SELECT id, label, digest, repo, mode, created_at, expires_at, revoked_at FROM tokens ORDER BY id")
                .map_err(sql_err("read tokens"))?;
            st.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql_err("read tokens"))
        })?;
        let mut cache = Vec::with_capacity(rows.len());
        for (id, label, digest, repo, mode, created_at, expires_at, revoked_at) in rows {
            // A row this build cannot read is skipped, never widened: a
            // token with an unknown mode or repository opens nothing.
            let digest: Option<[u8; 32]> = digest.try_into().ok();
            let repo = match repo.map(|r| RepoName::parse(&r)).transpose() {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!(id, "ignoring a token bound to an invalid repository name");
                    continue;
                }
            };
            let (Some(digest), Some(mode)) = (digest, TokenMode::parse(&mode)) else {
                tracing::warn!(id, "ignoring a token row this server cannot read");
                continue;
            };
            cache.push(TokenRecord {
                id: id as u64,
                label,
                digest,
                repo,
                mode,
                created_at,
                expires_at,
                revoked_at,
            });
        }
        Ok(Self {
            db,
            cache: RwLock::new(cache),
        })
    }

    /// Saves a new token whose secret's digest `digest_for` gives from its
    /// id (the secret carries the id), and returns its record.
    pub fn create(
        &self,
        new: NewToken,
        digest_for: impl FnOnce(u64) -> [u8; 32],
    ) -> StateResult<TokenRecord> {
        let created_at = now_ms();
        // The cache is locked only once the row is saved: token checks of
        // requests never wait for a disk write. Ids are never reused: rows
        // are never deleted.
        let (id, digest) = self.db.with(|c| {
            let tx = c.transaction().map_err(sql_err("begin a new token"))?;
            let id: i64 = tx
                .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM tokens", [], |r| r.get(0))
                .map_err(sql_err("choose a token id"))?;
            let digest = digest_for(id as u64);
            tx.execute(
                "INSERT INTO tokens (id, label, digest, repo, mode, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    new.label,
                    digest.as_slice(),
                    new.repo.as_ref().map(RepoName::as_str),
                    new.mode.as_str(),
                    created_at,
                    new.expires_at
                ],
            )
            .map_err(sql_err("save a new token"))?;
            tx.commit().map_err(sql_err("save a new token"))?;
            Ok((id, digest))
        })?;
        let record = TokenRecord {
            id: id as u64,
            label: new.label,
            digest,
            repo: new.repo,
            mode: new.mode,
            created_at,
            expires_at: new.expires_at,
            revoked_at: None,
        };
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.push(record.clone());
        cache.sort_by_key(|t| t.id);
        Ok(record)
    }

    /// Revokes token `id`; `None` when there is no such token. Revoking
    /// twice keeps the first time.
    pub fn revoke(&self, id: u64) -> StateResult<Option<TokenRecord>> {
        let found = self.all().into_iter().find(|t| t.id == id);
        let Some(mut t) = found else {
            return Ok(None);
        };
        if t.revoked_at.is_some() {
            return Ok(Some(t));
        }
        let at = now_ms();
        // Saved first, then applied: once this returns, the token is
        // refused, and stays refused after a restart.
        self.db.with(|c| {
            c.execute(
                "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2",
                params![at, id as i64],
            )
            .map_err(sql_err(format!("revoke token {id}")))
        })?;
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        if let Some(live) = cache.iter_mut().find(|t| t.id == id) {
            live.revoked_at.get_or_insert(at);
            t = live.clone();
        }
        Ok(Some(t))
    }

    /// Every token, by id.
    pub fn all(&self) -> Vec<TokenRecord> {
        self.cache.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Runs `f` over every token without copying them.
    pub fn with_all<T>(&self, f: impl FnOnce(&[TokenRecord]) -> T) -> T {
        f(&self.cache.read().unwrap_or_else(|p| p.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(label: &str) -> NewToken {
        NewToken {
            label: label.into(),
            repo: Some(RepoName::parse("r").unwrap()),
            mode: TokenMode::AppendOnly,
            expires_at: None,
        }
    }

    #[test]
    fn created_and_revoked_tokens_survive_a_reload() {
        let db = Arc::new(Db::open_in_memory().unwrap());
        let tokens = Tokens::load(db.clone()).unwrap();
        let a = tokens.create(new("a"), |id| [id as u8; 32]).unwrap();
        let b = tokens.create(new("b"), |id| [id as u8; 32]).unwrap();
        assert_eq!((a.id, b.id, b.digest), (1, 2, [2; 32]));
        tokens.revoke(a.id).unwrap().unwrap();
        let again = Tokens::load(db).unwrap().all();
        assert_eq!(again.len(), 2);
        assert!(again[0].revoked_at.is_some());
        assert_eq!(again[1], b);
    }

    #[test]
    fn expired_and_revoked_tokens_are_inactive() {
        let mut t = TokenRecord {
            id: 1,
            label: String::new(),
            digest: [0; 32],
            repo: None,
            mode: TokenMode::Full,
            created_at: 0,
            expires_at: Some(100),
            revoked_at: None,
        };
        assert!(t.is_active(99));
        assert!(!t.is_active(100));
        t.expires_at = None;
        t.revoked_at = Some(5);
        assert!(!t.is_active(0));
    }

    #[test]
    fn revoking_an_unknown_token_finds_nothing() {
        let tokens = Tokens::load(Arc::new(Db::open_in_memory().unwrap())).unwrap();
        assert_eq!(tokens.revoke(9).unwrap(), None);
    }
}
