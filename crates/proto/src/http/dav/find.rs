//! PROPFIND (RFC 4918 §9.1) and PROPPATCH (§9.2).

use super::lock::Lock;
use super::props::{self, Resource, LIVE};
use super::xml::{self, Element, DAV};
use super::{bad_request, dead, headers, multistatus};
use crate::http::request::Head;
use crate::http::response::Reply;
use crate::http::session::Sight;
use crate::http::target::{error_reply, Target};
use crate::http::visitor::{access_path, Visitor};
use crate::http::Shared;
use crate::root::{EntryKind, RelPath};
use std::time::Instant;

/// What a PROPFIND asks for.
enum Want {
    AllProp,
    PropName,
    Props(Vec<(String, String)>),
}

fn want(body: Option<&[u8]>) -> Result<Want, Reply> {
    let Some(body) = body.filter(|b| !b.iter().all(u8::is_ascii_whitespace)) else {
        return Ok(Want::AllProp);
    };
    let root = xml::parse(body).map_err(|_| bad_request())?;
    if !root.is(DAV, "propfind") {
        return Err(bad_request());
    }
    if root.dav_child("allprop").is_some() {
        return Ok(Want::AllProp);
    }
    if root.dav_child("propname").is_some() {
        return Ok(Want::PropName);
    }
    match root.dav_child("prop") {
        Some(prop) => Ok(Want::Props(
            prop.children()
                .map(|c| (c.ns.clone(), c.name.clone()))
                .collect(),
        )),
        None => Err(bad_request()),
    }
}

/// PROPFIND with Depth 0 or 1.
pub(crate) fn propfind(
    shared: &Shared,
    head: &Head<'_>,
    target: &Target<'_>,
    body: Option<&[u8]>,
    visitor: &Visitor<'_>,
    sight: Sight,
    now: Instant,
) -> Reply {
    let depth = match headers::depth(head.depth) {
        Err(()) => return bad_request(),
        Ok(Some(headers::Depth::Zero)) => headers::Depth::Zero,
        Ok(Some(headers::Depth::One)) => headers::Depth::One,
        Ok(None | Some(headers::Depth::Infinity)) => {
            return super::precondition(403, "propfind-finite-depth")
        }
    };
    let want = match want(body) {
        Ok(w) => w,
        Err(reply) => return reply,
    };
    let meta = match shared.root.metadata(&target.rel) {
        Ok(m) => m,
        Err(e) => return error_reply(&e),
    };
    if let Sight::Passing(refusal) = sight {
        if !meta.is_dir() {
            return refusal;
        }
    }
    let me = Resource::new(target.rel.clone(), &meta);
    let locks = shared.locks.all(now);
    let mut out = String::new();
    props::multistatus_start(&mut out);
    // One read of each sidecar for the whole listing.
    let dead = dead::Dead::new(shared);
    describe(shared, &dead, &me, &want, &locks, &mut out);
    if me.dir && depth == headers::Depth::One {
        let folder = access_path(&target.rel);
        let entries = match shared.root.list(&target.rel) {
            Ok(e) => e,
            Err(e) => return error_reply(&e),
        };
        for e in entries {
            if !matches!(e.kind, EntryKind::File | EntryKind::Dir)
                || !visitor.shows(&folder, &e.name)
            {
                continue;
            }
            let Ok(rel) = target.rel.join(&e.name) else {
                continue;
            };
            let res = Resource {
                rel,
                dir: e.kind == EntryKind::Dir,
                len: e.size,
                modified: e.modified.unwrap_or(std::time::UNIX_EPOCH),
                created: e.modified.unwrap_or(std::time::UNIX_EPOCH),
            };
            describe(shared, &dead, &res, &want, &locks, &mut out);
        }
    }
    props::multistatus_end(&mut out);
    multistatus(out)
}

/// One `response` element for `res`.
fn describe(
    shared: &Shared,
    dead: &dead::Dead<'_>,
    res: &Resource,
    want: &Want,
    all: &[Lock],
    out: &mut String,
) {
    out.push_str("<D:response><D:href>");
    out.push_str(&res.href());
    out.push_str("</D:href>");
    let path = res.path();
    let locks: Vec<Lock> = all.iter().filter(|l| l.covers(&path)).cloned().collect();
    let node = || shared.root.open_node(&res.rel).ok();
    let mut found = String::new();
    match want {
        Want::AllProp => {
            for name in LIVE {
                props::live(res, name, &locks, &mut found);
            }
            if let Some(file) = node() {
                for p in dead.list(&res.rel, &file) {
                    props::dead(&p, &mut found);
                }
            }
            props::propstat(&found, 200, out);
        }
        Want::PropName => {
            for name in LIVE {
                let mut scratch = String::new();
                if props::live(res, name, &locks, &mut scratch) {
                    props::name_only(DAV, name, &mut found);
                }
            }
            if let Some(file) = node() {
                for p in dead.list(&res.rel, &file) {
                    props::name_only(&p.ns, &p.name, &mut found);
                }
            }
            props::propstat(&found, 200, out);
        }
        Want::Props(names) => {
            let mut missing = String::new();
            let file = if names
                .iter()
                .any(|(ns, n)| ns != DAV || !LIVE.contains(&n.as_str()))
            {
                node()
            } else {
                None
            };
            for (ns, name) in names {
                if ns == DAV && props::live(res, name, &locks, &mut found) {
                    continue;
                }
                match file.as_ref().and_then(|f| dead.get(&res.rel, f, ns, name)) {
                    Some(p) => props::dead(&p, &mut found),
                    None => props::name_only(ns, name, &mut missing),
                }
            }
            if !found.is_empty() || missing.is_empty() {
                props::propstat(&found, 200, out);
            }
            if !missing.is_empty() {
                props::propstat(&missing, 404, out);
            }
        }
    }
    out.push_str("</D:response>");
}

