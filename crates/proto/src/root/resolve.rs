//! Opening a path beneath the root, with no window between checking and opening.
//!
//! The classic bug is "check, then open": stat `root/a/b`, see it is inside, then
//! open it — while a symlink swapped in between sends the open to `/etc`. Here the
//! check *is* the open: the kernel (or our walk) refuses to leave the root during
//! the very lookup that produces the file descriptor.
//!
//! Two resolvers give the same answers:
//!
//! - [`Resolver::Openat2`]: one `openat2(2)` call with `RESOLVE_BENEATH` (every
//!   step of the lookup, symlinks included, must stay below the directory fd, else
//!   `EXDEV`; absolute symlinks are refused) and `RESOLVE_NO_MAGICLINKS` (no
//!   `/proc/self/fd/N` style jumps). Linux 5.6 and later.
//! - [`Resolver::Walk`]: for kernels without `openat2` (or where a seccomp filter
//!   hides it). We open one component at a time with `O_PATH | O_NOFOLLOW`, so the
//!   kernel never follows a symlink for us, and look at what we got with `fstat`
//!   on that descriptor (not by name, which could change in between). A
//!   directory is pushed on a stack of descriptors we descended through. A
//!   symlink is read through its own descriptor (`readlinkat(fd, "")`) and its
//!   target spliced in front of the components still to walk; `..` pops our own
//!   stack (never the file system's `..`), and popping past the root is `EXDEV`,
//!   exactly as `openat2` reports it. Absolute targets are `EXDEV`; more than
//!   [`MAX_SYMLINKS`] links is `ELOOP`. So symlinks inside the root that point
//!   inside work under both resolvers, and the tests run everything under both.
//!
//! Both can only be as safe as the descriptors they start from: a directory
//! moved out of the root *while* a lookup holds it is outside the kernel's view
//! of "beneath" too. Moving directories around requires write access to the
//! served tree, which is the administrator's, not a client's.

use super::path::RelPath;
use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, Mode, SFlag};
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// How a [`super::Root`] resolves names beneath itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resolver {
    /// One `openat2(2)` call with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`.
    Openat2,
    /// A component-by-component walk with `O_NOFOLLOW` (the fallback).
    Walk,
}

/// Symlinks followed in one lookup before giving up (the kernel's own limit).
pub(crate) const MAX_SYMLINKS: usize = 40;

/// `openat2` returns `EAGAIN` when a concurrent rename might have let a `..`
/// escape; the answer is to retry, a bounded number of times.
const EAGAIN_RETRIES: usize = 8;

/// Whether `openat2` works here: missing (`ENOSYS`) on old kernels, and some
/// container seccomp profiles answer `EPERM` instead.
pub(crate) fn openat2_available(dir: BorrowedFd<'_>) -> bool {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH);
    openat2(dir, ".", how).is_ok()
}

/// Opens `rel` beneath `root` with `flags` (and `mode`, used with `O_CREAT`).
///
/// Errors are the kernel's: `EXDEV` means the lookup would have left the root,
/// `ELOOP` too many symlinks, the rest as for `openat(2)`.
pub(crate) fn open_beneath(
    root: BorrowedFd<'_>,
    resolver: Resolver,
    rel: &RelPath,
    flags: OFlag,
    mode: Mode,
) -> nix::Result<OwnedFd> {
    // O_NOCTTY: opening a terminal device must never make it our controlling tty.
    // openat2 refuses it (EINVAL) beside O_PATH, which opens nothing anyway.
    let flags = if flags.contains(OFlag::O_PATH) {
        flags | OFlag::O_CLOEXEC
    } else {
        flags | OFlag::O_CLOEXEC | OFlag::O_NOCTTY
    };
    match resolver {
        Resolver::Openat2 => open_openat2(root, rel, flags, mode),
        Resolver::Walk => open_walk(root, rel, flags, mode),
    }
}

fn open_openat2(
    root: BorrowedFd<'_>,
    rel: &RelPath,
    flags: OFlag,
    mode: Mode,
) -> nix::Result<OwnedFd> {
    let mut how = OpenHow::new()
        .flags(flags)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    // openat2 is strict: a mode without O_CREAT is EINVAL.
    if flags.contains(OFlag::O_CREAT) {
        how = how.mode(mode);
    }
    let path = rel.to_os_path();
    let mut result = openat2(root, path.as_str(), how);
    for _ in 0..EAGAIN_RETRIES {
        if !matches!(result, Err(Errno::EAGAIN)) {
            break;
        }
        result = openat2(root, path.as_str(), how);
    }
    result
}

