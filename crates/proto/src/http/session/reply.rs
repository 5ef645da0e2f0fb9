//! Queuing a reply: the head (status, date, the reply's own and the common
//! headers), the body (inline bytes, or a file range for sendfile), the
//! counters, and the access log line. Everything a handler decided goes out
//! through [`HttpSession::finish`].

use super::super::response::{push_escaped, push_u64, write_status, Body, Reply, INLINE_MAX};
use super::{HttpSession, Meta, Phase};
use crate::FileChunk;
use std::os::unix::fs::FileExt;
use std::time::Instant;

impl HttpSession {
    /// Queues a reply: head, body (inline or as a file range), log line.
    pub(super) fn finish(&mut self, now: Instant, mut reply: Reply, meta: &Meta) {
        if !meta.keep_alive || self.shutdown {
            reply.close = true;
        }
        self.dates.refresh(now, self.shared.clock.as_ref());
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
                Body::Planned(len) => sent_body = len, // the session's stream sends it
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
        self.shared.counters().answered(head_len + sent_body);
        self.log(reply.status, sent_body, meta);
        self.requests += 1;
        self.idle_since = now;
        if reply.close {
            self.phase = Phase::Closing;
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
        if let Some(user) = &meta.user {
            put_user(&mut line, user);
        }
        log.record(&line);
    }
}

/// Fills the common log format's third field, the user who logged in, into
/// a line [`crate::access_log::write_line`] made (`addr - - [date] …`). The
/// name is escaped like the request, spaces too, so it stays one field.
fn put_user(line: &mut Vec<u8>, user: &str) {
    const FIELDS: &[u8] = b" - - [";
    let Some(at) = line.windows(FIELDS.len()).position(|w| w == FIELDS) else {
        return;
    };
    let mut name = Vec::with_capacity(user.len());
    for (i, part) in user.split(' ').enumerate() {
        if i > 0 {
            name.extend_from_slice(b"\\x20");
        }
        push_escaped(&mut name, part.as_bytes());
    }
    line.splice(at + 3..at + 4, name);
}
