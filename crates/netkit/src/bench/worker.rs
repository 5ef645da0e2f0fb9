//! One load-generator thread: an edge-triggered epoll loop over many
//! non-blocking connections, each running one request at a time (closed loop),
//! the way wrk does it.
//!
//! What keeps it cheap per request: the request bytes are serialised once and
//! shared; every connection owns one read buffer for its whole life; the reply
//! parser only frames (see `reply`); a finished reply is followed by the next
//! request's `write` in the same wake-up, and no `epoll_ctl` is needed after a
//! connection is registered (edge-triggered, interest in both directions).
//! Per request that is one `read`, one `write`, a share of one `epoll_wait` and
//! a clock read — no allocation. `https://` runs the same loop through rustls
//! (see `link`): every handshake counted, and the resumed ones.
//!
//! ```text
//!  Closed ─connect─▶ Connecting ─▶ Writing ─all sent─▶ Reading ─reply─▶ Writing …
//!     ▲                  │            │                   │
//!     └──── error / timeout / close ──┴───────────────────┘   (Backoff after a failed connect)
//! ```

use super::link::{is_tls_error, Link};
use super::reply::{Expect, Reply, ReplyParser, Step};
use super::report::{ErrorCounts, ErrorKind};
use hdrhistogram::Histogram;
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Set (by a SIGINT handler) to end every run early, keeping what was measured.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Each connection's read buffer: big enough for any sane response head.
const BUF_SIZE: usize = 64 * 1024;
/// How long a connection waits before trying again after a failed connect.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);

/// When a run ends.
#[derive(Debug, Clone)]
pub(crate) enum Limit {
    /// No new request after this instant; replies still in flight are dropped.
    Until(Instant),
    /// Exactly this many requests in all threads (the counter is shared).
    Count(Arc<AtomicU64>),
}

/// What one thread does.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) addr: SocketAddr,
    pub(crate) conns: usize,
    pub(crate) request: Arc<[u8]>,
    pub(crate) expect: Expect,
    pub(crate) close_each: bool,
    pub(crate) timeout: Duration,
    pub(crate) limit: Limit,
    /// `https://`: how to check the server, and its name.
    pub(crate) tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
}

/// Live counters a thread updates for the progress line (own cache line).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Live {
    pub(crate) completed: AtomicU64,
    pub(crate) errors: AtomicU64,
}

/// What one thread measured.
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    /// Latency of every completed request, in microseconds.
    pub(crate) hist: Histogram<u64>,
    pub(crate) completed: u64,
    pub(crate) bytes_read: u64,
    pub(crate) bytes_written: u64,
    pub(crate) errors: ErrorCounts,
    /// Connections that sent a request but never got a reply (an iterative server's waiting line).
    pub(crate) starved: u64,
    /// TLS handshakes completed.
    pub(crate) handshakes: u64,
    /// Of those, the ones that resumed an earlier session.
    pub(crate) resumed: u64,
    /// The first TLS failure, as a sentence (a refused certificate says why).
    pub(crate) tls_error: Option<String>,
}

