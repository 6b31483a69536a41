//! Object keys inside a repository, and the rules that decide which are valid.
//!
//! A request path below `<repo>/` is parsed into an [`ObjectPath`]: the repo
//! root, a directory key (valid only for mkdir and list) or an object key.
//! Parsing is purely lexical; whatever passes can be joined onto the repo
//! directory without escaping it, because every segment is either a fixed
//! word or a leaf name that cannot be `.`/`..`, hold a separator, or start
//! with `.` (the server's temp-file namespace).

use std::fmt;

/// Longest leaf name, in bytes (the usual filesystem name limit).
pub const MAX_LEAF_LEN: usize = 255;

/// Length of a pack name: BLAKE2b-256 as lowercase hex.
pub const PACK_HEX_LEN: usize = 64;

/// What an object key is, which decides the policies that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// `config`
    Config,
    /// `keys/<name>`
    RepoKey,
    /// `manifest` (0.7 layout)
    Manifest,
    /// `index`
    Index,
    /// `index.gen`
    IndexGen,
    /// `pending_index` or `pending_index/<name>`
    PendingIndex,
    /// `snapshots/<id>`
    Snapshot,
    /// `packs/<hh>/<64 hex>`
    Pack,
    /// `locks/<name>` (later clients' lock objects)
    Lock,
    /// `sessions/<name>`
    Session,
}

impl KeyKind {
    /// Objects clients use to coordinate rather than to hold history; rules
    /// that restrict writing never apply to them.
    pub fn is_coordination(self) -> bool {
        matches!(self, Self::Lock | Self::Session | Self::IndexGen)
    }

    /// Objects a backup must be able to rewrite to commit, even when the
    /// repository is append-only.
    pub fn is_rewritable_in_append_only(self) -> bool {
        matches!(
            self,
            Self::Manifest
                | Self::Index
                | Self::IndexGen
                | Self::PendingIndex
                | Self::Lock
                | Self::Session
        )
    }

    /// Objects that may be deleted when the repository is append-only.
    pub fn is_deletable_in_append_only(self) -> bool {
        matches!(self, Self::Lock | Self::Session)
    }
}

/// A directory inside a repository (valid for mkdir and list only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DirKey {
    /// `keys/`
    Keys,
    /// `snapshots/`
    Snapshots,
    /// `locks/`
    Locks,
    /// `sessions/`
    Sessions,
    /// `pending_index/`
    PendingIndex,
    /// `packs/`
    Packs,
    /// `packs/<hh>/`, holding the two lowercase hex digits.
    PackShard(String),
}

impl DirKey {
    /// The directory's path relative to the repository, without a trailing slash.
    pub fn path(&self) -> String {
        match self {
            Self::Keys => "keys".into(),
            Self::Snapshots => "snapshots".into(),
            Self::Locks => "locks".into(),
            Self::Sessions => "sessions".into(),
            Self::PendingIndex => "pending_index".into(),
            Self::Packs => "packs".into(),
            Self::PackShard(hh) => format!("packs/{hh}"),
        }
    }
}

/// A valid object key: its path relative to the repository and its kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    path: String,
}

