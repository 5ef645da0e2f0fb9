//! The web front: the room's third front, next to UDP and IRC, for browsers.
//!
//! A browser joins with `POST /_netkit/chat/join` (the body is the name) and
//! gets a session token: from then on the token, never a name the page claims,
//! says who it is. It reads the room as Server-Sent Events from
//! `GET /_netkit/chat/events?token=T` and speaks with
//! `POST /_netkit/chat/say?token=T` (the body is the text). The other
//! verbs: `POST me` (an action), `POST nick` (a rename; the body is the new
//! name), `POST tell` (a private message; the body is `NAME text`). The
//! stream's events: `welcome`, `history` (`action: true` for an action),
//! `joined`, `message`, `action`, `renamed` (`old`, `new`), `told` (`from`,
//! `text`: to this member only), `left`, `admin`, `members`, `gone`.
//!
//! A web member is a connection member of the shared [`Hub`], with its own
//! identity ([`MemberId::Web`], shown as `web #N`): it gets an outbox like an
//! IRC connection, and its event stream is woken when the room
//! delivers to it. It joins with a heartbeat, which the open stream keeps up
//! (a PING every [`KEEPALIVE`]): a page that never opens its stream, or whose
//! stream is gone, is dropped by the room like a silent UDP member. Closing
//! the stream (closing the page) leaves the room at once.
//!
//! ```text
//!   POST join ──▶ Hub::register(Front::Web) + Room::join(heartbeat) ──▶ token
//!   GET events ─▶ EventStream: take the outbox on each wake ──▶ `event: message` …
//!   POST say ───▶ Room::say (flood control, 1,000 bytes) ──▶ the others
//! ```
//!
//! Sans-IO like the other fronts: the HTTP service routes the requests here
//! (`netkit up`'s web app) and passes the time in; nothing here reads a clock
//! or starts a thread. Answers are [`ExtResponse`]s and the event stream an
//! [`EventStream`], the HTTP service's extension seam.

use super::event::{Event, LeaveReason, MemberId};
use super::hub::{Front, Hub};
use super::room::{JoinError, Room, SayError};
use crate::http::extension::{EventStream, ExtResponse};
use serde_json::json;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

/// How often an open stream sends a comment and refreshes the heartbeat.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// Tokens kept before the ones whose member is gone are swept.
const SWEEP_AT: usize = 256;

/// The web front of one room.
#[derive(Debug)]
pub struct WebChat {
    hub: Arc<Hub>,
    members: Mutex<HashMap<String, WebMember>>,
    counter: AtomicU64,
    keys: std::hash::RandomState,
}

#[derive(Debug, Clone, Copy)]
struct WebMember {
    id: MemberId,
    /// Which event stream is the member's current one (a newer one replaces it).
    stream: u64,
}

impl WebChat {
    /// The web front of `hub`'s room.
    pub fn new(hub: Arc<Hub>) -> Arc<WebChat> {
        Arc::new(WebChat {
            hub,
            members: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(1),
            keys: std::hash::RandomState::new(),
        })
    }

