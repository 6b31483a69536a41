//! Secrets kept in files (token files): which permissions are acceptable.
//! The callers read the file; this only judges the mode they found, so the
//! server, `vger-admin` and the exporter apply one rule with one message.

/// Refuses a file mode that gives the group or other users any access to
/// a secret, saying how to fix it.
pub fn check_private_mode(mode: u32) -> Result<(), String> {
    let mode = mode & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "is readable by other users (mode {mode:03o}); run chmod 600 on it"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_only_modes_are_accepted() {
        assert_eq!(check_private_mode(0o100600), Ok(()));
        assert_eq!(check_private_mode(0o400), Ok(()));
    }

    #[test]
    fn any_group_or_other_bit_is_refused_with_the_fix() {
        assert_eq!(
            check_private_mode(0o100644),
            Err("is readable by other users (mode 644); run chmod 600 on it".into())
        );
        assert!(check_private_mode(0o620).is_err());
        assert!(check_private_mode(0o601).is_err());
    }
}