impl Key {
    /// Parses a key such as `packs/ab/<hex>`; directory keys are refused.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        match ObjectPath::parse(s)? {
            ObjectPath::Object(k) => Ok(k),
            ObjectPath::Dir(d) => Err(KeyError::IsDirectory(d.path())),
            ObjectPath::Root => Err(KeyError::Empty),
        }
    }

    /// [`Key::parse`] of an owned string, which becomes the key without
    /// being copied.
    pub fn parse_owned(s: String) -> Result<Self, KeyError> {
        match shape(&s)? {
            Shape::Object => Ok(Self { path: s }),
            Shape::Dir(d) => Err(KeyError::IsDirectory(d.path())),
            Shape::Root => Err(KeyError::Empty),
        }
    }

    /// The key as the client spells it, relative to the repository.
    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// The key as an owned string, without copying it.
    pub fn into_string(self) -> String {
        self.path
    }

    /// What kind of object this key names.
    pub fn kind(&self) -> KeyKind {
        // Parsing guarantees the shape, so the first segment decides.
        let first = self.path.split('/').next().unwrap_or_default();
        match first {
            "config" => KeyKind::Config,
            "keys" => KeyKind::RepoKey,
            "manifest" => KeyKind::Manifest,
            "index" => KeyKind::Index,
            "index.gen" => KeyKind::IndexGen,
            "pending_index" => KeyKind::PendingIndex,
            "snapshots" => KeyKind::Snapshot,
            "packs" => KeyKind::Pack,
            "locks" => KeyKind::Lock,
            _ => KeyKind::Session,
        }
    }

    /// For a pack key, the 64-hex-digit name (its expected BLAKE2b-256).
    pub fn pack_hex(&self) -> Option<&str> {
        (self.kind() == KeyKind::Pack).then(|| &self.path[self.path.len() - PACK_HEX_LEN..])
    }

    /// The pack key for a BLAKE2b-256 digest given as lowercase hex.
    pub fn for_pack(hex: &str) -> Result<Self, KeyError> {
        let shard = hex.get(..2).ok_or(KeyError::BadPackName)?;
        Self::parse(&format!("packs/{shard}/{hex}"))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

/// What a path below `<repo>/` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectPath {
    /// The repository itself (empty path).
    Root,
    /// A directory key.
    Dir(DirKey),
    /// An object key.
    Object(Key),
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// No key at all where one is needed.
    Empty,
    /// An empty path segment (`a//b`).
    EmptySegment,
    /// A leaf name starting with `.` (including `.` and `..`).
    LeadingDot(String),
    /// A leaf name holding a control character, NUL or backslash.
    BadChar(String),
    /// A leaf name longer than [`MAX_LEAF_LEN`] bytes.
    TooLong(usize),
    /// A pack shard that is not two lowercase hex digits.
    BadShard(String),
    /// A pack name that is not 64 lowercase hex digits starting with its shard.
    BadPackName,
    /// A path that names no object class the protocol knows.
    Unknown(String),
    /// A directory key where an object key is needed.
    IsDirectory(String),
    /// An object key written with a trailing slash.
    NotADirectory(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "no object key given"),
            Self::EmptySegment => write!(f, "key has an empty path segment"),
            Self::LeadingDot(n) => write!(f, "name {n:?} must not start with '.'"),
            Self::BadChar(n) => write!(
                f,
                "name {n:?} contains a control character, NUL or backslash"
            ),
            Self::TooLong(n) => write!(f, "name is {n} bytes long; the limit is {MAX_LEAF_LEN}"),
            Self::BadShard(s) => write!(
                f,
                "pack shard {s:?} must be two lowercase hex digits (packs/00 … packs/ff)"
            ),
            Self::BadPackName => write!(
                f,
                "pack key must be packs/<hh>/<64 lowercase hex digits> with <hh> the name's first two digits"
            ),
            Self::Unknown(p) => write!(
                f,
                "{p:?} is not a repository key (expected config, manifest, index, index.gen, keys/, snapshots/, packs/, locks/, sessions/ or pending_index)"
            ),
            Self::IsDirectory(p) => write!(f, "{p:?} is a directory, not an object"),
            Self::NotADirectory(p) => write!(f, "{p:?} is an object, not a directory"),
        }
    }
}

impl std::error::Error for KeyError {}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Checks a client-chosen leaf name (snapshot id, lock or session name, …).
fn check_leaf(name: &str) -> Result<(), KeyError> {
    if name.is_empty() {
        return Err(KeyError::EmptySegment);
    }
    if name.starts_with('.') {
        return Err(KeyError::LeadingDot(name.to_owned()));
    }
    if name.len() > MAX_LEAF_LEN {
        return Err(KeyError::TooLong(name.len()));
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '\\' || c == '/')
    {
        return Err(KeyError::BadChar(name.to_owned()));
    }
    Ok(())
}

