//! The memory the lock table lives in: [`LockTable`], a fixed number of
//! fixed-size slots with no pointer inside, so it may be placed in memory
//! that `--model fork`'s children share (the binary does so, as for the
//! failed-login counters) and every child then sees every lock; threaded
//! models keep one on the heap. [`LockStore`] says where it is.
//!
//! One spin lock guards the whole table: the word holds the holder's
//! process id. The critical sections are a scan of at most [`MAX_LOCKS`]
//! slots, never I/O; a waiter yields its time slice while it spins, and one
//! that waited long checks whether the holder still lives (a child killed
//! inside would otherwise block every other one) and takes the lock over.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, Ordering};

/// Most locks held at once.
pub(crate) const MAX_LOCKS: usize = 4096;
/// Longest locked path kept, in bytes (a name's longest: `PATH_MAX`).
pub(crate) const MAX_PATH: usize = 4096;
/// Longest `owner` element kept, in bytes (a longer one is refused, 503).
pub(crate) const MAX_OWNER: usize = 2048;

/// One lock's fixed part (the texts are in [`Text`]).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) used: bool,
    pub(crate) infinite: bool,
    pub(crate) shared: bool,
    pub(crate) dir: bool,
    pub(crate) has_from: bool,
    pub(crate) has_owner: bool,
    pub(crate) path_len: u16,
    pub(crate) owner_len: u16,
    pub(crate) token: [u8; 16],
    /// The address, IPv4 mapped into IPv6.
    pub(crate) from: [u8; 16],
    pub(crate) timeout_ms: u64,
    /// Milliseconds since the service's start.
    pub(crate) expires_ms: u64,
}

/// One lock's path and owner.
#[repr(C)]
pub(crate) struct Text {
    pub(crate) path: [u8; MAX_PATH],
    pub(crate) owner: [u8; MAX_OWNER],
}

/// The slots; all zeros is an empty table.
#[repr(C)]
pub(crate) struct Slots {
    pub(crate) slot: [Slot; MAX_LOCKS],
    pub(crate) text: [Text; MAX_LOCKS],
}

/// The lock table's memory. Every field is plain data or an atomic, so it
/// may live in memory processes share; all zeros is an empty table.
#[repr(C)]
pub struct LockTable {
    guard: AtomicU32,
    slots: UnsafeCell<Slots>,
}

// SAFETY: `slots` is only reached through `LockTable::with`, which holds the
// spin lock for the whole time the reference lives.
unsafe impl Sync for LockTable {}

impl std::fmt::Debug for LockTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockTable").finish_non_exhaustive()
    }
}

impl LockTable {
    /// An empty table on the heap (never through the stack: it is ~25 MiB,
    /// and zeroed by the allocator, so only the pages used are touched).
    pub fn boxed() -> Box<Self> {
        let layout = std::alloc::Layout::new::<Self>();
        // SAFETY: the layout is not zero-sized; all zeros is a valid
        // `LockTable` (an unlocked guard, empty slots: every field an
        // integer, a bool or an array of them), so the zeroed allocation is
        // an initialised `Self` that the box then owns.
        unsafe {
            let ptr = std::alloc::alloc_zeroed(layout).cast::<Self>();
            if ptr.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            Box::from_raw(ptr)
        }
    }

    /// Runs `f` with the slots, under the spin lock.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Slots) -> R) -> R {
        let me = std::process::id().max(1);
        let mut spins: u32 = 0;
        loop {
            match self
                .guard
                .compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(holder) => {
                    spins = spins.wrapping_add(1);
                    if spins.is_multiple_of(16) {
                        std::thread::yield_now();
                    } else {
                        std::hint::spin_loop();
                    }
                    if spins.is_multiple_of(4096) && holder != 0 && holder != me && !alive(holder) {
                        // Its holder died inside: take the lock over.
                        let _ = self.guard.compare_exchange(
                            holder,
                            0,
                            Ordering::AcqRel,
                            Ordering::Relaxed,
                        );
                    }
                }
            }
        }
        struct Release<'a>(&'a AtomicU32);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.store(0, Ordering::Release);
            }
        }
        let _release = Release(&self.guard);
        // SAFETY: the spin lock is held until `_release` drops, after `f`
        // returned, so this is the only reference to the slots meanwhile.
        f(unsafe { &mut *self.slots.get() })
    }
}

/// Whether the process `pid` still exists.
fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// Where a [`LockTable`] lives; handed to the service in its
/// `HttpContext` (this process's heap, or memory forked children share).
pub trait LockStore: Send + Sync + 'static {
    /// The table.
    fn table(&self) -> &LockTable;
}

impl LockStore for LockTable {
    fn table(&self) -> &LockTable {
        self
    }
}

impl LockStore for Box<LockTable> {
    fn table(&self) -> &LockTable {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_left_by_a_dead_process_is_taken_over() {
        let table = LockTable::boxed();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        // As if that process died inside the critical section.
        table.guard.store(dead, Ordering::Release);
        assert_eq!(table.with(|s| s.slot.len()), MAX_LOCKS);
        assert_eq!(table.guard.load(Ordering::Acquire), 0, "released again");
    }
}