/// One instruction of a PROPPATCH: set (with the new element) or remove.
enum Change<'a> {
    Set(&'a Element),
    Remove(&'a Element),
}

/// PROPPATCH: sets and removes dead properties, all or none.
pub(crate) fn proppatch(shared: &Shared, target: &Target<'_>, body: Option<&[u8]>) -> Reply {
    if !shared.config.upload || shared.root.hides(&target.rel) {
        return Reply::error(403);
    }
    let Some(root) = body.and_then(|b| xml::parse(b).ok()) else {
        return bad_request();
    };
    if !root.is(DAV, "propertyupdate") {
        return bad_request();
    }
    let mut changes = Vec::new();
    for op in root.children() {
        let set = op.is(DAV, "set");
        if !set && !op.is(DAV, "remove") {
            continue;
        }
        for prop in op.children().filter(|p| p.is(DAV, "prop")) {
            for p in prop.children() {
                changes.push(if set {
                    Change::Set(p)
                } else {
                    Change::Remove(p)
                });
            }
        }
    }
    let file = match shared.root.open_node(&target.rel) {
        Ok(f) => f,
        Err(e) => return error_reply(&e),
    };
    let name = |c: &Change<'_>| match c {
        Change::Set(p) | Change::Remove(p) => (p.ns.clone(), p.name.clone()),
    };
    let dead = dead::Dead::new(shared);
    let protected = changes.iter().any(|c| {
        let (ns, n) = name(c);
        ns == DAV && LIVE.contains(&n.as_str())
    });
    let mut by_status: Vec<(u16, String)> = Vec::new();
    let mut add = |status: u16, ns: &str, n: &str| {
        let i = match by_status.iter().position(|(s, _)| *s == status) {
            Some(i) => i,
            None => {
                by_status.push((status, String::new()));
                by_status.len() - 1
            }
        };
        props::name_only(ns, n, &mut by_status[i].1);
    };
    for c in &changes {
        let (ns, n) = name(c);
        let status = if protected {
            if ns == DAV && LIVE.contains(&n.as_str()) {
                403
            } else {
                424
            }
        } else {
            let done = match c {
                Change::Set(p) => dead.set(&target.rel, &file, p),
                Change::Remove(p) => dead.remove(&target.rel, &file, &p.ns, &p.name),
            };
            match done {
                Ok(()) => 200,
                Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => 507,
                Err(_) => 403,
            }
        };
        add(status, &ns, &n);
    }
    shared.cache.forget(&target.rel);
    let mut out = String::new();
    props::multistatus_start(&mut out);
    out.push_str("<D:response><D:href>");
    let dir = file.metadata().is_ok_and(|m| m.is_dir());
    out.push_str(&props::href(&target.rel, dir));
    out.push_str("</D:href>");
    for (status, names) in &by_status {
        props::propstat(names, *status, &mut out);
    }
    out.push_str("</D:response>");
    props::multistatus_end(&mut out);
    multistatus(out)
}

/// After a COPY: the dead properties of everything copied go along (a
/// rename keeps them by itself). Bounded like the copy: depth and entries.
pub(crate) fn copy_dead(shared: &Shared, from: &RelPath, to: &RelPath) {
    let mut budget = 100_000usize;
    copy_tree(shared, from, to, 0, &mut budget);
}

fn copy_tree(shared: &Shared, from: &RelPath, to: &RelPath, depth: usize, budget: &mut usize) {
    let (Ok(a), Ok(b)) = (shared.root.open_node(from), shared.root.open_node(to)) else {
        return;
    };
    dead::copy(shared, (from, &a), (to, &b));
    if depth >= 64 || !a.metadata().is_ok_and(|m| m.is_dir()) {
        return;
    }
    let Ok(entries) = shared.root.list(from) else {
        return;
    };
    for e in entries {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        if let (Ok(f), Ok(t)) = (from.join(&e.name), to.join(&e.name)) {
            copy_tree(shared, &f, &t, depth + 1, budget);
        }
    }
}
