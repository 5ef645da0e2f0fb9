//! Routing: which handler answers a complete request head — the stats
//! reply, the login route, the program's extension, an upload, the static
//! files, OPTIONS — and the checks every request meets first (`Expect`, the
//! target, the origin, then who is asking and what the rules let them do:
//! see `gate.rs`).

use super::super::destination::destination;
use super::super::extension;
use super::super::request::{Framing, Head};
use super::super::response::{Body, Reply};
use super::super::target::{local_location, parse_target, Target};
use super::super::upload::{self, Progress};
use super::super::verbs::{self, Transfer};
use super::super::visitor::Visitor;
use super::super::{dav, search, static_files, zip, Shared, LOGIN_PATH, STATS_PATH};
use super::gate::{op_of, refusal, Sight};
use super::{HttpSession, Meta, Phase};
use crate::access::{Op, User};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
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
        let mut meta = Meta {
            line: head.line.to_vec(),
            keep_alive: head.keep_alive,
            minor: head.minor,
            head_only: head.method == "HEAD",
            user: None,
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
        let who = match self.identify(now, head.authorization) {
            Ok(who) => who,
            Err(mut reply) => {
                reply.close |= has_body;
                return self.finish(now, reply, &meta);
            }
        };
        meta.user = who.as_ref().map(|u| u.name().to_owned());
        let who = who.as_ref();
        let visitor = visitor(&shared, who);
        if let ("GET" | "HEAD", Some(t)) = (head.method, &target) {
            let reply = match t.raw_path {
                LOGIN_PATH => Some(login(&visitor, t)),
                STATS_PATH if !visitor.may_use_page() => Some(refusal(visitor.page_refusal())),
                STATS_PATH => Some(self.stats(now)),
                _ => None,
            };
            if let Some(reply) = reply {
                return self.finish(now, reply, &meta);
            }
        }
        if let (Some(ext), Some(t)) = (&shared.ext, &target) {
            if extension::claims(ext.as_ref(), &head, t) {
                if !ext.is_public(t.raw_path) && !visitor.may_use_page() {
                    let mut reply = refusal(visitor.page_refusal());
                    reply.close |= has_body;
                    return self.finish(now, reply, &meta);
                }
                return self.extension(now, ext.as_ref(), &head, t, body, has_body, &meta, who);
            }
        }
        let sight = match (op_of(head.method), &target) {
            (Some(op), Some(t)) => match self.grant(who, op, t) {
                Ok(sight) => sight,
                Err(mut reply) => {
                    reply.close |= has_body; // the body is not read
                    return self.finish(now, reply, &meta);
                }
            },
            _ => Sight::Whole,
        };
        // MOVE and COPY write their destination too (and need it first).
        let dest = match (head.method, &target) {
            ("MOVE" | "COPY", Some(_)) if shared.config.upload => match destination(&head) {
                Ok(dest) => match self.grant(who, Op::Write, &dest) {
                    Ok(_) => Some(dest),
                    Err(mut reply) => {
                        reply.close |= has_body;
                        return self.finish(now, reply, &meta);
                    }
                },
                Err(status) => {
                    let mut reply = Reply::error(status);
                    reply.close |= has_body;
                    return self.finish(now, reply, &meta);
                }
            },
            _ => None,
        };
        // An archive, a search or a copy covers everything below its folder:
        // only for a folder the visitor may read whole, never one they only
        // pass through.
        let walks = head.method == "COPY"
            || target
                .as_ref()
                .is_some_and(|t| zip::asked(t) || search::asked(t));
        let sight = match sight {
            Sight::Passing(mut refusal) if walks => {
                refusal.close |= has_body;
                return self.finish(now, refusal, &meta);
            }
            sight => sight,
        };
        if let Some(reply) = dav::body_refusal(&head) {
            return self.finish(now, reply, &meta);
        }
        if let (true, Some(t)) = (shared.config.upload, &target) {
            if matches!(
                head.method,
                "PUT" | "DELETE" | "MKCOL" | "MOVE" | "COPY" | "PROPPATCH"
            ) {
                if let Err(mut reply) = dav::guard(&shared, &head, t, now) {
                    reply.close |= has_body && body.is_none();
                    return self.finish(now, reply, &meta);
                }
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
            ("GET" | "HEAD", Some(target)) => {
                static_files::get(&shared, &head, target, now, &visitor, sight)
            }
            ("DELETE", Some(target)) => verbs::delete(&shared, target),
            ("MKCOL", Some(target)) => verbs::mkcol(&shared, &head, target),
            ("MOVE" | "COPY", Some(source)) => match &dest {
                Some(dest) => {
                    let verb = if head.method == "MOVE" {
                        Transfer::Move
                    } else {
                        Transfer::Copy
                    };
                    let reply = verbs::transfer(&shared, &head, source, dest, verb);
                    if verb == Transfer::Copy && (200..300).contains(&reply.status) {
                        dav::copy_dead(&shared, &source.rel, &dest.rel);
                    }
                    reply
                }
                None => Reply::error(403), // uploads are off
            },
            ("PROPFIND", Some(t)) => dav::propfind(&shared, &head, t, body, &visitor, sight, now),
            ("PROPPATCH", Some(t)) => dav::proppatch(&shared, t, body),
            ("LOCK", Some(t)) => dav::lock(&shared, &head, t, body, now, self.peer.map(|p| p.ip())),
            ("UNLOCK", Some(t)) => dav::unlock(&shared, &head, t, now),
            ("OPTIONS", _) => self.options(&head),
            _ => {
                let status = if matches!(head.method, "PUT" | "DELETE") {
                    403
                } else {
                    405
                };
                let mut reply = Reply::error(status);
                reply.header("Allow", dav::allow(&shared));
                reply
            }
        };
        if let Some(t) = &target {
            dav::written(&shared, &head, t, reply.status, now);
        }
        if has_body && body.is_none() {
            reply.close = true; // the body was not read: it must not pass for a request
        }
        self.finish(now, reply, &meta);
    }

    /// The visitor of a request by `who`.
    pub(super) fn visitor<'a>(&'a self, who: Option<&'a User>) -> Visitor<'a> {
        visitor(&self.shared, who)
    }

    fn options(&self, head: &Head<'_>) -> Reply {
        let mut reply = Reply::new(204, Body::None);
        let allow = dav::allow(&self.shared);
        reply.header("Allow", &allow);
        dav::options(&mut reply);
        if self.shared.config.cors && head.origin.is_some() && head.ac_request_method {
            reply.header("Access-Control-Allow-Methods", &allow);
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

/// The visitor of a request by `who` to the service `shared`.
fn visitor<'a>(shared: &'a Shared, who: Option<&'a User>) -> Visitor<'a> {
    let config = &shared.config;
    Visitor::new(&shared.access, who, config.upload, config.overwrite)
}

/// What is percent-encoded in the `Location` of the login route's redirect.
const LOCATION: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'`');

/// `GET /_netkit/login?to=/path`: 401 with the challenge until the browser
/// sends credentials that log in (it asks its user), then 303 back to `to`
/// (a path on this server; `/` without one). A share without accounts has
/// nothing to log in to: 404.
fn login(visitor: &Visitor<'_>, target: &Target<'_>) -> Reply {
    if !visitor.has_accounts() {
        return Reply::error(404);
    }
    if visitor.user().is_none() {
        return super::super::login::challenge();
    }
    let to = target
        .query
        .trim_start_matches('?')
        .split('&')
        .find_map(|pair| pair.strip_prefix("to="))
        .and_then(|to| percent_encoding::percent_decode_str(to).decode_utf8().ok())
        .filter(|to| to.starts_with('/'))
        .map_or_else(
            || "/".to_owned(),
            // Encoded again: a header line holds no control character
            // (no forged headers) and no raw non-ASCII.
            |to| local_location(&utf8_percent_encode(&to, LOCATION).to_string()),
        );
    let mut reply = Reply::new(303, Body::Bytes(Vec::new()));
    reply.header("Location", to);
    reply.header("Cache-Control", "no-store");
    reply
}
