//! The lock table (RFC 4918 §6–7): write locks, exclusive or shared, on a
//! path and (depth infinity) everything below it, each expiring after its
//! timeout. One table per service, in this process's memory: the workers of
//! every threaded model share it; `--model fork`'s children would each have
//! their own, so the service turns locking off there (LOCK is 501 and
//! OPTIONS says `DAV: 1`) rather than hand out locks that guard nothing.
//!
//! Bounded: at most [`MAX_LOCKS`] locks in all and [`MAX_PER_ADDRESS`] made
//! from one address; expired locks are swept whenever the table is used.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Most locks held at once.
pub(crate) const MAX_LOCKS: usize = 4096;
/// Most locks held at once that one address made.
pub(crate) const MAX_PER_ADDRESS: usize = 64;

/// One lock.
#[derive(Debug, Clone)]
pub(crate) struct Lock {
    pub(crate) token: String,
    /// Root-relative, `/`-separated (the root is empty).
    pub(crate) path: String,
    pub(crate) infinite: bool,
    pub(crate) shared: bool,
    /// The `owner` element as XML, as the client sent it.
    pub(crate) owner: Option<String>,
    pub(crate) timeout: Duration,
    pub(crate) expires: Instant,
    pub(crate) from: Option<IpAddr>,
    /// The locked resource is a folder (for the `lockroot` href).
    pub(crate) dir: bool,
}

impl Lock {
    /// Whether the lock covers `path`.
    pub(crate) fn covers(&self, path: &str) -> bool {
        self.path == path || (self.infinite && below(path, &self.path))
    }
}

/// Whether `path` is strictly below `folder`.
pub(crate) fn below(path: &str, folder: &str) -> bool {
    if folder.is_empty() {
        return !path.is_empty();
    }
    path.len() > folder.len() && path.starts_with(folder) && path.as_bytes()[folder.len()] == b'/'
}

/// Why a lock was not granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Another lock conflicts (423).
    Conflict,
    /// The table or the address's share of it is full (503).
    Full,
}

/// The locks of one service.
#[derive(Debug)]
pub(crate) struct Locks {
    /// Off under `--model fork` (see the module doc).
    pub(crate) enabled: bool,
    table: Mutex<HashMap<String, Lock>>,
    seed: std::collections::hash_map::RandomState,
}

impl Locks {
    /// An empty table; `enabled: false` refuses every lock.
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            table: Mutex::new(HashMap::new()),
            seed: std::collections::hash_map::RandomState::new(),
        }
    }

    fn table(&self, now: Instant) -> MutexGuard<'_, HashMap<String, Lock>> {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.retain(|_, l| l.expires > now);
        t
    }

    /// A fresh, unguessable token.
    fn token(&self, n: usize) -> String {
        let mut h = self.seed.build_hasher();
        h.write_usize(n);
        let a = h.finish();
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(a);
        let b = h.finish();
        format!(
            "urn:uuid:{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        )
    }

    /// The locks that cover `path`, or (with `beneath`) lie below it.
    pub(crate) fn on(&self, now: Instant, path: &str, beneath: bool) -> Vec<Lock> {
        self.table(now)
            .values()
            .filter(|l| l.covers(path) || (beneath && below(&l.path, path)))
            .cloned()
            .collect()
    }

    /// Every live lock (one look at the table for a whole listing).
    pub(crate) fn all(&self, now: Instant) -> Vec<Lock> {
        self.table(now).values().cloned().collect()
    }

    /// The lock with this token, if it is alive.
    pub(crate) fn get(&self, now: Instant, token: &str) -> Option<Lock> {
        self.table(now).get(token).cloned()
    }

    /// Grants a new lock (its token and expiry are filled in here).
    pub(crate) fn grant(&self, now: Instant, mut lock: Lock) -> Result<Lock, Refused> {
        let mut t = self.table(now);
        let conflicts = t.values().any(|l| {
            let overlap = l.covers(&lock.path) || (lock.infinite && below(&l.path, &lock.path));
            overlap && !(l.shared && lock.shared)
        });
        if conflicts {
            return Err(Refused::Conflict);
        }
        let mine = t.values().filter(|l| l.from == lock.from).count();
        if t.len() >= MAX_LOCKS || (lock.from.is_some() && mine >= MAX_PER_ADDRESS) {
            return Err(Refused::Full);
        }
        lock.token = self.token(t.len());
        lock.expires = now + lock.timeout;
        t.insert(lock.token.clone(), lock.clone());
        Ok(lock)
    }

    /// Extends a lock by a new timeout.
    pub(crate) fn refresh(&self, now: Instant, token: &str, timeout: Duration) -> Option<Lock> {
        let mut t = self.table(now);
        let l = t.get_mut(token)?;
        l.timeout = timeout;
        l.expires = now + timeout;
        Some(l.clone())
    }

    /// Removes a lock; whether it was there.
    pub(crate) fn remove(&self, now: Instant, token: &str) -> bool {
        self.table(now).remove(token).is_some()
    }

    /// Drops the locks on `path` and below it (it was deleted or moved away).
    pub(crate) fn forget(&self, now: Instant, path: &str) {
        self.table(now)
            .retain(|_, l| l.path != path && !below(&l.path, path));
    }
}
