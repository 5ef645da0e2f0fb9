//! Opening a file or folder itself (not its content) beneath the root: for
//! the extended attributes WebDAV keeps dead properties in.

use super::{RelPath, Root, RootError};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::fs::File;

impl Root {
    /// Opens the regular file or folder `rel` (read-only, non-blocking, so a
    /// FIFO cannot hold the server); anything else is [`RootError::NotAFile`].
    pub fn open_node(&self, rel: &RelPath) -> Result<File, RootError> {
        if self.hides(rel) {
            return Err(super::hidden_error());
        }
        let fd = self.open_beneath(rel, OFlag::O_RDONLY | OFlag::O_NONBLOCK, Mode::empty())?;
        let file = File::from(fd);
        let meta = file.metadata()?;
        if !meta.is_file() && !meta.is_dir() {
            return Err(RootError::not_a_file());
        }
        Ok(file)
    }
}
