//! The ring itself and what the kernel borrows from it: setting one up (and
//! the one-line reason when the kernel refuses), the submission backlog, the
//! provided receive buffers, and the pipes file bodies are spliced through.
//!
//! Everything `unsafe` in the uring model is here, in three places, each for
//! the same reason: the kernel reads or writes memory (or takes a
//! descriptor) after the call that handed it over has returned, so the
//! borrow checker cannot see who owns it. The rule that makes them sound is
//! kept by the worker: memory named in a submission (a connection's output
//! buffer, a provided buffer) is neither freed nor written by us until the
//! completion for that submission has been taken off the ring.

use io_uring::{opcode, squeue, types, IoUring};
use nix::errno::Errno;
use socket2::{SockAddr, SockAddrStorage};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Submission queue entries per ring (the completion queue is twice that,
/// and the kernel keeps overflowing completions rather than dropping them).
const ENTRIES: u32 = 1024;

/// Why io_uring cannot be used here, in one line (the server exits with it).
pub(crate) fn refusal(e: &io::Error) -> io::Error {
    let why = match e.raw_os_error().map(Errno::from_raw) {
        Some(Errno::ENOSYS) => "the kernel has no io_uring (ENOSYS: too old, or built without it)",
        Some(Errno::EPERM) => {
            "io_uring is not allowed (EPERM: kernel.io_uring_disabled, or a seccomp filter)"
        }
        Some(Errno::EACCES) => "io_uring is not allowed (EACCES: a security module denies it)",
        Some(Errno::ENOMEM) => {
            "io_uring cannot lock its memory (ENOMEM: raise the memlock limit, ulimit -l)"
        }
        Some(Errno::EINVAL) => "the kernel's io_uring is too old for this model (needs Linux 5.19)",
        _ => {
            return io::Error::new(
                e.kind(),
                format!("--model uring: io_uring_setup failed: {e}"),
            )
        }
    };
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("--model uring: {why}; use another --model (epoll)"),
    )
}

/// Checks that this kernel lets the process set up a ring with what the
/// model needs; the error is the one-line reason. Called before the server
/// announces itself, so a refusal never follows a ready line.
pub fn check() -> io::Result<()> {
    let ring: IoUring = IoUring::new(8).map_err(|e| refusal(&e))?;
    let mut probe = io_uring::Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| refusal(&e))?;
    // IORING_OP_SOCKET came with 5.19, as did multishot accept, which no
    // probe can see: its presence stands for the release.
    let needed = [
        opcode::Socket::CODE,
        opcode::Splice::CODE,
        opcode::ProvideBuffers::CODE,
        opcode::Send::CODE,
    ];
    if !needed.iter().all(|&op| probe.is_supported(op)) || !ring.params().is_feature_ext_arg() {
        return Err(refusal(&io::Error::from_raw_os_error(nix::libc::EINVAL)));
    }
    Ok(())
}

/// A worker's ring. Created disabled on the starting thread, so every
/// descriptor is made before any worker accepts; [`Ring::enable`] on the
/// worker's own thread makes that thread its only submitter, which lets the
/// kernel run completions only when the worker waits for them.
pub(crate) struct Ring {
    pub(crate) ring: IoUring,
    /// Chains of entries that did not fit in the submission queue yet.
    backlog: Vec<Vec<squeue::Entry>>,
}

impl Ring {
    pub(crate) fn new() -> io::Result<Ring> {
        let fast = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_r_disabled()
            .setup_cqsize(ENTRIES * 4)
            .build(ENTRIES);
        let ring = match fast {
            Ok(ring) => ring,
            // Before 6.1: the same ring without the single-issuer hints.
            Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => IoUring::builder()
                .setup_cqsize(ENTRIES * 4)
                .build(ENTRIES)
                .map_err(|e| refusal(&e))?,
            Err(e) => return Err(refusal(&e)),
        };
        Ok(Ring {
            ring,
            backlog: Vec::new(),
        })
    }

    /// Makes the calling thread the ring's submitter (see [`Ring`]).
    pub(crate) fn enable(&self) -> io::Result<()> {
        if self.ring.params().is_setup_single_issuer() {
            self.ring.submitter().register_enable_rings()?;
        }
        Ok(())
    }

    /// Queues an entry for the next submission.
    ///
    /// The caller keeps the promise of the module doc: whatever `entry`
    /// points at stays valid and untouched until its completion is taken.
    pub(crate) fn push(&mut self, entry: squeue::Entry) {
        self.push_chain(std::slice::from_ref(&entry));
    }

