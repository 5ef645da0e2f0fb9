//! Uploads that appear complete or not at all.
//!
//! A client that disconnects halfway must not leave half a file under the real
//! name, and a reader must never see one being written. So an upload is written
//! to a temporary name in the same directory (same file system, so the final
//! `rename` is atomic), then:
//!
//! ```text
//!   create  .netkit-upload-<random>.tmp   O_CREAT|O_EXCL, mode 0644, under the dir fd
//!   write … write
//!   commit: fsync(file)        the data is on disk before the name points at it
//!           rename → name      renameat2(RENAME_NOREPLACE) unless overwriting
//!           fsync(dir)         the rename itself survives a crash
//!   drop without commit:       unlink the temporary
//! ```
//!
//! Without `overwrite`, an existing name is refused twice: early, so a client is
//! told before sending a large file, and at the rename, which is the real
//! guarantee (another upload may have taken the name in between).
//!
//! A crash (not a drop) can still leave a temporary behind;
//! [`Root::remove_stale_temporaries`] sweeps them at start-up. Clients can never
//! name a temporary ([`crate::root::PathError::Reserved`]) and listings hide them.

use super::path::{RelPath, TEMP_PREFIX, TEMP_SUFFIX};
use super::{Root, RootError};
use nix::errno::Errno;
use nix::fcntl::{openat, renameat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode, SFlag};
use nix::unistd::{fsync, unlinkat, UnlinkatFlags};
use std::fs::File;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Attempts at finding an unused temporary name; with 64 random bits, more than
/// one is already a curiosity.
const NAME_ATTEMPTS: u64 = 16;

/// How deep [`Root::remove_stale_temporaries`] descends.
const SWEEP_MAX_DEPTH: usize = 64;

/// A file being uploaded: write to it, then [`AtomicFile::commit`]. Dropping it
/// without committing removes it.
#[derive(Debug)]
pub struct AtomicFile {
    file: File,
    dir: OwnedFd,
    temp_name: String,
    final_name: String,
    overwrite: bool,
    committed: bool,
}

impl Root {
    /// Starts an upload to `rel`. Its parent directory must exist.
    ///
    /// Without `overwrite`, an existing `rel` is [`RootError::Exists`] (now, and
    /// again at commit). A directory is [`RootError::IsADirectory`]. When
    /// overwriting a symlink, the link itself is replaced, never its target.
    pub fn create_atomic(&self, rel: &RelPath, overwrite: bool) -> Result<AtomicFile, RootError> {
        let (dir, name) = self.open_parent(rel)?;
        match fstatat(&dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR => {
                return Err(Errno::EISDIR.into())
            }
            Ok(_) if !overwrite => return Err(Errno::EEXIST.into()),
            Ok(_) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
        let (file, temp_name) = create_temporary(dir.as_fd())?;
        Ok(AtomicFile {
            file,
            dir,
            temp_name,
            final_name: name.to_owned(),
            overwrite,
            committed: false,
        })
    }

    /// Deletes `.netkit-upload-*.tmp` files (and folders, of a folder copy)
    /// left by a crashed run, in the root
    /// and its subdirectories (up to 64 levels; symlinks are not followed;
    /// subdirectories that cannot be read are skipped). Returns how many were
    /// removed.
    ///
    /// Call it at start-up only: it would also delete the temporaries of uploads
    /// in progress, including another server's sharing the directory.
    pub fn remove_stale_temporaries(&self) -> Result<usize, RootError> {
        let mut removed = 0;
        let mut pending = vec![RelPath::root()];
        while let Some(rel) = pending.pop() {
            // O_NOFOLLOW: only real directories are descended into.
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW;
            // Hidden folders too: an earlier run may have had --hidden.
            let fd = match self.open_beneath_any(&rel, flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(e) if rel.is_root() => return Err(e),
                Err(_) => continue,
            };
            let mut dir = nix::dir::Dir::from_fd(fd)?;
            let mut names = Vec::new();
            for entry in dir.iter().flatten() {
                if let Ok(name) = entry.file_name().to_str() {
                    names.push(name.to_owned());
                }
            }
            for name in names {
                if name == "." || name == ".." {
                    continue;
                }
                let Ok(st) = fstatat(&dir, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) else {
                    continue;
                };
                let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
                if kind == SFlag::S_IFREG && is_temporary(&name) {
                    if unlinkat(&dir, name.as_str(), UnlinkatFlags::NoRemoveDir).is_ok() {
                        removed += 1;
                    }
                } else if kind == SFlag::S_IFDIR && is_temporary(&name) {
                    // A folder copy cut short by a crash.
                    let Ok(cname) = std::ffi::CString::new(name) else {
                        continue;
                    };
                    if super::tree::remove_any(dir.as_fd(), &cname).is_ok() {
                        removed += 1;
                    }
                } else if kind == SFlag::S_IFDIR && rel.components().len() < SWEEP_MAX_DEPTH {
                    if let Ok(child) = rel.join(&name) {
                        pending.push(child);
                    }
                }
            }
        }
        Ok(removed)
    }
}

impl AtomicFile {
    /// An upload to `name` in the open folder `dir`, whose temporary is made
    /// now (for copies, which checked the name already).
    pub(super) fn in_dir(dir: OwnedFd, name: &str, overwrite: bool) -> Result<Self, RootError> {
        let (file, temp_name) = create_temporary(dir.as_fd())?;
        Ok(AtomicFile {
            file,
            dir,
            temp_name,
            final_name: name.to_owned(),
            overwrite,
            committed: false,
        })
    }

    /// The temporary file, for `metadata`, `set_len` or positioned writes.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Makes the upload visible under its name, durably. Without `overwrite`,
    /// a name taken meanwhile is [`RootError::Exists`] and the old file is left
    /// intact; the temporary is removed either way on failure.
    pub fn commit(mut self) -> Result<(), RootError> {
        self.file.sync_all()?;
        let dir = self.dir.as_fd();
        if self.overwrite {
            renameat(dir, self.temp_name.as_str(), dir, self.final_name.as_str())?;
        } else {
            super::manage::rename_noreplace(dir, &self.temp_name, dir, &self.final_name)?;
        }
        // The temporary name is gone now: nothing for Drop to remove.
        self.committed = true;
        fsync(dir)?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: if this fails, remove_stale_temporaries gets it later.
            let _ = unlinkat(
                &self.dir,
                self.temp_name.as_str(),
                UnlinkatFlags::NoRemoveDir,
            );
        }
    }
}

/// Creates a new, empty temporary file in `dir`, open for reading too (an
/// upload may be hashed from what was written). O_EXCL makes a name collision
/// (or a planted file or symlink of that name) an error instead of a takeover.
pub(super) fn create_temporary(dir: BorrowedFd<'_>) -> Result<(File, String), RootError> {
    let flags =
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mode = Mode::from_bits_truncate(0o644);
    let mut last = Errno::EEXIST;
    for attempt in 0..NAME_ATTEMPTS {
        let name = temporary_name(attempt);
        match openat(dir, name.as_str(), flags, mode) {
            Ok(fd) => return Ok((File::from(fd), name)),
            Err(Errno::EEXIST) => last = Errno::EEXIST,
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.into())
}

/// `.netkit-upload-<16 hex digits>.tmp`. The randomness comes from std's
/// per-process hash keys: uniqueness is only a convenience, since O_EXCL is what
/// guarantees no two uploads share a file.
pub(super) fn temporary_name(attempt: u64) -> String {
    let n = RandomState::new().hash_one((std::process::id(), attempt));
    format!("{TEMP_PREFIX}{n:016x}{TEMP_SUFFIX}")
}

fn is_temporary(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)
}
