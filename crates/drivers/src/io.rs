//! Small I/O building blocks shared by the models: waiting on descriptors,
//! the per-connection input buffer, and sending a file range with sendfile(2).

use netkit_proto::{FileChunk, Session, MAX_INPUT};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

/// Waits until one of `fds` is readable (or hung up) or `timeout` passes.
/// Returns the index of the first ready descriptor, or `None` on timeout or
/// when a signal interrupted the wait (callers re-check their state either way).
pub(crate) fn wait_readable(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> io::Result<Option<usize>> {
    let mut pollfds: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    match nix::poll::poll(&mut pollfds, poll_timeout(timeout)) {
        Ok(0) | Err(Errno::EINTR) => Ok(None),
        Ok(_) => Ok(pollfds.iter().position(|p| {
            p.revents().is_some_and(|r| {
                r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            })
        })),
        Err(e) => Err(e.into()),
    }
}

/// Waits until at least one of `fds` is readable (or hung up), or the
/// timeout passes; returns which are, one flag per descriptor (all false on a
/// timeout or a signal). For loops that must not favour the first of several
/// listeners, as [`wait_readable`]'s single index would.
pub(crate) fn wait_readable_set(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> io::Result<Vec<bool>> {
    let mut pollfds: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    match nix::poll::poll(&mut pollfds, poll_timeout(timeout)) {
        Ok(0) | Err(Errno::EINTR) => Ok(vec![false; fds.len()]),
        Ok(_) => Ok(pollfds
            .iter()
            .map(|p| {
                p.revents().is_some_and(|r| {
                    r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
                })
            })
            .collect()),
        Err(e) => Err(e.into()),
    }
}

/// Converts an optional wait into poll(2)'s milliseconds, rounding up so a
/// deadline is never woken for early and spun on.
pub(crate) fn poll_timeout(timeout: Option<Duration>) -> PollTimeout {
    match timeout {
        None => PollTimeout::NONE,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
        }
    }
}

/// The bytes read from a connection and not yet consumed by its session.
///
/// Most of the time this holds nothing and owns no memory: a read lands in the
/// thread's scratch buffer ([`MAX_INPUT`] bytes, one per thread, not one per
/// connection), the session consumes what it can straight from there, and only
/// a leftover (half a request, a pipelined one) is copied into the connection's
/// own buffer — which is freed again once the session consumed it. That is what
/// lets ten thousand idle keep-alive connections cost kilobytes, not 64 KiB each.
/// A session that leaves [`MAX_INPUT`] bytes unconsumed has broken its
/// contract, and the driver closes the connection.
#[derive(Default)]
pub(crate) struct InputBuffer {
    pending: Vec<u8>,
    /// The last offer consumed something and left bytes: offer them again
    /// without waiting for the peer (they may hold a whole pipelined request).
    reoffer: bool,
}

thread_local! {
    /// Where reads land first; allocated on a thread's first read.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; MAX_INPUT].into_boxed_slice());
}

impl InputBuffer {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Whether no received byte is waiting for the session.
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Whether there is no room to read into.
    pub(crate) fn is_full(&self) -> bool {
        self.pending.len() >= MAX_INPUT
    }

    /// Reads once from `source` and, unless that was EOF, offers every
    /// unconsumed byte to `handle_input`, which returns how many it consumed.
    /// Returns the byte count read (0 = EOF, nothing offered).
    pub(crate) fn read_and_offer(
        &mut self,
        source: &mut impl io::Read,
        handle_input: impl FnOnce(&[u8]) -> usize,
    ) -> io::Result<usize> {
        SCRATCH.with_borrow_mut(|scratch| {
            let room = MAX_INPUT.saturating_sub(self.pending.len());
            let n = source.read(&mut scratch[..room])?;
            if n > 0 {
                self.offer_received(&scratch[..n], handle_input);
            }
            Ok(n)
        })
    }

    /// How many more bytes may be received before the buffer is full.
    pub(crate) fn room(&self) -> usize {
        MAX_INPUT.saturating_sub(self.pending.len())
    }

    /// Offers bytes just received (somewhere else: the scratch buffer, or a
    /// buffer the kernel filled) after any leftover; keeps what is not consumed.
    pub(crate) fn offer_received(
        &mut self,
        data: &[u8],
        handle_input: impl FnOnce(&[u8]) -> usize,
    ) {
        let n = data.len();
        if self.pending.is_empty() {
            // The common case: the session takes the bytes where they landed.
            let used = handle_input(data).min(n);
            self.pending.extend_from_slice(&data[used..]);
            self.reoffer = used > 0 && used < n;
        } else {
            self.pending.extend_from_slice(data);
            self.offer(handle_input);
        }
    }

    /// Offers the unconsumed bytes to `handle_input` again (see
    /// [`InputBuffer::wants_reoffer`]) and drops what it consumed.
    pub(crate) fn offer(&mut self, handle_input: impl FnOnce(&[u8]) -> usize) {
        let used = handle_input(&self.pending).min(self.pending.len());
        self.pending.drain(..used);
        if self.pending.is_empty() {
            // Give the memory back: an idle connection keeps no buffer.
            self.pending = Vec::new();
        }
        self.reoffer = used > 0 && !self.pending.is_empty();
    }

    /// Whether leftover bytes should be offered again now (if the session
    /// wants input): the last offer made progress. An offer that consumes
    /// nothing waits for new bytes, so a session that cannot use its leftover
    /// is never spun on.
    pub(crate) fn wants_reoffer(&self) -> bool {
        self.reoffer
    }

    /// Bytes of memory the buffer holds (for tests of the idle footprint).
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.pending.capacity()
    }
}

