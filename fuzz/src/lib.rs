//! What the fuzz targets share: a small real repository on disk, opened
//! once per fuzzing process, and a ledger that counts nothing.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use shared_proto::{Key, RepoName};
use vger_server::store::{Change, Ledger, RepoStore, StoreResult};

/// The repository every plan runs against.
pub const REPO: &str = "r";

/// A ledger that admits everything and keeps no books: the targets check
/// what reaches the disk, not the counters.
#[derive(Debug)]
pub struct NoBooks;

impl Ledger for NoBooks {
    fn admit(&self, _: &Key, _: Option<u64>, _: u64) -> StoreResult<()> {
        Ok(())
    }
    fn reserve(&self, _: u64) -> StoreResult<()> {
        Ok(())
    }
    fn record(&self, _: Change<'_>) {}
    fn persist(&self) {}
}

/// A store on a temp dir (in /dev/shm when there is one, so fsync is
/// cheap) holding repository `r` with the packs of [`source_packs`].
#[derive(Debug)]
pub struct Fixture {
    /// The store.
    pub store: RepoStore,
    /// Its data directory.
    pub data: PathBuf,
    /// The repository.
    pub repo: RepoName,
    /// Where repack journals go.
    pub journal: PathBuf,
    /// The packs, as (key, bytes).
    pub packs: Vec<(String, Vec<u8>)>,
    /// A runtime to run the store's async calls on.
    pub runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// A pack of `blobs`, framed as the client frames them, and its key.
pub fn pack_of(blobs: &[&[u8]]) -> (String, Vec<u8>) {
    let mut bytes = shared_proto::pack::pack_header().to_vec();
    for b in blobs {
        bytes.extend_from_slice(&(b.len() as u32).to_le_bytes());
        bytes.extend_from_slice(b);
    }
    let hex = blake2b_hex(&bytes);
    (format!("packs/{}/{hex}", &hex[..2]), bytes)
}

/// BLAKE2b-256 as lowercase hex.
pub fn blake2b_hex(bytes: &[u8]) -> String {
    blake2b_simd::Params::new()
        .hash_length(32)
        .hash(bytes)
        .to_hex()
        .to_string()
}

/// The packs in the fixture repository: two well-formed ones, and one
/// whose name does not match its content.
fn source_packs() -> Vec<(String, Vec<u8>)> {
    let a = pack_of(&[b"alpha", b"bravo-bravo", b"c"]);
    let b = pack_of(&[&[0u8; 300], b"delta", &[7u8; 40]]);
    let (_, bad) = pack_of(&[b"echo"]);
    let wrong = format!("packs/00/{}", "0".repeat(64));
    vec![a, b, (wrong, bad)]
}

/// The fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .expect("a temp dir");
        let data = dir.path().join("data");
        let packs = source_packs();
        for (key, bytes) in &packs {
            let path = data.join(REPO).join(key);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("dirs");
            std::fs::write(&path, bytes).expect("a pack");
        }
        Fixture {
            store: RepoStore::open(&data, 1 << 20).expect("the store"),
            data: data.clone(),
            repo: RepoName::parse(REPO).expect("a name"),
            journal: dir.path().join("journal"),
            packs,
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a runtime"),
            _dir: dir,
        }
    })
}

/// The ledger the targets pass to the store.
pub fn ledger() -> Arc<dyn Ledger> {
    Arc::new(NoBooks)
}