    fn members(&self) -> MutexGuard<'_, HashMap<String, WebMember>> {
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// 128 unguessable bits: SipHash under a per-process random key of a
    /// counter and the time (the caller's `now`: no clock is read here).
    fn token(&self, now: Instant) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let half = |salt: u8| {
            let mut h = self.keys.build_hasher();
            h.write_u8(salt);
            h.write_u64(n);
            now.hash(&mut h);
            h.finish()
        };
        format!("{:016x}{:016x}", half(1), half(2))
    }

    /// `POST join`: 200 with a token, 400 `bad-name`, 409 `name-taken`, 429
    /// `rate-limited` when `peer`'s address joined too often (the room's join
    /// limit, shared with UDP and IRC joins from that address).
    pub fn join(&self, now: Instant, peer: Option<IpAddr>, name: &[u8]) -> ExtResponse {
        let Ok(name) = std::str::from_utf8(name) else {
            return ExtResponse::text(400, "bad-name");
        };
        let name = name.trim();
        self.sweep();
        let id = self.hub.register(Front::Web, peer);
        match self.hub.act(None, |room| room.join(now, id, name, true)) {
            Ok(()) => {
                let token = self.token(now);
                self.members()
                    .insert(token.clone(), WebMember { id, stream: 0 });
                ExtResponse::json(200, &json!({ "token": token, "name": name }))
            }
            Err(e) => {
                self.hub.unregister(id, LeaveReason::Left);
                match e {
                    JoinError::NameTaken => ExtResponse::text(409, "name-taken"),
                    JoinError::RateLimited => ExtResponse::text(429, "rate-limited"),
                    _ => ExtResponse::text(400, "bad-name"),
                }
            }
        }
    }

    /// `POST say`: 204, 404 `not-joined`, 413 `too-long`, 429 `rate-limited`.
    pub fn say(&self, now: Instant, token: &str, text: &[u8]) -> ExtResponse {
        self.speak(token, text, |room, id, text| room.say(now, id, text))
    }

    /// `POST me` (an action, "waves"): as `say`.
    pub fn me(&self, now: Instant, token: &str, text: &[u8]) -> ExtResponse {
        self.speak(token, text, |room, id, text| room.act(now, id, text))
    }

    /// `POST tell` (the body is `NAME text`): as `say`, and 404
    /// `no-such-member` when nobody has that name.
    pub fn tell(&self, now: Instant, token: &str, body: &[u8]) -> ExtResponse {
        self.speak(token, body, |room, id, body| {
            let (to, text) = body.split_once(' ').unwrap_or((body, ""));
            if text.is_empty() {
                return Err(SayError::NoSuchMember);
            }
            room.tell(now, id, to, text)
        })
    }

    /// Checks one line of text from a member and hands it to the room.
    fn speak(
        &self,
        token: &str,
        text: &[u8],
        verb: impl FnOnce(&mut Room, MemberId, &str) -> Result<(), SayError>,
    ) -> ExtResponse {
        let Some(member) = self.members().get(token).copied() else {
            return ExtResponse::text(404, "not-joined");
        };
        let Ok(text) = std::str::from_utf8(text) else {
            return ExtResponse::text(400, "bad-text");
        };
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() || text.contains(['\r', '\n']) {
            return ExtResponse::text(400, "bad-text");
        }
        match self.hub.act(None, |room| verb(room, member.id, text)) {
            Ok(()) => ExtResponse::bytes(204, "text/plain", &b""[..]),
            Err(SayError::TooLong) => ExtResponse::text(413, "too-long"),
            Err(SayError::RateLimited) => ExtResponse::text(429, "rate-limited"),
            Err(SayError::NoSuchMember) => ExtResponse::text(404, "no-such-member"),
            Err(_) => ExtResponse::text(404, "not-joined"),
        }
    }

    /// `POST nick` (the body is the new name): 200 with `{name, members}`,
    /// 400 `bad-name`, 409 `name-taken`, 429 `rate-limited` (the join limit),
    /// 404 `not-joined`.
    pub fn nick(&self, now: Instant, token: &str, name: &[u8]) -> ExtResponse {
        let Some(member) = self.members().get(token).copied() else {
            return ExtResponse::text(404, "not-joined");
        };
        let Ok(name) = std::str::from_utf8(name) else {
            return ExtResponse::text(400, "bad-name");
        };
        let name = name.trim();
        match self.hub.act(None, |room| room.rename(now, member.id, name)) {
            Ok(members) => {
                ExtResponse::json(200, &json!({ "name": name, "members": strs(&members) }))
            }
            Err(JoinError::NameTaken) => ExtResponse::text(409, "name-taken"),
            Err(JoinError::RateLimited) => ExtResponse::text(429, "rate-limited"),
            Err(JoinError::NotJoined) => ExtResponse::text(404, "not-joined"),
            Err(_) => ExtResponse::text(400, "bad-name"),
        }
    }

    /// `POST leave`: 204 whether or not the token was known.
    pub fn leave(&self, token: &str) -> ExtResponse {
        if let Some(member) = self.members().remove(token) {
            self.hub.unregister(member.id, LeaveReason::Left);
        }
        ExtResponse::bytes(204, "text/plain", &b""[..])
    }

    /// `GET events`: the member's event stream, or 404 for an unknown token.
    pub fn events(self: &Arc<Self>, now: Instant, token: &str) -> ExtResponse {
        let stream = {
            let mut members = self.members();
            let Some(member) = members.get_mut(token) else {
                return ExtResponse::text(404, "not-joined");
            };
            member.stream += 1;
            Stream {
                chat: Arc::clone(self),
                token: token.to_owned(),
                member: *member,
                next_ping: now,
                started: false,
            }
        };
        ExtResponse::event_stream(Box::new(stream))
    }

    /// Forgets tokens whose member the room dropped (its page never opened
    /// its stream, or went silent), once there are many.
    fn sweep(&self) {
        let mut members = self.members();
        if members.len() < SWEEP_AT {
            return;
        }
        let gone: Vec<String> = self.hub.with_room(|room| {
            members
                .iter()
                .filter(|(_, m)| room.name_of(m.id).is_none())
                .map(|(t, _)| t.clone())
                .collect()
        });
        for token in gone {
            if let Some(m) = members.remove(&token) {
                self.hub.unregister(m.id, LeaveReason::TimedOut);
            }
        }
    }
}

