//! Repository names, keys, directory keys and raw request paths: whatever
//! is accepted can only name something inside the data directory, and is
//! spelt one way.
#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use shared_proto::{Key, ObjectPath, RepoName};
use vger_server::http::target::{Query, Target};

fn inside(rel: &str) {
    assert!(!rel.is_empty());
    assert!(!rel.contains('\0') && !rel.contains('\\'), "{rel:?}");
    for c in Path::new(rel).components() {
        assert!(matches!(c, Component::Normal(_)), "{rel:?} has {c:?}");
    }
    for seg in rel.split('/') {
        assert!(!seg.is_empty() && !seg.starts_with('.'), "{rel:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = RepoName::parse(s) {
        assert_eq!(name.as_str(), s);
        assert!(!s.contains('/'));
        inside(s);
    }
    if let Ok(key) = Key::parse(s) {
        assert_eq!(key.as_str(), s);
        inside(s);
        assert_eq!(Key::parse_owned(s.to_owned()).ok().as_ref(), Some(&key));
        if let Some(hex) = key.pack_hex() {
            assert_eq!(s, format!("packs/{}/{hex}", &hex[..2]));
        }
    }
    match ObjectPath::parse(s) {
        Ok(ObjectPath::Dir(dir)) => inside(&dir.path()),
        Ok(ObjectPath::Object(key)) => assert_eq!(key.as_str(), s),
        Ok(ObjectPath::Root) | Err(_) => {}
    }
    let (path, query) = s.split_once('?').map_or((s, None), |(p, q)| (p, Some(q)));
    let _ = Query::parse(query);
    if let Ok(Target::Repo { repo, .. }) = Target::parse(path) {
        inside(repo.as_str());
    }
});
