//! One connection under the io_uring loop: its session, and the operations it
//! has (at most one receive and one output operation) in the kernel's hands.
//!
//! A readiness loop asks "may I read?" and then reads; here the loop asks
//! [`UConn::recv_entry`] and [`UConn::out_entry`] what to *submit*, and the
//! kernel answers later with a completion ([`UConn::on_recv`],
//! [`UConn::on_out`]). The session's call order (crates/proto/src/lib.rs) is
//! the same as everywhere: a receive is submitted only when every byte of
//! output is out and the session wants input (backpressure: there is no
//! multishot receive, which would keep reading a peer the session is not
//! ready for), `poll_transmit` is drained after every `handle_*` call (once
//! the output in flight has completed: the kernel is still reading that
//! buffer), leftover input is re-offered before waiting for more, and a done
//! session is closed at once or after a lingering close.
//!
//! Output leaves in one of three ways (the sending half is `conn/output.rs`):
//!
//! ```text
//!   bytes                 IORING_OP_SEND (MSG_MORE when a file range follows)
//!   small file range      IORING_OP_READ of the page cache into the output buffer,
//!                         after the headers: headers and body leave in one SEND
//!   large file range      IORING_OP_SPLICE file → pipe, then pipe → socket, up to the
//!                         pipe's 1 MiB at a time: no byte enters user space
//! ```

mod output;

use super::ring::{self, Pipe};
use crate::io::{discard_nowait, gather, InputBuffer, LINGER};
use crate::listener::Conn;
use crate::loops::readiness::earliest;
use crate::wake::WakeQueue;
use io_uring::{opcode, squeue};
use netkit_proto::{FileChunk, Session};
use nix::errno::Errno;
use std::io::{self, ErrorKind};
use std::net::{Shutdown as HowShutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A file range up to this size is read into the output buffer and sent with
/// the bytes before it; a larger one is spliced through a pipe.
const SMALL_FILE: u64 = 16 * 1024;

/// Empty pipes a worker keeps for the next large file range.
const IDLE_PIPES: usize = 256;

/// An output buffer larger than this is given back after it drains (as in
/// the readiness loops).
const KEEP_OUT_CAPACITY: usize = 256 * 1024;

/// An output operation, as its completion names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OutOp {
    /// SEND of `out[written..]`.
    Send,
    /// READ of a small file range to the end of `out` (from `read_start`).
    Read,
    /// SPLICE from the file into the pipe.
    Fill,
    /// SPLICE from the pipe into the socket.
    Drain,
}

/// A file range being sent.
struct FileOut {
    chunk: FileChunk,
    /// Bytes that reached the socket (or the output buffer).
    sent: u64,
    /// Bytes in the pipe, spliced from the file and not yet into the socket.
    in_pipe: u32,
    pipe: Option<Pipe>,
}

/// One connection and its session.
pub(super) struct UConn<S> {
    conn: Conn,
    peer: Option<SocketAddr>,
    session: S,
    input: InputBuffer,
    eof: bool,
    out: Vec<u8>,
    written: usize,
    file: Option<FileOut>,
    /// When output in flight that has made no progress is given up.
    stall_deadline: Option<Instant>,
    send_timeout: Duration,
    shutdown_seen: bool,
    lingering_until: Option<Instant>,
    /// The session is done and its output out: a non-blocking receive on
    /// the ring checks that nothing is unread before the close.
    probing: bool,
    finished: bool,
    recv_busy: bool,
    /// Output operations in flight (one chain).
    out_inflight: u8,
    read_start: usize,
}

impl<S: Session> UConn<S> {
    /// Takes over an accepted (blocking) connection: hands the session its
    /// waker and lets it greet.
    pub(super) fn new(
        conn: Conn,
        peer: Option<SocketAddr>,
        mut session: S,
        wakes: &Arc<WakeQueue>,
        token: u64,
        send_timeout: Duration,
        now: Instant,
    ) -> Self {
        session.set_waker(wakes.waker(token));
        let mut c = UConn {
            conn,
            peer,
            session,
            input: InputBuffer::new(),
            eof: false,
            out: Vec::new(),
            written: 0,
            file: None,
            stall_deadline: None,
            send_timeout,
            shutdown_seen: false,
            lingering_until: None,
            probing: false,
            finished: false,
            recv_busy: false,
            out_inflight: 0,
            read_start: 0,
        };
        c.guarded(|c| c.advance(now));
        c
    }

