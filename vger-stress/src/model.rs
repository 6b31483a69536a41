//! What the server may hold after a crash, given what it acknowledged.
//!
//! Every change a writer makes is recorded before it is sent (`begin`) and
//! confirmed when the answer arrives (`ack`). A change whose answer never
//! came (the server was killed) stays pending: afterwards the object may
//! show either its last acknowledged state or the pending one, and
//! nothing else. Observing which one it shows settles it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;

/// An object's content: `None` is absent.
pub type Content = Option<Bytes>;

/// One object as far as the harness knows.
#[derive(Debug, Clone, Default)]
struct Slot {
    acked: Content,
    pending: Option<Content>,
}

/// The expected state of every object the writers touch, by
/// `(repo, key)`, and of the server lock they take.
#[derive(Debug, Default)]
pub struct Model {
    objects: Mutex<BTreeMap<(String, String), Slot>>,
    lock: Mutex<LockSlot>,
    /// Unix seconds before the last acknowledged backup was sent, per repo.
    backups: Mutex<BTreeMap<String, i64>>,
    /// Repacks in flight: (repo, source, new pack).
    repacks: Mutex<Vec<(String, String, String)>>,
}

/// The lock: held or not, and a change in flight.
#[derive(Debug, Default, Clone, Copy)]
struct LockSlot {
    held: bool,
    pending: Option<bool>,
}

/// A state the server showed that the model does not allow.
#[derive(Debug)]
pub struct Violation(pub String);

fn describe(c: &Content) -> String {
    match c {
        None => "absent".into(),
        Some(b) => format!("{} bytes", b.len()),
    }
}

impl Model {
    /// A change of `(repo, key)` to `to` is about to be sent.
    pub fn begin(&self, repo: &str, key: &str, to: Content) {
        let mut m = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        m.entry((repo.to_owned(), key.to_owned()))
            .or_default()
            .pending = Some(to);
    }

    /// The change in flight on `(repo, key)` was acknowledged.
    pub fn ack(&self, repo: &str, key: &str) {
        let mut m = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = m.get_mut(&(repo.to_owned(), key.to_owned())) {
            if let Some(to) = slot.pending.take() {
                slot.acked = to;
            }
        }
    }

