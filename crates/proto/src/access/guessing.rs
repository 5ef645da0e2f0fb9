//! Failed logins per address: after [`LIMIT`] failures within [`WINDOW`] the
//! address is refused (HTTP 429, `ERR 429`) until that minute ends.
//!
//! The counters live in a [`FailureTable`]: a fixed number of slots made of
//! atomics only, so its memory is bounded whatever the number of addresses,
//! and it may be placed in memory that `--model fork`'s children share (the
//! binary does so; see `netkit_drivers::shared_memory`), every child then
//! counting into the same table. [`Guessing`] is the handle services hold.
//!
//! An address is an IPv4 address, or an IPv6 /64 (one host usually owns a
//! whole /64). It hashes to a bucket of [`PROBE`] slots; a new address takes
//! an empty or expired slot there, else evicts the slot whose window started
//! first. Each slot is two words, the address and `start | tag | count`
//! (window start in ms, 16 bits of the address, failures). Updates are
//! compare-and-swap loops on the second word that check its tag, so a slot
//! taken over by another address in between is noticed and looked up again.
//! Under a flood of more addresses than slots, an evicted address starts
//! afresh: the table bounds memory, not what an attacker owning many
//! addresses can try.
//!
//! ```text
//!   ip ─▶ key (v4, or v6 /64) ─▶ bucket ─▶ [ key | start·tag·count ] × PROBE
//! ```

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Failed logins that close an address's minute.
pub const LIMIT: u64 = 10;
/// The window the failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Slots in a table: the most addresses tracked at once.
pub const SLOTS: usize = 4096;
/// Slots one address may land in.
pub const PROBE: usize = 8;

/// How long a refused address should wait, in whole seconds (at least 1):
/// HTTP's `Retry-After`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

/// One tracked address.
#[repr(C)]
#[derive(Debug, Default)]
struct Slot {
    /// The address's key; 0 for an empty slot.
    key: AtomicU64,
    /// `start_ms << 24 | tag << 8 | count`.
    state: AtomicU64,
}

/// The counters: [`SLOTS`] slots of atomics, nothing else.
///
/// All zeros is its empty state, and it changes only through atomics on
/// `&self`, so it may be placed in memory several processes share.
#[repr(C)]
#[derive(Debug)]
pub struct FailureTable {
    slots: [Slot; SLOTS],
}

impl FailureTable {
    /// An empty table, by value (for a caller that places it, like shared
    /// memory; [`FailureTable::boxed`] builds one on the heap instead).
    pub fn new() -> Self {
        Self {
            slots: std::array::from_fn(|_| Slot::default()),
        }
    }

    /// An empty table made directly on the heap: [`SLOTS`] × 16 bytes never
    /// pass through the stack (a connection thread's is small).
    pub fn boxed() -> Box<Self> {
        let mut table = Box::<Self>::new_uninit();
        // SAFETY: all zeros is a valid `FailureTable` (every field an
        // `AtomicU64`, zero an empty slot), so zeroing initialises it fully.
        unsafe {
            table.as_mut_ptr().write_bytes(0, 1);
            table.assume_init()
        }
    }
}

impl Default for FailureTable {
    fn default() -> Self {
        Self::new()
    }
}

/// Where a [`FailureTable`] lives; handed to [`Guessing::with_store`] by
/// whoever runs the services (this process's heap, or memory forked children
/// share).
pub trait FailureStore: Send + Sync + 'static {
    /// The table to count in.
    fn table(&self) -> &FailureTable;
}

impl FailureStore for FailureTable {
    fn table(&self) -> &FailureTable {
        self
    }
}

/// Failed logins per address, shared by every service of a process (clone
/// it: clones count into the same table).
#[derive(Clone)]
pub struct Guessing {
    store: Arc<dyn FailureStore>,
    /// Times are kept as milliseconds since this instant.
    origin: Instant,
}

impl std::fmt::Debug for Guessing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guessing").finish_non_exhaustive()
    }
}

impl Default for Guessing {
    fn default() -> Self {
        Self::new()
    }
}

impl Guessing {
    /// Counters in this process's memory (threads share them, forked
    /// children would not).
    pub fn new() -> Self {
        let table: Arc<FailureTable> = Arc::from(FailureTable::boxed());
        Self::with_store(table)
    }

    /// Counters in `store`. Make it before forking: the children then share
    /// both the table and the time origin.
    pub fn with_store(store: Arc<dyn FailureStore>) -> Self {
        Self {
            store,
            origin: Instant::now(),
        }
    }