    /// Runs `step`; a panicking session costs only its own connection.
    fn guarded(&mut self, step: impl FnOnce(&mut Self)) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| step(self)));
        if outcome.is_err() {
            tracing::error!(peer = ?self.peer, "session panicked; connection closed");
            self.finished = true;
        }
    }

    /// Whether the connection is over (it is dropped once nothing is in flight).
    pub(super) fn is_finished(&self) -> bool {
        self.finished
    }

    /// Whether the kernel still holds an operation of this connection (its
    /// memory must live until the completion arrives).
    pub(super) fn is_busy(&self) -> bool {
        self.recv_busy || self.out_inflight > 0
    }

    /// The socket, as the ring names it (to cancel what waits on it).
    pub(super) fn sock(&self) -> io_uring::types::Fd {
        ring::fd(&self.conn)
    }

    /// When [`UConn::on_timeout`] is next due.
    pub(super) fn deadline(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        if self.lingering_until.is_some() {
            return self.lingering_until;
        }
        if self.probing {
            return None;
        }
        earliest(self.session.poll_timeout(), self.stall_deadline)
    }

    /// The receive to submit now, if the connection wants one and has none
    /// in flight: into a provided buffer (`buf_group`), at most what the
    /// input buffer has room for.
    pub(super) fn recv_entry(&mut self, user_data: u64) -> Option<squeue::Entry> {
        if self.finished || self.recv_busy {
            return None;
        }
        if self.lingering_until.is_none() && !self.probing && !self.can_read() {
            return None;
        }
        let room = self.input.room().min(ring::SIZE);
        if room == 0 {
            self.close("the session left a full input buffer unconsumed");
            return None;
        }
        self.recv_busy = true;
        // The check before a close must not wait: MSG_DONTWAIT makes the
        // ring answer EAGAIN at once instead of arming a poll.
        let flags = if self.probing {
            nix::libc::MSG_DONTWAIT
        } else {
            0
        };
        let entry = opcode::Recv::new(ring::fd(&self.conn), std::ptr::null_mut(), room as u32)
            .buf_group(ring::GROUP)
            .flags(flags)
            .build()
            .flags(squeue::Flags::BUFFER_SELECT)
            .user_data(user_data);
        Some(entry)
    }

    /// A receive completed: `result` is the byte count or `-errno`, `data`
    /// the bytes (in a provided buffer the worker gives back afterwards).
    pub(super) fn on_recv(&mut self, now: Instant, result: i32, data: &[u8]) {
        self.recv_busy = false;
        self.guarded(|c| c.received(now, result, data));
    }

    fn received(&mut self, now: Instant, result: i32, data: &[u8]) {
        if self.finished {
            return;
        }
        if self.probing {
            return self.probed(now, result);
        }
        if result < 0 {
            return match Errno::from_raw(-result) {
                // No buffer was free: the worker submits the receive again
                // after this batch has given its buffers back.
                Errno::ENOBUFS | Errno::EINTR | Errno::EAGAIN => {}
                e => self.fail(&io::Error::from(e)),
            };
        }
        if self.lingering_until.is_some() {
            if result == 0 {
                self.finished = true;
            }
            return;
        }
        if result == 0 {
            self.eof = true;
            self.session.handle_eof(now);
        } else {
            let session = &mut self.session;
            self.input
                .offer_received(data, |d| session.handle_input(now, d));
            if self.input.room() == 0 && self.session.wants_read() && !self.session.is_done() {
                return self.close("the session left a full input buffer unconsumed");
            }
        }
        self.advance(now);
    }

    /// A deadline from [`UConn::deadline`] may have passed.
    pub(super) fn on_timeout(&mut self, now: Instant) {
        self.guarded(|c| c.timeout(now));
    }

    fn timeout(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        if let Some(until) = self.lingering_until {
            if now >= until {
                self.finished = true;
            }
            return;
        }
        if self.stall_deadline.is_some_and(|d| now >= d) {
            return self.close("the peer stopped reading for longer than the send timeout");
        }
        if self.session.poll_timeout().is_some_and(|d| now >= d) {
            self.session.handle_timeout(now);
            self.advance(now);
        }
    }

    /// The session's waker was called.
    pub(super) fn on_wake(&mut self, now: Instant) {
        self.guarded(|c| {
            if !c.finished && c.lingering_until.is_none() && !c.probing {
                c.session.handle_wake(now);
                c.advance(now);
            }
        });
    }

    /// The server is stopping.
    pub(super) fn on_shutdown(&mut self, now: Instant) {
        self.guarded(|c| c.shutdown(now));
    }

    fn shutdown(&mut self, now: Instant) {
        if self.lingering_until.is_some() {
            discard_received(&self.conn);
            self.finished = true;
        }
        if self.finished || self.shutdown_seen || self.probing {
            return;
        }
        self.shutdown_seen = true;
        self.session.handle_shutdown(now);
        self.advance(now);
    }

    /// Closes the connection now (the grace period is over).
    pub(super) fn abort(&mut self) {
        self.close("still open when the grace period ended");
    }

    fn flushed(&self) -> bool {
        self.out_inflight == 0 && self.written == self.out.len() && self.file.is_none()
    }

    fn can_read(&self) -> bool {
        !self.eof && self.flushed() && self.session.wants_read()
    }

    /// After any event: once the output is all out, gather the session's next
    /// output; with none, close a done session or re-offer leftover input.
    fn advance(&mut self, now: Instant) {
        loop {
            if !self.flushed() {
                if self.stall_deadline.is_none() {
                    self.stall_deadline = Some(now + self.send_timeout);
                }
                return;
            }
            self.out.clear();
            self.written = 0;
            if self.out.capacity() > KEEP_OUT_CAPACITY {
                self.out.shrink_to(KEEP_OUT_CAPACITY);
            }
            self.file = gather(&mut self.session, &mut self.out).map(|chunk| FileOut {
                chunk,
                sent: 0,
                in_pipe: 0,
                pipe: None,
            });
            if self.file.as_ref().is_some_and(|f| f.chunk.len == 0) {
                self.file = None;
            }
            if !self.flushed() {
                continue;
            }
            self.stall_deadline = None;
            if self.session.is_done() {
                return self.close_done(now);
            }
            if self.can_read() && self.input.wants_reoffer() {
                let session = &mut self.session;
                self.input.offer(|data| session.handle_input(now, data));
                continue;
            }
            if self.shutdown_seen && !self.can_read() && self.deadline().is_none() {
                self.close("nothing left to wait for after shutdown");
            }
            return;
        }
    }

    /// The session is done and its output is out: close at once when nothing
    /// is unread, otherwise half-close and linger (call order step 8). With
    /// nothing buffered, whether the peer sent more is asked of the ring (a
    /// receive with MSG_DONTWAIT, [`UConn::probed`]), not with a system call
    /// of its own.
    fn close_done(&mut self, now: Instant) {
        if self.eof {
            self.finished = true;
            return;
        }
        // (With a receive already waiting — an idle connection timed out —
        // the check is a system call, as in the readiness loops.)
        if self.input.is_empty() && !self.shutdown_seen && !self.recv_busy {
            self.probing = true;
            return;
        }
        if self.input.is_empty() && self.nothing_unread() {
            self.finished = true;
            return;
        }
        self.linger(now);
    }

    /// The non-blocking receive of [`UConn::close_done`] completed.
    fn probed(&mut self, now: Instant, result: i32) {
        match result {
            // No buffer was free: the worker submits the check again.
            r if r == -nix::libc::ENOBUFS || r == -nix::libc::EINTR => {}
            // Nothing unread (EAGAIN), the peer's end (0), or an error: close.
            r if r <= 0 => self.finished = true,
            // The peer sent more than the session read: a close now would
            // reset the connection and could destroy the reply in flight.
            _ => {
                self.probing = false;
                self.linger(now);
            }
        }
    }

    /// Half-closes and reads until the peer's end or [`LINGER`].
    fn linger(&mut self, now: Instant) {
        let _ = self.conn.shutdown(HowShutdown::Write);
        if self.shutdown_seen {
            discard_received(&self.conn);
            self.finished = true;
        } else {
            self.lingering_until = Some(now + LINGER);
        }
    }

    fn nothing_unread(&mut self) -> bool {
        if !self.input.is_empty() {
            return false;
        }
        match discard_nowait(&self.conn) {
            Ok(0) => true,
            Err(e) => e.kind() == ErrorKind::WouldBlock,
            Ok(_) => false,
        }
    }

    /// The socket, taken out to be closed on the ring (the session and
    /// everything else of the connection are dropped here).
    pub(super) fn into_fd(self) -> std::os::fd::OwnedFd {
        match self.conn {
            Conn::Tcp(s) => s.into(),
            Conn::Unix(s) => s.into(),
        }
    }

    fn fail(&mut self, e: &io::Error) {
        match e.raw_os_error().map(Errno::from_raw) {
            Some(Errno::ECONNRESET | Errno::EPIPE) => {
                tracing::debug!(peer = ?self.peer, "connection dropped by the peer: {e}")
            }
            _ => tracing::debug!(peer = ?self.peer, "connection ended: {e}"),
        }
        self.finished = true;
    }

    fn close(&mut self, why: &str) {
        tracing::debug!(peer = ?self.peer, "closing connection: {why}");
        self.finished = true;
    }
}

/// What a stopping server does with a lingering peer's unread input: throw
/// away what has arrived, without waiting (bounded, as in the readiness loops).
fn discard_received(conn: &Conn) {
    for _ in 0..16 {
        if !matches!(discard_nowait(conn), Ok(n) if n > 0) {
            return;
        }
    }
}
