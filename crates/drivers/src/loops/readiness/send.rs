//! The sending half of a readiness [`Connection`]: draining the session's
//! output to the socket (bytes, then a file range with `sendfile`), the send
//! timeout of a peer that stops reading, and the close that follows a done
//! session (at once, or lingering while unread input is thrown away).

use super::Connection;
use crate::io::{discard, discard_received, gather, send_file, LINGER};
use netkit_proto::Session;
use nix::errno::Errno;
use nix::sys::socket::{send, MsgFlags};
use std::io::{self, ErrorKind};
use std::net::Shutdown as HowShutdown;
use std::time::Instant;

/// An output buffer larger than this is given back after it drains, so one big
/// reply does not pin its memory for the life of an idle keep-alive connection
/// (small replies, such as response headers, keep theirs: no allocation per
/// request).
const KEEP_OUT_CAPACITY: usize = 16 * 1024;

impl<S: Session> Connection<S> {
    /// Drains the session's output to the socket until it is all sent or the
    /// socket is full, then closes the connection if the session is done.
    /// Leftover input a session left while busy is offered again here, once
    /// its output is out (bounded: each extra round consumed something).
    pub(super) fn advance(&mut self, now: Instant) {
        loop {
            if let Err(e) = self.flush(now) {
                return self.fail(&e);
            }
            if !self.flushed() {
                return;
            }
            if self.session.is_done() {
                if self.eof || self.nothing_unread() {
                    // Nothing unread can turn the close into a reset (a
                    // `Connection: close` request alone, as nginx's
                    // lingering_close heuristic has it): close at once.
                    self.finished = true;
                    return;
                }
                // Half-close first so the peer reads everything before it sees
                // EOF, then linger (see `discard_input`).
                let _ = self.conn.shutdown(HowShutdown::Write);
                if self.shutdown_seen {
                    discard_received(&mut self.conn);
                    self.finished = true;
                } else {
                    self.lingering_until = Some(now + LINGER);
                }
            } else if self.can_read() && self.input.wants_reoffer() {
                let session = &mut self.session;
                self.input.offer(|data| session.handle_input(now, data));
                continue;
            } else if self.shutdown_seen && !self.can_read() && self.deadline().is_none() {
                // Neither input, time nor output can move this session any more.
                self.close("nothing left to wait for after shutdown");
            }
            return;
        }
    }

    fn flush(&mut self, now: Instant) -> io::Result<()> {
        loop {
            while self.written < self.out.len() {
                // MSG_MORE holds back a partial segment when a file range follows,
                // so a small reply's header and body leave in one packet.
                let more = if self.file.is_some() {
                    MsgFlags::from_bits_retain(nix::libc::MSG_MORE)
                } else {
                    MsgFlags::empty()
                };
                let flags = MsgFlags::MSG_NOSIGNAL | more;
                match send(self.fd(), &self.out[self.written..], flags) {
                    Ok(n) => {
                        self.written += n;
                        self.stall_deadline = None;
                    }
                    Err(Errno::EINTR) => {}
                    Err(Errno::EAGAIN) => {
                        self.stalled(now);
                        return Ok(());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if let Some((chunk, sent)) = &mut self.file {
                while *sent < chunk.len {
                    match send_file(&self.conn, chunk, *sent) {
                        Ok(0) => {
                            return Err(io::Error::new(
                                ErrorKind::UnexpectedEof,
                                "file shrank while being sent",
                            ))
                        }
                        Ok(n) => {
                            *sent += n as u64;
                            self.stall_deadline = None;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            self.stalled(now);
                            return Ok(());
                        }
                        Err(e) => return Err(e),
                    }
                }
                self.file = None;
            }
            self.out.clear();
            self.written = 0;
            if self.out.capacity() > KEEP_OUT_CAPACITY {
                self.out.shrink_to(KEEP_OUT_CAPACITY);
            }
            // Gather replies until a file range must follow them or the session
            // has nothing more.
            self.file = gather(&mut self.session, &mut self.out).map(|chunk| (chunk, 0));
            if self.flushed() {
                self.stall_deadline = None;
                return Ok(());
            }
        }
    }

    /// Whether the peer has sent nothing the session has not read: no leftover
    /// input and nothing in the socket's receive queue (one non-blocking read,
    /// which also notices an EOF that has arrived).
    fn nothing_unread(&mut self) -> bool {
        if !self.input.is_empty() {
            return false;
        }
        match discard(&mut self.conn) {
            Ok(0) => true,
            Err(e) => e.kind() == ErrorKind::WouldBlock,
            Ok(_) => false,
        }
    }

    /// A lingering close: closing with unread input would send a reset, which
    /// makes the peer's kernel drop reply bytes it has not read yet. So input
    /// is read and thrown away until the peer's EOF (or an error, or [`LINGER`]
    /// from `on_timeout`), in the loop like any other event, and only then is
    /// the socket closed.
    pub(super) fn discard_input(&mut self) {
        match discard(&mut self.conn) {
            Ok(n) if n > 0 => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            _ => self.finished = true,
        }
    }

    /// The socket buffer is full: start the send-timeout clock if not running.
    fn stalled(&mut self, now: Instant) {
        if self.stall_deadline.is_none() {
            self.stall_deadline = Some(now + self.send_timeout);
        }
    }
}