    /// `Ok` when `ip` may try (and be served); otherwise how long until its
    /// minute ends.
    pub fn check(&self, now: Instant, ip: IpAddr) -> Result<(), RetryAfter> {
        let key = key_of(ip);
        let now_ms = self.millis(now);
        let Some(slot) = self.find(key) else {
            return Ok(());
        };
        let (start, tag, count) = unpack(slot.state.load(Ordering::Acquire));
        let ends = start + WINDOW.as_millis() as u64;
        if tag == tag_of(key) && count >= LIMIT && now_ms < ends {
            return Err(RetryAfter((ends - now_ms).div_ceil(1000).max(1)));
        }
        Ok(())
    }

    /// A login from `ip` failed.
    pub fn failed(&self, now: Instant, ip: IpAddr) {
        let key = key_of(ip);
        let tag = tag_of(key);
        let now_ms = self.millis(now);
        // A few rounds: each lost race means another process just changed
        // the bucket; counting is best effort beyond that.
        for _ in 0..4 {
            if let Some(slot) = self.find(key) {
                if bump(slot, tag, now_ms) {
                    return;
                }
                continue;
            }
            let victim = self.victim(key, now_ms);
            let old = victim.key.load(Ordering::Acquire);
            if victim
                .key
                .compare_exchange(old, key, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                victim.state.store(pack(now_ms, tag, 1), Ordering::Release);
                return;
            }
        }
    }

    fn millis(&self, now: Instant) -> u64 {
        // 40 bits of milliseconds: 34 years of uptime.
        (now.saturating_duration_since(self.origin).as_millis() as u64) & START_MASK
    }

    fn bucket(&self, key: u64) -> &[Slot] {
        // Fibonacci hashing: the top bits of key × 2⁶⁴/φ spread neighbours.
        let hash = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let first = (hash >> 32) as usize % (SLOTS / PROBE) * PROBE;
        &self.store.table().slots[first..first + PROBE]
    }

    fn find(&self, key: u64) -> Option<&Slot> {
        self.bucket(key)
            .iter()
            .find(|s| s.key.load(Ordering::Acquire) == key)
    }

    /// The slot a new address takes: empty, else expired, else the one
    /// whose window started first.
    fn victim(&self, key: u64, now_ms: u64) -> &Slot {
        let bucket = self.bucket(key);
        bucket
            .iter()
            .min_by_key(|s| {
                if s.key.load(Ordering::Acquire) == 0 {
                    return (0, 0);
                }
                let (start, _, _) = unpack(s.state.load(Ordering::Acquire));
                if now_ms >= start + WINDOW.as_millis() as u64 {
                    (1, start)
                } else {
                    (2, start)
                }
            })
            .unwrap_or(&bucket[0])
    }
}

/// Adds a failure to `slot` if it still holds the address tagged `tag`
/// (a fresh window when the last one ended); false when it no longer does.
fn bump(slot: &Slot, tag: u64, now_ms: u64) -> bool {
    let mut state = slot.state.load(Ordering::Acquire);
    loop {
        let (start, old_tag, count) = unpack(state);
        if old_tag != tag {
            return false;
        }
        let next = if now_ms >= start + WINDOW.as_millis() as u64 {
            pack(now_ms, tag, 1)
        } else {
            pack(start, tag, (count + 1).min(COUNT_MASK))
        };
        match slot
            .state
            .compare_exchange(state, next, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return true,
            Err(seen) => state = seen,
        }
    }
}

const START_MASK: u64 = (1 << 40) - 1;
const COUNT_MASK: u64 = 0xFF;

fn pack(start_ms: u64, tag: u64, count: u64) -> u64 {
    (start_ms & START_MASK) << 24 | (tag & 0xFFFF) << 8 | (count & COUNT_MASK)
}

fn unpack(state: u64) -> (u64, u64, u64) {
    (state >> 24, (state >> 8) & 0xFFFF, state & COUNT_MASK)
}

/// The address as one nonzero word: IPv4 (or IPv4-mapped IPv6) as
/// `ffff_ffff_<ip>`, IPv6 as its /64 prefix. Both forms sit in ff00::/8,
/// multicast, which is never a peer's source address, when they could
/// collide: the prefix `::/64` (`::1` among it) becomes `ffff_fffe_0000_0000`.
fn key_of(ip: IpAddr) -> u64 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => 0xFFFF_FFFF_0000_0000 | u64::from(u32::from(v4)),
        IpAddr::V6(v6) => match (u128::from(v6) >> 64) as u64 {
            0 => 0xFFFF_FFFE_0000_0000,
            prefix => prefix,
        },
    }
}

/// 16 bits of the key that the state word repeats.
fn tag_of(key: u64) -> u64 {
    (key ^ key >> 16 ^ key >> 32 ^ key >> 48) & 0xFFFF
}
