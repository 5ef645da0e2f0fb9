//! The file-management verbs besides PUT: `MKCOL`, `DELETE`, `MOVE`, `COPY`
//! (RFC 4918 §9.3, §9.6, §9.8, §9.9), on the safe root's operations.
//!
//! | verb   | needs                     | answers                                   |
//! |--------|---------------------------|-------------------------------------------|
//! | MKCOL  | `--upload`                | 201; 405 exists; 409 no parent; 415 body  |
//! | DELETE | `--upload --overwrite`    | 204 (a file, or a folder and its content) |
//! | COPY   | `--upload`                | 201 new, 204 replaced; 412 taken          |
//! | MOVE   | `--upload --overwrite`    | 201 new, 204 replaced; 412 taken          |
//!
//! Without `--upload` every one is 403. Without `--overwrite` the share only
//! grows: COPY or MOVE onto a taken name is 412, any other MOVE 403 (it
//! would take a name away), DELETE 403. With it, `Overwrite: F` still makes
//! a taken destination 412. The source and the destination are both names
//! the request could have named itself (see `destination.rs`); hidden ones
//! are 403 as for PUT. Whether the visitor may read the source and write
//! the destination was decided before (`session/gate.rs`).

use super::request::{Framing, Head};
use super::response::{Body, Reply};
use super::target::{error_reply, local_location, Target};
use super::Shared;
use crate::root::{CopyOptions, Outcome, RootError};

/// MOVE or COPY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transfer {
    Move,
    Copy,
}

/// `MKCOL /a/b/`: makes one folder.
pub(crate) fn mkcol(shared: &Shared, head: &Head<'_>, target: &Target<'_>) -> Reply {
    if !shared.config.upload {
        return Reply::error(403);
    }
    if !matches!(head.framing, Framing::None | Framing::Length(0)) {
        return Reply::error(415); // no body type is understood (§9.3)
    }
    if shared.root.hides(&target.rel) {
        return Reply::error(403);
    }
    match shared.root.make_dir(&target.rel) {
        Ok(()) => {
            let mut reply = Reply::new(201, Body::Bytes(Vec::new()));
            let location = local_location(target.raw_path);
            let location = if location.ends_with('/') {
                location
            } else {
                location + "/"
            };
            reply.header("Location", location);
            reply
        }
        Err(RootError::Exists(_)) => {
            let mut reply = Reply::error(405);
            reply.header("Allow", super::dav::allow(shared));
            reply
        }
        Err(e) => error_reply(&e),
    }
}

/// `DELETE`: a file, or a folder with everything in it — only with
/// `--overwrite`, since without it a share only grows.
pub(crate) fn delete(shared: &Shared, target: &Target<'_>) -> Reply {
    let config = &shared.config;
    if !config.upload || !config.overwrite || shared.root.hides(&target.rel) {
        return Reply::error(403);
    }
    if target.rel.is_root() {
        return Reply::error(403);
    }
    match shared.root.remove_tree(&target.rel) {
        Ok(()) => {
            shared.cache.forget_tree(&target.rel);
            Reply::new(204, Body::None)
        }
        Err(e) => error_reply(&e),
    }
}

/// `MOVE` or `COPY` of `source` to `dest` (already checked against the
/// rules and the host).
pub(crate) fn transfer(
    shared: &Shared,
    head: &Head<'_>,
    source: &Target<'_>,
    dest: &Target<'_>,
    verb: Transfer,
) -> Reply {
    let config = &shared.config;
    let root = &shared.root;
    if !config.upload {
        return Reply::error(403);
    }
    let allow_replace = match head.overwrite {
        None => true,
        Some(v) if v.eq_ignore_ascii_case(b"T") => true,
        Some(v) if v.eq_ignore_ascii_case(b"F") => false,
        Some(_) => return Reply::error(400),
    };
    let recursive = match (head.depth, verb) {
        (None, _) => true,
        (Some(d), _) if d.eq_ignore_ascii_case(b"infinity") => true,
        (Some(b"0"), Transfer::Copy) => false,
        (Some(_), _) => return Reply::error(400),
    };
    if root.hides(&source.rel) || root.hides(&dest.rel) {
        return Reply::error(403);
    }
    if source.rel == dest.rel {
        return Reply::error(403); // §9.8.5, §9.9.4: source and destination the same
    }
    let taken = root.exists(&dest.rel);
    if taken && !(allow_replace && config.overwrite) {
        return Reply::error(412);
    }
    if verb == Transfer::Move && !config.overwrite {
        return Reply::error(403); // it would take the source's name away
    }
    let replace = allow_replace && config.overwrite;
    let done = match verb {
        Transfer::Move => root.rename(&source.rel, &dest.rel, replace),
        Transfer::Copy => {
            let opts = CopyOptions {
                replace,
                recursive,
                max_file: config.max_upload,
            };
            root.copy_with(&source.rel, &dest.rel, &opts)
        }
    };
    if verb == Transfer::Move {
        shared.cache.forget_tree(&source.rel);
    }
    shared.cache.forget_tree(&dest.rel);
    match done {
        Ok(Outcome::Created) => {
            let mut reply = Reply::new(201, Body::Bytes(Vec::new()));
            reply.header("Location", local_location(dest.raw_path));
            reply
        }
        Ok(Outcome::Replaced) => Reply::new(204, Body::None),
        Err(RootError::Exists(_)) => Reply::error(412),
        Err(e) => error_reply(&e),
    }
}
