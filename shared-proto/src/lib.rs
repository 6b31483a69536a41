//! Wire types and validation rules shared by the vger-server suite.
//!
//! Nothing here performs I/O: these are the names, keys and JSON bodies that
//! travel between vger clients, the server and the operator tools, and the
//! rules that decide which of them are acceptable.

pub mod admin;
pub mod api;
pub mod key;
pub mod pack;
pub mod repo_name;
pub mod secret;

pub use key::{DirKey, Key, KeyError, KeyKind, ObjectPath};
pub use repo_name::{RepoName, RepoNameError};
