//! Small line-based test services for the every-model driver tests.
//!
//! - [`Hub`]: `join` (get pushed lines), `say X` (push `X` to every other
//!   member, through their wakers), `later X` (a thread of the session's own
//!   pushes `X` to it a moment later);
//! - [`OneLine`]: answers one line per `handle_input` call and reads only while
//!   its reply is unsent; `stats` reports how many calls consumed nothing;
//! - [`AnswerFirst`]: answers the first line with [`answer()`] and is done,
//!   leaving whatever else the client sent unread;
//! - [`Pieces`]: answers a line `N` with N lines, one per `poll_transmit` call;
//! - [`FileRanges`]: answers a line `OFFSET LEN` with a header line and that
//!   range of a file as a `FileChunk` (sendfile), one request at a time like an
//!   HTTP session: it reads nothing more until the chunk was handed out.

use netkit_proto::{FileChunk, Service, Session};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A broadcast hub: what one member says reaches the others through wakes.
/// Members are never removed, so wakers of closed connections keep being
/// called: a driver must ignore those, whatever now uses their slot.
#[derive(Default)]
pub struct Hub {
    members: Arc<Mutex<Vec<Arc<Member>>>>,
}

#[derive(Default)]
pub struct Member {
    inbox: Mutex<Vec<u8>>,
    waker: Mutex<Option<Waker>>,
}

impl Member {
    /// Called from another connection's thread (or a helper thread).
    fn push(&self, line: &[u8]) {
        lock(&self.inbox).extend_from_slice(line);
        if let Some(w) = lock(&self.waker).as_ref() {
            w.wake_by_ref();
        }
    }
}

pub struct HubSession {
    members: Arc<Mutex<Vec<Arc<Member>>>>,
    me: Arc<Member>,
    out: Vec<u8>,
    eof: bool,
}

impl Service for Hub {
    type Session = HubSession;
    fn new_session(&self, _: Option<SocketAddr>, _: Instant) -> HubSession {
        HubSession {
            members: Arc::clone(&self.members),
            me: Arc::default(),
            out: Vec::new(),
            eof: false,
        }
    }
}

impl HubSession {
    fn command(&mut self, line: &[u8]) {
        if line == b"join" {
            lock(&self.members).push(Arc::clone(&self.me));
            self.out.extend_from_slice(b"joined\n");
        } else if let Some(text) = line.strip_prefix(b"say ") {
            let mut said = text.to_vec();
            said.push(b'\n');
            for m in lock(&self.members).iter() {
                if !Arc::ptr_eq(m, &self.me) {
                    m.push(&said);
                }
            }
            self.out.extend_from_slice(b"said\n");
        } else if let Some(text) = line.strip_prefix(b"later ") {
            let mut said = text.to_vec();
            said.push(b'\n');
            let me = Arc::clone(&self.me);
            // The delay only makes it likely the client is idle by then; the
            // test waits for the line, not for time.
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                me.push(&said);
            });
            self.out.extend_from_slice(b"ok\n");
        } else {
            self.out.extend_from_slice(b"?\n");
        }
    }
}

