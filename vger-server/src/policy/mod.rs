//! Who may do what. Knows tokens and rules; knows nothing of HTTP or files.

pub mod append_only;
pub mod auth;

pub use append_only::AppendOnlyRefusal;
pub use auth::{Authenticator, Grant};
