//! Object requests: GET (whole or ranged), HEAD, PUT, DELETE, and the
//! directory requests `?list` and `?mkdir`.

use axum::Json;
use axum::body::Body;
use axum::http::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use shared_proto::{DirKey, Key, RepoName};

use super::body::{drain, stream_into};
use super::error::{ApiError, ApiResult};
use super::range::{self, RangeError};
use crate::app::App;
use crate::policy::Grant;
use crate::service::{ServiceError, objects};
use crate::store::StoreError;
use crate::store::durable::Published;

/// Header later clients send with the body's BLAKE2b-256.
pub const CHECKSUM_HEADER: &str = "x-content-blake2b";

fn not_found(repo: &RepoName, key: &Key) -> impl Fn(StoreError) -> ApiError {
    let msg = format!("{key} not found in repository {repo}");
    move |e| match e {
        StoreError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, msg.clone()),
        other => other.into(),
    }
}

/// `GET <repo>/<key>`, honouring a single `Range`.
pub async fn get(
    app: &App,
    repo: &RepoName,
    key: &Key,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let ranges: Vec<&HeaderValue> = headers.get_all(RANGE).iter().collect();
    if ranges.len() > 1 {
        return Err(ApiError::bad_request("only one Range header is supported"));
    }
    // A small satisfiable range is read together with the open.
    let wanted = ranges
        .first()
        .and_then(|r| r.to_str().ok())
        .map(str::to_owned);
    let small = move |len: u64| {
        let (first, last) = range::resolve(wanted.as_deref()?, len).ok()?;
        Some((first, last - first + 1))
    };
    let (obj, prefetched) = app
        .store
        .open_object(repo, key, small)
        .await
        .map_err(not_found(repo, key))?;
    let Some(range_header) = ranges.first() else {
        let len = obj.len;
        let body = Body::from_stream(obj.stream(0, len));
        return Ok((
            StatusCode::OK,
            [
                (CONTENT_LENGTH, HeaderValue::from(len)),
                (ACCEPT_RANGES, HeaderValue::from_static("bytes")),
            ],
            body,
        )
            .into_response());
    };
    let text = range_header
        .to_str()
        .map_err(|_| ApiError::bad_request("Range header is not readable text"))?;
    let (first, last) = match range::resolve(text, obj.len) {
        Ok(r) => r,
        Err(RangeError::Malformed) => {
            return Err(ApiError::bad_request(format!(
                "malformed Range {text:?}; send one range as bytes=START-END"
            )));
        }
        Err(RangeError::Unsatisfiable) => {
            let mut res = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!(
                    "range {text:?} starts at or past the end of {key} ({} bytes)",
                    obj.len
                ),
            )
            .into_response();
            res.headers_mut().insert(
                CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{}", obj.len))
                    .unwrap_or(HeaderValue::from_static("bytes */0")),
            );
            return Ok(res);
        }
    };
    let (n, total) = (last - first + 1, obj.len);
    // A small range was read already, so a failure is still a proper
    // error answer rather than a cut-off body.
    let body = match prefetched {
        Some(data) => Body::from(data),
        None => Body::from_stream(obj.stream(first, n)),
    };
    let content_range = format!("bytes {first}-{last}/{total}");
    Ok((
        StatusCode::PARTIAL_CONTENT,
        [
            (CONTENT_LENGTH, HeaderValue::from(n)),
            (ACCEPT_RANGES, HeaderValue::from_static("bytes")),
            (
                CONTENT_RANGE,
                HeaderValue::from_str(&content_range).unwrap_or(HeaderValue::from_static("bytes")),
            ),
        ],
        body,
    )
        .into_response())
}

/// `HEAD <repo>/<key>`: the real size in `Content-Length`, no body.
pub async fn head(app: &App, repo: &RepoName, key: &Key) -> ApiResult<Response> {
    let len = app
        .store
        .object_size(repo, key)
        .await
        .map_err(not_found(repo, key))?;
    Ok((
        StatusCode::OK,
        [
            (CONTENT_LENGTH, HeaderValue::from(len)),
            (ACCEPT_RANGES, HeaderValue::from_static("bytes")),
        ],
    )
        .into_response())
}

fn declared_length(headers: &HeaderMap) -> ApiResult<Option<u64>> {
    headers
        .get(CONTENT_LENGTH)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| ApiError::bad_request("Content-Length is not a number"))
        })
        .transpose()
}

