//! Who may do what. Knows tokens, rules and reservations; knows nothing of
//! HTTP or files.

pub mod append_only;
pub mod auth;
pub mod freshness;
pub mod quota;

pub use append_only::AppendOnlyRefusal;
pub use auth::{AdminAuthenticator, AdminGrant, Authenticator, Grant, Need, ScopeRefusal};
pub use quota::{QuotaExceeded, Reservation, ReserveError};