impl Session for HubSession {
    fn handle_input(&mut self, _: Instant, input: &[u8]) -> usize {
        let mut used = 0;
        while let Some(end) = input[used..].iter().position(|&b| b == b'\n') {
            self.command(&input[used..used + end]);
            used += end + 1;
        }
        used
    }
    fn handle_eof(&mut self, _: Instant) {
        self.eof = true;
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn handle_shutdown(&mut self, _: Instant) {
        self.eof = true;
    }
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<FileChunk> {
        out.append(&mut self.out);
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn wants_read(&self) -> bool {
        !self.eof
    }
    fn is_done(&self) -> bool {
        self.eof
    }
    fn set_waker(&mut self, waker: Waker) {
        *lock(&self.me.waker) = Some(waker);
    }
    fn handle_wake(&mut self, _: Instant) {
        self.out.append(&mut lock(&self.me.inbox));
    }
}

/// One line per call, like an HTTP session taking one pipelined request.
pub struct OneLine;

pub struct OneLineSession {
    out: Vec<u8>,
    idle_calls: usize,
    eof: bool,
}

impl Service for OneLine {
    type Session = OneLineSession;
    fn new_session(&self, _: Option<SocketAddr>, _: Instant) -> OneLineSession {
        OneLineSession {
            out: Vec::new(),
            idle_calls: 0,
            eof: false,
        }
    }
}

impl Session for OneLineSession {
    fn handle_input(&mut self, _: Instant, input: &[u8]) -> usize {
        let Some(end) = input.iter().position(|&b| b == b'\n') else {
            self.idle_calls += 1;
            return 0;
        };
        if &input[..end] == b"panic" {
            panic!("the client asked this session to panic");
        }
        if &input[..end] == b"stats" {
            let stats = format!("idle-calls {}\n", self.idle_calls);
            self.out.extend_from_slice(stats.as_bytes());
        } else {
            self.out.extend_from_slice(&input[..=end]);
        }
        end + 1
    }
    fn handle_eof(&mut self, _: Instant) {
        self.eof = true;
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn handle_shutdown(&mut self, _: Instant) {
        self.eof = true;
    }
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<FileChunk> {
        out.append(&mut self.out);
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn wants_read(&self) -> bool {
        !self.eof && self.out.is_empty()
    }
    fn is_done(&self) -> bool {
        self.eof
    }
}

/// What [`AnswerFirst`] answers: 256 KiB of a fixed pattern.
pub fn answer() -> Vec<u8> {
    (0..256 * 1024u32).map(|i| (i % 251) as u8).collect()
}

/// Answers the first line, then is done with input still arriving.
pub struct AnswerFirst;

pub struct AnswerFirstSession {
    answered: bool,
    out: Vec<u8>,
}

impl Service for AnswerFirst {
    type Session = AnswerFirstSession;
    fn new_session(&self, _: Option<SocketAddr>, _: Instant) -> AnswerFirstSession {
        AnswerFirstSession {
            answered: false,
            out: Vec::new(),
        }
    }
}

impl Session for AnswerFirstSession {
    fn handle_input(&mut self, _: Instant, input: &[u8]) -> usize {
        let Some(end) = input.iter().position(|&b| b == b'\n') else {
            return 0;
        };
        self.answered = true;
        self.out = answer();
        end + 1
    }
    fn handle_eof(&mut self, _: Instant) {
        self.answered = true;
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn handle_shutdown(&mut self, _: Instant) {
        self.answered = true;
    }
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<FileChunk> {
        out.append(&mut self.out);
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn wants_read(&self) -> bool {
        !self.answered
    }
    fn is_done(&self) -> bool {
        self.answered && self.out.is_empty()
    }
}

/// Output that comes out of `poll_transmit` one piece per call.
pub struct Pieces;

pub struct PiecesSession {
    queued: std::ops::Range<u32>,
    eof: bool,
}

impl Service for Pieces {
    type Session = PiecesSession;
    fn new_session(&self, _: Option<SocketAddr>, _: Instant) -> PiecesSession {
        PiecesSession {
            queued: 0..0,
            eof: false,
        }
    }
}

impl Session for PiecesSession {
    fn handle_input(&mut self, _: Instant, input: &[u8]) -> usize {
        let Some(end) = input.iter().position(|&b| b == b'\n') else {
            return 0;
        };
        let n: u32 = std::str::from_utf8(&input[..end])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        self.queued = 0..n;
        end + 1
    }
    fn handle_eof(&mut self, _: Instant) {
        self.eof = true;
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn handle_shutdown(&mut self, _: Instant) {
        self.eof = true;
    }
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<FileChunk> {
        if let Some(i) = self.queued.next() {
            out.extend_from_slice(format!("piece {i}\n").as_bytes());
        }
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn wants_read(&self) -> bool {
        !self.eof && self.queued.is_empty()
    }
    fn is_done(&self) -> bool {
        self.eof && self.queued.is_empty()
    }
}

/// Serves ranges of one open file, one request at a time.
pub struct FileRanges(pub Arc<std::fs::File>);

pub struct FileRangesSession {
    file: Arc<std::fs::File>,
    next: Option<(u64, u64)>,
    eof: bool,
}

impl Service for FileRanges {
    type Session = FileRangesSession;
    fn new_session(&self, _: Option<SocketAddr>, _: Instant) -> FileRangesSession {
        FileRangesSession {
            file: Arc::clone(&self.0),
            next: None,
            eof: false,
        }
    }
}

impl Session for FileRangesSession {
    fn handle_input(&mut self, _: Instant, input: &[u8]) -> usize {
        let Some(end) = input.iter().position(|&b| b == b'\n') else {
            return 0;
        };
        let text = String::from_utf8_lossy(&input[..end]);
        let mut numbers = text.split(' ').filter_map(|n| n.parse().ok());
        self.next = Some((numbers.next().unwrap_or(0), numbers.next().unwrap_or(0)));
        end + 1
    }
    fn handle_eof(&mut self, _: Instant) {
        self.eof = true;
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn handle_shutdown(&mut self, _: Instant) {
        self.eof = true;
    }
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<FileChunk> {
        let (offset, len) = self.next.take()?;
        out.extend_from_slice(format!("range {offset} {len}\n").as_bytes());
        Some(FileChunk {
            file: Arc::clone(&self.file),
            offset,
            len,
        })
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn wants_read(&self) -> bool {
        !self.eof && self.next.is_none()
    }
    fn is_done(&self) -> bool {
        self.eof && self.next.is_none()
    }
}
