//! Small I/O building blocks shared by the models: waiting on descriptors,
//! the per-connection input buffer, and sending a file range with sendfile(2).

use netkit_proto::{FileChunk, MAX_INPUT};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
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
/// Fixed at [`MAX_INPUT`] bytes: a session that consumes nothing from a full
/// buffer has broken its contract, and the driver closes the connection.
pub(crate) struct InputBuffer {
    buf: Box<[u8]>,
    filled: usize,
    /// The last offer consumed something and left bytes: offer them again
    /// without waiting for the peer (they may hold a whole pipelined request).
    reoffer: bool,
}

impl InputBuffer {
    pub(crate) fn new() -> Self {
        Self {
            buf: vec![0; MAX_INPUT].into_boxed_slice(),
            filled: 0,
            reoffer: false,
        }
    }

    /// The unconsumed bytes.
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[..self.filled]
    }

    /// Whether there is no room to read into.
    pub(crate) fn is_full(&self) -> bool {
        self.filled == self.buf.len()
    }

    /// Reads once from `source` into the free space; returns the byte count (0 = EOF).
    pub(crate) fn read_from(&mut self, source: &mut impl io::Read) -> io::Result<usize> {
        let n = source.read(&mut self.buf[self.filled..])?;
        self.filled += n;
        Ok(n)
    }

    /// Offers the unconsumed bytes to `handle_input` and drops what it consumed.
    pub(crate) fn offer(&mut self, handle_input: impl FnOnce(&[u8]) -> usize) {
        let n = handle_input(self.data()).min(self.filled);
        self.buf.copy_within(n..self.filled, 0);
        self.filled -= n;
        self.reoffer = n > 0 && self.filled > 0;
    }

    /// Whether leftover bytes should be offered again now (if the session
    /// wants input): the last offer made progress. An offer that consumes
    /// nothing waits for new bytes, so a session that cannot use its leftover
    /// is never spun on.
    pub(crate) fn wants_reoffer(&self) -> bool {
        self.reoffer
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

    #[test]
    fn input_buffer_keeps_unconsumed_bytes_in_order() {
        let mut buf = InputBuffer::new();
        let mut src: &[u8] = b"hello world";
        assert_eq!(buf.read_from(&mut src).unwrap(), 11);
        buf.offer(|_| 6);
        assert_eq!(buf.data(), b"world");
        assert!(buf.wants_reoffer(), "progress made, bytes left");
        let mut more: &[u8] = b"!";
        buf.read_from(&mut more).unwrap();
        assert_eq!(buf.data(), b"world!");
        buf.offer(|_| 0);
        assert!(!buf.wants_reoffer(), "no progress: wait for the peer");
        buf.offer(|_| 100);
        assert!(buf.data().is_empty());
        assert!(!buf.wants_reoffer());
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
