//! Human output: sizes, ages and tables.

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{ContentArrangement, Table};

/// A size in binary units, e.g. `12.4 GiB`.
pub fn size(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().iec().to_string()
}

/// An age in its largest unit, e.g. `3h ago`.
pub fn ago(seconds: u64) -> String {
    format!("{} ago", span(seconds))
}

/// A span of time in its largest unit, e.g. `26h`, `7d`.
pub fn span(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 2 * 86400 && s % 86400 != 0 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// A table with a header row, fitted to the terminal when there is one.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    t
}

/// A two-column table of names and values, without a header.
pub fn pairs(rows: Vec<(&str, String)>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic);
    for (name, value) in rows {
        t.add_row(vec![name.to_owned(), value]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(13_314_398_618), "12.4 GiB");
    }

    #[test]
    fn ages_use_their_largest_unit() {
        assert_eq!(ago(5), "5s ago");
        assert_eq!(ago(3 * 3600 + 59), "3h ago");
        assert_eq!(ago(26 * 3600), "26h ago");
        assert_eq!(ago(3 * 86400), "3d ago");
        assert_eq!(span(86400), "1d");
    }
}
