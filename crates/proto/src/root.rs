//! The served directory: the only code that opens, lists, creates or removes
//! files under a directory a server shares (HTTP, the files protocol, TFTP).
//!
//! Security lives in one place so it can be read, tested and fuzzed in one place.
//! A request's name goes through two gates:
//!
//! ```text
//!   "docs/../../etc"  ──▶ RelPath::parse ──▶ PathError (pure: `..`, `/x`, `\`, NUL…)
//!   "docs/a.txt"      ──▶ RelPath ["docs", "a.txt"]
//!                          │
//!                          ▼
//!   Root (an open directory fd) ── openat2(RESOLVE_BENEATH) or a no-follow walk ──▶ fd
//!                          │            symlink leading out ──▶ RootError::Forbidden
//!                          ▼
//!   File + Metadata, a listing, or an AtomicFile (temp + fsync + rename)
//! ```
//!
//! The first gate ([`RelPath::parse`]) makes names well formed; the second (the
//! [`Root`] methods) makes sure the kernel never leaves the directory while
//! following them, in the same system call that opens the file, so there is no
//! check-then-open race. Nothing here joins strings onto a directory path.
//!
//! Hidden names are the root's policy too, so every service keeps it alike:
//! unless the root was opened [`Root::with_hidden`]`(true)` (`--hidden`), a
//! name with a component starting with `.` (`.env`, `.ssh/authorized_keys`,
//! `a/.git/config`) is [`RootError::NotFound`] for every method — read,
//! metadata, list, create, remove — exactly as if it did not exist, and
//! listings leave such entries out. The root's own upload temporaries
//! (`.netkit-upload-…`) are made and renamed beneath the parent's descriptor,
//! not through a name, so the policy never gets in their way. A symlink with a
//! plain name that points at a hidden file inside the root is served: only
//! whoever can write the served tree can make one, and it says they meant it.
//!
//! Errors come back as [`RootError`], each keeping the [`io::Error`] it came
//! from, and chosen so a protocol can answer without looking at errno:
//!
//! | error                          | HTTP | TFTP error code          |
//! |--------------------------------|------|--------------------------|
//! | [`PathError`] (bad name)       | 400  | 2 access violation       |
//! | `NotFound`, `NotADirectory`    | 404  | 1 file not found         |
//! | `Forbidden`                    | 403  | 2 access violation       |
//! | `IsADirectory`                 | list, or redirect to `dir/` | 2 |
//! | `NotAFile`                     | 403  | 2 access violation       |
//! | `Exists`                       | 409  | 6 file already exists    |
//! | `NoSpace`                      | 507  | 3 disk full              |
//! | `MissingParent`                | 409  | 1 file not found         |
//! | `IntoItself`                   | 403  | 2 access violation       |
//! | `Io`                           | 500  | 0 not defined            |
//!
//! ```
//! use netkit_proto::root::{RelPath, Root, RootError};
//! # let dir = tempfile::tempdir()?;
//! # std::fs::write(dir.path().join("hello.txt"), "hi")?;
//! let root = Root::open(dir.path())?; // once, at start-up; shared by all sessions
//! let name = RelPath::parse("hello.txt")?; // a PathError would be a 400
//! match root.open_file(&name) {
//!     Ok((_file, meta)) => assert_eq!(meta.len(), 2), // send `_file` with sendfile
//!     Err(RootError::IsADirectory(_)) => { /* root.list(&name) */ }
//!     Err(RootError::NotFound(_) | RootError::NotADirectory(_)) => { /* 404 */ }
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Submodules: `path` (the pure name check), `resolve` (opening beneath),
//! `list` (directory listings), `atomic` (uploads), `manage` (make a folder,
//! remove a tree, rename), `copy` (copies that appear complete), `tree`
//! (walking a folder by descriptor).

mod atomic;
mod copy;
mod list;
mod manage;
mod node;
mod path;
mod resolve;
mod sidecar;
mod tree;

