//! Copying a file or a folder within the root so the copy appears complete
//! or not at all (HTTP `COPY`).
//!
//! ```text
//!   a file:    temporary in the destination folder ← copy_file_range ← source
//!              fsync, rename onto the name (RENAME_NOREPLACE unless replacing)
//!   a folder:  a temporary folder in the destination's parent, filled by
//!              descriptor (files, subfolders, symlinks as links), then
//!              renamed onto the name; a failure removes it
//! ```
//!
//! The source is opened beneath the root (a symlink at its end is followed
//! while it stays inside); below a copied folder nothing is followed: a
//! symlink is copied as a link (it resolves beneath the root wherever it
//! lands), FIFOs, sockets and devices are left out, and so are hidden names
//! unless the root serves them. A file larger than [`CopyOptions::max_file`]
//! or than the free space is refused before a byte is written.

use super::manage::{into_itself, is_within, rename_noreplace, Outcome};
use super::tree::{self, kind, MAX_DEPTH};
use super::{hidden_error, AtomicFile, RelPath, Root, RootError};
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{fsync, symlinkat};
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// How a copy goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyOptions {
    /// Replace what exists under the destination name (else `Exists`).
    pub replace: bool,
    /// Copy a folder with everything in it (WebDAV `Depth: infinity`); else
    /// just the folder, empty (`Depth: 0`).
    pub recursive: bool,
    /// The largest single file copied (HTTP's `--max-upload`); larger is
    /// [`RootError::NoSpace`] (`EFBIG`).
    pub max_file: u64,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            replace: false,
            recursive: true,
            max_file: u64::MAX,
        }
    }
}

/// What a copy needs at every level.
struct Walk {
    hidden: bool,
    max_file: u64,
}

impl Root {
    /// Copies `from` (a file, or a folder with everything in it) to `to`;
    /// see [`Root::copy_with`].
    pub fn copy(&self, from: &RelPath, to: &RelPath, replace: bool) -> Result<Outcome, RootError> {
        let opts = CopyOptions {
            replace,
            ..CopyOptions::default()
        };
        self.copy_with(from, to, &opts)
    }

    /// Copies `from` to `to`.
    ///
    /// Errors: `from` missing `NotFound`; the parent of `to` missing
    /// [`RootError::MissingParent`]; `to` taken without `replace`
    /// [`RootError::Exists`]; `to` equal to or inside `from`
    /// [`RootError::IntoItself`]; the source a device or FIFO `NotAFile`; too
    /// large or no room `NoSpace`; a tree deeper than [`MAX_DEPTH`]
    /// `Forbidden`. When replacing, the old `to` is removed only once the
    /// copy is complete, just before the copy takes its name.
    pub fn copy_with(
        &self,
        from: &RelPath,
        to: &RelPath,
        opts: &CopyOptions,
    ) -> Result<Outcome, RootError> {
        if to.is_root() {
            return Err(tree::refused("the shared folder itself cannot be replaced"));
        }
        if self.hides(from) || self.hides(to) {
            return Err(hidden_error());
        }
        if is_within(to, from) {
            return Err(into_itself());
        }
        let src = self.open_beneath(from, OFlag::O_RDONLY | OFlag::O_NONBLOCK, Mode::empty())?;
        let src_kind = kind(&fstat(&src)?);
        let (dst_dir, dst_name) = self.open_dest_parent(to)?;
        let existing = match fstatat(&dst_dir, dst_name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if opts.replace => Some(kind(&st)),
            Ok(_) => return Err(Errno::EEXIST.into()),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(e.into()),
        };
        let walk = Walk {
            hidden: self.serves_hidden(),
            max_file: opts.max_file,
        };
        match src_kind {
            SFlag::S_IFREG => {
                let upload = AtomicFile::in_dir(dst_dir, dst_name, opts.replace)?;
                fill(&walk, &File::from(src), upload.file())?;
                if existing == Some(SFlag::S_IFDIR) {
                    self.remove_tree(to)?;
                }
                upload.commit()?;
            }
            SFlag::S_IFDIR => {
                let mut src = Dir::from_fd(src)?;
                let temp = make_temp_dir(dst_dir.as_fd())?;
                let filled = open_dir(dst_dir.as_fd(), &temp).and_then(|dst| {
                    if opts.recursive {
                        copy_entries(&walk, &mut src, dst.as_fd(), 1)?;
                    }
                    Ok(fsync(&dst)?)
                });
                let placed = filled.and_then(|()| {
                    if existing.is_some() {
                        self.remove_tree(to)?;
                    }
                    let temp = temp.to_str().map_err(|_| Errno::EINVAL)?;
                    Ok(rename_noreplace(
                        dst_dir.as_fd(),
                        temp,
                        dst_dir.as_fd(),
                        dst_name,
                    )?)
                });
                if let Err(e) = placed {
                    // Best effort: the start-up sweep removes what is left.
                    let _ = tree::remove_any(dst_dir.as_fd(), &temp);
                    return Err(e);
                }
                fsync(&dst_dir)?;
            }
            _ => return Err(RootError::not_a_file()),
        }
        Ok(match existing {
            Some(_) => Outcome::Replaced,
            None => Outcome::Created,
        })
    }
}

