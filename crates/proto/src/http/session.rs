//! One HTTP connection: requests in, replies out, in order.
//!
//! ```text
//!   ┌──────────── idle ◀───────────────────────────────┐
//!   │  (keep-alive timer; header timer for the first)  │
//!   ▼                                                  │
//!   head arriving ──(header timer)──▶ 408, close       │
//!   │ complete                                         │
//!   ├─ GET/HEAD/OPTIONS/DELETE ─▶ reply queued ────────┤
//!   └─ PUT ─▶ body arriving ─(timer between reads)─▶ 408, close
//!              │ complete ─▶ commit ─▶ reply queued ───┘
//! ```
//!
//! Pipelining falls out of the design: `handle_input` answers every complete
//! request in the buffer, in order, appending each reply to one output queue
//! (bytes, with file ranges at their positions). A reply that closes the
//! connection discards whatever follows it. To bound the memory one client can
//! make us hold, the session stops taking requests while more than
//! [`QUEUE_BYTES`] or [`QUEUE_FILES`] of output wait; the rest stays in the
//! driver's buffer.
//!
//! Files up to [`INLINE_MAX`] bytes are read into the output (one `send` with
//! the head); larger ones go out as [`FileChunk`]s (sendfile). An idle session
//! holds no heap memory besides what the driver owns.
//!
//! With an extension (see [`super::extension`]), requests under its prefix go
//! to it (`streaming.rs`); an event-stream reply keeps the connection: input
//! is discarded, and the stream's output follows wake-ups and its own timer.

use super::extension::{self, ExtConn};
use super::request::{parse_head, Framing, Head};
use super::response::{push_u64, write_status, Body, DateCache, Reply};
use super::static_files::{self, parse_target};
use super::upload::{self, Progress, Upload};
use super::Shared;
use crate::{FileChunk, Session};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

mod streaming;

/// Files up to this size are copied into the output instead of sendfile'd.
pub(crate) const INLINE_MAX: u64 = 16 * 1024;
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
}

/// One HTTP connection.
pub struct HttpSession {
    shared: Arc<Shared>,
    peer: Option<SocketAddr>,
    /// Output not yet handed to the driver.
    out: Vec<u8>,
    /// File ranges to send after `out[..position]`.
    chunks: VecDeque<(usize, FileChunk)>,
    /// A PUT body being received, and the request it belongs to.
    upload: Option<Box<(Upload, Meta)>>,
    dates: DateCache,
    /// When the current (incomplete) request started arriving, or the last
    /// body bytes arrived.
    receiving_since: Option<Instant>,
    /// When the connection last became idle.
    idle_since: Instant,
    /// A file range was handed to the driver and not yet confirmed sent (the
    /// driver calls `poll_transmit` again once it is).
    chunk_out: bool,
    /// The last file range finished sending at an instant we were not told:
    /// the idle clock restarts at the next `handle_timeout`, asked for at once.
    stamp_idle: bool,
    /// The waker and event stream, for a service with an extension.
    ext: Option<Box<ExtConn>>,
    requests: u64,
    eof: bool,
    closing: bool,
    shutdown: bool,
}

