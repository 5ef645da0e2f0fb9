//! The lock table (RFC 4918 §6–7): write locks, exclusive or shared, on a
//! path and (depth infinity) everything below it, each expiring after its
//! timeout. One table per service, in a [`LockTable`] (`table.rs`): on the
//! heap for the models whose workers are threads, in memory the children
//! share under `--model fork`, so locks hold under every model.
//!
//! Bounded: at most [`MAX_LOCKS`] locks in all and [`MAX_PER_ADDRESS`] made
//! from one address; expired locks are free slots. Tokens are 128 bits of
//! OS randomness (distinct in every forked child).

pub(crate) use super::table::MAX_LOCKS;
use super::table::{LockStore, Slot, Slots, MAX_OWNER, MAX_PATH};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    pub(crate) from: Option<IpAddr>,
    /// The locked resource is a folder (for the `lockroot` href).
    pub(crate) dir: bool,
}

impl Lock {
    /// Whether the lock covers `path`.
    pub(crate) fn covers(&self, path: &str) -> bool {
        covers(&self.path, self.infinite, path)
    }
}

fn covers(lock: &str, infinite: bool, path: &str) -> bool {
    lock == path || (infinite && below(path, lock))
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
    /// The table or the address's share of it is full, or the lock does not
    /// fit a slot (503).
    Full,
}

/// The locks of one service.
pub(crate) struct Locks {
    store: Arc<dyn LockStore>,
    /// Expiries are kept as milliseconds since this instant (made before
    /// any fork, so every child counts from the same one).
    origin: Instant,
}

impl std::fmt::Debug for Locks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locks").finish_non_exhaustive()
    }
}

