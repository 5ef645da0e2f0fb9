//! WebDAV (RFC 4918) class 1 and 2 on the share's URLs: PROPFIND,
//! PROPPATCH, LOCK and UNLOCK, and the `If` / lock checks every write verb
//! meets first ([`guard`]). The verbs that move bytes (PUT, MKCOL, DELETE,
//! MOVE, COPY) live with the uploads; this module adds what makes them a
//! WebDAV server.
//!
//! Request bodies are read whole before the handler runs, up to
//! [`MAX_BODY`] bytes (a larger one is 413, a chunked one 411); they are XML
//! parsed by `xml.rs` (namespaces resolved, bounded, malformed → 400).
//!
//! The files: `headers.rs` (Depth, If, Timeout…), `ifheader.rs` (the `If`
//! grammar), `xml.rs` (bodies), `props.rs` (live properties and 207
//! bodies), `dead.rs` (dead properties in extended attributes or a sidecar), `find.rs`
//! (PROPFIND, PROPPATCH), `lock.rs` (the lock table), `table.rs` (its memory, shareable by forked children), `locking.rs` (LOCK,
//! UNLOCK).

mod dead;
mod find;
mod headers;
mod ifheader;
mod lock;
mod locking;
mod props;
mod table;
#[cfg(test)]
mod tests;
mod xml;

pub(crate) use find::{copy_dead, propfind, proppatch};
pub(crate) use headers::DavHeaders;
pub(crate) use lock::Locks;
pub(crate) use locking::{lock, unlock};
pub use table::{LockStore, LockTable};

use super::request::{Framing, Head};
use super::response::{Body, Reply};
use super::target::{parse_target, Target};
use super::Shared;
use std::time::Instant;

/// Largest request body of PROPFIND, PROPPATCH or LOCK (the driver holds at
/// most `MAX_INPUT` bytes of head and body together).
pub(crate) const MAX_BODY: usize = 48 * 1024;

/// Whether the verb carries an XML body this module reads.
pub(crate) fn reads_body(method: &str) -> bool {
    matches!(method, "PROPFIND" | "PROPPATCH" | "LOCK")
}

/// How many body bytes to wait for after the head (`None`: none is read
/// here; an oversized or chunked one is refused by [`body_refusal`]).
pub(crate) fn body_len(head: &Head<'_>) -> Option<usize> {
    match head.framing {
        Framing::Length(n) if reads_body(head.method) && n > 0 && n <= MAX_BODY as u64 => {
            Some(n as usize)
        }
        _ => None,
    }
}

/// The refusal of a body this module will not read (it closes: the body
/// stays unread).
pub(crate) fn body_refusal(head: &Head<'_>) -> Option<Reply> {
    if !reads_body(head.method) {
        return None;
    }
    match head.framing {
        Framing::Length(n) if n > MAX_BODY as u64 => Some(Reply::fatal(413)),
        Framing::Chunked => Some(Reply::fatal(411)),
        _ => None,
    }
}

/// 400 for a malformed body or header.
pub(crate) fn bad_request() -> Reply {
    Reply::error(400)
}

/// An error with a `DAV:` precondition element (RFC 4918 §16).
pub(crate) fn precondition(status: u16, name: &str) -> Reply {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\"><D:{name}/></D:error>\n"
    );
    let mut reply = Reply::new(status, Body::Bytes(body.into_bytes()));
    reply.header("Content-Type", "application/xml; charset=utf-8");
    reply
}

/// A 207 reply.
pub(crate) fn multistatus(body: String) -> Reply {
    let mut reply = Reply::new(207, Body::Bytes(body.into_bytes()));
    reply.header("Content-Type", "application/xml; charset=utf-8");
    reply
}

/// The headers OPTIONS adds: the DAV classes and the verbs.
pub(crate) fn options(reply: &mut Reply) {
    reply.header("DAV", "1, 2");
    reply.header("MS-Author-Via", "DAV");
}

/// `Allow`: the share's verbs, then PROPFIND, and with uploads PROPPATCH
/// (and LOCK, UNLOCK where locks are kept).
pub(crate) fn allow(shared: &Shared) -> String {
    let mut allow = format!("{}, PROPFIND", shared.allow);
    if shared.config.upload {
        allow.push_str(", PROPPATCH, LOCK, UNLOCK");
    }
    allow
}