    /// The acknowledged content of `(repo, key)`, if nothing is in flight.
    pub fn settled(&self, repo: &str, key: &str) -> Option<Content> {
        let m = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&(repo.to_owned(), key.to_owned()))
            .filter(|s| s.pending.is_none())
            .map(|s| s.acked.clone())
    }

    /// Every `(repo, key)` the model knows.
    pub fn keys(&self) -> Vec<(String, String)> {
        let m = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        m.keys().cloned().collect()
    }

    /// How many changes are in flight (unanswered).
    pub fn in_flight(&self) -> usize {
        let m = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        let lock = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        m.values().filter(|s| s.pending.is_some()).count() + usize::from(lock.pending.is_some())
    }

    /// Checks what the server shows for `(repo, key)` and settles it.
    pub fn observe(&self, repo: &str, key: &str, seen: Content) -> Result<(), Violation> {
        let mut m = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        let slot = m.entry((repo.to_owned(), key.to_owned())).or_default();
        let allowed = seen == slot.acked || slot.pending.as_ref().is_some_and(|p| *p == seen);
        let verdict = if allowed {
            Ok(())
        } else {
            Err(Violation(format!(
                "{repo}/{key}: the server shows {} but the last acknowledged state is {}{}",
                describe(&seen),
                describe(&slot.acked),
                slot.pending
                    .as_ref()
                    .map(|p| format!(" and {} was in flight", describe(p)))
                    .unwrap_or_default()
            )))
        };
        slot.acked = seen;
        slot.pending = None;
        verdict
    }

    /// A repack of `source` into `new` in `repo` is about to be sent: both
    /// are in flight, and together they must not both vanish.
    pub fn repack_begin(&self, repo: &str, source: &str, new: &str, new_bytes: Bytes) {
        self.begin(repo, source, None);
        self.begin(repo, new, Some(new_bytes));
        self.repacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((repo.to_owned(), source.to_owned(), new.to_owned()));
    }

    /// The repack in flight from `source` was acknowledged.
    pub fn repack_ack(&self, repo: &str, source: &str, new: &str) {
        self.ack(repo, source);
        self.ack(repo, new);
        self.repacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(r, s, _)| !(r == repo && s == source));
    }

    /// After every object was observed: a repack in flight at the crash may
    /// have happened or not, but deleting its source without publishing
    /// its new pack would lose the kept blobs.
    pub fn check_repacks(&self) -> Vec<Violation> {
        let repacks = std::mem::take(&mut *self.repacks.lock().unwrap_or_else(|p| p.into_inner()));
        repacks
            .into_iter()
            .filter(|(repo, source, new)| {
                self.settled(repo, source) == Some(None) && self.settled(repo, new) == Some(None)
            })
            .map(|(repo, source, new)| {
                Violation(format!(
                    "{repo}: repack in flight lost data: its source {source} is gone and its new pack {new} never appeared"
                ))
            })
            .collect()
    }

    /// Forgets keys seen absent: a deleted key coming back is caught by
    /// comparing `?list` with the present keys, and the model stays as
    /// small as the repositories.
    pub fn forget_absent(&self) {
        let mut m = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, s| s.acked.is_some() || s.pending.is_some());
    }

    /// Present keys of `repo` (all settled).
    pub fn present(&self, repo: &str) -> Vec<String> {
        let m = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        m.iter()
            .filter(|((r, _), s)| r == repo && s.acked.is_some())
            .map(|((_, k), _)| k.clone())
            .collect()
    }

    /// A lock change to `held` is about to be sent.
    pub fn lock_begin(&self, held: bool) {
        self.lock.lock().unwrap_or_else(|p| p.into_inner()).pending = Some(held);
    }

    /// The lock change in flight was acknowledged.
    pub fn lock_ack(&self) {
        let mut l = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = l.pending.take() {
            l.held = h;
        }
    }

    /// Whether the lock is held, acknowledged and with nothing in flight.
    pub fn lock_settled(&self) -> Option<bool> {
        let l = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        l.pending.is_none().then_some(l.held)
    }

    /// Checks whether the server lists the lock, and settles it.
    pub fn lock_observe(&self, listed: bool) -> Result<(), Violation> {
        let mut l = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let allowed = listed == l.held || l.pending == Some(listed);
        let verdict = if allowed {
            Ok(())
        } else {
            Err(Violation(format!(
                "server lock: listed = {listed}, but the last acknowledged state is held = {}{}",
                l.held,
                l.pending
                    .map(|p| format!(" and held = {p} was in flight"))
                    .unwrap_or_default()
            )))
        };
        l.held = listed;
        l.pending = None;
        verdict
    }

    /// A backup (a new snapshot) sent at `sent` (Unix seconds) to `repo`
    /// was acknowledged.
    pub fn backup_acked(&self, repo: &str, sent: i64) {
        let mut b = self.backups.lock().unwrap_or_else(|p| p.into_inner());
        let e = b.entry(repo.to_owned()).or_insert(sent);
        *e = (*e).max(sent);
    }

    /// Checks a repo's `last_backup_at` (Unix seconds) against the
    /// acknowledged backups: it may be newer (a backup in flight landed),
    /// never older, and never missing once one was acknowledged.
    pub fn backup_observe(&self, repo: &str, seen: Option<i64>, now: i64) -> Result<(), Violation> {
        let b = self.backups.lock().unwrap_or_else(|p| p.into_inner());
        match (b.get(repo), seen) {
            (None, _) => Ok(()),
            (Some(_), None) => Err(Violation(format!(
                "{repo}: last_backup_at is null after an acknowledged backup"
            ))),
            (Some(&floor), Some(t)) if t < floor || t > now + 1 => Err(Violation(format!(
                "{repo}: last_backup_at is {t}, but the last acknowledged backup was sent at {floor} (now {now})"
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Content {
        Some(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn an_acknowledged_write_must_be_seen() {
        let m = Model::default();
        m.begin("r", "k", b("one"));
        m.ack("r", "k");
        assert!(m.observe("r", "k", b("one")).is_ok());
        assert!(m.observe("r", "k", None).is_err());
    }

    #[test]
    fn a_write_in_flight_may_be_seen_or_not_but_nothing_else() {
        let m = Model::default();
        m.begin("r", "k", b("one"));
        m.ack("r", "k");
        m.begin("r", "k", b("two"));
        assert!(m.observe("r", "k", b("two")).is_ok());
        m.begin("r", "k", b("three"));
        assert!(m.observe("r", "k", b("two")).is_ok());
        m.begin("r", "k", b("four"));
        assert!(m.observe("r", "k", b("torn")).is_err());
    }

    #[test]
    fn a_delete_in_flight_may_have_happened() {
        let m = Model::default();
        m.begin("r", "k", b("one"));
        m.ack("r", "k");
        m.begin("r", "k", None);
        assert!(m.observe("r", "k", None).is_ok());
        assert!(m.observe("r", "k", b("one")).is_err());
    }

    #[test]
    fn a_repack_in_flight_must_not_lose_both_packs() {
        let m = Model::default();
        m.begin("r", "src", b("blobs"));
        m.ack("r", "src");
        m.repack_begin("r", "src", "new", Bytes::from_static(b"kept"));
        assert!(m.observe("r", "src", None).is_ok());
        assert!(m.observe("r", "new", None).is_ok());
        assert_eq!(m.check_repacks().len(), 1);
        m.begin("r", "src2", b("blobs"));
        m.ack("r", "src2");
        m.repack_begin("r", "src2", "new2", Bytes::from_static(b"kept"));
        assert!(m.observe("r", "src2", b("blobs")).is_ok());
        assert!(m.observe("r", "new2", None).is_ok());
        assert!(m.check_repacks().is_empty());
    }

    #[test]
    fn the_lock_follows_the_same_rule() {
        let m = Model::default();
        m.lock_begin(true);
        m.lock_ack();
        assert!(
            m.lock_observe(false).is_err(),
            "an acknowledged take was lost"
        );
        m.lock_begin(true);
        m.lock_ack();
        m.lock_begin(false);
        assert!(
            m.lock_observe(true).is_ok(),
            "the release in flight did not land"
        );
        m.lock_begin(false);
        assert!(
            m.lock_observe(false).is_ok(),
            "the release in flight landed"
        );
        assert!(m.lock_observe(true).is_err(), "a released lock came back");
    }

    #[test]
    fn last_backup_may_be_newer_but_never_older() {
        let m = Model::default();
        assert!(m.backup_observe("r", None, 100).is_ok());
        m.backup_acked("r", 50);
        assert!(m.backup_observe("r", Some(50), 100).is_ok());
        assert!(m.backup_observe("r", Some(70), 100).is_ok());
        assert!(m.backup_observe("r", Some(49), 100).is_err());
        assert!(m.backup_observe("r", None, 100).is_err());
    }
}
