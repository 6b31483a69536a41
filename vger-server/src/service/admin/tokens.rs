//! Scoped client tokens: created with a random secret shown once, listed
//! without it, revoked.

use std::sync::Arc;

use shared_proto::admin::{CreateToken, MAX_LABEL_CHARS, TokenCreated, TokenInfo, TokenList};

use super::{audited, given, parse_repo};
use crate::app::App;
use crate::policy::AdminGrant;
use crate::policy::auth::{random_hex, scoped_secret, token_digest};
use crate::service::{ServiceError, ServiceResult, blocking};
use crate::state::{NewToken, TokenRecord, now_ms, rfc3339_ms};
use crate::store::StoreError;

/// Longest expiry accepted (ten years), so the time cannot overflow.
const MAX_EXPIRY_SECONDS: u64 = 10 * 366 * 24 * 3600;

/// How a token is shown (never its secret or digest).
pub fn describe(t: &TokenRecord, now: i64) -> TokenInfo {
    TokenInfo {
        id: t.id,
        label: t.label.clone(),
        repo: t.repo.as_ref().map(ToString::to_string),
        mode: t.mode,
        created_at: rfc3339_ms(t.created_at),
        expires_at: t.expires_at.map(rfc3339_ms),
        revoked_at: t.revoked_at.map(rfc3339_ms),
        active: t.is_active(now),
    }
}

/// `POST /v1/tokens`.
pub async fn create(
    app: &Arc<App>,
    who: &AdminGrant,
    req: CreateToken,
) -> ServiceResult<TokenCreated> {
    let detail = given(&[
        ("label", Some(format!("{:?}", req.label))),
        ("mode", Some(req.mode.as_str().to_owned())),
        (
            "expires_in_seconds",
            req.expires_in_seconds.map(|v| v.to_string()),
        ),
    ]);
    audited(app, who, "token.create", req.repo.as_deref(), &detail, async {
        let label = req.label.trim().to_owned();
        if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
            return Err(ServiceError::Invalid(format!(
                "label must be 1 to {MAX_LABEL_CHARS} printable characters naming who uses the token"
            )));
        }
        let repo = req.repo.as_deref().map(parse_repo).transpose()?;
        let expires_at = match req.expires_in_seconds {
            Some(0) => return Err(ServiceError::Invalid("expires_in_seconds must be at least 1".into())),
            Some(s) if s > MAX_EXPIRY_SECONDS => {
                return Err(ServiceError::Invalid(format!(
                    "expires_in_seconds must be at most {MAX_EXPIRY_SECONDS} (ten years); leave it out for a token that does not expire"
                )));
            }
            Some(s) => Some(now_ms() + s as i64 * 1000),
            None => None,
        };
        let hex = random_hex().map_err(|e| StoreError::Io {
            context: "draw a random token".into(),
            source: e,
        })?;
        let new = NewToken {
            label,
            repo,
            mode: req.mode,
            expires_at,
        };
        let (state, random) = (app.state.clone(), hex.clone());
        let record = blocking(move || {
            Ok(state
                .tokens
                .create(new, |id| token_digest(&scoped_secret(id, &random)))?)
        })
        .await?;
        let secret = scoped_secret(record.id, &hex);
        tracing::info!(id = record.id, label = record.label, mode = record.mode.as_str(), actor = who.actor(), "client token created");
        Ok(TokenCreated {
            token: describe(&record, now_ms()),
            secret,
        })
    })
    .await
}

/// `GET /v1/tokens`.
pub fn list(app: &App) -> TokenList {
    let now = now_ms();
    TokenList {
        tokens: app
            .state
            .tokens
            .all()
            .iter()
            .map(|t| describe(t, now))
            .collect(),
    }
}

/// `DELETE /v1/tokens/{id}`: the token stops working at once.
pub async fn revoke(app: &Arc<App>, who: &AdminGrant, id: u64) -> ServiceResult<TokenInfo> {
    audited(
        app,
        who,
        "token.revoke",
        None,
        &format!("token {id}"),
        async {
            let state = app.state.clone();
            let record = blocking(move || Ok(state.tokens.revoke(id)?)).await?;
            let record = record.ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "there is no token {id}; vger-admin token list shows their ids"
                ))
            })?;
            tracing::info!(
                id,
                label = record.label,
                actor = who.actor(),
                "client token revoked"
            );
            Ok(describe(&record, now_ms()))
        },
    )
    .await
}
