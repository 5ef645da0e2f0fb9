//! One HTTP connection as a state machine: requests in, replies out, in order.
//!
//! ```text
//!   ┌──────────── Idle ◀────────────────────────────────────────┐
//!   │  (keep-alive timer; header timer before the first request) │
//!   ▼                                                            │
//!   Request (arriving) ──(header timer)──▶ 408 ─▶ Closing        │
//!   │ complete                                                   │
//!   ├─ GET/HEAD/OPTIONS/DELETE, WebDAV, stats, extension ─▶ reply┤
//!   ├─ PUT ─▶ Body (arriving) ──(timer between reads)──▶ 408 ─▶ Closing
//!   │          │ complete ─▶ commit ─▶ reply queued ─────────────┘
//!   └─ extension event stream ─▶ Streaming ─(stream over)─▶ Closing
//!
//!   a closing reply · the peer's EOF · the server stopping ──▶ Closing ─(flushed)─▶ done
//! ```
//!
//! The [`Phase`] is the input side. The output side runs beside it, not
//! inside it: a reply's file range can still be going out while the next
//! pipelined request arrives, so [`FileRange`] is a state of its own. A
//! server stopping is a flag, not a phase: it can arrive in any phase, lets a
//! PUT body finish, and makes every later reply close the connection.
//!
//! Pipelining falls out of the design: `handle_input` answers every complete
//! request in the buffer, in order, appending each reply to one output queue
//! (bytes, with file ranges at their positions). A reply that closes the
//! connection discards whatever follows it. To bound the memory one client can
//! make us hold, the session stops taking requests while more than
//! [`QUEUE_BYTES`] or [`QUEUE_FILES`] of output wait; the rest stays in the
//! driver's buffer.
//!
//! Files up to [`INLINE_MAX`](super::response::INLINE_MAX) bytes are read into
//! the output (one `send` with the head); larger ones go out as [`FileChunk`]s
//! (sendfile). An idle session holds no heap memory besides what the driver
//! owns.
//!
//! The files: this one (the phases and the [`Session`] calls), `dispatch.rs`
//! (which handler answers a request, and the stats reply), `gate.rs` (who
//! asks, and whether the rules let them), `reply.rs`
//! (queuing a reply: head, body, counters, log line) and `streaming.rs` (the
//! extension's routes and event streams).

use super::extension::EventStream;
use super::request::parse_head;
use super::response::{DateCache, Reply};
use super::upload::{Progress, Upload};
use super::Shared;
use crate::access::User;
use crate::{FileChunk, Session};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Waker;
use std::time::Instant;

mod archive;
mod dispatch;
mod gate;
pub(crate) use gate::Sight;
mod reply;
mod streaming;

/// Stop taking pipelined requests while this much output waits.
pub(crate) const QUEUE_BYTES: usize = 256 * 1024;
/// … or this many file ranges.
pub(crate) const QUEUE_FILES: usize = 32;

/// What the access log and the reply head need to know about the request.
#[derive(Debug, Clone)]
struct Meta {
    line: Vec<u8>,
    keep_alive: bool,
    minor: u8,
    head_only: bool,
    /// The logged-in user, for the log line (`None`: anonymous).
    user: Option<String>,
}

impl Meta {
    /// For a reply to no parsed request (a 400 for a bad head, a 408, a 503).
    fn unparsed() -> Self {
        Self {
            line: Vec::new(),
            keep_alive: false,
            minor: 1,
            head_only: false,
            user: None,
        }
    }
}

/// Where the connection is in its request cycle (the input side).
enum Phase {
    /// Between requests: nothing of the next one has arrived.
    Idle,
    /// Part of a request (its head, or the small body of an extension route
    /// or of PROPFIND/PROPPATCH/LOCK, read whole: see `dav/`) has
    /// arrived; the first of it at `since`.
    Request { since: Instant },
    /// A PUT body is arriving, for the request in `upload.1`; the last bytes
    /// arrived at `since`.
    Body {
        upload: Box<(Upload, Meta)>,
        since: Instant,
    },
    /// An event stream owns the connection: input is discarded, and output
    /// follows the stream's wake-ups and timer.
    Streaming(Box<dyn EventStream>),
    /// No more requests (a reply closed the connection, the peer sent EOF, or
    /// the server is stopping): what is queued goes out, then the connection
    /// closes.
    Closing,
}