fn check_shard(hh: &str) -> Result<(), KeyError> {
    if hh.len() == 2 && is_lower_hex(hh) {
        Ok(())
    } else {
        Err(KeyError::BadShard(hh.to_owned()))
    }
}

/// What a path names, before any string is allocated for it.
enum Shape {
    Root,
    Dir(DirKey),
    Object,
}

/// Most segments any valid path has.
const MAX_SEGMENTS: usize = 3;

/// Classifies `s` (see [`ObjectPath::parse`]); for an object, the key is
/// `s` itself (an object never has a trailing `/`).
fn shape(s: &str) -> Result<Shape, KeyError> {
    let (body, dir_hint) = match s.strip_suffix('/') {
        Some(b) => (b, true),
        None => (s, false),
    };
    if body.is_empty() {
        return if dir_hint {
            Err(KeyError::EmptySegment)
        } else {
            Ok(Shape::Root)
        };
    }
    // Segments are gathered without allocating: this runs for every
    // entry of every listing.
    let mut found = [""; MAX_SEGMENTS + 1];
    let mut count = 0;
    for seg in body.split('/') {
        if seg.is_empty() {
            return Err(KeyError::EmptySegment);
        }
        if count < found.len() {
            found[count] = seg;
        }
        count += 1;
    }
    let segs = &found[..count.min(found.len())];
    let parsed = match segs {
        ["config" | "manifest" | "index" | "index.gen"] => Shape::Object,
        // `pending_index` is an object for some clients and a directory
        // of objects for others; the trailing slash tells them apart.
        ["pending_index"] if dir_hint => Shape::Dir(DirKey::PendingIndex),
        ["pending_index"] => Shape::Object,
        ["keys"] => Shape::Dir(DirKey::Keys),
        ["snapshots"] => Shape::Dir(DirKey::Snapshots),
        ["locks"] => Shape::Dir(DirKey::Locks),
        ["sessions"] => Shape::Dir(DirKey::Sessions),
        ["packs"] => Shape::Dir(DirKey::Packs),
        ["packs", hh] => {
            check_shard(hh)?;
            Shape::Dir(DirKey::PackShard((*hh).to_owned()))
        }
        [
            "keys" | "snapshots" | "locks" | "sessions" | "pending_index",
            name,
        ] => {
            check_leaf(name)?;
            Shape::Object
        }
        ["packs", hh, hex] => {
            check_shard(hh)?;
            if hex.len() != PACK_HEX_LEN || !is_lower_hex(hex) || !hex.starts_with(hh) {
                return Err(KeyError::BadPackName);
            }
            Shape::Object
        }
        _ => {
            // Name the offending segment when it is the problem, so the
            // message says why rather than only what.
            for seg in body.split('/') {
                check_leaf(seg)?;
            }
            return Err(KeyError::Unknown(body.to_owned()));
        }
    };
    match parsed {
        Shape::Object if dir_hint => Err(KeyError::NotADirectory(body.to_owned())),
        other => Ok(other),
    }
}

