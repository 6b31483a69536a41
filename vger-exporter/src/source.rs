//! Reading one server's admin API: `GET /v1/status` and `GET /v1/repos`,
//! both with a `read` token. The server answers them from the counters it
//! keeps (it lists only each repository's `locks/`), so a scrape costs it
//! little.

use std::time::Duration;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use shared_proto::admin::{ErrorBody, RepoList, ServerStatus};

use crate::config::Target;

/// What one server said.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Server-wide figures.
    pub status: ServerStatus,
    /// Every repository.
    pub repos: RepoList,
}

/// Why a server could not be read; each message says what to check.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// No connection, or it broke.
    #[error("cannot reach the admin API at {url}: {reason}")]
    Unreachable {
        /// The admin API.
        url: String,
        /// Why.
        reason: String,
    },
    /// The token was refused.
    #[error(
        "{url} refused the token ({status}): use a read token of this server's [[admin.tokens]]"
    )]
    Refused {
        /// The admin API.
        url: String,
        /// 401 or 403.
        status: StatusCode,
    },
    /// Any other error answer.
    #[error("{url} answered {status}: {message}")]
    Failed {
        /// The request.
        url: String,
        /// The status.
        status: StatusCode,
        /// The server's message.
        message: String,
    },
    /// The answer is not what this exporter understands.
    #[error(
        "{url} sent an answer this exporter cannot read ({reason}); is it a vger-server admin API of a matching version?"
    )]
    Unreadable {
        /// The request.
        url: String,
        /// Why.
        reason: String,
    },
    /// The time allowed ran out.
    #[error("no answer from {url} within {0:?}", .limit)]
    TimedOut {
        /// The admin API.
        url: String,
        /// The time allowed.
        limit: Duration,
    },
}

/// An HTTP client for one target.
#[derive(Debug)]
pub struct Source {
    http: reqwest::Client,
    target: Target,
}

impl Source {
    /// A client for `target`.
    pub fn new(target: Target) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            // The bearer token goes to the admin API and nowhere else, not
            // through an HTTP_PROXY the environment happens to set.
            .no_proxy()
            .pool_max_idle_per_host(2)
            .build()
            .expect("a plain HTTP client needs no system resources");
        Self { http, target }
    }

    /// The target read.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Reads status and repositories together, within `limit`.
    pub async fn fetch(&self, limit: Duration) -> Result<Snapshot, SourceError> {
        let both = async {
            let (status, repos) = tokio::join!(
                self.get::<ServerStatus>("/v1/status"),
                self.get::<RepoList>("/v1/repos")
            );
            Ok(Snapshot {
                status: status?,
                repos: repos?,
            })
        };
        match tokio::time::timeout(limit, both).await {
            Ok(r) => r,
            Err(_) => Err(SourceError::TimedOut {
                url: self.target.url.clone(),
                limit,
            }),
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, SourceError> {
        let url = format!("{}{path}", self.target.url);
        let res = self
            .http
            .get(&url)
            .bearer_auth(&self.target.token)
            .send()
            .await
            .map_err(|e| SourceError::Unreachable {
                url: self.target.url.clone(),
                reason: root_cause(&e),
            })?;
        let status = res.status();
        let body = res.bytes().await.map_err(|e| SourceError::Unreachable {
            url: self.target.url.clone(),
            reason: root_cause(&e),
        })?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(SourceError::Refused {
                url: self.target.url.clone(),
                status,
            });
        }
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(&body)
                .map(|b| b.message)
                .unwrap_or_else(|_| {
                    String::from_utf8_lossy(&body)
                        .trim()
                        .chars()
                        .take(200)
                        .collect()
                });
            return Err(SourceError::Failed {
                url,
                status,
                message,
            });
        }
        serde_json::from_slice(&body).map_err(|e| SourceError::Unreadable {
            url,
            reason: e.to_string(),
        })
    }
}

/// The innermost error: reqwest's outer ones only say "error sending
/// request".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}