pub use atomic::AtomicFile;
pub use copy::CopyOptions;
pub use list::{Entry, EntryKind};
pub use manage::Outcome;
pub use path::{PathError, RelPath, MAX_COMPONENT, MAX_PATH};
pub use resolve::Resolver;
pub use tree::MAX_DEPTH;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{unlinkat, UnlinkatFlags};
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Why a file operation under the root failed. Every variant keeps the
/// underlying [`io::Error`] as its source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootError {
    /// No such file or directory.
    #[error("not found")]
    NotFound(#[source] io::Error),
    /// The name leads outside the root (through a symlink), or permission was
    /// denied.
    #[error("forbidden")]
    Forbidden(#[source] io::Error),
    /// The name is taken and overwriting was not allowed.
    #[error("already exists")]
    Exists(#[source] io::Error),
    /// A file was wanted, the name is a directory.
    #[error("is a directory")]
    IsADirectory(#[source] io::Error),
    /// A directory was wanted (or a path went through a file).
    #[error("not a directory")]
    NotADirectory(#[source] io::Error),
    /// A regular file was wanted, the name is a device, FIFO or socket.
    #[error("not a regular file")]
    NotAFile(#[source] io::Error),
    /// The file system is full, a quota was reached, or a file-size limit.
    #[error("no space left")]
    NoSpace(#[source] io::Error),
    /// The folder a new name would go in does not exist (or is a file).
    #[error("the parent folder does not exist")]
    MissingParent(#[source] io::Error),
    /// A move or copy onto itself, or of a folder into itself.
    #[error("cannot move or copy onto or into itself")]
    IntoItself(#[source] io::Error),
    /// Any other I/O error.
    #[error("I/O error")]
    Io(#[source] io::Error),
}

impl RootError {
    /// The underlying I/O error.
    pub fn io_error(&self) -> &io::Error {
        match self {
            RootError::NotFound(e)
            | RootError::Forbidden(e)
            | RootError::Exists(e)
            | RootError::IsADirectory(e)
            | RootError::NotADirectory(e)
            | RootError::NotAFile(e)
            | RootError::NoSpace(e)
            | RootError::MissingParent(e)
            | RootError::IntoItself(e)
            | RootError::Io(e) => e,
        }
    }

    pub(crate) fn not_a_file() -> Self {
        RootError::NotAFile(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ))
    }
}

impl From<Errno> for RootError {
    fn from(errno: Errno) -> Self {
        let e = io::Error::from(errno);
        match errno {
            Errno::ENOENT => RootError::NotFound(e),
            // EXDEV: the lookup would have left the root; ELOOP: too many links
            // (or a loop), which is also how an escape attempt can end.
            Errno::EXDEV | Errno::ELOOP | Errno::EACCES | Errno::EPERM => RootError::Forbidden(e),
            Errno::EEXIST | Errno::ENOTEMPTY => RootError::Exists(e),
            Errno::EISDIR => RootError::IsADirectory(e),
            Errno::ENOTDIR => RootError::NotADirectory(e),
            Errno::ENXIO | Errno::ENODEV => RootError::NotAFile(e),
            // EFBIG: a file-size limit (RLIMIT_FSIZE) the upload would pass.
            Errno::ENOSPC | Errno::EDQUOT | Errno::EFBIG => RootError::NoSpace(e),
            _ => RootError::Io(e),
        }
    }
}

impl From<io::Error> for RootError {
    fn from(e: io::Error) -> Self {
        match e.raw_os_error() {
            Some(code) => RootError::from(Errno::from_raw(code)),
            None => RootError::Io(e),
        }
    }
}

impl From<RootError> for io::Error {
    fn from(e: RootError) -> Self {
        match e {
            RootError::NotFound(e)
            | RootError::Forbidden(e)
            | RootError::Exists(e)
            | RootError::IsADirectory(e)
            | RootError::NotADirectory(e)
            | RootError::NotAFile(e)
            | RootError::NoSpace(e)
            | RootError::MissingParent(e)
            | RootError::IntoItself(e)
            | RootError::Io(e) => e,
        }
    }
}

/// A served directory, held open by file descriptor.
///
/// Holding a descriptor (not a path) means a rename or a symlink swap of the
/// directory's own path after start-up cannot redirect the server. `Root` is
/// `Send + Sync` and every method takes `&self`: one is shared by all workers.
#[derive(Debug)]
pub struct Root {
    /// Opened `O_RDONLY | O_DIRECTORY` (not `O_PATH`): listing and `fsync` of
    /// the root itself need a readable descriptor.
    dir: OwnedFd,
    resolver: Resolver,
    /// Serve, list and write hidden names (`--hidden`); off by default.
    hidden: bool,
}

impl Root {
    /// Opens `dir`, using `openat2` where the kernel has it and the
    /// component walk otherwise.
    pub fn open(dir: &Path) -> io::Result<Root> {
        let fd = open_dir(dir)?;
        let resolver = if resolve::openat2_available(fd.as_fd()) {
            Resolver::Openat2
        } else {
            Resolver::Walk
        };
        Ok(Root {
            dir: fd,
            resolver,
            hidden: false,
        })
    }

    /// Opens `dir` with a chosen resolver (tests run everything under both).
    /// Asking for [`Resolver::Openat2`] where it is missing is `Unsupported`.
    pub fn open_with(dir: &Path, resolver: Resolver) -> io::Result<Root> {
        let fd = open_dir(dir)?;
        if resolver == Resolver::Openat2 && !resolve::openat2_available(fd.as_fd()) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "openat2 is not available on this kernel",
            ));
        }
        Ok(Root {
            dir: fd,
            resolver,
            hidden: false,
        })
    }

    /// Sets the hidden-names policy, once, at start-up: `true` serves, lists
    /// and writes names with a component starting with `.` (`--hidden`);
    /// `false` (the default) answers them [`RootError::NotFound`].
    pub fn with_hidden(mut self, hidden: bool) -> Root {
        self.hidden = hidden;
        self
    }

    /// Whether hidden names are served (`--hidden`).
    pub fn serves_hidden(&self) -> bool {
        self.hidden
    }

    /// Whether the policy refuses `rel` (it has a hidden component and
    /// `--hidden` is off).
    pub fn hides(&self, rel: &RelPath) -> bool {
        !self.hidden && rel.is_hidden()
    }

    /// The resolver in use.
    pub fn resolver(&self) -> Resolver {
        self.resolver
    }

    /// The served directory's own name (where its descriptor leads now), for
    /// what is named after it (the root's archive); `None` for `/` or when
    /// unknown.
    pub fn dir_name(&self) -> Option<String> {
        use std::os::fd::AsRawFd;
        let path = std::fs::read_link(format!("/proc/self/fd/{}", self.dir.as_raw_fd())).ok()?;
        path.file_name()?.to_str().map(str::to_owned)
    }

    /// Opens `rel` beneath the root; every other method goes through here (or
    /// through [`Root::open_parent`]), so a hidden name is refused here.
    fn open_beneath(&self, rel: &RelPath, flags: OFlag, mode: Mode) -> Result<OwnedFd, RootError> {
        if self.hides(rel) {
            return Err(hidden_error());
        }
        self.open_beneath_any(rel, flags, mode)
    }

    /// [`Root::open_beneath`] without the hidden-names policy, for the root's
    /// own housekeeping (the start-up sweep of temporaries).
    fn open_beneath_any(
        &self,
        rel: &RelPath,
        flags: OFlag,
        mode: Mode,
    ) -> Result<OwnedFd, RootError> {
        Ok(resolve::open_beneath(
            self.dir.as_fd(),
            self.resolver,
            rel,
            flags,
            mode,
        )?)
    }

    /// Opens a regular file for reading, with its metadata (size for
    /// `Content-Length`, mtime for `Last-Modified`).
    ///
    /// A directory is [`RootError::IsADirectory`] (HTTP then lists or redirects);
    /// a FIFO, socket or device is [`RootError::NotAFile`]. The open uses
    /// `O_NONBLOCK` so that a FIFO planted in the directory cannot block the
    /// server waiting for a writer; it is cleared again for the regular file.
    /// (A device is refused only after it was opened, and opening some devices
    /// has effects of its own: serve directories, not `/dev`.)
    pub fn open_file(&self, rel: &RelPath) -> Result<(File, Metadata), RootError> {
        let fd = self.open_beneath(rel, OFlag::O_RDONLY | OFlag::O_NONBLOCK, Mode::empty())?;
        let file = File::from(fd);
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(RootError::from(Errno::EISDIR));
        }
        if !meta.is_file() {
            return Err(RootError::not_a_file());
        }
        fcntl(file.as_fd(), FcntlArg::F_SETFL(OFlag::empty()))?;
        Ok((file, meta))
    }

    /// The metadata of `rel`, following symlinks only while they stay beneath the
    /// root. Opens with `O_PATH`, so it reads nothing and never blocks.
    pub fn metadata(&self, rel: &RelPath) -> Result<Metadata, RootError> {
        let fd = self.open_beneath(rel, OFlag::O_PATH, Mode::empty())?;
        Ok(File::from(fd).metadata()?)
    }

    /// Removes a file. A symlink is removed itself, never its
    /// target; a directory is [`RootError::IsADirectory`].
    pub fn remove_file(&self, rel: &RelPath) -> Result<(), RootError> {
        let (parent, name) = self.open_parent(rel)?;
        unlinkat(&parent, name, UnlinkatFlags::NoRemoveDir)?;
        Ok(())
    }

    /// Opens the directory containing `rel` (resolved beneath the root) and
    /// returns it with `rel`'s last component, for the `*at` calls that act on a
    /// name rather than follow it (unlink, rename, create).
    fn open_parent<'a>(&self, rel: &'a RelPath) -> Result<(OwnedFd, &'a str), RootError> {
        let (Some(name), Some(parent)) = (rel.file_name(), rel.parent()) else {
            // The root itself has no name to create or remove.
            return Err(RootError::from(Errno::EISDIR));
        };
        // The parent may be plain while the name is not (`.env`).
        if self.hides(rel) {
            return Err(hidden_error());
        }
        let dir =
            self.open_beneath(&parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty())?;
        Ok((dir, name))
    }
}

/// What a hidden name answers: the error of a name that does not exist, so
/// a client cannot tell a hidden file from a missing one.
fn hidden_error() -> RootError {
    RootError::NotFound(io::Error::from(Errno::ENOENT))
}

fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    Ok(nix::fcntl::open(dir, flags, Mode::empty())?)
}
