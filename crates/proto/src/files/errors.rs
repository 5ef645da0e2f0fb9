//! What each failure answers: the ERR code and message for a refused name, a
//! file-system error and a failed upload, so every command maps them alike.

use super::storage::is_no_space;
use super::wire::{self, ErrCode};
use crate::root::{PathError, RelPath, RootError};
use std::io;

/// A client name as a file to act on, or the error to answer: the root
/// itself is no file (400); a name that would climb out is 403; any other
/// malformed name 400.
pub(super) fn file_name(name: &str) -> Result<RelPath, (ErrCode, String)> {
    match RelPath::parse(name) {
        Ok(rel) if rel.is_root() => Err((ErrCode::BadRequest, "a file name is needed".into())),
        Ok(rel) => Ok(rel),
        Err(e @ (PathError::Absolute | PathError::ParentDir | PathError::Reserved)) => {
            Err((ErrCode::Forbidden, e.to_string()))
        }
        Err(e) => Err((ErrCode::BadRequest, e.to_string())),
    }
}

/// A client name as a folder to list: as [`file_name`], but `/` (or `.`) is
/// the root.
pub(super) fn folder_name(name: &str) -> Result<RelPath, (ErrCode, String)> {
    if name == "/" {
        return Ok(RelPath::root());
    }
    match file_name(name) {
        Err((ErrCode::BadRequest, _)) if RelPath::parse(name).is_ok() => Ok(RelPath::root()),
        other => other,
    }
}

/// The answer to a failed root operation on `name`. A hidden name (without
/// `--hidden`) comes back from the root as not found, so it is a 404 like a
/// missing file: nobody learns it exists.
pub(super) fn root_error(e: &RootError, name: &str) -> (ErrCode, String) {
    let name = wire::printable(name, 256);
    match e {
        _ if is_no_space(e.io_error()) => (ErrCode::NoSpace, "no space left on the server".into()),
        RootError::NotFound(_) | RootError::NotADirectory(_) => {
            (ErrCode::NotFound, format!("{name}: not found"))
        }
        RootError::Exists(_) => (ErrCode::Exists, format!("{name}: already exists")),
        RootError::MissingParent(_) => (
            ErrCode::NotFound,
            format!("{name}: the folder it would go in does not exist"),
        ),
        RootError::IntoItself(_) => (
            ErrCode::Forbidden,
            format!("{name}: a folder cannot go inside itself"),
        ),
        RootError::IsADirectory(_) => (ErrCode::Forbidden, format!("{name}: is a directory")),
        RootError::NotAFile(_) => (ErrCode::Forbidden, format!("{name}: not a regular file")),
        RootError::Forbidden(_) => (ErrCode::Forbidden, format!("{name}: forbidden")),
        _ => (ErrCode::Internal, format!("{name}: {}", e.io_error())),
    }
}

/// The answer to an upload that failed while writing.
pub(super) fn upload_error(e: &io::Error) -> (ErrCode, String) {
    if is_no_space(e) {
        (
            ErrCode::NoSpace,
            "no space left on the server; upload discarded".into(),
        )
    } else {
        (ErrCode::Internal, format!("upload failed: {e}"))
    }
}

/// Digests in replies: the wire's hex (kept here too for the session's imports).
pub(super) use super::wire::hex;