fn open_walk(
    root: BorrowedFd<'_>,
    rel: &RelPath,
    flags: OFlag,
    mode: Mode,
) -> nix::Result<OwnedFd> {
    let mut pending: VecDeque<OsString> = rel.components().iter().map(OsString::from).collect();
    // The directories we descended through; empty means "at the root".
    let mut stack: Vec<OwnedFd> = Vec::new();
    let mut links = 0;
    loop {
        let here = stack.last().map_or(root, |fd| fd.as_fd());
        let Some(name) = pending.pop_front() else {
            // Only `.`/`..` were left (or the path is the root): open where we are.
            return openat(here, ".", flags, mode);
        };
        // Empty and `.` parts can only come from symlink targets like `a//./b`.
        if name.is_empty() || name == "." {
            continue;
        }
        if name == ".." {
            if stack.pop().is_none() {
                return Err(Errno::EXDEV);
            }
            continue;
        }
        let last = pending.is_empty();
        let link = if last && !flags.contains(OFlag::O_PATH) {
            // O_NOFOLLOW: the kernel never follows a symlink for us; we do, below.
            match openat(here, name.as_os_str(), flags | OFlag::O_NOFOLLOW, mode) {
                Ok(fd) => return Ok(fd),
                // ELOOP: it is a symlink. ENOTDIR (with O_DIRECTORY): it may be one.
                Err(e @ (Errno::ELOOP | Errno::ENOTDIR)) => match open_symlink(here, &name)? {
                    Some(link) => link,
                    None if e == Errno::ELOOP => {
                        // It was a symlink a moment ago and was replaced since:
                        // look again (counted, so a flapping name cannot spin us).
                        pending.push_front(name);
                        links += 1;
                        if links > MAX_SYMLINKS {
                            return Err(Errno::ELOOP);
                        }
                        continue;
                    }
                    None => return Err(e),
                },
                Err(e) => return Err(e),
            }
        } else {
            // Intermediate steps (and O_PATH opens) take the name as it is, link or
            // not, with O_PATH (search permission only, like a real lookup), then
            // look at what they got: no window between looking and using.
            let step = openat(
                here,
                name.as_os_str(),
                OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            let kind = file_kind(&step)?;
            if kind == SFlag::S_IFLNK {
                step
            } else if last {
                // An O_PATH open was asked for: this descriptor is the answer.
                if flags.contains(OFlag::O_DIRECTORY) && kind != SFlag::S_IFDIR {
                    return Err(Errno::ENOTDIR);
                }
                return Ok(step);
            } else if kind == SFlag::S_IFDIR {
                stack.push(step);
                continue;
            } else {
                return Err(Errno::ENOTDIR);
            }
        };
        links += 1;
        if links > MAX_SYMLINKS {
            return Err(Errno::ELOOP);
        }
        // Read the very link we opened (empty path: the fd itself), not the name,
        // which may have changed since.
        let target = readlinkat(&link, "")?;
        splice_target(&mut pending, &target)?;
    }
}

/// Puts a symlink's target in front of the components still to walk.
fn splice_target(pending: &mut VecDeque<OsString>, target: &OsStr) -> nix::Result<()> {
    let bytes = target.as_bytes();
    // An absolute target names something from the real root: refused, as by
    // RESOLVE_BENEATH (even if it happens to point back inside).
    if bytes.starts_with(b"/") {
        return Err(Errno::EXDEV);
    }
    for part in bytes.split(|&b| b == b'/').rev() {
        pending.push_front(OsStr::from_bytes(part).to_owned());
    }
    Ok(())
}

/// The `S_IFMT` bits of an open descriptor.
fn file_kind(fd: &OwnedFd) -> nix::Result<SFlag> {
    Ok(SFlag::from_bits_truncate(fstat(fd)?.st_mode) & SFlag::S_IFMT)
}

/// Opens `name` itself if it is a symlink right now.
fn open_symlink(dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<Option<OwnedFd>> {
    let fd = openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    Ok((file_kind(&fd)? == SFlag::S_IFLNK).then_some(fd))
}
