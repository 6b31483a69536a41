//! The HTTP side of the benchmark: requests as a vger client makes them,
//! each checked for the status a correct server answers.

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde::Serialize;

/// A server (ours or the ceiling) and how to reach one of its repositories.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    base: String,
    token: String,
}

fn fail(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

impl Http {
    /// A client for the server at `base` (`http://host:port`).
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                // Bodies are generated and consumed in memory: the
                // connection is the only thing being measured.
                .no_proxy()
                .pool_max_idle_per_host(64)
                .build()
                .expect("an HTTP client with default TLS-less settings"),
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    /// The URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    async fn expect(
        &self,
        what: &str,
        req: reqwest::RequestBuilder,
        ok: &[StatusCode],
    ) -> Result<reqwest::Response, String> {
        let resp = req.send().await.map_err(|e| fail(what, e))?;
        if ok.contains(&resp.status()) {
            Ok(resp)
        } else {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            Err(format!("{what}: {status}: {}", body.trim()))
        }
    }

    /// PUT `data` at `path`; returns the bytes sent.
    pub async fn put(&self, path: &str, data: Bytes) -> Result<u64, String> {
        let n = data.len() as u64;
        let req = self.request(Method::PUT, path).body(data);
        self.expect(
            &format!("PUT {path}"),
            req,
            &[StatusCode::CREATED, StatusCode::NO_CONTENT],
        )
        .await?;
        Ok(n)
    }

    /// Streams the answer of a request, counting its body bytes without
    /// keeping them.
    async fn drain(
        &self,
        what: &str,
        req: reqwest::RequestBuilder,
        ok: StatusCode,
    ) -> Result<u64, String> {
        let mut resp = self.expect(what, req, &[ok]).await?;
        let mut n = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(|e| fail(what, e))? {
            n += chunk.len() as u64;
        }
        Ok(n)
    }

    /// GET the whole object at `path`; returns its size.
    pub async fn get(&self, path: &str) -> Result<u64, String> {
        let req = self.request(Method::GET, path);
        self.drain(&format!("GET {path}"), req, StatusCode::OK)
            .await
    }

    /// GET `len` bytes at `offset` of the object at `path`.
    pub async fn get_range(&self, path: &str, offset: u64, len: u64) -> Result<u64, String> {
        let req = self.request(Method::GET, path).header(
            reqwest::header::RANGE,
            format!("bytes={offset}-{}", offset + len - 1),
        );
        let n = self
            .drain(
                &format!("GET {path} (range)"),
                req,
                StatusCode::PARTIAL_CONTENT,
            )
            .await?;
        if n != len {
            return Err(format!("GET {path} (range): {n} bytes, asked for {len}"));
        }
        Ok(n)
    }

    /// HEAD the object at `path`.
    pub async fn head(&self, path: &str) -> Result<u64, String> {
        let req = self.request(Method::HEAD, path);
        self.expect(&format!("HEAD {path}"), req, &[StatusCode::OK])
            .await?;
        Ok(0)
    }

    /// GET `path` (a query such as `/repo?stats`), draining the answer;
    /// returns its size.
    pub async fn query(&self, path: &str) -> Result<u64, String> {
        let req = self.request(Method::GET, path);
        self.drain(&format!("GET {path}"), req, StatusCode::OK)
            .await
    }

    /// GET `path` and parse the JSON answer.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let what = format!("GET {path}");
        let resp = self
            .expect(&what, self.request(Method::GET, path), &[StatusCode::OK])
            .await?;
        resp.json().await.map_err(|e| fail(&what, e))
    }

    /// POST `body` as JSON to `path`, expecting `ok`; returns the answer.
    pub async fn post_json<B: Serialize>(
        &self,
        path: &str,
        body: &B,
        ok: &[StatusCode],
    ) -> Result<Bytes, String> {
        let what = format!("POST {path}");
        let resp = self
            .expect(&what, self.request(Method::POST, path).json(body), ok)
            .await?;
        resp.bytes().await.map_err(|e| fail(&what, e))
    }

    /// DELETE `path`.
    pub async fn delete(&self, path: &str) -> Result<(), String> {
        let req = self.request(Method::DELETE, path);
        self.expect(&format!("DELETE {path}"), req, &[StatusCode::NO_CONTENT])
            .await
            .map(|_| ())
    }

    /// Deletes every object of `repo` (set-up between repetitions).
    pub async fn empty_repo(&self, repo: &str) -> Result<(), String> {
        let keys: Vec<String> = self.get_json(&format!("/{repo}?list")).await?;
        self.post_json(
            &format!("/{repo}?batch-delete"),
            &keys,
            &[StatusCode::NO_CONTENT],
        )
        .await
        .map(|_| ())
    }
}
