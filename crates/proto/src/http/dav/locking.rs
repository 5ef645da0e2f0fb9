//! LOCK and UNLOCK (RFC 4918 §9.10, §9.11): new locks, refreshes, and the
//! empty file a lock on an unmapped name creates (§7.3).

use super::headers::{self, Depth};
use super::lock::{Lock, Refused};
use super::xml::{self, DAV};
use super::{bad_request, ifheader, precondition};
use crate::http::request::Head;
use crate::http::response::{Body, Reply};
use crate::http::target::{error_reply, Target};
use crate::http::Shared;
use crate::root::RootError;
use std::net::IpAddr;
use std::time::Instant;

/// The reply carrying a lock's discovery.
fn granted(status: u16, lock: &Lock, new: bool) -> Reply {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery>",
    );
    super::props::active_lock(lock, &mut body);
    body.push_str("</D:lockdiscovery></D:prop>\n");
    let mut reply = Reply::new(status, Body::Bytes(body.into_bytes()));
    reply.header("Content-Type", "application/xml; charset=utf-8");
    if new {
        reply.header("Lock-Token", format!("<{}>", lock.token));
    }
    reply
}

/// LOCK: a new lock (with a `lockinfo` body) or a refresh (without one).
pub(crate) fn lock(
    shared: &Shared,
    head: &Head<'_>,
    target: &Target<'_>,
    body: Option<&[u8]>,
    now: Instant,
    from: Option<IpAddr>,
) -> Reply {
    if !shared.config.upload || shared.root.hides(&target.rel) {
        return Reply::error(403);
    }
    let path = target.rel.to_string();
    let timeout = headers::timeout(head.dav.timeout);
    let body = body.filter(|b| !b.iter().all(u8::is_ascii_whitespace));
    let Some(body) = body else {
        // A refresh: the `If` header names the lock.
        let Some(lists) = head.dav.if_.and_then(|v| ifheader::parse(v).ok()) else {
            return bad_request();
        };
        for token in ifheader::tokens(&lists) {
            if let Some(l) = shared.locks.get(now, token).filter(|l| l.covers(&path)) {
                if let Some(l) = shared.locks.refresh(now, &l.token, timeout) {
                    return granted(200, &l, false);
                }
            }
        }
        return precondition(412, "lock-token-submitted");
    };
    let Ok(info) = xml::parse(body) else {
        return bad_request();
    };
    if !info.is(DAV, "lockinfo") {
        return bad_request();
    }
    let shared_scope = match info.dav_child("lockscope") {
        Some(s) if s.dav_child("shared").is_some() => true,
        Some(s) if s.dav_child("exclusive").is_some() => false,
        _ => return bad_request(),
    };
    if info
        .dav_child("locktype")
        .and_then(|t| t.dav_child("write"))
        .is_none()
    {
        return bad_request();
    }
    let owner = info.dav_child("owner").map(|o| {
        let mut s = String::new();
        o.write(&mut s);
        s
    });
    let infinite = match headers::depth(head.depth) {
        Ok(None | Some(Depth::Infinity)) => true,
        Ok(Some(Depth::Zero)) => false,
        Ok(Some(Depth::One)) | Err(()) => return bad_request(),
    };
    let (dir, created) = match shared.root.metadata(&target.rel) {
        Ok(m) => (m.is_dir(), false),
        Err(RootError::NotFound(_)) if !target.dir => (false, true),
        Err(e) => return error_reply(&e),
    };
    let lock = Lock {
        token: String::new(),
        path,
        infinite,
        shared: shared_scope,
        owner,
        timeout,
        from,
        dir,
    };
    let lock = match shared.locks.grant(now, lock) {
        Ok(l) => l,
        Err(Refused::Conflict) => return precondition(423, "no-conflicting-lock"),
        Err(Refused::Full) => return Reply::error(503),
    };
    if created {
        // RFC 4918 §7.3: a lock on an unmapped name makes an empty file.
        let made = shared
            .root
            .create_atomic(&target.rel, false)
            .and_then(|f| f.commit());
        if let Err(e) = made {
            shared.locks.remove(now, &lock.token);
            return error_reply(&e);
        }
        shared.cache.forget(&target.rel);
    }
    granted(if created { 201 } else { 200 }, &lock, true)
}

/// UNLOCK: removes the lock named by `Lock-Token` if it covers the target.
pub(crate) fn unlock(shared: &Shared, head: &Head<'_>, target: &Target<'_>, now: Instant) -> Reply {
    if !shared.config.upload {
        return Reply::error(403);
    }
    let Some(token) = headers::lock_token(head.dav.lock_token) else {
        return bad_request();
    };
    let path = target.rel.to_string();
    match shared.locks.get(now, token) {
        Some(l) if l.covers(&path) => {
            shared.locks.remove(now, token);
            Reply::new(204, Body::None)
        }
        _ => precondition(409, "lock-token-matches-request-uri"),
    }
}
