//! The per-folder sidecar file ([`SIDECAR`]): where WebDAV keeps dead
//! properties on a file system without user extended attributes. The name
//! is reserved like upload temporaries ([`RelPath::parse`] refuses it, so
//! no client lists, reads, writes or deletes it, even with `--hidden`);
//! only these two methods touch it, replacing it whole (temporary, fsync,
//! rename) so a crash leaves the old one or the new one.

use super::atomic::create_temporary;
use super::path::SIDECAR;
use super::{RelPath, Root, RootError};
use nix::errno::Errno;
use nix::fcntl::{openat, renameat, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{fsync, unlinkat, UnlinkatFlags};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;

impl Root {
    fn sidecar_dir(&self, dir: &RelPath) -> Result<std::os::fd::OwnedFd, RootError> {
        self.open_beneath(dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty())
    }

    /// The sidecar of the folder `dir`, at most `max` bytes (a longer one is
    /// [`RootError::Forbidden`]); `None` when the folder has none.
    pub fn read_sidecar(&self, dir: &RelPath, max: usize) -> Result<Option<Vec<u8>>, RootError> {
        let fd = self.sidecar_dir(dir)?;
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let file = match openat(fd.as_fd(), SIDECAR, flags, Mode::empty()) {
            Ok(f) => File::from(f),
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if !file.metadata()?.is_file() {
            return Err(RootError::not_a_file());
        }
        let mut bytes = Vec::new();
        file.take(max as u64 + 1).read_to_end(&mut bytes)?;
        if bytes.len() > max {
            return Err(super::tree::refused("the properties file is too large"));
        }
        Ok(Some(bytes))
    }

    /// Replaces the sidecar of the folder `dir` with `bytes`, atomically;
    /// `None` removes it.
    pub fn write_sidecar(&self, dir: &RelPath, bytes: Option<&[u8]>) -> Result<(), RootError> {
        let fd = self.sidecar_dir(dir)?;
        let Some(bytes) = bytes else {
            return match unlinkat(fd.as_fd(), SIDECAR, UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => Ok(()),
                Err(e) => Err(e.into()),
            };
        };
        let (mut file, temp) = create_temporary(fd.as_fd())?;
        let written = file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(RootError::from)
            .and_then(|()| Ok(renameat(fd.as_fd(), temp.as_str(), fd.as_fd(), SIDECAR)?));
        if let Err(e) = written {
            let _ = unlinkat(fd.as_fd(), temp.as_str(), UnlinkatFlags::NoRemoveDir);
            return Err(e);
        }
        fsync(fd.as_fd())?;
        Ok(())
    }
}