    /// Queues entries that must reach the kernel in one submission (a chain
    /// linked with IO_LINK: split across two, it would end early).
    pub(crate) fn push_chain(&mut self, chain: &[squeue::Entry]) {
        if self.backlog.is_empty() && !self.fits(chain.len()) {
            // Hand what is queued to the kernel to make room.
            if let Err(e) = self.ring.submit() {
                tracing::debug!("io_uring_enter: {e}");
            }
        }
        if self.backlog.is_empty() && self.fits(chain.len()) {
            for entry in chain {
                self.try_push(entry);
            }
        } else {
            self.backlog.push(chain.to_vec());
        }
    }

    fn fits(&mut self, n: usize) -> bool {
        let sq = self.ring.submission();
        sq.capacity() - sq.len() >= n
    }

    fn try_push(&mut self, entry: &squeue::Entry) -> bool {
        // SAFETY: every entry built by this model points only at memory that
        // lives, unmoved and unwritten by us, until its completion is reaped
        // (the worker keeps a connection — its output buffer — until none of
        // its operations is in flight, and the provided buffers for the life
        // of the ring); descriptors named by an entry are held open by the
        // kernel's own reference once submitted.
        unsafe { self.ring.submission().push(entry).is_ok() }
    }

    /// Moves backlogged chains into the submission queue as room allows.
    pub(crate) fn flush_backlog(&mut self) {
        let mut done = 0;
        for i in 0..self.backlog.len() {
            if !self.fits(self.backlog[i].len()) {
                break;
            }
            for entry in std::mem::take(&mut self.backlog[i]) {
                self.try_push(&entry);
            }
            done += 1;
        }
        self.backlog.drain(..done);
    }

    /// Entries still waiting for room.
    pub(crate) fn backlogged(&self) -> bool {
        !self.backlog.is_empty()
    }
}

/// Receive buffers handed to the kernel up front (IORING_OP_PROVIDE_BUFFERS):
/// a receive takes one only when data arrives, so ten thousand idle
/// connections waiting to read hold no memory of their own, and the session
/// consumes the bytes where the kernel put them.
pub(crate) struct Buffers {
    /// `COUNT * SIZE` bytes from a leaked `Vec`, freed in `Drop`; only the
    /// kernel writes them while they are provided.
    base: *mut u8,
    leak: bool,
}

/// The buffer group id of the pool (one group per ring).
pub(crate) const GROUP: u16 = 0;
/// Bytes per buffer: one receive moves at most this much.
pub(crate) const SIZE: usize = 32 * 1024;
/// Buffers per worker: receives that find none fail with ENOBUFS and are
/// submitted again after the batch gave its buffers back.
const COUNT: u16 = 128;

// SAFETY: the pool is moved to its worker's thread once, before use, and is
// used only there; the pointer is an owned allocation.
unsafe impl Send for Buffers {}

impl Buffers {
    /// Allocates the pool; [`Buffers::provide_all`] hands it to the kernel.
    pub(crate) fn new() -> Buffers {
        let mem = vec![0u8; SIZE * usize::from(COUNT)].leak();
        Buffers {
            base: mem.as_mut_ptr(),
            leak: false,
        }
    }

    /// The entry that provides every buffer.
    pub(crate) fn provide_all(&self, user_data: u64) -> squeue::Entry {
        opcode::ProvideBuffers::new(self.base, SIZE as i32, COUNT, GROUP, 0)
            .build()
            .user_data(user_data)
    }

    /// The entry that gives buffer `bid` back to the kernel.
    pub(crate) fn give_back(&self, bid: u16, user_data: u64) -> squeue::Entry {
        let addr = self.base.wrapping_add(usize::from(bid) * SIZE);
        opcode::ProvideBuffers::new(addr, SIZE as i32, 1, GROUP, bid)
            .build()
            .user_data(user_data)
    }

    /// The first `len` bytes of buffer `bid`, which a completion just filled.
    pub(crate) fn filled(&self, bid: u16, len: usize) -> &[u8] {
        if bid >= COUNT {
            return &[];
        }
        let len = len.min(SIZE);
        // SAFETY: `bid` names a buffer inside the allocation (checked above)
        // that the kernel has finished writing — its completion was reaped —
        // and that is given back only after this borrow ends (the worker
        // drops the slice before pushing `give_back`).
        unsafe { std::slice::from_raw_parts(self.base.add(usize::from(bid) * SIZE), len) }
    }

    /// Never frees the memory: a receive may still be in flight when a
    /// worker gives up waiting for the kernel at the end of shutdown.
    pub(crate) fn leak(&mut self) {
        self.leak = true;
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        if self.leak {
            return;
        }
        let len = SIZE * usize::from(COUNT);
        // SAFETY: `base` came from a leaked `Vec<u8>` of exactly `len` bytes
        // (length and capacity), and no receive holds any of it any more.
        drop(unsafe { Vec::from_raw_parts(self.base, len, len) });
    }
}