impl std::fmt::Debug for HttpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSession")
            .field("peer", &self.peer)
            .field("requests", &self.requests)
            .field("closing", &self.closing)
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
            out: Vec::new(),
            chunks: VecDeque::new(),
            upload: None,
            dates: DateCache::new(),
            receiving_since: None,
            idle_since: now,
            chunk_out: false,
            stamp_idle: false,
            ext: None,
            requests: 0,
            eof: false,
            closing: false,
            shutdown: false,
        };
        if over_limit {
            let meta = Meta {
                line: Vec::new(),
                keep_alive: false,
                minor: 1,
                head_only: false,
            };
            s.finish(now, Reply::fatal(503), &meta);
        }
        s
    }

    fn backlogged(&self) -> bool {
        self.out.len() > QUEUE_BYTES || self.chunks.len() >= QUEUE_FILES
    }

    /// Answers one complete request head. `more_input`: bytes follow the head
    /// in the buffer already (then a `100 Continue` would be pointless).
    fn dispatch(&mut self, now: Instant, head: Head<'_>, more_input: bool, body: Option<&[u8]>) {
        let meta = Meta {
            line: head.line.to_vec(),
            keep_alive: head.keep_alive,
            minor: head.minor,
            head_only: head.method == "HEAD",
        };
        let has_body = match head.framing {
            Framing::None | Framing::Length(0) => false,
            Framing::Length(_) | Framing::Chunked => true,
        };
        if head.expect_other {
            return self.finish(now, Reply::fatal(417), &meta);
        }
        let target = if head.target == "*" && head.method == "OPTIONS" {
            None
        } else {
            match parse_target(head.target) {
                Ok(t) => Some(t),
                Err(status) => return self.finish(now, Reply::fatal(status), &meta),
            }
        };
        let shared = Arc::clone(&self.shared);
        if extension::refuses_origin(&shared, &head, target.as_ref()) {
            let mut reply = Reply::error(403);
            reply.close = has_body;
            return self.finish(now, reply, &meta);
        }
        if let ("GET" | "HEAD", Some(t)) = (head.method, &target) {
            if t.raw_path == super::STATS_PATH {
                let reply = self.stats(now);
                return self.finish(now, reply, &meta);
            }
        }
        if let (Some(ext), Some(t)) = (&shared.ext, &target) {
            if extension::claims(ext.as_ref(), &head, t) {
                return self.extension(now, ext.as_ref(), &head, t, body, has_body, &meta);
            }
        }
        let mut reply = match (head.method, &target) {
            ("PUT", Some(target)) => match upload::start(&shared, &head, target) {
                Ok(up) if up.is_empty_body() => {
                    let mut up = up;
                    match up.feed(&[]) {
                        (_, Progress::Done(reply)) => reply,
                        (_, Progress::More) => Reply::fatal(500),
                    }
                }
                Ok(up) => {
                    if head.expect_continue && !more_input && head.minor == 1 {
                        self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    }
                    self.receiving_since = Some(now);
                    self.upload = Some(Box::new((up, meta)));
                    return;
                }
                Err(reply) => reply,
            },
            ("GET" | "HEAD", Some(target)) => static_files::get(&shared, &head, target, now),
            ("DELETE", Some(target)) => upload::delete(&shared, target),
            ("OPTIONS", _) => self.options(&head),
            _ => {
                let status = if matches!(head.method, "PUT" | "DELETE") {
                    403
                } else {
                    405
                };
                let mut reply = Reply::error(status);
                reply.header("Allow", shared.allow);
                reply
            }
        };
        if has_body {
            reply.close = true; // the body was not read: it must not pass for a request
        }
        self.finish(now, reply, &meta);
    }

    fn options(&self, head: &Head<'_>) -> Reply {
        let mut reply = Reply::new(204, Body::None);
        reply.header("Allow", self.shared.allow);
        if self.shared.config.cors && head.origin.is_some() && head.ac_request_method {
            reply.header("Access-Control-Allow-Methods", self.shared.allow);
            if let Some(h) = head
                .ac_request_headers
                .and_then(|h| std::str::from_utf8(h).ok())
            {
                reply.header("Access-Control-Allow-Headers", h);
            }
            reply.header("Access-Control-Max-Age", 86_400);
        }
        reply
    }

    fn stats(&self, now: Instant) -> Reply {
        let stats = &self.shared.stats;
        let mut body = serde_json::json!({
            "uptime_secs": now.saturating_duration_since(self.shared.started).as_secs_f64(),
            "model": self.shared.config.model,
            "connections_open": stats.connections_open.load(Ordering::Relaxed),
            "connections_total": stats.connections_total.load(Ordering::Relaxed),
            "requests": stats.requests.load(Ordering::Relaxed),
            "bytes_sent": stats.bytes_sent.load(Ordering::Relaxed),
        });
        if let (Some(extra), Some(fields)) = (
            self.shared.ext.as_ref().and_then(|ext| ext.stats()),
            body.as_object_mut(),
        ) {
            fields.extend(extra);
        }
        let mut reply = Reply::new(200, Body::Bytes(body.to_string().into_bytes()));
        reply.header("Content-Type", "application/json");
        reply.header("Cache-Control", "no-store");
        reply
    }

    /// Queues a reply: head, body (inline or as a file range), log line.
    fn finish(&mut self, now: Instant, mut reply: Reply, meta: &Meta) {
        if !meta.keep_alive || self.shutdown {
            reply.close = true;
        }
        self.dates.refresh(now, self.shared.config.clock);
        let start = self.out.len();
        write_status(&mut self.out, reply.status, &self.dates.http);
        self.out.extend_from_slice(reply.headers.as_bytes());
        if self.shared.config.cors {
            self.out.extend_from_slice(
                b"Access-Control-Allow-Origin: *\r\n\
                  Access-Control-Expose-Headers: Content-Length, Content-Range, ETag, Last-Modified\r\n",
            );
        }
        let body_len = reply.body.len();
        if let Some(len) = body_len {
            self.out.extend_from_slice(b"Content-Length: ");
            push_u64(&mut self.out, len);
            self.out.extend_from_slice(b"\r\n");
        }
        if reply.close {
            self.out.extend_from_slice(b"Connection: close\r\n");
        } else if meta.minor == 0 {
            self.out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        self.out.extend_from_slice(b"\r\n");
        let head_len = (self.out.len() - start) as u64;
        let mut sent_body = 0;
        if !meta.head_only {
            match reply.body {
                Body::None => {}
                Body::Bytes(bytes) => {
                    sent_body = bytes.len() as u64;
                    self.out.extend_from_slice(&bytes);
                }
                Body::Shared { bytes, offset, len } => {
                    match bytes.get(offset..offset.saturating_add(len)) {
                        Some(part) => self.out.extend_from_slice(part),
                        None => {
                            self.out.truncate(start);
                            return self.finish(now, Reply::fatal(500), meta);
                        }
                    }
                    sent_body = len as u64;
                }
                Body::File { file, offset, len } if len <= INLINE_MAX => {
                    let at = self.out.len();
                    self.out.resize(at + len as usize, 0);
                    if file.read_exact_at(&mut self.out[at..], offset).is_err() {
                        // The file shrank under us: the head is out of date too.
                        self.out.truncate(start);
                        return self.finish(now, Reply::fatal(500), meta);
                    }
                    sent_body = len;
                }
                Body::File { file, offset, len } => {
                    sent_body = len;
                    let chunk = FileChunk { file, offset, len };
                    self.chunks.push_back((self.out.len(), chunk));
                }
            }
        }
        let stats = &self.shared.stats;
        stats.requests.fetch_add(1, Ordering::Relaxed);
        stats
            .bytes_sent
            .fetch_add(head_len + sent_body, Ordering::Relaxed);
        self.log(reply.status, sent_body, meta);
        self.requests += 1;
        self.idle_since = now;
        if reply.close {
            self.closing = true;
        }
    }

    fn log(&self, status: u16, bytes: u64, meta: &Meta) {
        let Some(log) = &self.shared.log else { return };
        let mut line = Vec::with_capacity(96 + meta.line.len());
        let entry = crate::access_log::Entry {
            peer: self.peer,
            request: &meta.line,
            status,
            bytes,
        };
        crate::access_log::write_line(&mut line, &self.dates.clf, &entry);
        log.record(&line);
    }

    fn deadline(&self) -> Option<Instant> {
        let sending = self.chunk_out || !self.out.is_empty() || !self.chunks.is_empty();
        if self.closing || self.eof {
            return None;
        }
        if let Some(stream) = self.streaming() {
            return stream.poll_timeout();
        }
        if sending {
            return None;
        }
        if self.stamp_idle {
            return Some(self.idle_since);
        }
        let config = &self.shared.config;
        if let Some(since) = self.receiving_since {
            return Some(since + config.header_timeout);
        }
        let idle = if self.requests == 0 {
            config.header_timeout
        } else {
            config.keepalive_timeout
        };
        Some(self.idle_since + idle)
    }
}

