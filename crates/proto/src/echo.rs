//! The echo service (RFC 862): every byte received is sent back — over a stream
//! ([`EchoService`]) or as datagrams ([`UdpEcho`]).
//!
//! The simplest [`Session`]: whatever `handle_input` takes, `poll_transmit` gives
//! back. Flow control is the driver's: it reads again only once the echoed bytes
//! were written, so a client that sends but never reads is slowed, not buffered
//! without bound. An idle connection is closed after the configured timeout.

use crate::{Datagram, DatagramService, FileChunk, Service, Session};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Makes echo sessions.
#[derive(Debug, Clone)]
pub struct EchoService {
    idle_timeout: Option<Duration>,
}

impl EchoService {
    /// An echo service that closes connections idle for longer than `idle_timeout`
    /// (`None`: never).
    pub fn new(idle_timeout: Option<Duration>) -> Self {
        Self { idle_timeout }
    }
}

impl Service for EchoService {
    type Session = EchoSession;

    fn new_session(&self, _peer: Option<SocketAddr>, now: Instant) -> EchoSession {
        EchoSession {
            pending: Vec::new(),
            idle_timeout: self.idle_timeout,
            deadline: self.idle_timeout.map(|t| now + t),
            eof: false,
            closing: false,
        }
    }
}

/// One echo connection.
#[derive(Debug)]
pub struct EchoSession {
    pending: Vec<u8>,
    idle_timeout: Option<Duration>,
    deadline: Option<Instant>,
    /// The peer sent EOF: echo what is pending, then close.
    eof: bool,
    /// Timed out or shutting down: close once pending is flushed.
    closing: bool,
}

impl Session for EchoSession {
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> usize {
        if self.closing {
            return 0;
        }
        self.pending.extend_from_slice(input);
        self.deadline = self.idle_timeout.map(|t| now + t);
        input.len()
    }

    fn handle_eof(&mut self, _now: Instant) {
        self.eof = true;
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.closing = true;
        }
    }

    fn handle_shutdown(&mut self, _now: Instant) {
        self.closing = true;
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<FileChunk> {
        out.append(&mut self.pending);
        None
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    fn wants_read(&self) -> bool {
        !self.eof && !self.closing
    }

    fn is_done(&self) -> bool {
        (self.eof || self.closing) && self.pending.is_empty()
    }
}

/// UDP echo: each datagram goes back to its sender unchanged.
#[derive(Debug, Default, Clone)]
pub struct UdpEcho;

impl DatagramService for UdpEcho {
    fn handle_datagram(
        &mut self,
        _now: Instant,
        from: SocketAddr,
        data: &[u8],
        out: &mut Vec<Datagram>,
    ) {
        out.push(Datagram {
            to: from,
            data: data.to_vec(),
        });
    }

    fn handle_timeout(&mut self, _now: Instant, _out: &mut Vec<Datagram>) {}

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &mut EchoSession) -> Vec<u8> {
        let mut out = Vec::new();
        while s.poll_transmit(&mut out).is_some() {}
        out
    }

    #[test]
    fn echoes_every_byte_in_order() {
        let now = Instant::now();
        let mut s = EchoService::new(None).new_session(None, now);
        assert_eq!(s.handle_input(now, b"hel"), 3);
        assert_eq!(s.handle_input(now, b"lo\n"), 3);
        assert_eq!(drain(&mut s), b"hello\n");
        assert!(s.wants_read());
        assert!(!s.is_done());
    }

    #[test]
    fn eof_flushes_then_finishes() {
        let now = Instant::now();
        let mut s = EchoService::new(None).new_session(None, now);
        s.handle_input(now, b"last");
        s.handle_eof(now);
        assert!(!s.wants_read());
        assert!(!s.is_done(), "pending bytes must be sent before closing");
        assert_eq!(drain(&mut s), b"last");
        assert!(s.is_done());
    }

    #[test]
    fn idle_timeout_closes_and_activity_extends_it() {
        let t0 = Instant::now();
        let idle = Duration::from_secs(5);
        let mut s = EchoService::new(Some(idle)).new_session(None, t0);
        assert_eq!(s.poll_timeout(), Some(t0 + idle));
        let t1 = t0 + Duration::from_secs(3);
        s.handle_input(t1, b"x");
        assert_eq!(s.poll_timeout(), Some(t1 + idle));
        // A wake-up before the new deadline changes nothing.
        s.handle_timeout(t0 + idle);
        assert!(s.wants_read());
        s.handle_timeout(t1 + idle);
        assert!(!s.wants_read());
        assert_eq!(drain(&mut s), b"x");
        assert!(s.is_done());
    }

    #[test]
    fn udp_echo_answers_the_sender_with_the_same_bytes() {
        let from: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let mut out = Vec::new();
        UdpEcho.handle_datagram(Instant::now(), from, b"ping", &mut out);
        assert_eq!(
            out,
            vec![Datagram {
                to: from,
                data: b"ping".to_vec()
            }]
        );
    }

    #[test]
    fn shutdown_stops_reading_and_finishes() {
        let now = Instant::now();
        let mut s = EchoService::new(None).new_session(None, now);
        s.handle_shutdown(now);
        assert_eq!(s.handle_input(now, b"late"), 0);
        assert!(s.is_done());
    }
}