/// One open `text/event-stream` for one web member.
struct Stream {
    chat: Arc<WebChat>,
    token: String,
    member: WebMember,
    next_ping: Instant,
    started: bool,
}

impl Stream {
    fn current(&self) -> bool {
        self.chat
            .members()
            .get(&self.token)
            .is_some_and(|m| m.stream == self.member.stream)
    }
}

impl EventStream for Stream {
    fn set_waker(&mut self, waker: Waker) {
        self.chat.hub.set_waker(self.member.id, waker);
    }

    fn poll(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        if !self.started {
            self.started = true;
            // A lost stream is not retried by the browser: the page decides.
            out.extend_from_slice(b"retry: 3600000\n\n");
        }
        if !self.current() {
            return false;
        }
        let taken = self.chat.hub.take(self.member.id);
        if taken.overflowed {
            sse(out, "gone", &json!({ "reason": "too slow" }));
            return false;
        }
        for event in &taken.events {
            if !encode(out, event) {
                return false;
            }
        }
        if now >= self.next_ping {
            self.next_ping = now + KEEPALIVE;
            let id = self.member.id;
            if self.chat.hub.act(None, |room| room.ping(now, id)).is_err() {
                sse(out, "gone", &json!({ "reason": "timed out" }));
                return false;
            }
            out.extend_from_slice(b": keep-alive\n\n");
        }
        true
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next_ping)
    }
}

impl Drop for Stream {
    /// The page is gone (closed, reloaded, or its connection broke): the member
    /// leaves, unless a newer stream of the same member took over.
    fn drop(&mut self) {
        let mine = {
            let mut members = self.chat.members();
            let current = members
                .get(&self.token)
                .is_some_and(|m| m.stream == self.member.stream);
            if current {
                members.remove(&self.token);
            }
            current
        };
        if mine {
            let reason = LeaveReason::Quit(Arc::from("closed the page"));
            self.chat.hub.unregister(self.member.id, reason);
        }
    }
}

/// One room event as an SSE event; `false` when it ends the stream.
fn encode(out: &mut Vec<u8>, event: &Event) -> bool {
    match event {
        Event::Welcome { members } => sse(out, "welcome", &json!({ "members": strs(members) })),
        Event::History { name, text, action } => sse(
            out,
            "history",
            &json!({ "name": &**name, "text": &**text, "action": action }),
        ),
        Event::Action { name, text } => {
            sse(out, "action", &json!({ "name": &**name, "text": &**text }))
        }
        Event::Renamed { old, new } => {
            sse(out, "renamed", &json!({ "old": &**old, "new": &**new }))
        }
        Event::Told { from, text } => {
            sse(out, "told", &json!({ "from": &**from, "text": &**text }))
        }
        Event::Joined { name } => sse(out, "joined", &json!({ "name": &**name })),
        Event::Message { name, text } => {
            sse(out, "message", &json!({ "name": &**name, "text": &**text }))
        }
        Event::Left { name, reason } => {
            let why = match reason {
                LeaveReason::Left => "left".to_owned(),
                LeaveReason::Quit(msg) => format!("quit: {msg}"),
                LeaveReason::TimedOut => "timed out".to_owned(),
                LeaveReason::Kicked => "kicked".to_owned(),
            };
            sse(out, "left", &json!({ "name": &**name, "reason": why }))
        }
        Event::Admin { text } => sse(out, "admin", &json!({ "text": &**text })),
        Event::Members { names } => sse(out, "members", &json!({ "members": strs(names) })),
        Event::Kicked => {
            sse(out, "gone", &json!({ "reason": "kicked" }));
            return false;
        }
    }
    true
}

fn strs(names: &[Arc<str>]) -> Vec<&str> {
    names.iter().map(|n| &**n).collect()
}

/// `event: KIND\ndata: JSON\n\n` (JSON has no raw newline, so one data line).
fn sse(out: &mut Vec<u8>, kind: &str, data: &serde_json::Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests;
