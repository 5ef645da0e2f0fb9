//! The plan of an archive: walking the folder through the [`Root`] API (so
//! hidden names stay out unless `--hidden`, and nothing outside the root is
//! ever reached) into the ordered entries the layout needs — names, sizes,
//! times — before the first byte is sent.
//!
//! Order: depth first, each folder's names sorted (the root lists them so),
//! a folder's own entry before what it holds; the archive is then a pure
//! function of the tree, which is what lets a `Range` request resume it.
//! Left out: symlinks that lead out of the root or dangle, devices, FIFOs and
//! sockets, and folders reached through a symlink (a link to an ancestor
//! would otherwise loop). A file reached through a symlink that stays inside
//! is included with what it points to. A subfolder that cannot be listed is
//! included empty.
//!
//! The plan is held in memory (one name and three numbers per entry), so it
//! is bounded: at most [`MAX_ENTRIES`] entries and [`MAX_NAME_BYTES`] bytes
//! of names, about 30 MiB at worst; a bigger folder is refused (507).

use super::layout::Item;
use crate::root::{Entry, EntryKind, RelPath, Root, RootError};
use std::time::{SystemTime, UNIX_EPOCH};

/// Entries (files and folders) one archive may hold.
pub(crate) const MAX_ENTRIES: usize = 200_000;
/// Bytes of entry names one archive may hold.
pub(crate) const MAX_NAME_BYTES: usize = 16 << 20;

/// Why there is no plan.
#[derive(Debug)]
pub(crate) enum PlanError {
    /// The folder cannot be read (missing, hidden, a file, forbidden).
    Root(RootError),
    /// Past [`MAX_ENTRIES`] or [`MAX_NAME_BYTES`].
    TooBig,
}

/// The entries of the archive of folder `base`, each name starting with
/// `prefix` (the folder's own name and `/`, its first entry).
pub(crate) fn walk(root: &Root, base: &RelPath, prefix: &str) -> Result<Vec<Item>, PlanError> {
    walk_within(root, base, prefix, MAX_ENTRIES, MAX_NAME_BYTES)
}

/// [`walk`] with the bounds given (tests use small ones).
pub(crate) fn walk_within(
    root: &Root,
    base: &RelPath,
    prefix: &str,
    max_entries: usize,
    max_name_bytes: usize,
) -> Result<Vec<Item>, PlanError> {
    let top = root.list(base).map_err(PlanError::Root)?;
    let mut items = vec![Item {
        name: prefix.into(),
        size: 0,
        mtime: root.metadata(base).map_or(0, |m| unix(m.modified().ok())),
    }];
    let mut names = prefix.len();
    // Each open folder: its path, its archive name (with `/`), what is left.
    let mut stack = vec![(base.clone(), prefix.to_owned(), top.into_iter())];
    while let Some((rel, dir_name, rest)) = stack.last_mut() {
        let Some(entry) = rest.next() else {
            stack.pop();
            continue;
        };
        let Entry {
            name,
            kind,
            symlink,
            size,
            modified,
        } = entry;
        let (full, size) = match kind {
            EntryKind::File => (format!("{dir_name}{name}"), size),
            EntryKind::Dir if !symlink => (format!("{dir_name}{name}/"), 0),
            _ => continue,
        };
        names += full.len();
        if items.len() >= max_entries || names > max_name_bytes {
            return Err(PlanError::TooBig);
        }
        if kind == EntryKind::Dir {
            let listed = rel
                .join(&name)
                .ok()
                .and_then(|sub| Some((root.list(&sub).ok()?, sub)));
            if let Some((list, sub)) = listed {
                stack.push((sub, full.clone(), list.into_iter()));
            }
        }
        items.push(Item {
            name: full.into(),
            size,
            mtime: unix(modified),
        });
    }
    Ok(items)
}

/// Unix seconds of a time (0 when unknown, negative before 1970).
pub(crate) fn unix(t: Option<SystemTime>) -> i64 {
    match t {
        Some(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        },
        None => 0,
    }
}
