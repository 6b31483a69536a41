//! The admin API over HTTP: one call per request, answers as JSON values
//! (printed as they are with `--json`) and typed views of them.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared_proto::admin::ErrorBody;

use crate::error::{CliError, CliResult};
use crate::settings::Target;

/// How long one request may take; jobs are polled, so none is long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A connection to one admin API.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    target: Target,
}

/// An answer: the JSON as sent, and a typed view of it.
#[derive(Debug)]
pub struct Answer<T> {
    /// The JSON as the server sent it.
    pub raw: serde_json::Value,
    /// The same, typed.
    pub value: T,
}

impl Client {
    /// A client for `target`.
    pub fn new(target: Target) -> CliResult<Self> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| CliError::Failed(format!("cannot set up HTTP: {e}")))?;
        Ok(Self { http, target })
    }

    /// Sends one request and reads its JSON answer.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> CliResult<Answer<T>> {
        let url = format!("{}{path}", self.target.url);
        let mut req = self
            .http
            .request(method, &url)
            .bearer_auth(&self.target.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.map_err(|e| {
            if e.is_connect() || e.is_timeout() {
                CliError::Unreachable(format!(
                    "cannot reach the admin API at {}: {}; is vger-server running with an admin token, and is the URL right?",
                    self.target.url,
                    root_cause(&e)
                ))
            } else {
                CliError::Unreachable(format!("request to {url} failed: {}", root_cause(&e)))
            }
        })?;
        let status = res.status();
        let bytes = res
            .bytes()
            .await
            .map_err(|e| CliError::Unreachable(format!("reading the answer from {url}: {e}")))?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| b.message)
                .unwrap_or_else(|_| {
                    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
                    if status == StatusCode::NOT_FOUND && text.is_empty() {
                        format!(
                            "{url} was not found; is {} an admin API (port 8485 by default)?",
                            self.target.url
                        )
                    } else {
                        text
                    }
                });
            return Err(CliError::from_status(status.as_u16(), message));
        }
        let raw: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            CliError::Failed(format!(
                "{url} did not answer JSON ({e}); is this the admin API of a vger-server?"
            ))
        })?;
        let value = serde_json::from_value(raw.clone()).map_err(|e| {
            CliError::Failed(format!(
                "unexpected answer from {url} ({e}); is vger-admin the same version as the server?"
            ))
        })?;
        Ok(Answer { raw, value })
    }

    /// GET `path`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> CliResult<Answer<T>> {
        self.call(Method::GET, path, None::<&()>).await
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
