//! The non-blocking connection every readiness loop (`select`, `poll`, `epoll`)
//! drives; its sending half is `readiness/send.rs`, and the accept helper the
//! loops share ([`accept_batch`]) is `readiness/accept.rs`. The
//! scan-every-connection loop body that `select` and `poll` have in common is
//! `scan.rs`.
//!
//! A blocking model can write `read; handle; write` as straight-line code because
//! the thread waits inside each call. A readiness loop cannot wait: it serves
//! thousands of sockets on one thread, so each connection keeps its progress in a
//! struct and the loop calls in when the kernel says a socket is ready. Like
//! darkhttpd's `struct connection`, [`Connection`]'s fields read top to bottom in
//! the order a connection lives:
//!
//! ```text
//!   accepted ──▶ receiving ──▶ sending ──▶ (receiving again …) ──▶ closed
//!                read into      write the bytes,
//!                InputBuffer,   then sendfile the
//!                handle_input   file chunk
//! ```
//!
//! The loop asks [`Connection::interest`] what to wait for and
//! [`Connection::deadline`] when to wake it, and reports events through the
//! `on_*` methods. The session's call order (crates/proto/src/lib.rs) is kept
//! exactly: read only when every byte of output is flushed and the session wants
//! input (that is the backpressure: a client that never reads stops being read),
//! and drain `poll_transmit` after every `handle_*` call. Output is written
//! straight away rather than after the next readiness report, since the socket
//! buffer is almost always free: one fewer trip through the loop per reply.
//! Connection errors (a reset, a broken pipe) end that connection with a debug
//! log; they are never the server's error.

mod accept;
mod send;

pub(crate) use accept::{accept_batch, Accepted, ACCEPT_PAUSE};

use crate::io::{discard_received, InputBuffer};
use crate::listener::Conn;
use crate::wake::WakeQueue;
use netkit_proto::{FileChunk, Session};
use nix::errno::Errno;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One non-blocking connection and its session.
pub(crate) struct Connection<S> {
    // Accepted: the socket and who is on the other end.
    conn: Conn,
    peer: Option<SocketAddr>,
    session: S,
    // Receiving: bytes read and not yet consumed; whether the peer sent EOF.
    input: InputBuffer,
    eof: bool,
    // Sending: the session's bytes (written up to `written`), then a file range
    // (sent up to its byte count); when a stalled write gives up.
    out: Vec<u8>,
    written: usize,
    file: Option<(FileChunk, u64)>,
    stall_deadline: Option<Instant>,
    send_timeout: Duration,
    /// The loop's name for this connection in its wake queue.
    token: u64,
    // Closing: the server is stopping; the session is done and the reply sent,
    // so input is read and discarded until this instant (a lingering close);
    // the connection is over.
    shutdown_seen: bool,
    lingering_until: Option<Instant>,
    finished: bool,
}

impl<S: Session> Connection<S> {
    /// Takes over a connection accepted non-blocking
    /// ([`Listener::accept_nonblocking`]): hands the session its waker and lets
    /// it send its greeting, if it has one.
    pub(crate) fn new(
        conn: Conn,
        peer: Option<SocketAddr>,
        mut session: S,
        wakes: &Arc<WakeQueue>,
        token: u64,
        send_timeout: Duration,
        now: Instant,
    ) -> io::Result<Self> {
        session.set_waker(wakes.waker(token));
        let mut c = Connection {
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
            token,
            shutdown_seen: false,
            lingering_until: None,
            finished: false,
        };
        c.guarded(|c| c.advance(now));
        Ok(c)
    }

