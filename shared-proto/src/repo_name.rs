//! Repository names: the first path segment of every client request.

use std::fmt;

/// Longest repository name accepted, in bytes.
pub const MAX_REPO_NAME_LEN: usize = 128;

/// Names that are server routes and can never be repositories, so a repo
/// cannot shadow them.
pub const RESERVED_REPO_NAMES: &[&str] = &["health"];

/// A validated repository name: 1–128 of `A-Z a-z 0-9 . _ -`, not starting
/// with `.`, and not a reserved route name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(String);

/// Why a repository name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoNameError {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_REPO_NAME_LEN`].
    TooLong(usize),
    /// The name contains a character outside `A-Z a-z 0-9 . _ -`.
    BadChar(char),
    /// The name starts with `.` (the server keeps its own files there).
    LeadingDot,
    /// The name is a reserved route.
    Reserved(String),
}

impl fmt::Display for RepoNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "repository name is empty"),
            Self::TooLong(n) => write!(
                f,
                "repository name is {n} bytes long; the limit is {MAX_REPO_NAME_LEN}"
            ),
            Self::BadChar(c) => write!(
                f,
                "repository name contains {c:?}; only A-Z, a-z, 0-9, '.', '_' and '-' are allowed"
            ),
            Self::LeadingDot => write!(f, "repository name must not start with '.'"),
            Self::Reserved(n) => write!(f, "'{n}' is a reserved name and cannot be a repository"),
        }
    }
}

impl std::error::Error for RepoNameError {}

impl RepoName {
    /// Validates `name` as a repository name.
    pub fn parse(name: &str) -> Result<Self, RepoNameError> {
        if name.is_empty() {
            return Err(RepoNameError::Empty);
        }
        if name.len() > MAX_REPO_NAME_LEN {
            return Err(RepoNameError::TooLong(name.len()));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(RepoNameError::BadChar(c));
        }
        // Covers "." and ".." as well as hidden names.
        if name.starts_with('.') {
            return Err(RepoNameError::LeadingDot);
        }
        if RESERVED_REPO_NAMES.contains(&name) {
            return Err(RepoNameError::Reserved(name.to_owned()));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RepoName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        for ok in [
            "a",
            "appxrepo",
            "A-b_c.d",
            "x".repeat(128).as_str(),
            "repo.1",
        ] {
            assert!(RepoName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "", ".", "..", ".hidden", "a/b", "a\\b", "a b", "a%2e", "ä", "a\0", "health",
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            RepoName::parse(&"x".repeat(129)),
            Err(RepoNameError::TooLong(129))
        );
    }
}