impl Tally {
    pub(crate) fn new() -> Tally {
        Tally {
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("static histogram bounds are valid"),
            completed: 0,
            bytes_read: 0,
            bytes_written: 0,
            errors: ErrorCounts::default(),
            starved: 0,
            handshakes: 0,
            resumed: 0,
            tls_error: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Backoff(Instant),
    Connecting,
    Writing,
    Reading,
    Finished,
}

struct Conn {
    stream: Option<Link>,
    generation: u32,
    phase: Phase,
    tried: bool,
    served: bool,
    written: usize,
    started: Instant,
    parser: ReplyParser,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

struct Worker<'a> {
    plan: Plan,
    epoll: Epoll,
    conns: Vec<Conn>,
    unfinished: usize,
    tally: Tally,
    live: &'a Live,
}

/// Runs one thread's connections until the limit is reached.
pub(crate) fn run(plan: Plan, live: &Live) -> io::Result<Tally> {
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    let now = Instant::now();
    let conns = (0..plan.conns)
        .map(|_| Conn {
            stream: None,
            generation: 0,
            phase: Phase::Closed,
            tried: false,
            served: false,
            written: 0,
            started: now,
            parser: ReplyParser::new(plan.expect),
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
        })
        .collect();
    let mut w = Worker {
        unfinished: plan.conns,
        plan,
        epoll,
        conns,
        tally: Tally::new(),
        live,
    };
    for i in 0..w.conns.len() {
        w.next_request(i, now);
    }
    let scan_every =
        (w.plan.timeout / 4).clamp(Duration::from_millis(5), Duration::from_millis(100));
    let mut next_scan = now + scan_every;
    let mut events = vec![EpollEvent::empty(); 512];
    while w.unfinished > 0 && !INTERRUPTED.load(Ordering::Relaxed) {
        let now = Instant::now();
        let mut wait = next_scan.saturating_duration_since(now);
        if let Limit::Until(end) = w.plan.limit {
            if now >= end {
                break;
            }
            wait = wait.min(end - now);
        }
        let ms = u16::try_from(wait.as_millis() + 1).unwrap_or(u16::MAX);
        let n = match w.epoll.wait(&mut events, ms) {
            Ok(n) => n,
            Err(Errno::EINTR) => 0,
            Err(e) => return Err(e.into()),
        };
        for ev in &events[..n] {
            let data = ev.data();
            let i = (data & 0xffff_ffff) as usize;
            if w.conns[i].generation == (data >> 32) as u32 {
                let readable = ev
                    .events()
                    .intersects(EpollFlags::EPOLLIN | EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR);
                w.drive(i, readable);
            }
        }
        let now = Instant::now();
        if now >= next_scan {
            w.scan(now);
            next_scan = now + scan_every;
        }
    }
    w.tally.starved = w.conns.iter().filter(|c| c.tried && !c.served).count() as u64;
    Ok(w.tally)
}

impl Worker<'_> {
    /// Starts the next request on connection `i`, if the limit allows one.
    fn next_request(&mut self, i: usize, now: Instant) {
        let allowed = match &self.plan.limit {
            Limit::Until(end) => now < *end,
            Limit::Count(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        };
        let c = &mut self.conns[i];
        if !allowed {
            c.stream = None;
            c.generation = c.generation.wrapping_add(1);
            c.phase = Phase::Finished;
            self.unfinished -= 1;
            return;
        }
        c.tried = true;
        c.started = now;
        c.written = 0;
        c.parser.reset();
        if c.stream.is_some() {
            c.phase = Phase::Writing;
            return;
        }
        match connect(self.plan.addr) {
            Ok(stream) => {
                let data = u64::from(c.generation) << 32 | i as u64;
                let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT | EpollFlags::EPOLLET;
                if self
                    .epoll
                    .add(&stream, EpollEvent::new(flags, data))
                    .is_err()
                {
                    self.fail(i, ErrorKind::Connect, now);
                    return;
                }
                let link = match &self.plan.tls {
                    None => Link::plain(stream),
                    Some((config, name)) => {
                        match ClientConnection::new(Arc::clone(config), name.clone()) {
                            Ok(conn) => Link::tls(stream, conn),
                            // rustls would not start: a failed connect (retried
                            // after the backoff, not at once, over and over).
                            Err(_) => {
                                self.fail(i, ErrorKind::Connect, now);
                                return;
                            }
                        }
                    }
                };
                let c = &mut self.conns[i];
                c.stream = Some(link);
                c.phase = Phase::Connecting;
            }
            Err(_) => self.fail(i, ErrorKind::Connect, now),
        }
    }

    /// Counts a failed request, drops the connection and starts over.
    fn fail(&mut self, i: usize, kind: ErrorKind, now: Instant) {
        self.tally.errors.add(kind);
        self.live.errors.fetch_add(1, Ordering::Relaxed);
        self.close(i);
        if kind == ErrorKind::Connect {
            self.conns[i].phase = Phase::Backoff(now + CONNECT_BACKOFF);
        } else {
            self.next_request(i, now);
        }
    }

    fn close(&mut self, i: usize) {
        let c = &mut self.conns[i];
        c.stream = None; // closing the socket also removes it from the epoll set
        c.generation = c.generation.wrapping_add(1);
        c.phase = Phase::Closed;
        c.start = 0;
        c.end = 0;
    }

    /// Requests that took too long fail; connections in backoff try again.
    fn scan(&mut self, now: Instant) {
        for i in 0..self.conns.len() {
            match self.conns[i].phase {
                Phase::Connecting | Phase::Writing | Phase::Reading
                    if now.duration_since(self.conns[i].started) >= self.plan.timeout =>
                {
                    self.fail(i, ErrorKind::Timeout, now);
                    self.drive(i, false);
                }
                Phase::Backoff(until) if now >= until => {
                    self.conns[i].phase = Phase::Closed;
                    self.next_request(i, now);
                    self.drive(i, false);
                }
                _ => {}
            }
        }
    }

    /// Moves connection `i` as far as its socket allows. `readable`: bytes may
    /// be waiting that no read has seen yet (edge-triggered: read them now).
    fn drive(&mut self, i: usize, mut readable: bool) {
        loop {
            match self.conns[i].phase {
                Phase::Connecting => {
                    let c = &mut self.conns[i];
                    let Some(link) = &c.stream else { return };
                    let stream = &link.socket;
                    if !matches!(stream.take_error(), Ok(None)) {
                        self.fail(i, ErrorKind::Connect, Instant::now());
                        continue;
                    }
                    if stream.peer_addr().is_err() {
                        return; // still connecting: its completion wakes us
                    }
                    c.phase = Phase::Writing;
                }
                Phase::Writing => match self.write(i) {
                    Ok(true) => {
                        self.conns[i].phase = Phase::Reading;
                        let c = &self.conns[i];
                        if !readable && c.start == c.end {
                            return; // the reply's arrival will wake us
                        }
                    }
                    // The socket is full. Read meanwhile, so a peer that
                    // echoes while we send is never stuck waiting for us.
                    Ok(false) => {
                        if !(readable && self.read(i, &mut readable)) {
                            return;
                        }
                    }
                    Err(_) => self.fail(i, ErrorKind::Write, Instant::now()),
                },
                Phase::Reading => {
                    if !self.read(i, &mut readable) {
                        return;
                    }
                }
                Phase::Closed | Phase::Backoff(_) | Phase::Finished => return,
            }
        }
    }

    /// Writes what the socket takes; `Ok(true)` once the request is all sent.
    fn write(&mut self, i: usize) -> io::Result<bool> {
        let request = &self.plan.request;
        let c = &mut self.conns[i];
        let Some(link) = c.stream.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        while c.written < request.len() {
            match link.write(&request[c.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    c.written += n;
                    self.tally.bytes_written += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        link.flushed()
    }

    /// Reads and frames until the socket is drained (false) or the request
    /// ended, with a reply or a failure (true: the connection moved on).
    fn read(&mut self, i: usize, readable: &mut bool) -> bool {
        loop {
            // Frame what is buffered first.
            let c = &mut self.conns[i];
            if c.start < c.end || c.parser.started() {
                let (used, step) = c.parser.advance(&c.buf[c.start..c.end], &self.plan.request);
                c.start += used;
                if c.start == c.end {
                    c.start = 0;
                    c.end = 0;
                }
                match step {
                    Step::Done(reply) => {
                        self.complete(i, reply);
                        return true;
                    }
                    Step::Invalid(_) => {
                        self.fail(i, ErrorKind::Invalid, Instant::now());
                        return true;
                    }
                    Step::NeedMore => {}
                }
            }
            let c = &mut self.conns[i];
            if c.end == c.buf.len() {
                if c.start == 0 {
                    self.fail(i, ErrorKind::Invalid, Instant::now()); // head too large
                    return true;
                }
                c.buf.copy_within(c.start..c.end, 0);
                c.end -= c.start;
                c.start = 0;
            }
            let Some(link) = c.stream.as_mut() else {
                return false;
            };
            let space = c.buf.len() - c.end;
            match link.read(&mut c.buf[c.end..]) {
                Ok(0) => {
                    *readable = false;
                    match c.parser.eof() {
                        Some(reply) => self.complete(i, reply),
                        None => self.fail(i, ErrorKind::Read, Instant::now()),
                    }
                    return true;
                }
                Ok(n) => {
                    c.end += n;
                    self.tally.bytes_read += n as u64;
                    // A short read drained the socket: later bytes bring a
                    // new edge. Not so under TLS (one record at a time):
                    // read on until the socket says WouldBlock.
                    *readable = n == space || link.is_tls();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    *readable = false;
                    return false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    *readable = false;
                    let kind = if is_tls_error(&e) {
                        if self.tally.tls_error.is_none() {
                            self.tally.tls_error = Some(crate::tls::client::explain(&e));
                        }
                        ErrorKind::Tls
                    } else {
                        ErrorKind::Read
                    };
                    self.fail(i, kind, Instant::now());
                    return true;
                }
            }
        }
    }

    /// Records a finished request and starts the next one.
    fn complete(&mut self, i: usize, reply: Reply) {
        let now = Instant::now();
        let c = &mut self.conns[i];
        c.served = true;
        if let Some(resumed) = c.stream.as_mut().and_then(Link::handshake_done) {
            self.tally.handshakes += 1;
            self.tally.resumed += u64::from(resumed);
        }
        let micros = now.duration_since(c.started).as_micros();
        self.tally
            .hist
            .saturating_record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
        self.tally.completed += 1;
        self.live
            .completed
            .store(self.tally.completed, Ordering::Relaxed);
        if !(200..400).contains(&reply.status) {
            self.tally.errors.add_status(reply.status);
            self.live.errors.fetch_add(1, Ordering::Relaxed);
        }
        let sending = c.phase == Phase::Writing && c.written < self.plan.request.len();
        // Leftover bytes were not asked for; they cannot start the next reply.
        c.start = 0;
        c.end = 0;
        if !reply.keep_alive || self.plan.close_each || sending {
            self.close(i);
        }
        self.next_request(i, now);
    }
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    socket.set_tcp_nodelay(true)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(Errno::EINPROGRESS as i32) => {}
        Err(e) => return Err(e),
    }
    Ok(socket.into())
}