impl Session for HttpSession {
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> usize {
        if self.streaming().is_some() {
            return input.len(); // an event stream's client has nothing more to say
        }
        let mut used = 0;
        while !self.closing {
            if self.streaming().is_some() {
                used = input.len();
                break;
            }
            if let Some(boxed) = self.upload.as_mut() {
                let (n, progress) = boxed.0.feed(&input[used..]);
                used += n;
                match progress {
                    Progress::More => {
                        self.receiving_since = Some(now);
                        break;
                    }
                    Progress::Done(reply) => {
                        let meta = boxed.1.clone();
                        self.upload = None;
                        self.receiving_since = None;
                        self.finish(now, reply, &meta);
                        continue;
                    }
                }
            }
            if self.backlogged() {
                break;
            }
            let rest = &input[used..];
            if rest.is_empty() {
                self.receiving_since = None;
                break;
            }
            match parse_head(rest) {
                Ok(None) => {
                    self.receiving_since.get_or_insert(now);
                    break;
                }
                Ok(Some((head, len))) => {
                    let wanted = (self.shared.ext.as_ref())
                        .and_then(|ext| extension::body_len(ext.as_ref(), &head));
                    let body = match wanted {
                        Some(n) => match rest.get(len..len + n) {
                            Some(body) => Some(body),
                            None => {
                                self.receiving_since.get_or_insert(now);
                                break; // the extension's body is still arriving
                            }
                        },
                        None => None,
                    };
                    used += len + wanted.unwrap_or(0);
                    self.receiving_since = None;
                    self.dispatch(now, head, used < input.len(), body);
                }
                Err(status) => {
                    let meta = Meta {
                        line: Vec::new(),
                        keep_alive: false,
                        minor: 1,
                        head_only: false,
                    };
                    self.finish(now, Reply::fatal(status), &meta);
                }
            }
        }
        if self.closing {
            input.len() // nothing after a closing reply is read as a request
        } else {
            used
        }
    }