    /// Runs `step`; a panic inside the session (a protocol bug) costs only
    /// this connection, which is closed, never the loop that serves everyone
    /// else.
    fn guarded(&mut self, step: impl FnOnce(&mut Self)) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| step(self)));
        if outcome.is_err() {
            tracing::error!(peer = ?self.peer, "session panicked; connection closed");
            self.finished = true;
        }
    }

    /// The socket's descriptor number.
    pub(crate) fn fd(&self) -> RawFd {
        self.conn.as_raw_fd()
    }

    /// The socket, for the loop's interest sets.
    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.conn.as_fd()
    }

    /// What to wait for: `(readable, writable)`.
    pub(crate) fn interest(&self) -> (bool, bool) {
        if self.finished {
            return (false, false);
        }
        if self.lingering_until.is_some() {
            return (true, false);
        }
        (self.can_read(), !self.flushed())
    }

    /// When [`Connection::on_timeout`] is next due: the session's own timer or
    /// the moment a stalled write is given up, whichever comes first.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        if self.lingering_until.is_some() {
            return self.lingering_until;
        }
        earliest(self.session.poll_timeout(), self.stall_deadline)
    }

    /// The token its waker queues.
    pub(crate) fn token(&self) -> u64 {
        self.token
    }

    /// Whether the connection is over; the loop drops it, which closes the socket.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// The socket is readable: read once, offer the input, send the replies.
    ///
    /// One read per report is enough under level-triggered readiness (the loop is
    /// told again if more is waiting) and saves the `read` that would only say
    /// EAGAIN after a small request.
    pub(crate) fn on_readable(&mut self, now: Instant) {
        self.guarded(|c| c.readable(now));
    }

    fn readable(&mut self, now: Instant) {
        if !self.interest().0 {
            return;
        }
        if self.lingering_until.is_some() {
            return self.discard_input();
        }
        if self.input.is_full() {
            return self.close("the session left a full input buffer unconsumed");
        }
        let session = &mut self.session;
        let read = self
            .input
            .read_and_offer(&mut self.conn, |data| session.handle_input(now, data));
        match read {
            Ok(0) => {
                self.eof = true;
                self.session.handle_eof(now);
            }
            Ok(_) => {
                if self.input.is_full() && self.session.wants_read() && !self.session.is_done() {
                    return self.close("the session left a full input buffer unconsumed");
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => return,
            Err(e) => return self.fail(&e),
        }
        self.advance(now);
    }

    /// The socket is writable: send what is pending, and whatever the session
    /// has next.
    pub(crate) fn on_writable(&mut self, now: Instant) {
        self.guarded(|c| c.writable(now));
    }

    fn writable(&mut self, now: Instant) {
        if !self.finished && !self.flushed() {
            self.advance(now);
        }
    }

    /// The kernel reported an error or hang-up. Whatever is still readable is
    /// read (a reset peer's error surfaces there or in the write); if that
    /// leaves the connection waiting on nothing, it is dead: close it, or a
    /// level-triggered loop would be told about the hang-up forever.
    pub(crate) fn on_hangup(&mut self, now: Instant) {
        self.guarded(|c| c.hangup(now));
    }

    fn hangup(&mut self, now: Instant) {
        let (read, write) = self.interest();
        if write {
            self.on_writable(now);
        } else if read {
            self.on_readable(now);
        }
        if !self.finished && !self.interest().0 {
            self.close("peer hung up");
        }
    }

    /// A deadline from [`Connection::deadline`] may have passed (loops may wake
    /// early, so each timer compares `now` itself).
    pub(crate) fn on_timeout(&mut self, now: Instant) {
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

    /// The session's waker was called (perhaps several times, merged).
    pub(crate) fn on_wake(&mut self, now: Instant) {
        self.guarded(|c| c.wake(now));
    }

    fn wake(&mut self, now: Instant) {
        if self.finished || self.lingering_until.is_some() {
            return;
        }
        self.session.handle_wake(now);
        self.advance(now);
    }

    /// The server is stopping: the session finishes what is in flight.
    pub(crate) fn on_shutdown(&mut self, now: Instant) {
        self.guarded(|c| c.shutdown(now));
    }

    fn shutdown(&mut self, now: Instant) {
        if self.lingering_until.is_some() {
            // Lingering is a courtesy a stopping server cuts short.
            discard_received(&mut self.conn);
            self.finished = true;
        }
        if self.finished || self.shutdown_seen {
            return;
        }
        self.shutdown_seen = true;
        self.session.handle_shutdown(now);
        self.advance(now);
    }

    /// Closes the connection now (the grace period is over).
    pub(crate) fn abort(&mut self) {
        self.close("still open when the grace period ended");
    }

    fn flushed(&self) -> bool {
        self.written == self.out.len() && self.file.is_none()
    }

    fn can_read(&self) -> bool {
        !self.eof && self.flushed() && self.session.wants_read()
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

/// The earlier of two optional instants.
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Closes, with one warning, whatever is still open when a loop ends.
pub(crate) fn abort_all<'a, S: Session>(conns: impl Iterator<Item = &'a mut Connection<S>>) {
    let mut left = 0;
    for c in conns.filter(|c| !c.is_finished()) {
        c.abort();
        left += 1;
    }
    if left > 0 {
        tracing::warn!("{left} connection(s) still open after the grace period");
    }
}
