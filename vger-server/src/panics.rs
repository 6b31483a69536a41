//! What a caught panic said: the HTTP panic guard and the blocking-task
//! joins both log it, and neither shows it to the client.

use std::any::Any;

/// The message a panic was raised with, or a placeholder.
pub fn message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
}
