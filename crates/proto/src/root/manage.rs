//! Making folders, removing trees, renaming: the file-management verbs
//! (HTTP `MKCOL`, `DELETE`, `MOVE`; the files protocol's `MKDIR`, `DELETE`,
//! `MOVE`).
//!
//! Each acts on a name within its parent folder, opened beneath the root
//! (`*at` calls on the parent's descriptor): nothing is resolved twice, a
//! symlink at the end of a path is acted on itself, never followed.
//!
//! ```text
//!   make_dir("a/b")           mkdirat(a, "b")            EEXIST → Exists
//!   remove_tree("a/b")        check the tree, then remove it by descriptor
//!   rename("a/x", "b/y", r)   renameat2(a, "x", b, "y", NOREPLACE unless r)
//! ```
//!
//! The parent of a destination must exist: if it does not (or is a file),
//! the error is [`RootError::MissingParent`] (HTTP 409), not `NotFound`,
//! which is kept for a missing source.

use super::tree::{self, kind};
use super::{hidden_error, RelPath, Root, RootError};
use nix::errno::Errno;
use nix::fcntl::{renameat, AtFlags};
use nix::sys::stat::{fstatat, mkdirat, Mode, SFlag};
use nix::unistd::fsync;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// What a copy or a rename did to its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The destination name was free (HTTP 201).
    Created,
    /// Something existed under the destination name and was replaced (204).
    Replaced,
}

impl Root {
    /// Makes the folder `rel` (mode 0755 less the umask). Its parent must
    /// exist ([`RootError::MissingParent`]); a name that exists, of any kind,
    /// is [`RootError::Exists`].
    pub fn make_dir(&self, rel: &RelPath) -> Result<(), RootError> {
        if rel.is_root() {
            return Err(Errno::EEXIST.into());
        }
        let (parent, name) = self.open_dest_parent(rel)?;
        mkdirat(&parent, name, Mode::from_bits_truncate(0o755))?;
        fsync(&parent)?;
        Ok(())
    }

