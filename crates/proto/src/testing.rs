//! Driving a [`Session`] without a socket: an in-memory peer and a fake clock.
//!
//! Protocol tests feed byte strings in and read bytes out, with time advanced by
//! hand, so a timeout that takes a minute in real life runs in microseconds and
//! never flakes (quinn's `Pair::drive`, rustls' `do_handshake`). File chunks are
//! read into the output as if sendfile had sent them.

use crate::{FileChunk, Session};
use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

/// A session with an in-memory peer and a clock that moves only when told.
#[derive(Debug)]
pub struct Harness<S: Session> {
    /// The session under test.
    pub session: S,
    /// The fake "now".
    pub now: Instant,
    /// Bytes sent by the peer and not yet consumed.
    unconsumed: Vec<u8>,
}

impl<S: Session> Harness<S> {
    /// Wraps a session created at `now`.
    pub fn new(session: S, now: Instant) -> Self {
        Self {
            session,
            now,
            unconsumed: Vec::new(),
        }
    }

    /// The peer sends `bytes`; returns everything the session sends in reply.
    pub fn send(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.unconsumed.extend_from_slice(bytes);
        if self.session.wants_read() {
            let used = self.session.handle_input(self.now, &self.unconsumed);
            self.unconsumed.drain(..used.min(self.unconsumed.len()));
        }
        self.drain()
    }

    /// The peer closes its sending side; returns what the session sends.
    pub fn eof(&mut self) -> Vec<u8> {
        self.session.handle_eof(self.now);
        self.drain()
    }

    /// Moves the clock forward by `by`, firing the session's timeout if it came due.
    pub fn advance(&mut self, by: Duration) -> Vec<u8> {
        self.now += by;
        if self.session.poll_timeout().is_some_and(|at| at <= self.now) {
            self.session.handle_timeout(self.now);
        }
        self.drain()
    }

    /// Everything the session wants to send now, file chunks read in.
    pub fn drain(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(chunk) = self.session.poll_transmit(&mut out) {
            read_chunk(&chunk, &mut out);
        }
        out
    }

    /// Bytes the peer sent that the session has not consumed.
    pub fn unconsumed(&self) -> &[u8] {
        &self.unconsumed
    }
}

fn read_chunk(chunk: &FileChunk, out: &mut Vec<u8>) {
    let mut file = &*chunk.file;
    file.seek(SeekFrom::Start(chunk.offset))
        .expect("seek in chunk file");
    let before = out.len();
    file.take(chunk.len)
        .read_to_end(out)
        .expect("read chunk file");
    assert_eq!(
        (out.len() - before) as u64,
        chunk.len,
        "file chunk shorter than announced"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::echo::EchoService;
    use crate::Service;

    #[test]
    fn harness_drives_echo_and_its_idle_timeout() {
        let t0 = Instant::now();
        let svc = EchoService::new(Some(Duration::from_secs(60)));
        let mut h = Harness::new(svc.new_session(None, t0), t0);
        assert_eq!(h.send(b"abc"), b"abc");
        assert!(h.advance(Duration::from_secs(59)).is_empty());
        assert!(!h.session.is_done());
        h.advance(Duration::from_secs(2));
        assert!(h.session.is_done(), "idle for 61 s must close");
        assert!(h.unconsumed().is_empty());
    }
}
