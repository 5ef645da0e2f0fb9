//! The commands that see folders: `LIST <folder>`, `MKDIR`, `DELETE` and
//! `MOVE`, each behind the same checks as PUT (`--upload`, `--overwrite`,
//! the access rules), answered against the root.

use super::gate::Listing;
use super::FilesSession;
use crate::files::errors;
use crate::files::wire::{self, ListEntry};
use crate::root::EntryKind;
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
}