fn client_digest(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let mut values = headers.get_all(CHECKSUM_HEADER).iter();
    let Some(v) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request(
            "X-Content-BLAKE2b is given more than once; send one",
        ));
    }
    let s = v.to_str().unwrap_or_default().trim();
    if !crate::store::digest::is_digest_hex(s) {
        return Err(ApiError::bad_request(
            "X-Content-BLAKE2b must be 64 hex digits (the BLAKE2b-256 of the body)",
        ));
    }
    Ok(Some(s.to_ascii_lowercase()))
}

/// `PUT <repo>/<key>`: 201 for a new object, 204 for an overwrite, only
/// once the object is durable. A refused body is read to its end (within
/// the object size limit) so the client sees the answer.
pub async fn put(
    app: &App,
    grant: &Grant,
    repo: &RepoName,
    key: &Key,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let limit = app.store.max_object_bytes();
    let prepared = match (client_digest(headers), declared_length(headers)) {
        (Ok(digest), Ok(declared)) => objects::begin_put(app, grant, repo, key, digest, declared)
            .await
            .map(|u| (u, declared))
            .map_err(ApiError::from),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let (mut upload, declared) = match prepared {
        Ok(p) => p,
        Err(e) => {
            drain(body, limit).await;
            return Err(e);
        }
    };
    stream_into(body, &mut upload, limit).await?;
    if let Some(n) = declared {
        if upload.received() != n {
            return Err(ApiError::bad_request(format!(
                "body is {} bytes but Content-Length says {n}",
                upload.received()
            )));
        }
    }
    let status = match upload.commit().await? {
        Published::Created => StatusCode::CREATED,
        Published::Replaced => StatusCode::NO_CONTENT,
    };
    Ok(status.into_response())
}

/// `DELETE <repo>/<key>`.
pub async fn delete(app: &App, grant: &Grant, repo: &RepoName, key: &Key) -> ApiResult<Response> {
    objects::delete(app, grant, repo, key)
        .await
        .map_err(|e| match e {
            ServiceError::Store(StoreError::NotFound(_)) => ApiError::new(
                StatusCode::NOT_FOUND,
                format!("{key} not found in repository {repo}"),
            ),
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST <repo>/<dir>/?mkdir`.
pub async fn mkdir(app: &App, grant: &Grant, repo: &RepoName, dir: &DirKey) -> ApiResult<Response> {
    objects::mkdir(app, grant, repo, dir).await?;
    Ok(StatusCode::CREATED.into_response())
}

/// `GET <repo>/<dir>/?list` (or the whole repository with `None`).
pub async fn list(app: &App, repo: &RepoName, dir: Option<DirKey>) -> ApiResult<Response> {
    let keys = app.store.list(repo, dir).await?;
    // A listing of a large repository is megabytes of JSON: encode it off
    // the request threads, into a buffer sized once.
    let encoded = tokio::task::spawn_blocking(move || json_strings(&keys))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("listing failed: {e}"),
            )
        })?;
    Ok((
        StatusCode::OK,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        encoded,
    )
        .into_response())
}

/// `strings` as a JSON array. A string that JSON need not escape (every
/// pack key, and nearly every other) is copied as it is; any other is
/// written by serde_json, so the output is exactly serde_json's.
fn json_strings(strings: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(strings.iter().map(|k| k.len() + 3).sum::<usize>() + 2);
    out.push(b'[');
    for (i, s) in strings.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // A branch-free scan, which the compiler vectorises.
        let needs_escape = s.bytes().fold(false, |acc, b| {
            acc | (b == b'"') | (b == b'\\') | (b < 0x20)
        });
        if needs_escape {
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut out, s);
        } else {
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
    }
    out.push(b']');
    out
}

/// A 200 JSON answer.
pub fn json_ok<T: serde::Serialize>(value: &T) -> Response {
    let mut res = Json(value).into_response();
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

#[cfg(test)]
mod tests {
    use super::json_strings;

    #[test]
    fn a_key_list_is_encoded_exactly_as_serde_json_encodes_it() {
        let keys: Vec<String> = [
            "packs/ab/0123",
            "snapshots/with \"quotes\"",
            "sessions/tab\there",
            "keys/ünïcode",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(json_strings(&keys), serde_json::to_vec(&keys).unwrap());
        assert_eq!(json_strings(&[]), b"[]");
    }
}
