//! One TLS connection: a rustls [`ServerConnection`] around the inner
//! service's session, driven in the order `crate::Session` documents.
//!
//! ```text
//!   handle_input ── read_tls ─▶ process_new_packets ─▶ plaintext buffer
//!   poll_transmit ─ write_tls ◀── encrypt ◀── pending file piece (pread)
//!                                        ◀── inner.poll_transmit
//!                  (inner drained) ── plaintext ──▶ inner.handle_input
//! ```
//!
//! The inner session is fed only from `poll_transmit`, once its output is
//! encrypted: that is where a driver re-offers leftover input too, so
//! pipelined requests are answered one after another with bounded memory,
//! whatever the driver does with the ciphertext it already handed over.

use super::file::PendingFile;
use crate::{FileChunk, Session, MAX_INPUT};
use rustls::ServerConnection;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

/// Ciphertext appended by one `poll_transmit` call, at most (about): the
/// driver sends it and calls again, so a large file never sits in memory.
pub(super) const TRANSMIT_BUDGET: usize = 128 * 1024;

/// A connection running an inner [`Session`] over TLS.
pub struct TlsSession<S> {
    /// `None` only if rustls refused the configuration: the session is done.
    conn: Option<ServerConnection>,
    inner: S,
    /// Decrypted bytes the inner session has not consumed yet.
    plain: Vec<u8>,
    /// The inner session's latest output, on its way into rustls.
    scratch: Vec<u8>,
    /// The file range being encrypted, if any.
    file: Option<PendingFile>,
    /// The latest instant a driver gave: the inner session's `now` when the
    /// wrapper feeds it from `poll_transmit`.
    now: Instant,
    /// Until when the client may take to finish the handshake.
    handshake_deadline: Instant,
    /// The peer will send nothing more (close_notify or TCP EOF).
    peer_closed: bool,
    /// The inner session was told of the peer's end.
    eof_delivered: bool,
    /// Nothing more will be sent but what rustls holds (an alert, close_notify).
    finished: bool,
}

impl<S: Session> std::fmt::Debug for TlsSession<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSession")
            .field("handshaking", &self.is_handshaking())
            .field("plain", &self.plain.len())
            .field("peer_closed", &self.peer_closed)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl<S: Session> TlsSession<S> {
    /// `inner` over a new server connection made from `config`, created at
    /// `now`; the handshake must be over by `handshake_deadline`.
    pub fn new(
        config: Arc<rustls::ServerConfig>,
        inner: S,
        now: Instant,
        handshake_deadline: Instant,
    ) -> Self {
        let conn = ServerConnection::new(config).ok().map(|mut conn| {
            // The wrapper bounds what it hands rustls itself (one file piece,
            // one inner reply at a time, flushed in between).
            conn.set_buffer_limit(None);
            conn
        });
        let finished = conn.is_none();
        Self {
            conn,
            inner,
            plain: Vec::new(),
            scratch: Vec::new(),
            file: None,
            now,
            handshake_deadline,
            peer_closed: false,
            eof_delivered: false,
            finished,
        }
    }

    /// The inner session.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The server name the client asked for (SNI), once it said.
    pub fn server_name(&self) -> Option<&str> {
        self.conn.as_ref()?.server_name()
    }

    fn is_handshaking(&self) -> bool {
        self.conn.as_ref().is_none_or(|c| c.is_handshaking())
    }

    /// Moves decrypted bytes out of rustls into the plaintext buffer; notes a
    /// close_notify. A protocol error ends the connection (rustls has queued
    /// the alert that says why).
    fn process(&mut self) {
        let Some(conn) = &mut self.conn else { return };
        match conn.process_new_packets() {
            Ok(state) => {
                let n = state.plaintext_bytes_to_read();
                if n > 0 {
                    let start = self.plain.len();
                    self.plain.resize(start + n, 0);
                    if conn.reader().read_exact(&mut self.plain[start..]).is_err() {
                        self.plain.truncate(start);
                        self.finished = true;
                    }
                }
                if state.peer_has_closed() {
                    self.peer_closed = true;
                }
            }
            Err(_) => self.finished = true,
        }
    }

    /// Appends what rustls has to send to `out`.
    fn flush_tls(&mut self, out: &mut Vec<u8>) {
        if let Some(conn) = &mut self.conn {
            while conn.wants_write() {
                // Writing to a Vec cannot fail.
                if conn.write_tls(out).is_err() {
                    break;
                }
            }
        }
    }

    /// One step of playing driver for the inner session: encrypt the next
    /// file piece, else the inner session's next output, else feed it
    /// leftover plaintext (or the peer's EOF), else close once it is done.
    /// Returns whether anything happened.
    fn step(&mut self) -> bool {
        let Some(conn) = &mut self.conn else {
            return false;
        };
        if let Some(file) = &mut self.file {
            if file.encrypt_next(&mut conn.writer()).is_err() {
                // The reply cannot be finished: end the connection.
                self.file = None;
                self.finished = true;
                conn.send_close_notify();
            } else if file.is_finished() {
                self.file = None;
            }
            return true;
        }
        let bytes = &mut self.scratch;
        bytes.clear();
        let chunk = self.inner.poll_transmit(bytes);
        if !bytes.is_empty() {
            if std::io::Write::write_all(&mut conn.writer(), bytes).is_err() {
                self.finished = true;
            }
            if bytes.capacity() > MAX_INPUT {
                // One large reply does not pin its memory for the connection's life.
                *bytes = Vec::new();
            }
            self.file = chunk.map(PendingFile::new);
            return true;
        }
        if let Some(chunk) = chunk {
            self.file = Some(PendingFile::new(chunk));
            return true;
        }
        if self.inner.is_done() {
            conn.send_close_notify();
            self.finished = true;
            return true;
        }
        let mut consumed = 0;
        if !self.plain.is_empty() && self.inner.wants_read() {
            consumed = self.inner.handle_input(self.now, &self.plain);
            self.plain.drain(..consumed.min(self.plain.len()));
            if self.plain.is_empty() && self.plain.capacity() > MAX_INPUT {
                self.plain = Vec::new();
            }
            if consumed > 0 {
                return true;
            }
        }
        // The end of the peer's data goes after its last byte, or as soon as
        // the inner session will take no more of it.
        if self.peer_closed && !self.eof_delivered && (self.plain.is_empty() || consumed == 0) {
            self.eof_delivered = true;
            self.inner.handle_eof(self.now);
            return true;
        }
        false
    }
}

