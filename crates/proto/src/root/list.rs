//! Directory listings that never look outside the root.
//!
//! A listing reads names with `readdir` on a descriptor opened beneath the root,
//! and describes each entry with `fstatat(AT_SYMLINK_NOFOLLOW)` relative to that
//! descriptor, so a symlink is never followed by accident. A symlink is then
//! followed on purpose only through the same beneath-the-root open as any request:
//! one that stays inside is shown as what it points to; one that leads out (or
//! dangles) is shown as [`EntryKind::Unreachable`] with the link's own size and
//! time, and nothing outside is ever stat'ed.
//!
//! Left out: `.` and `..`, temporary uploads, names a client could not ask
//! for anyway (not UTF-8, control characters, backslashes — see
//! [`RelPath::parse`]), and hidden names (a leading `.`) unless the root serves
//! them ([`Root::with_hidden`]).

use super::path::RelPath;
use super::{Root, RootError};
use nix::dir::Dir;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstatat, FileStat, Mode, SFlag};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a directory entry is, after following symlinks beneath the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A device, FIFO or socket: listed, but [`Root::open_file`] refuses it.
    Other,
    /// A symlink that leads outside the root, loops, or dangles.
    Unreachable,
}

/// One name in a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name within its directory (never contains `/`).
    pub name: String,
    /// What it is, symlinks followed beneath the root.
    pub kind: EntryKind,
    /// Whether the name itself is a symlink.
    pub symlink: bool,
    /// Size in bytes of the file it resolves to (of the link, if unreachable).
    pub size: u64,
    /// Last modification time, when representable.
    pub modified: Option<SystemTime>,
}

impl Root {
    /// Lists the directory `rel`, sorted by name.
    ///
    /// A file is [`RootError::NotADirectory`]. A dangling or escaping symlink
    /// in the directory is listed as [`EntryKind::Unreachable`], not an error.
    pub fn list(&self, rel: &RelPath) -> Result<Vec<Entry>, RootError> {
        let fd = self.open_beneath(rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty())?;
        let mut dir = Dir::from_fd(fd)?;
        let mut names = Vec::new();
        for entry in dir.iter() {
            let entry = entry?;
            let Ok(name) = entry.file_name().to_str() else {
                continue; // not UTF-8: no client could name it
            };
            if name == "." || name == ".." || (!self.serves_hidden() && name.starts_with('.')) {
                continue;
            }
            names.push(name.to_owned());
        }
        let mut entries = Vec::with_capacity(names.len());
        for name in names {
            let Ok(path) = rel.join(&name) else {
                continue; // reserved or unrequestable, see the module doc
            };
            // The name may vanish between readdir and stat; that is not an error.
            let st = match fstatat(&dir, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(nix::errno::Errno::ENOENT) => continue,
                Err(e) => return Err(e.into()),
            };
            entries.push(self.describe(name, &path, &st));
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn describe(&self, name: String, path: &RelPath, st: &FileStat) -> Entry {
        let own = Entry {
            name,
            kind: kind_of(st.st_mode),
            symlink: false,
            size: u64::try_from(st.st_size).unwrap_or(0),
            // time_t is 32 bits on some targets, so widen explicitly.
            #[allow(clippy::unnecessary_cast)]
            modified: mtime(st.st_mtime as i64, st.st_mtime_nsec as i64),
        };
        if own.kind != EntryKind::Unreachable {
            return own;
        }
        // A symlink: resolve it exactly as a request for it would be resolved.
        match self.metadata(path) {
            Ok(meta) => Entry {
                kind: if meta.is_dir() {
                    EntryKind::Dir
                } else if meta.is_file() {
                    EntryKind::File
                } else {
                    EntryKind::Other
                },
                symlink: true,
                size: meta.len(),
                modified: meta.modified().ok(),
                ..own
            },
            Err(_) => Entry {
                symlink: true,
                ..own
            },
        }
    }
}

/// The kind of a non-followed entry; a symlink starts as `Unreachable` until it
/// is resolved beneath the root.
fn kind_of(mode: nix::libc::mode_t) -> EntryKind {
    let kind = SFlag::from_bits_truncate(mode) & SFlag::S_IFMT;
    if kind == SFlag::S_IFREG {
        EntryKind::File
    } else if kind == SFlag::S_IFDIR {
        EntryKind::Dir
    } else if kind == SFlag::S_IFLNK {
        EntryKind::Unreachable
    } else {
        EntryKind::Other
    }
}

fn mtime(secs: i64, nanos: i64) -> Option<SystemTime> {
    let nanos = u32::try_from(nanos).ok()?;
    match u64::try_from(secs) {
        Ok(secs) => UNIX_EPOCH.checked_add(Duration::new(secs, nanos)),
        Err(_) => UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))?
            .checked_add(Duration::from_nanos(nanos.into())),
    }
}