impl Phase {
    fn name(&self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Request { .. } => "request",
            Phase::Body { .. } => "body",
            Phase::Streaming(_) => "streaming",
            Phase::Closing => "closing",
        }
    }
}

/// The file ranges handed to the driver (the output side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileRange {
    /// None is out, or the last one's end is already accounted for.
    Quiet,
    /// One was handed to the driver, which calls `poll_transmit` again once it
    /// is sent.
    Out,
    /// The last one finished at an instant we were not told: the idle clock
    /// restarts at the next `handle_timeout`, asked for at once.
    Sent,
}

/// One HTTP connection.
pub struct HttpSession {
    shared: Arc<Shared>,
    peer: Option<SocketAddr>,
    phase: Phase,
    file: FileRange,
    /// The server is stopping: every reply from now on closes the connection.
    shutdown: bool,
    /// Output not yet handed to the driver.
    out: Vec<u8>,
    /// File ranges to send after `out[..position]`.
    chunks: VecDeque<(usize, FileChunk)>,
    /// An archive being sent: the last reply queued, its body produced as
    /// the output drains (see `archive.rs`).
    zip: Option<Box<super::zip::Stream>>,
    dates: DateCache,
    /// When the connection last became idle (opened, or a reply was queued).
    idle_since: Instant,
    /// The connection's waker, kept when the service has an extension (its
    /// event streams need it).
    waker: Option<Waker>,
    requests: u64,
    /// The last `Authorization` value that logged in, and who it is: the
    /// same header again costs no password check.
    login: Option<(Vec<u8>, User)>,
}

impl std::fmt::Debug for HttpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSession")
            .field("peer", &self.peer)
            .field("requests", &self.requests)
            .field("phase", &self.phase.name())
            .finish_non_exhaustive()
    }
}

impl HttpSession {
    pub(crate) fn new(
        shared: Arc<Shared>,
        peer: Option<SocketAddr>,
        now: Instant,
        over_limit: bool,
    ) -> Self {
        let mut s = Self {
            shared,
            peer,
            phase: Phase::Idle,
            file: FileRange::Quiet,
            shutdown: false,
            out: Vec::new(),
            chunks: VecDeque::new(),
            zip: None,
            dates: DateCache::new(),
            idle_since: now,
            waker: None,
            requests: 0,
            login: None,
        };
        if over_limit {
            s.finish(now, Reply::fatal(503), &Meta::unparsed());
        }
        s
    }

    fn backlogged(&self) -> bool {
        self.out.len() > QUEUE_BYTES || self.chunks.len() >= QUEUE_FILES || self.zip.is_some()
    }

    /// Part of a request is here but not all of it: its timer starts now,
    /// unless it started already.
    fn awaiting_request(&mut self, now: Instant) {
        if !matches!(self.phase, Phase::Request { .. }) {
            self.phase = Phase::Request { since: now };
        }
    }

    fn deadline(&self) -> Option<Instant> {
        let sending = self.file == FileRange::Out
            || !self.out.is_empty()
            || !self.chunks.is_empty()
            || self.zip.is_some();
        let config = &self.shared.config;
        match &self.phase {
            Phase::Closing => None,
            Phase::Streaming(stream) => stream.poll_timeout(),
            _ if sending => None,
            _ if self.file == FileRange::Sent => Some(self.idle_since),
            Phase::Request { since } | Phase::Body { since, .. } => {
                Some(*since + config.header_timeout)
            }
            Phase::Idle if self.requests == 0 => Some(self.idle_since + config.header_timeout),
            Phase::Idle => Some(self.idle_since + config.keepalive_timeout),
        }
    }
}

