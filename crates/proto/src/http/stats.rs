//! The counters behind `GET /_netkit/stats`, in memory every worker shares —
//! threads of one process, and also the children `--model fork` makes: the
//! counters live in an anonymous `MAP_SHARED` mapping, which a forked child
//! shares with its parent instead of copying, so the totals and
//! `--max-connections` hold across processes too. Every field is an atomic, and
//! all zeros is a valid start, which is exactly what a fresh mapping holds.

use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};
use std::num::NonZeroUsize;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize};

/// Counters shared by every connection of every worker.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections open now.
    pub connections_open: AtomicUsize,
    /// Connections accepted since start.
    pub connections_total: AtomicU64,
    /// Requests answered.
    pub requests: AtomicU64,
    /// Bytes of responses (heads and bodies) queued for sending.
    pub bytes_sent: AtomicU64,
}

/// [`Stats`] in a shared mapping (or, if mapping fails, on the heap, which
/// is shared by threads only).
#[derive(Debug)]
pub(crate) struct SharedStats {
    ptr: NonNull<Stats>,
    mapped: bool,
}

// SAFETY: the pointee is a `Stats` (atomics only, so `Sync`), valid for the
// life of `SharedStats`, and only ever accessed through `&Stats`.
unsafe impl Send for SharedStats {}
// SAFETY: as above.
unsafe impl Sync for SharedStats {}

impl SharedStats {
    pub(crate) fn new() -> Self {
        let len = NonZeroUsize::new(std::mem::size_of::<Stats>()).unwrap_or(NonZeroUsize::MIN);
        // SAFETY: a fresh anonymous mapping aliases nothing; the kernel zeroes
        // it and aligns it to a page, and all-zero atomics are a valid `Stats`.
        let mapped = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        };
        match mapped {
            Ok(ptr) => Self {
                ptr: ptr.cast(),
                mapped: true,
            },
            Err(_) => Self {
                ptr: NonNull::from(Box::leak(Box::<Stats>::default())),
                mapped: false,
            },
        }
    }
}

impl Deref for SharedStats {
    type Target = Stats;

    fn deref(&self) -> &Stats {
        // SAFETY: valid and initialised from `new` until `drop`.
        unsafe { self.ptr.as_ref() }
    }
}

impl Drop for SharedStats {
    fn drop(&mut self) {
        if self.mapped {
            // SAFETY: the mapping made in `new`, no longer referenced.
            let _ = unsafe { munmap(self.ptr.cast(), std::mem::size_of::<Stats>()) };
        } else {
            // SAFETY: the box leaked in `new`, no longer referenced.
            drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn starts_at_zero_and_counts() {
        let s = SharedStats::new();
        assert_eq!(s.requests.load(Ordering::Relaxed), 0);
        s.requests.fetch_add(2, Ordering::Relaxed);
        assert_eq!(s.requests.load(Ordering::Relaxed), 2);
    }
}