    fn handle_eof(&mut self, _now: Instant) {
        self.eof = true;
        // An unfinished upload is dropped here, which removes its temporary.
        self.upload = None;
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.streaming().is_some() {
            return self.pump(now);
        }
        let Some(deadline) = self.deadline() else {
            return;
        };
        if now < deadline {
            return;
        }
        if self.stamp_idle {
            // A long file transfer just ended: the client is idle from now,
            // not from when the reply was queued.
            self.stamp_idle = false;
            self.idle_since = self.idle_since.max(now);
            return;
        }
        if self.receiving_since.is_some() {
            let meta = match self.upload.take() {
                Some(boxed) => boxed.1,
                None => Meta {
                    line: Vec::new(),
                    keep_alive: false,
                    minor: 1,
                    head_only: false,
                },
            };
            self.finish(now, Reply::fatal(408), &meta);
        } else {
            self.closing = true;
        }
    }

    fn handle_shutdown(&mut self, _now: Instant) {
        self.shutdown = true;
        if self.upload.is_none() {
            self.closing = true;
        }
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<FileChunk> {
        if std::mem::take(&mut self.chunk_out) && self.chunks.is_empty() {
            self.stamp_idle = true;
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
        self.chunk_out = true;
        Some(chunk)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline()
    }

    fn set_waker(&mut self, waker: std::task::Waker) {
        if self.shared.ext.is_some() {
            self.ext.get_or_insert_with(Box::default).waker = Some(waker);
        }
    }

    fn handle_wake(&mut self, now: Instant) {
        self.pump(now);
    }

    fn wants_read(&self) -> bool {
        !self.closing && !self.eof
    }

    fn is_done(&self) -> bool {
        (self.closing || self.eof) && self.out.is_empty() && self.chunks.is_empty()
    }
}

impl Drop for HttpSession {
    fn drop(&mut self) {
        self.shared
            .stats
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}
