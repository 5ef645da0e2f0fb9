//! Driving a [`Session`] without a socket: an in-memory peer and a fake clock.
//!
//! Protocol tests feed byte strings in and read bytes out, with time advanced by
//! hand, so a timeout that takes a minute in real life runs in microseconds and
//! never flakes (quinn's `Pair::drive`, rustls' `do_handshake`). File chunks are
//! read into the output as if sendfile had sent them.
//!
//! The harness keeps the drivers' call order: it hands the session a waker when
//! it is wrapped ([`Harness::wake`] delivers what the waker asked for, merged,
//! as a driver would), and it offers leftover input again once the output is
//! drained and the session wants to read, for as long as each offer consumes
//! something.

use crate::{FileChunk, Session};
use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};
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
    /// Counts the session's waker calls not yet delivered.
    wakes: Arc<CountingWake>,
}

#[derive(Debug, Default)]
struct CountingWake(AtomicUsize);

impl Wake for CountingWake {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl<S: Session> Harness<S> {
    /// Wraps a session created at `now` and hands it its waker
    /// ([`Session::set_waker`]), as a driver does right after creating it.
    pub fn new(mut session: S, now: Instant) -> Self {
        let wakes = Arc::new(CountingWake::default());
        session.set_waker(Waker::from(Arc::clone(&wakes)));
        Self {
            session,
            now,
            unconsumed: Vec::new(),
            wakes,
        }
    }

    /// The peer sends `bytes`; returns everything the session sends in reply,
    /// including replies to input it consumed only after earlier output was
    /// drained (pipelined requests), as a driver re-offers leftover input.
    pub fn send(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.unconsumed.extend_from_slice(bytes);
        let mut reply = Vec::new();
        // Bounded: every round either consumes input or stops.
        while self.session.wants_read() && !self.session.is_done() && !self.unconsumed.is_empty() {
            let used = self.session.handle_input(self.now, &self.unconsumed);
            self.unconsumed.drain(..used.min(self.unconsumed.len()));
            reply.extend(self.drain());
            if used == 0 {
                break;
            }
        }
        reply.extend(self.drain());
        reply
    }

    /// How many times the session called its waker since the last
    /// [`Harness::wake`].
    pub fn wakes(&self) -> usize {
        self.wakes.0.load(Ordering::SeqCst)
    }

    /// A clone of the waker the session was given, to wake it from a test.
    pub fn waker(&self) -> Waker {
        Waker::from(Arc::clone(&self.wakes))
    }

    /// Delivers pending wake-ups: if the waker was called since the last
    /// delivery (any number of times: drivers merge them), calls
    /// [`Session::handle_wake`] once; returns what the session sends.
    pub fn wake(&mut self) -> Vec<u8> {
        if self.wakes.0.swap(0, Ordering::SeqCst) > 0 {
            self.session.handle_wake(self.now);
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

    /// Everything the session wants to send now, file chunks read in: as a
    /// driver does, `poll_transmit` is called until it returns no chunk and
    /// appends nothing (a session may produce its output piece by piece).
    pub fn drain(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let before = out.len();
            match self.session.poll_transmit(&mut out) {
                Some(chunk) => read_chunk(&chunk, &mut out),
                None if out.len() == before => return out,
                None => {}
            }
        }
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

    /// Answers `woken N` on each wake (N counts handle_wake calls), and one
    /// line per handle_input call, reading only while its reply is undrained.
    #[derive(Default)]
    struct Probe {
        waker: Option<Waker>,
        wakes: usize,
        out: Vec<u8>,
    }

    impl Session for Probe {
        fn handle_input(&mut self, _: Instant, input: &[u8]) -> usize {
            let Some(end) = input.iter().position(|&b| b == b'\n') else {
                return 0;
            };
            self.out.extend_from_slice(&input[..=end]);
            end + 1
        }
        fn handle_eof(&mut self, _: Instant) {}
        fn handle_timeout(&mut self, _: Instant) {}
        fn handle_shutdown(&mut self, _: Instant) {}
        fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<FileChunk> {
            out.append(&mut self.out);
            None
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
        fn wants_read(&self) -> bool {
            self.out.is_empty()
        }
        fn is_done(&self) -> bool {
            false
        }
        fn set_waker(&mut self, waker: Waker) {
            self.waker = Some(waker);
        }
        fn handle_wake(&mut self, _: Instant) {
            self.wakes += 1;
            self.out
                .extend_from_slice(format!("woken {}\n", self.wakes).as_bytes());
        }
    }

    #[test]
    fn harness_merges_wakes_and_delivers_them_on_wake() {
        let mut h = Harness::new(Probe::default(), Instant::now());
        assert!(h.wake().is_empty(), "no wake asked for, none delivered");
        let waker = h.session.waker.clone().expect("the harness gave a waker");
        std::thread::spawn(move || {
            waker.wake_by_ref();
            waker.wake();
        })
        .join()
        .unwrap();
        assert_eq!(h.wakes(), 2);
        assert_eq!(h.wake(), b"woken 1\n", "two wakes, merged into one call");
        assert_eq!(h.wakes(), 0);
        h.waker().wake();
        assert_eq!(h.wake(), b"woken 2\n");
    }

    #[test]
    fn harness_re_offers_leftover_input_one_line_per_call() {
        let mut h = Harness::new(Probe::default(), Instant::now());
        assert_eq!(h.send(b"a\nb\nc\npart"), b"a\nb\nc\n");
        assert_eq!(h.unconsumed(), b"part");
        assert_eq!(h.send(b"ial\n"), b"partial\n");
    }
}
