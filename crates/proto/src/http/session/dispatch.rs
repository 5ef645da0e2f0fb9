//! Routing: which handler answers a complete request head — the stats
//! reply, the program's extension, an upload, the static files, OPTIONS — and
//! the checks every request meets first (`Expect`, the target, the origin).

use super::super::extension;
use super::super::request::{Framing, Head};
use super::super::response::{Body, Reply};
use super::super::target::parse_target;
use super::super::upload::{self, Progress};
use super::super::{search, static_files, zip, STATS_PATH};
use super::{HttpSession, Meta, Phase};
use std::sync::Arc;
use std::time::Instant;

impl HttpSession {
    /// Answers one complete request head. `more_input`: bytes follow the head
    /// in the buffer already (then a `100 Continue` would be pointless).
    pub(super) fn dispatch(
        &mut self,
        now: Instant,
        head: Head<'_>,
        more_input: bool,
        body: Option<&[u8]>,
    ) {
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
            if t.raw_path == STATS_PATH {
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
                    match up.feed(&shared.cache, &[]) {
                        (_, Progress::Done(reply)) => reply,
                        (_, Progress::More) => Reply::fatal(500),
                    }
                }
                Ok(up) => {
                    if head.expect_continue && !more_input && head.minor == 1 {
                        self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    }
                    self.phase = Phase::Body {
                        upload: Box::new((up, meta)),
                        since: now,
                    };
                    return;
                }
                Err(reply) => reply,
            },
            ("GET" | "HEAD", Some(target)) if zip::asked(target) => {
                let (mut reply, stream) = zip::get(&shared, &head, target);
                // A pipelined request would wait behind the whole archive.
                reply.close |= more_input;
                self.zip = stream.filter(|_| !meta.head_only);
                reply
            }
            ("GET" | "HEAD", Some(target)) if search::asked(target) => {
                search::reply(&shared, &head, target)
            }
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

    /// `GET /_netkit/stats`: the counters (wherever the service was told they
    /// live), uptime, the model, and what the extension adds.
    fn stats(&self, now: Instant) -> Reply {
        let stats = self.shared.counters().snapshot();
        let mut body = serde_json::json!({
            "uptime_secs": now.saturating_duration_since(self.shared.started).as_secs_f64(),
            "model": self.shared.config.model,
            "connections_open": stats.connections_open,
            "connections_total": stats.connections_total,
            "requests": stats.requests,
            "bytes_sent": stats.bytes_sent,
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
}