    /// Removes `rel`: a file or symlink (the link, never its target), or a
    /// folder with everything in it. Before anything is removed, the tree is
    /// checked: deeper than [`tree::MAX_DEPTH`] folders, or (unless the root
    /// serves hidden names) holding a hidden name, it is refused whole with
    /// [`RootError::Forbidden`] (permission denied). The root itself cannot
    /// be removed (`Forbidden`).
    pub fn remove_tree(&self, rel: &RelPath) -> Result<(), RootError> {
        if rel.is_root() {
            return Err(tree::refused("the shared folder itself cannot be removed"));
        }
        let (parent, name) = self.open_parent(rel)?;
        let st = fstatat(&parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        if kind(&st) == SFlag::S_IFDIR {
            let cname = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
            let mut dir = tree::open_child_dir(&parent, &cname)?;
            tree::check(&mut dir, 1, self.serves_hidden())?;
        }
        let cname = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
        tree::remove_any(parent.as_fd(), &cname)?;
        fsync(&parent)?;
        Ok(())
    }

    /// Renames (moves) `from` to `to`, a file or a folder, in one
    /// `renameat2`. A symlink is moved itself.
    ///
    /// - `to` taken: without `replace`, [`RootError::Exists`] (decided by
    ///   `RENAME_NOREPLACE`, atomically); with it, a file over a file is
    ///   replaced atomically, and where either is a folder the old `to` is
    ///   removed first (as [`Root::remove_tree`]), then the name taken.
    /// - `to` equal to `from` or inside it: [`RootError::IntoItself`] (also
    ///   when a symlink makes it so: the kernel's `EINVAL`).
    /// - `from` missing: `NotFound`; the parent of `to` missing:
    ///   [`RootError::MissingParent`]; the root on either side: `Forbidden`.
    pub fn rename(
        &self,
        from: &RelPath,
        to: &RelPath,
        replace: bool,
    ) -> Result<Outcome, RootError> {
        if from.is_root() || to.is_root() {
            return Err(tree::refused("the shared folder itself cannot be moved"));
        }
        if self.hides(from) || self.hides(to) {
            return Err(hidden_error());
        }
        if is_within(to, from) {
            return Err(into_itself());
        }
        let (src_dir, src_name) = self.open_parent(from)?;
        let src = fstatat(&src_dir, src_name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let (dst_dir, dst_name) = self.open_dest_parent(to)?;
        let outcome = match fstatat(&dst_dir, dst_name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Err(Errno::ENOENT) => Outcome::Created,
            Err(e) => return Err(e.into()),
            Ok(_) if !replace => return Err(Errno::EEXIST.into()),
            Ok(dst) => {
                if kind(&src) == SFlag::S_IFDIR || kind(&dst) == SFlag::S_IFDIR {
                    self.remove_tree(to)?;
                } else {
                    // Two files: one atomic replace, nothing removed first.
                    renameat(&src_dir, src_name, &dst_dir, dst_name).map_err(rename_error)?;
                    sync_dirs(&src_dir, &dst_dir)?;
                    return Ok(Outcome::Replaced);
                }
                Outcome::Replaced
            }
        };
        rename_noreplace(src_dir.as_fd(), src_name, dst_dir.as_fd(), dst_name)
            .map_err(rename_error)?;
        sync_dirs(&src_dir, &dst_dir)?;
        Ok(outcome)
    }

    /// Whether something (a file, a folder, a symlink even dangling or
    /// leading out) is under the name `rel`; `false` for a hidden name the
    /// root does not serve, and whenever the name cannot be looked at.
    pub fn exists(&self, rel: &RelPath) -> bool {
        if rel.is_root() {
            return true;
        }
        match self.open_parent(rel) {
            Ok((parent, name)) => fstatat(&parent, name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok(),
            Err(_) => false,
        }
    }

    /// [`Root::open_parent`] for a destination: a parent that is missing or
    /// not a folder is [`RootError::MissingParent`]. A hidden name stays
    /// `NotFound`, as everywhere.
    pub(super) fn open_dest_parent<'a>(
        &self,
        rel: &'a RelPath,
    ) -> Result<(OwnedFd, &'a str), RootError> {
        if self.hides(rel) {
            return Err(hidden_error());
        }
        self.open_parent(rel).map_err(|e| match e {
            RootError::NotFound(io) | RootError::NotADirectory(io) => RootError::MissingParent(io),
            e => e,
        })
    }
}

/// Whether `inner` is `outer` or below it, by name.
pub(super) fn is_within(inner: &RelPath, outer: &RelPath) -> bool {
    inner.components().starts_with(outer.components())
}

/// The error of a move or copy onto or into itself.
pub(super) fn into_itself() -> RootError {
    RootError::IntoItself(io::Error::new(
        io::ErrorKind::InvalidInput,
        "a folder cannot be moved or copied into itself",
    ))
}

/// `rename(2)`'s `EINVAL` means "into itself" (a symlink led there).
fn rename_error(e: Errno) -> RootError {
    if e == Errno::EINVAL {
        into_itself()
    } else {
        e.into()
    }
}

/// Makes a rename durable: both folders' entries changed.
fn sync_dirs(a: &OwnedFd, b: &OwnedFd) -> Result<(), RootError> {
    fsync(a)?;
    fsync(b)?;
    Ok(())
}

/// Renames `from` in `src` to `to` in `dst`, failing with `EEXIST` if `to`
/// exists. Where the file system does not know `RENAME_NOREPLACE`, the name
/// is looked at first (a race there could only replace what appeared in the
/// meantime, on such file systems alone).
pub(super) fn rename_noreplace(
    src: BorrowedFd<'_>,
    from: &str,
    dst: BorrowedFd<'_>,
    to: &str,
) -> nix::Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use nix::fcntl::{renameat2, RenameFlags};
        match renameat2(src, from, dst, to, RenameFlags::RENAME_NOREPLACE) {
            Err(Errno::EINVAL | Errno::ENOSYS) => {}
            other => return other,
        }
    }
    match fstatat(dst, to, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(_) => Err(Errno::EEXIST),
        Err(Errno::ENOENT) => renameat(src, from, dst, to),
        Err(e) => Err(e),
    }
}