/// Output gathered from several `poll_transmit` calls before writing (pipelined
/// replies go out in one `send`), bounded so a chatty session cannot grow it.
const GATHER_LIMIT: usize = 256 * 1024;

/// Collects the session's output into `out` (call order step 4): calls
/// `poll_transmit` until it returns a file chunk (which must follow the bytes
/// gathered so far: it is returned), appends nothing, or `out` holds
/// [`GATHER_LIMIT`] bytes. The caller sends, then gathers again until a call
/// yields neither bytes nor a chunk.
pub(crate) fn gather<S: Session>(session: &mut S, out: &mut Vec<u8>) -> Option<FileChunk> {
    loop {
        let before = out.len();
        if let Some(chunk) = session.poll_transmit(out) {
            return Some(chunk);
        }
        if out.len() == before || out.len() >= GATHER_LIMIT {
            return None;
        }
    }
}

/// How long a lingering close keeps reading after the reply was sent: long
/// enough for a peer to read the reply and close, short enough that a peer
/// that never closes ties nothing up for long (nginx's lingering_close).
pub(crate) const LINGER: Duration = Duration::from_secs(2);

/// Reads and throws away whatever `source` has, once, through the scratch
/// buffer (a lingering close); returns the byte count (0 = EOF).
pub(crate) fn discard(source: &mut impl io::Read) -> io::Result<usize> {
    SCRATCH.with_borrow_mut(|scratch| source.read(scratch))
}

/// [`discard`] for a blocking socket (the uring model's): one `recv` with
/// MSG_DONTWAIT, which says WouldBlock instead of waiting.
pub(crate) fn discard_nowait(sock: impl AsFd) -> io::Result<usize> {
    use nix::sys::socket::{recv, MsgFlags};
    SCRATCH.with_borrow_mut(|scratch| {
        recv(sock.as_fd().as_raw_fd(), scratch, MsgFlags::MSG_DONTWAIT).map_err(io::Error::from)
    })
}

/// The end of a lingering close when the server is stopping: throws away what
/// a non-blocking `source` has already received (the usual cause of a reset)
/// without waiting for more, so shutdown is not held up by idle peers.
pub(crate) fn discard_received(source: &mut impl io::Read) {
    // Bounded: a peer sending flat out cannot keep a stopping server here.
    for _ in 0..16 {
        if !matches!(discard(source), Ok(n) if n > 0) {
            return;
        }
    }
}

/// Sends as much of `chunk` (starting `sent` bytes in) as the socket takes in
/// one sendfile(2) call; returns how many bytes went out (0 means the file
/// ended early, e.g. it was truncated while being served).
pub(crate) fn send_file(sock: impl AsFd, chunk: &FileChunk, sent: u64) -> io::Result<usize> {
    let remaining = chunk.len.saturating_sub(sent);
    // sendfile moves at most 0x7ffff000 bytes per call anyway.
    let count = remaining.min(1 << 30) as usize;
    let mut offset = i64::try_from(chunk.offset + sent)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
    loop {
        match nix::sys::sendfile::sendfile(
            sock.as_fd(),
            chunk.file.as_fd(),
            Some(&mut offset),
            count,
        ) {
            Err(Errno::EINTR) => continue,
            result => return result.map_err(io::Error::from),
        }
    }
}

/// Whether an error from accept(2) concerns only the connection being accepted
/// (or a momentary shortage), so the listener should go on.
pub(crate) fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(
            Errno::ECONNABORTED
                | Errno::EINTR
                | Errno::EPROTO
                | Errno::EPERM
                | Errno::EMFILE
                | Errno::ENFILE
                | Errno::ENOBUFS
                | Errno::ENOMEM
        )
    ) || e.kind() == io::ErrorKind::WouldBlock
}

/// Whether the error means the process ran out of descriptors or memory: the
/// accept loop should pause briefly instead of spinning on the same error.
pub(crate) fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` through `read_and_offer`; the session consumes `used`
    /// and records what it was offered.
    fn feed(buf: &mut InputBuffer, bytes: &[u8], used: usize) -> Vec<u8> {
        let mut seen = Vec::new();
        let mut src = bytes;
        buf.read_and_offer(&mut src, |data| {
            seen = data.to_vec();
            used
        })
        .unwrap();
        seen
    }

    #[test]
    fn input_buffer_keeps_only_leftovers_and_frees_them() {
        let mut buf = InputBuffer::new();
        assert_eq!(feed(&mut buf, b"whole\n", 6), b"whole\n");
        assert_eq!(buf.capacity(), 0, "fully consumed: nothing kept");
        assert_eq!(feed(&mut buf, b"hello world", 6), b"hello world");
        assert!(buf.wants_reoffer(), "progress made, bytes left");
        assert_eq!(feed(&mut buf, b"!", 0), b"world!");
        assert!(!buf.wants_reoffer(), "no progress: wait for the peer");
        let mut seen = Vec::new();
        buf.offer(|data| {
            seen = data.to_vec();
            100
        });
        assert_eq!(seen, b"world!");
        assert!(!buf.wants_reoffer());
        assert_eq!(buf.capacity(), 0, "consumed: memory given back");
        let mut eof: &[u8] = b"";
        assert_eq!(
            buf.read_and_offer(&mut eof, |_| panic!("offered at EOF"))
                .unwrap(),
            0
        );
    }

    #[test]
    fn poll_timeout_rounds_up() {
        assert_eq!(
            poll_timeout(Some(Duration::from_micros(1))),
            PollTimeout::try_from(1).unwrap()
        );
        assert_eq!(poll_timeout(None), PollTimeout::NONE);
    }
}