/// The checks a write meets before its handler (RFC 4918 §10.4, §7): an
/// `If` header must hold (else 412), and every lock on what the write
/// touches must have its token among the lists that held (else 423).
pub(crate) fn guard(
    shared: &Shared,
    head: &Head<'_>,
    target: &Target<'_>,
    now: Instant,
) -> Result<(), Reply> {
    let path = target.rel.to_string();
    let submitted: Vec<String> = match head.dav.if_ {
        None => Vec::new(),
        Some(value) => {
            let lists = ifheader::parse(value).map_err(|()| bad_request())?;
            let held: Vec<&ifheader::List> = lists
                .iter()
                .filter(|l| holds(shared, l, &path, now))
                .collect();
            if held.is_empty() {
                return Err(Reply::error(412));
            }
            held.iter()
                .flat_map(|l| ifheader::tokens(std::slice::from_ref(*l)))
                .map(str::to_owned)
                .collect()
        }
    };
    // What the write touches: (path, with what lies below it).
    let mut touched: Vec<(String, bool)> = Vec::new();
    let exists = shared.root.metadata(&target.rel).is_ok();
    match head.method {
        "DELETE" | "MOVE" => touched.push((path.clone(), true)),
        "COPY" => {}
        _ => touched.push((path.clone(), false)),
    }
    let membership =
        matches!(head.method, "DELETE" | "MOVE" | "MKCOL") || !exists && head.method == "PUT";
    if membership {
        if let Some(parent) = target.rel.parent() {
            touched.push((parent.to_string(), false));
        }
    }
    if matches!(head.method, "MOVE" | "COPY") {
        if let Some(dest) = head
            .destination
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| parse_target(d).ok())
        {
            touched.push((dest.rel.to_string(), true));
            if let Some(parent) = dest.rel.parent() {
                touched.push((parent.to_string(), false));
            }
        }
    }
    for (p, beneath) in touched {
        for l in shared.locks.on(now, &p, beneath) {
            // A parent's lock guards its members only when it is on the
            // parent itself or reaches down (depth 0 locks guard membership).
            if !submitted.contains(&l.token) {
                return Err(precondition(423, "lock-token-submitted"));
            }
        }
    }
    Ok(())
}

/// Whether one `If` list holds.
fn holds(shared: &Shared, list: &ifheader::List, path: &str, now: Instant) -> bool {
    let own;
    let path = match &list.tag {
        Some(tag) => match parse_target(tag) {
            Ok(t) => {
                own = t.rel.to_string();
                own.as_str()
            }
            Err(_) => return false,
        },
        None => path,
    };
    let rel = crate::root::RelPath::parse(path).ok();
    list.conds.iter().all(|(not, cond)| {
        let truth = match cond {
            ifheader::Cond::Token(t) => shared.locks.get(now, t).is_some_and(|l| l.covers(path)),
            ifheader::Cond::ETag(e) => rel
                .as_ref()
                .and_then(|r| shared.root.metadata(r).ok())
                .and_then(|m| {
                    props::etag(
                        m.is_dir(),
                        m.len(),
                        m.modified().unwrap_or(std::time::UNIX_EPOCH),
                    )
                })
                .is_some_and(|mine| mine == *e),
        };
        truth != *not
    })
}

/// After a write that succeeded: a deleted or moved name loses its locks,
/// and its dead properties kept in a sidecar are dropped or moved along.
pub(crate) fn written(
    shared: &Shared,
    head: &Head<'_>,
    target: &Target<'_>,
    status: u16,
    now: Instant,
) {
    if !(200..300).contains(&status) {
        return;
    }
    match head.method {
        "DELETE" => dead::deleted(shared, &target.rel),
        "MOVE" => {
            if let Some(dest) = head
                .destination
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| parse_target(d).ok())
            {
                dead::moved(shared, &target.rel, &dest.rel);
            }
        }
        _ => return,
    }
    shared.locks.forget(now, &target.rel.to_string());
}
