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
//!   hides it). We open one component at a time with `O_NOFOLLOW`, keeping a stack
//!   of the directory fds we descended through. A symlink is read with
//!   `readlinkat` and its target spliced into the components still to walk; `..`
//!   pops our own stack (never the file system's `..`), and popping past the root
//!   is `EXDEV`, exactly as `openat2` reports it. Absolute targets are `EXDEV`;
//!   more than [`MAX_SYMLINKS`] links is `ELOOP`. So symlinks inside the root that
//!   point inside work under both resolvers, and the tests run under both.

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
    let flags = flags | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
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
        // O_NOFOLLOW on every step: a symlink is never followed by the kernel, only
        // by the code below, which keeps it beneath the root. Intermediate steps
        // use O_PATH, which needs only search permission, like a real lookup.
        let step_flags = if last {
            flags | OFlag::O_NOFOLLOW
        } else {
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
        };
        let step_mode = if last { mode } else { Mode::empty() };
        let opened = match openat(here, name.as_os_str(), step_flags, step_mode) {
            // With O_PATH, O_NOFOLLOW opens the link itself instead of failing.
            Ok(fd) if step_flags.contains(OFlag::O_PATH) && is_symlink(&fd)? => None,
            Ok(fd) => Some(fd),
            // A symlink refused by O_NOFOLLOW (ELOOP), or by O_DIRECTORY (ENOTDIR).
            Err(e @ (Errno::ELOOP | Errno::ENOTDIR)) => {
                if !is_symlink_at(here, &name)? {
                    return Err(e);
                }
                None
            }
            Err(e) => return Err(e),
        };
        match opened {
            Some(fd) if last => return Ok(fd),
            Some(fd) => stack.push(fd),
            None => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = readlinkat(here, name.as_os_str())?;
                splice_target(&mut pending, &target)?;
            }
        }
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

fn is_symlink(fd: &OwnedFd) -> nix::Result<bool> {
    let st = fstat(fd)?;
    Ok(SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK)
}

fn is_symlink_at(dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<bool> {
    use nix::fcntl::AtFlags;
    let st = nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    Ok(SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK)
}
