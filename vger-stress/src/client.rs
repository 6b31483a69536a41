//! Requests as the stress programs make them: every answer is either one
//! the protocol allows for the request (`Ok`), a transport failure (the
//! server died or is gone: the outcome is unknown), or a wrong answer,
//! which is a finding.

use bytes::Bytes;
use reqwest::{Method, StatusCode};

/// What became of a request.
#[derive(Debug)]
pub enum Outcome<T> {
    /// Answered as the protocol says.
    Ok(T),
    /// No answer: the connection failed (the server was killed).
    Lost,
    /// An answer the protocol does not allow here.
    Wrong(String),
}

impl<T> Outcome<T> {
    /// The answer's value mapped by `f`; `Lost` and `Wrong` pass through.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Ok(v) => Outcome::Ok(f(v)),
            Outcome::Lost => Outcome::Lost,
            Outcome::Wrong(e) => Outcome::Wrong(e),
        }
    }
}

/// A client of one server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    /// A client for `base` (`http://host:port`) with `token`.
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(std::time::Duration::from_secs(120))
                .build()
                .expect("an HTTP client without TLS"),
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// Sends `req`; `Ok((status, body))` when the status is one of `ok`.
    async fn send(
        &self,
        what: &str,
        req: reqwest::RequestBuilder,
        ok: &[StatusCode],
    ) -> Outcome<(StatusCode, Bytes)> {
        let resp = match req.send().await {
            Ok(r) => r,
            Err(_) => return Outcome::Lost,
        };
        let status = resp.status();
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(_) => return Outcome::Lost,
        };
        if ok.contains(&status) {
            Outcome::Ok((status, body))
        } else {
            Outcome::Wrong(format!(
                "{what}: {status}: {}",
                String::from_utf8_lossy(&body).trim()
            ))
        }
    }

    /// `PUT path` (201 or 204).
    pub async fn put(&self, path: &str, data: Bytes) -> Outcome<()> {
        let req = self.request(Method::PUT, path).body(data);
        let ok = [StatusCode::CREATED, StatusCode::NO_CONTENT];
        self.send(&format!("PUT {path}"), req, &ok)
            .await
            .map(|_| ())
    }

    /// `DELETE path` (204; 404 when `absent_ok`).
    pub async fn delete(&self, path: &str, absent_ok: bool) -> Outcome<()> {
        let req = self.request(Method::DELETE, path);
        let ok: &[StatusCode] = if absent_ok {
            &[StatusCode::NO_CONTENT, StatusCode::NOT_FOUND]
        } else {
            &[StatusCode::NO_CONTENT]
        };
        self.send(&format!("DELETE {path}"), req, ok)
            .await
            .map(|_| ())
    }

    /// `GET path`: `Some(bytes)`, or `None` for 404.
    pub async fn get(&self, path: &str) -> Outcome<Option<Bytes>> {
        let req = self.request(Method::GET, path);
        let ok = [StatusCode::OK, StatusCode::NOT_FOUND];
        self.send(&format!("GET {path}"), req, &ok)
            .await
            .map(|(status, body)| (status == StatusCode::OK).then_some(body))
    }

    /// `GET path` with `Range: bytes=first-last` (206).
    pub async fn get_range(&self, path: &str, first: u64, last: u64) -> Outcome<Bytes> {
        let req = self
            .request(Method::GET, path)
            .header("range", format!("bytes={first}-{last}"));
        let ok = [StatusCode::PARTIAL_CONTENT];
        self.send(&format!("GET {path} range"), req, &ok)
            .await
            .map(|(_, body)| body)
    }

    /// `HEAD path`: the Content-Length (200).
    pub async fn head(&self, path: &str) -> Outcome<u64> {
        let resp = match self.request(Method::HEAD, path).send().await {
            Ok(r) => r,
            Err(_) => return Outcome::Lost,
        };
        if resp.status() != StatusCode::OK {
            return Outcome::Wrong(format!("HEAD {path}: {}", resp.status()));
        }
        let len = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        match len {
            Some(n) => Outcome::Ok(n),
            None => Outcome::Wrong(format!("HEAD {path}: no Content-Length")),
        }
    }

    /// GET of a JSON answer (200).
    pub async fn json(&self, path: &str) -> Outcome<serde_json::Value> {
        let req = self.request(Method::GET, path);
        match self
            .send(&format!("GET {path}"), req, &[StatusCode::OK])
            .await
        {
            Outcome::Ok((_, body)) => match serde_json::from_slice(&body) {
                Ok(v) => Outcome::Ok(v),
                Err(e) => Outcome::Wrong(format!("GET {path}: not JSON: {e}")),
            },
            Outcome::Lost => Outcome::Lost,
            Outcome::Wrong(e) => Outcome::Wrong(e),
        }
    }

    /// POST of a JSON body; the answer parsed when it is JSON.
    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
        ok: &[StatusCode],
    ) -> Outcome<serde_json::Value> {
        let req = self
            .request(Method::POST, path)
            .header("content-type", "application/json")
            .body(body.to_string());
        self.send(&format!("POST {path}"), req, ok)
            .await
            .map(|(_, body)| serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }
}