/// The token's text form: a version 4 UUID URN (RFC 4122).
fn token_text(t: &[u8; 16]) -> String {
    let h: String = t.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The bytes of a token's text form (`None`: not one of ours).
fn token_bytes(text: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = text
        .strip_prefix("urn:uuid:")?
        .bytes()
        .filter(|&b| b != b'-')
        .collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ip(slot: &Slot) -> Option<IpAddr> {
    slot.has_from.then(|| {
        let v6 = Ipv6Addr::from(slot.from);
        v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
    })
}

impl Locks {
    /// A table in `store`, expiries counted from `origin`.
    pub(crate) fn new(store: Arc<dyn LockStore>, origin: Instant) -> Self {
        Self { store, origin }
    }

    fn ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.origin).as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs `f` over the slots, expired ones freed first.
    fn with<R>(&self, now: Instant, f: impl FnOnce(&mut Slots) -> R) -> R {
        let now = self.ms(now);
        self.store.table().with(|s| {
            for slot in s.slot.iter_mut().filter(|l| l.used && l.expires_ms <= now) {
                slot.used = false;
            }
            f(s)
        })
    }

    fn path(s: &Slots, i: usize) -> &str {
        let len = usize::from(s.slot[i].path_len).min(MAX_PATH);
        std::str::from_utf8(&s.text[i].path[..len]).unwrap_or("\u{0}")
    }

    fn lock(&self, s: &Slots, i: usize) -> Lock {
        let slot = &s.slot[i];
        let owner_len = usize::from(slot.owner_len).min(MAX_OWNER);
        Lock {
            token: token_text(&slot.token),
            path: Self::path(s, i).to_owned(),
            infinite: slot.infinite,
            shared: slot.shared,
            owner: slot.has_owner.then(|| text(&s.text[i].owner[..owner_len])),
            timeout: Duration::from_millis(slot.timeout_ms),
            from: ip(slot),
            dir: slot.dir,
        }
    }

    fn find(s: &Slots, token: &str) -> Option<usize> {
        let token = token_bytes(token)?;
        (0..MAX_LOCKS).find(|&i| s.slot[i].used && s.slot[i].token == token)
    }

    /// The locks that cover `path`, or (with `beneath`) lie below it.
    pub(crate) fn on(&self, now: Instant, path: &str, beneath: bool) -> Vec<Lock> {
        self.with(now, |s| {
            (0..MAX_LOCKS)
                .filter(|&i| s.slot[i].used)
                .filter(|&i| {
                    let p = Self::path(s, i);
                    covers(p, s.slot[i].infinite, path) || (beneath && below(p, path))
                })
                .map(|i| self.lock(s, i))
                .collect()
        })
    }

    /// Every live lock (one look at the table for a whole listing).
    pub(crate) fn all(&self, now: Instant) -> Vec<Lock> {
        self.with(now, |s| {
            (0..MAX_LOCKS)
                .filter(|&i| s.slot[i].used)
                .map(|i| self.lock(s, i))
                .collect()
        })
    }

    /// The lock with this token, if it is alive.
    pub(crate) fn get(&self, now: Instant, token: &str) -> Option<Lock> {
        self.with(now, |s| Self::find(s, token).map(|i| self.lock(s, i)))
    }

    /// Grants a new lock (its token and expiry are filled in here).
    pub(crate) fn grant(&self, now: Instant, lock: Lock) -> Result<Lock, Refused> {
        let owner = lock.owner.as_deref().unwrap_or("");
        if lock.path.len() > MAX_PATH || owner.len() > MAX_OWNER {
            return Err(Refused::Full);
        }
        let mut token = [0u8; 16];
        getrandom::getrandom(&mut token).map_err(|_| Refused::Full)?;
        token[6] = token[6] & 0x0f | 0x40; // version 4
        token[8] = token[8] & 0x3f | 0x80; // the RFC 4122 variant
        let from = lock.from.map(|a| match a {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        });
        let expires_ms = self
            .ms(now)
            .saturating_add(u64::try_from(lock.timeout.as_millis()).unwrap_or(u64::MAX));
        self.with(now, |s| {
            let mut free = None;
            let mut mine = 0;
            for i in 0..MAX_LOCKS {
                let slot = &s.slot[i];
                if !slot.used {
                    free = free.or(Some(i));
                    continue;
                }
                let p = Self::path(s, i);
                let overlap =
                    covers(p, slot.infinite, &lock.path) || (lock.infinite && below(p, &lock.path));
                if overlap && !(slot.shared && lock.shared) {
                    return Err(Refused::Conflict);
                }
                if slot.has_from && from == Some(slot.from) {
                    mine += 1;
                }
            }
            let Some(i) = free else {
                return Err(Refused::Full);
            };
            if from.is_some() && mine >= MAX_PER_ADDRESS {
                return Err(Refused::Full);
            }
            s.text[i].path[..lock.path.len()].copy_from_slice(lock.path.as_bytes());
            s.text[i].owner[..owner.len()].copy_from_slice(owner.as_bytes());
            s.slot[i] = Slot {
                used: true,
                infinite: lock.infinite,
                shared: lock.shared,
                dir: lock.dir,
                has_from: from.is_some(),
                has_owner: lock.owner.is_some(),
                path_len: u16::try_from(lock.path.len()).unwrap_or(0),
                owner_len: u16::try_from(owner.len()).unwrap_or(0),
                token,
                from: from.unwrap_or_default(),
                timeout_ms: u64::try_from(lock.timeout.as_millis()).unwrap_or(u64::MAX),
                expires_ms,
            };
            Ok(self.lock(s, i))
        })
    }

    /// Extends a lock by a new timeout.
    pub(crate) fn refresh(&self, now: Instant, token: &str, timeout: Duration) -> Option<Lock> {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let expires_ms = self.ms(now).saturating_add(ms);
        self.with(now, |s| {
            let i = Self::find(s, token)?;
            s.slot[i].timeout_ms = ms;
            s.slot[i].expires_ms = expires_ms;
            Some(self.lock(s, i))
        })
    }

    /// Removes a lock; whether it was there.
    pub(crate) fn remove(&self, now: Instant, token: &str) -> bool {
        self.with(now, |s| match Self::find(s, token) {
            Some(i) => {
                s.slot[i].used = false;
                true
            }
            None => false,
        })
    }

    /// Drops the locks on `path` and below it (it was deleted or moved away).
    pub(crate) fn forget(&self, now: Instant, path: &str) {
        self.with(now, |s| {
            for i in 0..MAX_LOCKS {
                if s.slot[i].used {
                    let p = Self::path(s, i);
                    if p == path || below(p, path) {
                        s.slot[i].used = false;
                    }
                }
            }
        })
    }
}