/// A pipe a file body is spliced through: file → pipe → socket, so the
/// bytes go from the page cache to the socket without entering user space.
pub(crate) struct Pipe {
    pub(crate) read: OwnedFd,
    pub(crate) write: OwnedFd,
    /// Its capacity: the most one splice moves.
    pub(crate) capacity: u32,
}

/// A pipe's capacity, asked for (Linux allows unprivileged pipes up to
/// fs.pipe-max-size, 1 MiB by default): a 100 MiB file then takes 100
/// round trips through the pipe, not 1600.
const PIPE_SIZE: i32 = 1 << 20;

impl Pipe {
    pub(crate) fn new() -> io::Result<Pipe> {
        use nix::fcntl::{fcntl, FcntlArg, OFlag};
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        let _ = fcntl(&write, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE));
        let capacity = fcntl(&write, FcntlArg::F_GETPIPE_SZ).unwrap_or(65536);
        Ok(Pipe {
            read,
            write,
            capacity: u32::try_from(capacity).unwrap_or(65536),
        })
    }

    pub(crate) fn read_fd(&self) -> types::Fd {
        types::Fd(self.read.as_raw_fd())
    }

    pub(crate) fn write_fd(&self) -> types::Fd {
        types::Fd(self.write.as_raw_fd())
    }
}

/// Where single-shot accepts (IORING_OP_ACCEPT) write their peers'
/// addresses: one buffer per accept in flight, so a connection arrives with
/// its address and costs no `getpeername`. (A multishot accept would write
/// every peer into one buffer, overwritten before the loop reads it.)
pub(crate) struct AcceptAddrs {
    /// Allocated once and never resized: the kernel holds each address
    /// while its accept waits.
    slots: Box<[(SockAddrStorage, nix::libc::socklen_t)]>,
}

impl AcceptAddrs {
    pub(crate) fn new(n: usize) -> AcceptAddrs {
        let slots = (0..n).map(|_| (SockAddrStorage::zeroed(), 0)).collect();
        AcceptAddrs { slots }
    }

    /// The entry that accepts one connection on `listener` into slot `i`.
    pub(crate) fn accept(&mut self, i: usize, listener: types::Fd) -> Option<squeue::Entry> {
        let slot = self.slots.get_mut(i)?;
        slot.1 = slot.0.size_of();
        let addr = std::ptr::from_mut(&mut slot.0).cast::<nix::libc::sockaddr>();
        let len = std::ptr::from_mut(&mut slot.1);
        Some(
            opcode::Accept::new(listener, addr, len)
                .flags(nix::libc::SOCK_CLOEXEC)
                .build(),
        )
    }

    /// The peer the accept in slot `i` just completed with.
    pub(crate) fn peer(&mut self, i: usize) -> Option<std::net::SocketAddr> {
        let slot = self.slots.get_mut(i)?;
        let storage = std::mem::replace(&mut slot.0, SockAddrStorage::zeroed());
        let len = slot.1.min(storage.size_of());
        // SAFETY: the kernel wrote a socket address of `len` bytes (capped at
        // the storage's size above) into this slot, and its accept completed
        // — it no longer writes there.
        unsafe { SockAddr::new(storage, len) }.as_socket()
    }

    /// Never frees the buffers: an accept may still be in flight when a
    /// worker gives up waiting for the kernel at the end of shutdown.
    pub(crate) fn leak(&mut self) {
        std::mem::forget(std::mem::take(&mut self.slots));
    }
}

/// The descriptor of anything, as the ring names it.
pub(crate) fn fd(f: &impl AsRawFd) -> types::Fd {
    types::Fd(f.as_raw_fd() as RawFd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_their_cause_in_one_line() {
        let cases = [
            (nix::libc::ENOSYS, "no io_uring"),
            (
                nix::libc::EPERM,
                "kernel.io_uring_disabled, or a seccomp filter",
            ),
            (nix::libc::EINVAL, "needs Linux 5.19"),
            (nix::libc::EMFILE, "io_uring_setup failed"),
        ];
        for (errno, cause) in cases {
            let msg = refusal(&io::Error::from_raw_os_error(errno)).to_string();
            assert!(msg.contains(cause), "{msg}");
            assert!(msg.starts_with("--model uring: "), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn this_kernel_has_what_the_model_needs() {
        check().unwrap();
        let ring = Ring::new().unwrap();
        ring.enable().unwrap();
        assert!(Pipe::new().unwrap().capacity >= 4096);
    }
}