impl Session for HttpSession {
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> usize {
        let mut used = 0;
        loop {
            match &mut self.phase {
                // An event stream's client has nothing more to say, and
                // nothing after a closing reply is read as a request.
                Phase::Streaming(_) | Phase::Closing => return input.len(),
                Phase::Body { upload, since } => {
                    let (n, progress) = upload.0.feed(&self.shared.cache, &input[used..]);
                    used += n;
                    match progress {
                        Progress::More => {
                            *since = now;
                            break;
                        }
                        Progress::Done(reply) => {
                            if let Phase::Body { upload, .. } =
                                std::mem::replace(&mut self.phase, Phase::Idle)
                            {
                                self.finish(now, reply, &upload.1);
                            }
                            continue;
                        }
                    }
                }
                Phase::Idle | Phase::Request { .. } => {}
            }
            if self.backlogged() {
                break;
            }
            let rest = &input[used..];
            if rest.is_empty() {
                self.phase = Phase::Idle;
                break;
            }
            match parse_head(rest) {
                Ok(None) => {
                    self.awaiting_request(now);
                    break;
                }
                Ok(Some((head, len))) => {
                    let wanted = (self.shared.ext.as_ref())
                        .and_then(|ext| super::extension::body_len(ext.as_ref(), &head))
                        .or_else(|| super::dav::body_len(&head));
                    let body = match wanted {
                        Some(n) => match rest.get(len..len + n) {
                            Some(body) => Some(body),
                            None => {
                                self.awaiting_request(now);
                                break; // the extension's body is still arriving
                            }
                        },
                        None => None,
                    };
                    used += len + wanted.unwrap_or(0);
                    self.phase = Phase::Idle;
                    self.dispatch(now, head, used < input.len(), body);
                }
                Err(status) => self.finish(now, Reply::fatal(status), &Meta::unparsed()),
            }
        }
        used
    }

    fn handle_eof(&mut self, _now: Instant) {
        // An unfinished upload is dropped here, which removes its temporary.
        self.phase = Phase::Closing;
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Phase::Streaming(_) = self.phase {
            return self.pump(now);
        }
        let Some(deadline) = self.deadline() else {
            return;
        };
        if now < deadline {
            return;
        }
        if self.file == FileRange::Sent {
            // A long file transfer just ended: the client is idle from now,
            // not from when the reply was queued.
            self.file = FileRange::Quiet;
            self.idle_since = self.idle_since.max(now);
            return;
        }
        match std::mem::replace(&mut self.phase, Phase::Closing) {
            Phase::Body { upload, .. } => self.finish(now, Reply::fatal(408), &upload.1),
            Phase::Request { .. } => self.finish(now, Reply::fatal(408), &Meta::unparsed()),
            Phase::Idle | Phase::Streaming(_) | Phase::Closing => {}
        }
    }

    fn handle_shutdown(&mut self, _now: Instant) {
        self.shutdown = true;
        // A PUT body still arriving may finish; its reply will close.
        if !matches!(self.phase, Phase::Body { .. }) {
            self.phase = Phase::Closing;
        }
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<FileChunk> {
        self.refill();
        if self.file == FileRange::Out && self.chunks.is_empty() {
            self.file = FileRange::Sent;
        }
        let Some((at, chunk)) = self.chunks.pop_front() else {
            if out.is_empty() {
                *out = std::mem::take(&mut self.out);
            } else {
                out.append(&mut self.out);
            }
            return None;
        };
        out.extend_from_slice(&self.out[..at]);
        self.out.drain(..at);
        for (pos, _) in &mut self.chunks {
            *pos -= at;
        }
        self.file = FileRange::Out;
        Some(chunk)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline()
    }

    fn set_waker(&mut self, waker: Waker) {
        if self.shared.ext.is_some() {
            self.waker = Some(waker);
        }
    }

    fn handle_wake(&mut self, now: Instant) {
        self.pump(now);
    }

    fn wants_read(&self) -> bool {
        !matches!(self.phase, Phase::Closing)
    }

    fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Closing)
            && self.out.is_empty()
            && self.chunks.is_empty()
            && self.zip.is_none()
    }
}

impl Drop for HttpSession {
    fn drop(&mut self) {
        self.shared.counters().closed();
    }
}
