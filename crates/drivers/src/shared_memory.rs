//! Memory that a `--model fork` server's children share with their parent and
//! with each other: what a service that counts across connections (HTTP's
//! `/_netkit/stats`, `--max-connections`) needs under the fork model, where
//! every connection is a process of its own and a plain value would be copied
//! into each child.
//!
//! A [`SharedMemory<T>`] puts one `T` in an anonymous `MAP_SHARED` mapping,
//! made before the first `fork`: a forked child keeps the same pages instead
//! of copies, so an atomic one child bumps is the atomic its parent and its
//! siblings read. That only works for a `T` whose whole state is in its own
//! bytes and changes through atomics — a pointer inside would point into one
//! process's private heap — which is why [`SharedMemory::new`] is `unsafe`.
//!
//! ```text
//!   parent: mmap(MAP_SHARED) ─▶ T ◀─┬─ child 1 (fetch_add)
//!           fork, fork, …           ├─ child 2 (fetch_add)
//!                                   └─ child 3 (load)
//! ```

use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};
use std::io;
use std::num::NonZeroUsize;
use std::ops::Deref;
use std::ptr::NonNull;

/// One `T` in memory that forked children share. See the module doc.
#[derive(Debug)]
pub struct SharedMemory<T> {
    ptr: NonNull<T>,
}

// SAFETY: the pointee is a `T: Sync`, valid for the life of the mapping and
// only ever reached through `&T` (`Deref`), so sharing or sending the handle
// is sharing `&T`.
unsafe impl<T: Sync> Send for SharedMemory<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for SharedMemory<T> {}

impl<T: Sync> SharedMemory<T> {
    /// Maps a fresh shared page (or more) and moves `value` into it.
    ///
    /// # Safety
    ///
    /// `T` must keep its whole state in its own bytes and change only through
    /// atomic operations on `&T`: no pointer, reference, heap allocation, lock
    /// or file descriptor inside. (Each process would otherwise follow a
    /// pointer into its own private copy of the heap.) A `#[repr(C)]` struct
    /// of atomics qualifies.
    pub unsafe fn new(value: T) -> io::Result<Self> {
        let size = std::mem::size_of::<T>();
        // A page is the mapping's alignment; a larger one cannot be promised.
        if std::mem::align_of::<T>() > 4096 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "alignment beyond a page",
            ));
        }
        let len = NonZeroUsize::new(size).unwrap_or(NonZeroUsize::MIN);
        // SAFETY: a fresh anonymous mapping aliases nothing.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }
        .map_err(io::Error::from)?
        .cast::<T>();
        // SAFETY: the mapping is writable, page-aligned (enough for `T`, as
        // checked) and at least `size_of::<T>()` bytes, and nothing reads it
        // before this write.
        unsafe { ptr.as_ptr().write(value) };
        Ok(Self { ptr })
    }

    /// Maps fresh shared pages holding a `T` of all zero bytes, which never
    /// passes through the stack (for a `T` too large for it), and whose
    /// pages the kernel gives only once touched.
    ///
    /// # Safety
    ///
    /// As [`SharedMemory::new`], and all zero bytes must be a valid `T`.
    pub unsafe fn zeroed() -> io::Result<Self> {
        let size = std::mem::size_of::<T>();
        if std::mem::align_of::<T>() > 4096 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "alignment beyond a page",
            ));
        }
        let len = NonZeroUsize::new(size).unwrap_or(NonZeroUsize::MIN);
        // SAFETY: a fresh anonymous mapping aliases nothing; its bytes are
        // zero, a valid `T` by the caller's promise.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }
        .map_err(io::Error::from)?
        .cast::<T>();
        Ok(Self { ptr })
    }
}

impl<T> Deref for SharedMemory<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: initialised in `new`, valid until `drop`.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> Drop for SharedMemory<T> {
    fn drop(&mut self) {
        let len = std::mem::size_of::<T>().max(1);
        // SAFETY: the value written in `new`, dropped once, then the mapping
        // made in `new` is unmapped; no reference outlives `self`.
        unsafe {
            std::ptr::drop_in_place(self.ptr.as_ptr());
            let _ = munmap(self.ptr.cast(), len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn a_forked_child_bumps_the_parents_counter() {
        // SAFETY: an atomic is its own whole state.
        let shared = unsafe { SharedMemory::new(AtomicU64::new(40)) }.unwrap();
        // SAFETY: the child only bumps the atomic and exits, touching no lock
        // another test thread may hold.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                shared.fetch_add(2, Ordering::Relaxed);
                // SAFETY: `_exit` runs no destructor or atexit handler that
                // the parent's other threads' state could trip.
                unsafe { libc::_exit(0) };
            }
            ForkResult::Parent { child } => {
                assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
                assert_eq!(shared.load(Ordering::Relaxed), 42);
            }
        }
    }
}
