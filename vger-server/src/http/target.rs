//! What a request addresses: the server root, a repository, a directory or
//! an object, and which operation its query names.
//!
//! Parsing works on the raw path. Each segment is percent-decoded on its
//! own, and a segment that decodes to something holding `/` is refused, so
//! `%2f` cannot smuggle extra segments and `%2e%2e` is checked like `..`.

use percent_encoding::percent_decode_str;
use shared_proto::{ObjectPath, RepoName};

use super::error::ApiError;

/// A repository operation named by a bare query flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `?list`
    List,
    /// `?mkdir`
    Mkdir,
    /// `?stats`
    Stats,
    /// `?verify-structure`
    VerifyStructure,
    /// `?init`
    Init,
    /// `?batch-delete`
    BatchDelete,
    /// `?repack`
    Repack,
    /// `?verify-packs`
    VerifyPacks,
}

impl Op {
    /// The flag as clients spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Mkdir => "mkdir",
            Self::Stats => "stats",
            Self::VerifyStructure => "verify-structure",
            Self::Init => "init",
            Self::BatchDelete => "batch-delete",
            Self::Repack => "repack",
            Self::VerifyPacks => "verify-packs",
        }
    }
}

/// The parsed query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// The first operation flag, if any.
    pub op: Option<Op>,
    /// `cleanup-dirs` (with batch-delete).
    pub cleanup_dirs: bool,
    /// Whether the request had no query at all.
    pub absent: bool,
}

impl Query {
    /// Parses a raw query. Flag values are ignored; unknown flags are
    /// accepted and ignored, as clients send extras.
    pub fn parse(raw: Option<&str>) -> Self {
        let mut q = Query {
            absent: raw.is_none_or(str::is_empty),
            ..Query::default()
        };
        for part in raw.unwrap_or_default().split('&') {
            let name = part.split('=').next().unwrap_or_default();
            let op = match name {
                "list" => Some(Op::List),
                "mkdir" => Some(Op::Mkdir),
                "stats" => Some(Op::Stats),
                "verify-structure" => Some(Op::VerifyStructure),
                "init" => Some(Op::Init),
                "batch-delete" => Some(Op::BatchDelete),
                "repack" => Some(Op::Repack),
                "verify-packs" => Some(Op::VerifyPacks),
                "cleanup-dirs" => {
                    q.cleanup_dirs = true;
                    None
                }
                _ => None,
            };
            if q.op.is_none() {
                q.op = op;
            }
        }
        q
    }
}

/// What the path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/`
    ServerRoot,
    /// `/<repo>[/<path>]`
    Repo {
        /// The repository.
        repo: RepoName,
        /// What below it.
        path: ObjectPath,
        /// Whether the raw path ended in `/`.
        trailing_slash: bool,
    },
}

fn decode(seg: &str) -> Result<String, ApiError> {
    // The decoder passes a stray '%' through as itself; refuse it instead,
    // so one key has one spelling.
    let b = seg.as_bytes();
    let well_formed = b.iter().enumerate().all(|(i, &c)| {
        c != b'%'
            || (b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return Err(ApiError::bad_request(
            "request path holds a '%' that is not followed by two hex digits",
        ));
    }
    let s = percent_decode_str(seg).decode_utf8().map_err(|_| {
        ApiError::bad_request("request path is not valid UTF-8 after percent-decoding")
    })?;
    if s.contains('/') {
        return Err(ApiError::bad_request(
            "request path holds an encoded '/' (%2F); write path separators literally",
        ));
    }
    Ok(s.into_owned())
}

impl Target {
    /// Parses the raw request path.
    pub fn parse(raw_path: &str) -> Result<Self, ApiError> {
        let Some(rest) = raw_path.strip_prefix('/') else {
            return Err(ApiError::bad_request("request path must start with '/'"));
        };
        if rest.is_empty() {
            return Ok(Self::ServerRoot);
        }
        let (repo_raw, below) = match rest.split_once('/') {
            Some((r, b)) => (r, Some(b)),
            None => (rest, None),
        };
        let repo = RepoName::parse(&decode(repo_raw)?)?;
        let below = below.unwrap_or_default();
        let trailing_slash = below.ends_with('/');
        let decoded: Vec<String> = below.split('/').map(decode).collect::<Result<_, _>>()?;
        let path = ObjectPath::parse(&decoded.join("/"))?;
        Ok(Self::Repo {
            repo,
            path,
            trailing_slash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_proto::DirKey;

    #[test]
    fn query_flags_ignore_values_and_unknown_extras() {
        let q = Query::parse(Some("batch-delete&cleanup-dirs"));
        assert_eq!(q.op, Some(Op::BatchDelete));
        assert!(q.cleanup_dirs);
        assert_eq!(Query::parse(Some("list=1&x")).op, Some(Op::List));
        assert_eq!(Query::parse(Some("whatever")).op, None);
        assert!(Query::parse(None).absent);
        assert!(!Query::parse(Some("list")).absent);
    }

    #[test]
    fn paths_parse_into_targets() {
        assert_eq!(Target::parse("/").unwrap(), Target::ServerRoot);
        let t = Target::parse("/r/packs/0a/").unwrap();
        assert_eq!(
            t,
            Target::Repo {
                repo: RepoName::parse("r").unwrap(),
                path: ObjectPath::Dir(DirKey::PackShard("0a".into())),
                trailing_slash: true
            }
        );
        assert!(matches!(
            Target::parse("/r").unwrap(),
            Target::Repo {
                path: ObjectPath::Root,
                ..
            }
        ));
        assert!(matches!(
            Target::parse("/r/").unwrap(),
            Target::Repo {
                path: ObjectPath::Root,
                ..
            }
        ));
    }

    #[test]
    fn encoded_separators_and_dots_are_refused() {
        for p in [
            "/r/keys%2frepokey",
            "/r/%2e%2e/x",
            "/%2e%2e/config",
            "/r/snapshots/%2e%2e",
            "/r/snapshots/%ff",
            "/r%2fx/config",
            "/r/keys/%",
            "/r/keys/%4",
            "/r/keys/%zz",
        ] {
            assert!(Target::parse(p).is_err(), "{p}");
        }
        assert!(Target::parse("/r/con%66ig").is_ok());
    }
}
