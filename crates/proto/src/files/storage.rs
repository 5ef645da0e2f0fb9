//! What an upload asks of the storage beside writing: whether it has room,
//! whether an error means it is full, and early write-back so the final fsync
//! has little left to do.

use crate::root::AtomicFile;
use std::io;

/// ENOSPC, EDQUOT, and EFBIG (a file-size limit such as RLIMIT_FSIZE): the
/// storage cannot take the upload.
pub(super) fn is_no_space(e: &io::Error) -> bool {
    use nix::errno::Errno;
    matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(Errno::ENOSPC | Errno::EDQUOT | Errno::EFBIG)
    )
}

/// Asks the kernel to start writing a range of the file to disk, without
/// waiting (`sync_file_range(SYNC_FILE_RANGE_WRITE)`). Only a hint: the
/// commit's fsync is what makes the upload durable, so failures are ignored.
pub(super) fn start_write_back(file: &std::fs::File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
            return;
        };
        // SAFETY: a plain system call on a descriptor we own; no memory is passed.
        unsafe {
            nix::libc::sync_file_range(
                file.as_raw_fd(),
                offset,
                len,
                nix::libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

/// Bytes an unprivileged writer may still use on the upload's file system.
pub(super) fn free_space(file: &AtomicFile) -> Option<u64> {
    let st = nix::sys::statvfs::fstatvfs(file.file()).ok()?;
    #[allow(clippy::unnecessary_cast)] // the field types differ between targets
    Some((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}