/// Copies every entry of `src` into the (new, empty) folder `dst`.
fn copy_entries(
    walk: &Walk,
    src: &mut Dir,
    dst: BorrowedFd<'_>,
    depth: usize,
) -> Result<(), RootError> {
    if depth > MAX_DEPTH {
        return Err(tree::refused("the folder is nested too deeply"));
    }
    for name in tree::names(src)? {
        if tree::is_temporary(&name) || (!walk.hidden && tree::is_hidden(&name)) {
            continue;
        }
        let st = match fstatat(&*src, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        match kind(&st) {
            SFlag::S_IFDIR => {
                mkdirat(dst, name.as_c_str(), Mode::from_bits_truncate(0o755))?;
                let mut child = tree::open_child_dir(&*src, &name)?;
                let target = open_dir(dst, &name)?;
                copy_entries(walk, &mut child, target.as_fd(), depth + 1)?;
                fsync(&target)?;
            }
            SFlag::S_IFREG => {
                let flags = OFlag::O_RDONLY
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_NONBLOCK
                    | OFlag::O_NOCTTY
                    | OFlag::O_CLOEXEC;
                let from = File::from(openat(&*src, name.as_c_str(), flags, Mode::empty())?);
                let flags = OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC;
                let mode = Mode::from_bits_truncate(0o644);
                let into = File::from(openat(dst, name.as_c_str(), flags, mode)?);
                fill(walk, &from, &into)?;
            }
            SFlag::S_IFLNK => {
                let target = readlinkat(&*src, name.as_c_str())?;
                symlinkat(target.as_os_str(), dst, name.as_c_str())?;
            }
            _ => {} // FIFOs, sockets, devices: not files a share holds
        }
    }
    Ok(())
}

/// Copies all of `from` into `into` (copy_file_range where the kernel can,
/// through std), after checking the size against the limit and the room
/// left, then makes it durable.
fn fill(walk: &Walk, from: &File, into: &File) -> Result<(), RootError> {
    let len = from.metadata()?.len();
    if len > walk.max_file || len > free_space(into) {
        return Err(RootError::NoSpace(io::Error::from(Errno::EFBIG)));
    }
    // O_NONBLOCK was only against a FIFO swapped in: a regular file ignores it.
    io::copy(&mut &*from, &mut &*into)?;
    into.sync_all()?;
    Ok(())
}

/// Bytes an unprivileged writer may still use where `file` lives (unknown:
/// unlimited, and the writes will say).
fn free_space(file: &File) -> u64 {
    match nix::sys::statvfs::fstatvfs(file) {
        #[allow(clippy::unnecessary_cast)] // the field types differ between targets
        Ok(st) => (st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64),
        Err(_) => u64::MAX,
    }
}

/// Makes a new temporary folder (a reserved, hidden name) in `dir`.
fn make_temp_dir(dir: BorrowedFd<'_>) -> Result<CString, RootError> {
    let mut last = Errno::EEXIST;
    for attempt in 0..16 {
        let name = super::atomic::temporary_name(attempt);
        let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
        match mkdirat(dir, name.as_c_str(), Mode::from_bits_truncate(0o755)) {
            Ok(()) => return Ok(name),
            Err(Errno::EEXIST) => last = Errno::EEXIST,
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.into())
}

/// Opens the folder `name` in `dir` (never through a symlink).
fn open_dir(dir: BorrowedFd<'_>, name: &CStr) -> Result<OwnedFd, RootError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    Ok(openat(dir, name, flags, Mode::empty())?)
}
