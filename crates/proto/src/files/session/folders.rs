//! The commands that see folders: `LIST <folder>`, `MKDIR`, `DELETE` and
//! `MOVE`, each behind the same checks as PUT (`--upload`, `--overwrite`,
//! the access rules), answered against the root.

use super::gate::Listing;
use super::FilesSession;
use crate::files::errors;
use crate::files::wire::{self, ErrCode, ListEntry};
use crate::root::{EntryKind, RelPath, RootError};
use std::time::UNIX_EPOCH;

impl FilesSession {
    /// `LIST <folder>`: its files and folders (folders as `name/`); `/` and
    /// `.` are the root.
    pub(super) fn list_dir(&mut self, folder: &str) {
        let rel = match errors::folder_name(folder) {
            Ok(rel) => rel,
            Err((code, message)) => return self.err(code, &message),
        };
        let path = rel.to_string();
        let listing = match self.gate.listing_of(&path, folder) {
            Ok(listing) => listing,
            Err((code, message)) => return self.err(code, &message),
        };
        let entries = match self.root.list(&rel) {
            Ok(entries) => entries,
            Err(e) => return self.root_err(&e, folder),
        };
        let shown: Vec<ListEntry> = entries
            .into_iter()
            .filter_map(|e| {
                let full = if path.is_empty() {
                    e.name.clone()
                } else {
                    format!("{path}/{}", e.name)
                };
                let all = matches!(listing, Listing::All);
                let name = match e.kind {
                    EntryKind::File if all || self.gate.shows(&full) => e.name,
                    EntryKind::Dir if all || self.gate.shows_folder(&full) => e.name + "/",
                    _ => return None,
                };
                Some(ListEntry {
                    size: if name.ends_with('/') { 0 } else { e.size },
                    mtime: e
                        .modified
                        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_secs()),
                    name,
                })
            })
            .collect();
        wire::emit_ok(&mut self.out, shown.len());
        self.log.finish(200, 0);
        for entry in &shown {
            wire::emit_entry(&mut self.out, entry);
        }
    }

    /// The checks every write runs first: uploads on, a valid name, and the
    /// access rules; on failure replies and returns `None`.
    fn writable(&mut self, name: &str) -> Option<RelPath> {
        if !self.config.upload {
            self.err(
                ErrCode::Forbidden,
                "writing is off (start the server with --upload)",
            );
            return None;
        }
        let rel = self.name(name)?;
        self.allowed(crate::access::Op::Write, &rel, name)
            .then_some(rel)
    }
}

impl FilesSession {
    /// `MKDIR <name>`: a new folder in an existing one.
    pub(super) fn mkdir(&mut self, name: &str) {
        let Some(rel) = self.writable(name) else {
            return;
        };
        match self.root.make_dir(&rel) {
            Ok(()) => self.ok(),
            Err(e) => self.root_err(&e, name),
        }
    }

    /// `DELETE <name>`: a file, or a folder with everything in it. Without
    /// `--overwrite` a share only grows: 403.
    pub(super) fn delete(&mut self, name: &str) {
        if self.config.upload && !self.config.overwrite {
            return self.err(
                ErrCode::Forbidden,
                "deleting is off (start the server with --overwrite)",
            );
        }
        let Some(rel) = self.writable(name) else {
            return;
        };
        match self.root.remove_tree(&rel) {
            Ok(()) => self.ok(),
            Err(e) => self.root_err(&e, name),
        }
    }

    /// `MOVE <from>\t<to>`: rename or move a file or folder. Without
    /// `--overwrite` a share only grows: an existing `<to>` is 409, any other
    /// move 403 (as HTTP MOVE's 412 and 403); with it, `<to>` is replaced.
    pub(super) fn move_to(&mut self, from: &str, to: &str) {
        let Some(source) = self.writable(from) else {
            return;
        };
        let Some(target) = self.writable(to) else {
            return;
        };
        if !self.config.overwrite {
            // A share only grows: a move takes a name away (as HTTP MOVE).
            return if self.root.metadata(&target).is_ok() {
                let msg = format!("{}: already exists", wire::printable(to, 256));
                self.err(ErrCode::Exists, &msg)
            } else {
                self.err(
                    ErrCode::Forbidden,
                    "moving is off (start the server with --overwrite)",
                )
            };
        }
        match self.root.rename(&source, &target, self.config.overwrite) {
            Ok(_) => self.ok(),
            // A missing source is named as such; the rest is about the target.
            Err(e @ RootError::NotFound(_)) => self.root_err(&e, from),
            Err(e) => self.root_err(&e, to),
        }
    }

    fn ok(&mut self) {
        self.out.extend_from_slice(b"OK\n");
        self.log.finish(200, 0);
    }
}
