//! Walking a folder by descriptor, for what acts on a whole tree (removing
//! one, checking one before it is removed or copied).
//!
//! Every step is relative to an open directory descriptor: a child folder is
//! opened with `openat(O_DIRECTORY | O_NOFOLLOW)`, so a symlink is never
//! descended into (it is an entry like a file: removed itself, never its
//! target), and no path is ever resolved again from the root. Depth is bounded
//! by [`MAX_DEPTH`], which also bounds the descriptors held open at once.

use super::path::{SIDECAR, TEMP_PREFIX, TEMP_SUFFIX};
use super::RootError;
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, FileStat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};

/// How many folders deep a removal or copy goes below the folder it was
/// asked for; anything deeper is refused before anything is touched.
pub const MAX_DEPTH: usize = 64;

/// The kind bits of a `stat`.
pub(crate) fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
}

/// The names in an open folder (without `.` and `..`), read once: the
/// folder may be changed while the caller works through them.
pub(crate) fn names(dir: &mut Dir) -> Result<Vec<CString>, RootError> {
    let mut names = Vec::new();
    for entry in dir.iter() {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Whether `name` is hidden (starts with `.`).
pub(crate) fn is_hidden(name: &CStr) -> bool {
    name.to_bytes().first() == Some(&b'.')
}

/// Whether `name` is one of the root's own files: an upload temporary or a
/// properties sidecar (removed with their folder, never copied).
pub(crate) fn is_temporary(name: &CStr) -> bool {
    let bytes = name.to_bytes();
    bytes.starts_with(TEMP_PREFIX.as_bytes()) && bytes.ends_with(TEMP_SUFFIX.as_bytes())
        || bytes == SIDECAR.as_bytes()
}

/// Opens the folder `name` in `dir` for reading its entries, never through a
/// symlink.
pub(crate) fn open_child_dir<Fd: AsFd>(dir: Fd, name: &CStr) -> Result<Dir, RootError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd: OwnedFd = openat(dir, name, flags, Mode::empty())?;
    Ok(Dir::from_fd(fd)?)
}

/// A refusal that is the tree's fault, not the path's: HTTP answers 403.
pub(crate) fn refused(why: &'static str) -> RootError {
    RootError::Forbidden(io::Error::new(io::ErrorKind::PermissionDenied, why))
}

/// Checks, before anything is removed, that the tree in `dir` is at most
/// [`MAX_DEPTH`] deep and (unless `hidden`) holds no hidden name a client
/// could not see — removing those would delete what the share does not
/// serve. The root's own temporaries are not hidden names in this sense.
pub(crate) fn check(dir: &mut Dir, depth: usize, hidden: bool) -> Result<(), RootError> {
    if depth > MAX_DEPTH {
        return Err(refused("the folder is nested too deeply"));
    }
    for name in names(dir)? {
        if !hidden && is_hidden(&name) && !is_temporary(&name) {
            return Err(refused("the folder holds hidden names"));
        }
        let st = match fstatat(&*dir, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        if kind(&st) == SFlag::S_IFDIR {
            let mut child = open_child_dir(&*dir, &name)?;
            check(&mut child, depth + 1, hidden)?;
        }
    }
    Ok(())
}

/// Removes everything in `dir` (symlinks themselves, folders after their
/// contents), down to [`MAX_DEPTH`] levels.
pub(crate) fn remove_contents(dir: &mut Dir, depth: usize) -> Result<(), RootError> {
    if depth > MAX_DEPTH {
        return Err(refused("the folder is nested too deeply"));
    }
    for name in names(dir)? {
        let st = match fstatat(&*dir, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        if kind(&st) == SFlag::S_IFDIR {
            let mut child = open_child_dir(&*dir, &name)?;
            remove_contents(&mut child, depth + 1)?;
            drop(child);
            unlinkat(&*dir, name.as_c_str(), UnlinkatFlags::RemoveDir)?;
        } else {
            unlinkat(&*dir, name.as_c_str(), UnlinkatFlags::NoRemoveDir)?;
        }
    }
    Ok(())
}

/// Removes `name` in `parent`, whatever it is: a file or symlink by unlink, a
/// folder with everything in it. No policy check: for the root's own
/// temporaries and for callers that checked already.
pub(crate) fn remove_any<Fd: AsFd + Copy>(parent: Fd, name: &CStr) -> Result<(), RootError> {
    let st = fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    if kind(&st) == SFlag::S_IFDIR {
        let mut dir = open_child_dir(parent, name)?;
        remove_contents(&mut dir, 1)?;
        drop(dir);
        unlinkat(parent, name, UnlinkatFlags::RemoveDir)?;
    } else {
        unlinkat(parent, name, UnlinkatFlags::NoRemoveDir)?;
    }
    Ok(())
}