impl ObjectPath {
    /// Parses a path relative to the repository, such as `packs/ab/`,
    /// `snapshots/<id>` or the empty string. One trailing `/` marks a
    /// directory.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        Ok(match shape(s)? {
            Shape::Root => Self::Root,
            Shape::Dir(d) => Self::Dir(d),
            Shape::Object => Self::Object(Key { path: s.to_owned() }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "53e313315640e227342cb686f91aa346af591176b4f6b67e8e3997f321a219bf";

    fn kind(s: &str) -> KeyKind {
        Key::parse(s).unwrap().kind()
    }

    #[test]
    fn an_owned_parse_agrees_with_a_borrowed_one() {
        for s in [
            "config",
            "keys/repokey",
            "keys",
            "keys/",
            "",
            "packs/53/",
            "keys/a/b/c/d",
            "snapshots/.x",
            "config/",
        ] {
            let owned = Key::parse_owned(s.to_owned()).map_err(|e| e.to_string());
            let borrowed = Key::parse(s).map_err(|e| e.to_string());
            assert_eq!(owned, borrowed, "{s:?}");
        }
    }

    #[test]
    fn every_documented_key_parses_with_its_kind() {
        assert_eq!(kind("config"), KeyKind::Config);
        assert_eq!(kind("keys/repokey"), KeyKind::RepoKey);
        assert_eq!(kind("manifest"), KeyKind::Manifest);
        assert_eq!(kind("index"), KeyKind::Index);
        assert_eq!(kind("index.gen"), KeyKind::IndexGen);
        assert_eq!(kind("pending_index"), KeyKind::PendingIndex);
        assert_eq!(kind("pending_index/abc"), KeyKind::PendingIndex);
        assert_eq!(kind(&format!("snapshots/{HEX}")), KeyKind::Snapshot);
        assert_eq!(kind(&format!("packs/53/{HEX}")), KeyKind::Pack);
        assert_eq!(
            kind("locks/2026-11-27T21:38:11Z-0f1e2d3c-aaaa-bbbb-cccc-0123456789ab.json"),
            KeyKind::Lock
        );
        assert_eq!(kind("sessions/abc.json"), KeyKind::Session);
        assert_eq!(kind("sessions/abc.index"), KeyKind::Session);
    }

    #[test]
    fn directory_keys_parse_with_or_without_slash() {
        assert_eq!(
            ObjectPath::parse("keys/"),
            Ok(ObjectPath::Dir(DirKey::Keys))
        );
        assert_eq!(
            ObjectPath::parse("packs"),
            Ok(ObjectPath::Dir(DirKey::Packs))
        );
        assert_eq!(
            ObjectPath::parse("packs/ff/"),
            Ok(ObjectPath::Dir(DirKey::PackShard("ff".into())))
        );
        assert_eq!(ObjectPath::parse(""), Ok(ObjectPath::Root));
    }

    #[test]
    fn pack_key_knows_its_hex() {
        let k = Key::for_pack(HEX).unwrap();
        assert_eq!(k.as_str(), format!("packs/53/{HEX}"));
        assert_eq!(k.pack_hex(), Some(HEX));
        assert_eq!(Key::parse("config").unwrap().pack_hex(), None);
    }

    #[test]
    fn malformed_keys_are_refused() {
        let upper = HEX.to_uppercase();
        let cases = [
            "/".to_owned(),
            "config/".to_owned(),
            "keys".to_owned(),
            "../config".to_owned(),
            "snapshots/..".to_owned(),
            "snapshots/.".to_owned(),
            "snapshots/.tmp-1".to_owned(),
            "snapshots//x".to_owned(),
            "snapshots/a\\b".to_owned(),
            "snapshots/a\0b".to_owned(),
            "snapshots/a\nb".to_owned(),
            format!("snapshots/{}", "a".repeat(256)),
            "packs/5/".to_owned(),
            "packs/AB/".to_owned(),
            format!("packs/54/{HEX}"),
            format!("packs/53/{upper}"),
            format!("packs/53/{}", &HEX[..63]),
            format!("packs/53/{HEX}0"),
            format!("packs/53/{HEX}/x"),
            "keys/repokey/x".to_owned(),
            "unknown".to_owned(),
            "Config".to_owned(),
            ".vger-server/state".to_owned(),
        ];
        for c in &cases {
            assert!(Key::parse(c).is_err(), "{c:?} should be refused");
        }
    }

    #[test]
    fn policy_classes_follow_the_protocol() {
        for k in [
            "manifest",
            "index",
            "index.gen",
            "pending_index",
            "locks/a",
            "sessions/a",
        ] {
            assert!(kind(k).is_rewritable_in_append_only(), "{k}");
        }
        for k in ["config", "keys/repokey", "snapshots/a"] {
            assert!(!kind(k).is_rewritable_in_append_only(), "{k}");
        }
        assert!(kind("locks/a").is_deletable_in_append_only());
        assert!(!kind("snapshots/a").is_deletable_in_append_only());
        assert!(kind("index.gen").is_coordination());
        assert!(!kind("index").is_coordination());
    }
}