impl<S: Session> Session for TlsSession<S> {
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> usize {
        self.now = now;
        let mut used = 0;
        // Bounded: each round consumes bytes or stops, and the plaintext
        // buffer stops it at about MAX_INPUT.
        while used < input.len() && !self.finished && self.plain.len() < MAX_INPUT {
            let Some(conn) = &mut self.conn else { break };
            let mut rest = &input[used..];
            match conn.read_tls(&mut rest) {
                Ok(0) | Err(_) => break,
                Ok(n) => used += n,
            }
            self.process();
        }
        used
    }

    fn handle_eof(&mut self, now: Instant) {
        self.now = now;
        self.peer_closed = true;
        if self.is_handshaking() {
            // Nothing was agreed: there is nobody to say goodbye to.
            self.finished = true;
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.is_handshaking() && now >= self.handshake_deadline {
            self.finished = true;
            return;
        }
        // The inner session's clock runs from its creation, but it hears of
        // time only once it can answer (after the handshake).
        if !self.is_handshaking() && self.inner.poll_timeout().is_some_and(|at| now >= at) {
            self.inner.handle_timeout(now);
        }
    }

    fn handle_shutdown(&mut self, now: Instant) {
        self.now = now;
        if self.is_handshaking() {
            self.finished = true;
        } else {
            self.inner.handle_shutdown(now);
        }
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<FileChunk> {
        let start = out.len();
        // Bounded by the budget, and each step either makes progress or ends.
        loop {
            self.flush_tls(out);
            if self.finished || self.is_handshaking() || out.len() - start >= TRANSMIT_BUDGET {
                return None;
            }
            if !self.step() {
                return None;
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.finished {
            None
        } else if self.is_handshaking() {
            Some(self.handshake_deadline)
        } else {
            self.inner.poll_timeout()
        }
    }

    fn wants_read(&self) -> bool {
        if self.finished || self.peer_closed {
            return false;
        }
        self.is_handshaking() || (self.inner.wants_read() && self.plain.len() < MAX_INPUT)
    }

    fn is_done(&self) -> bool {
        self.finished && self.file.is_none() && self.conn.as_ref().is_none_or(|c| !c.wants_write())
    }

    fn set_waker(&mut self, waker: std::task::Waker) {
        self.inner.set_waker(waker);
    }

    fn handle_wake(&mut self, now: Instant) {
        self.now = now;
        self.inner.handle_wake(now);
    }
}
