//! What each command does: AUTH, LIST, GET, SUM and PUT answered against
//! the access rules and the root, and the error replies (each with its access-log line). The state
//! machine that decides when a line is a command is `session.rs`.

use super::gate::Listing;
use super::upload::Upload;
use super::{FilesSession, State};
use crate::access::Op;
use crate::files::digest::Hashing;
use crate::files::errors::{self, hex};
use crate::files::storage::free_space;
use crate::files::sum::{Step, Sum};
use crate::files::wire::{self, Command, ErrCode, ListEntry};
use crate::root::{EntryKind, RelPath, RootError};
use crate::FileChunk;
use std::io;
use std::sync::Arc;
use std::time::{Instant, UNIX_EPOCH};

impl FilesSession {
    /// Handles one command line. An address that failed AUTH too often gets
    /// `ERR 429` for everything but QUIT until its minute ends.
    pub(super) fn command(&mut self, now: Instant, line: &[u8]) {
        let parsed = Command::parse(line);
        if self.log.is_on() {
            self.log.start(crate::files::log_request(&parsed, line));
        }
        if !matches!(parsed, Ok(Command::Quit)) {
            if let Some((code, message)) = self.gate.refused(now) {
                return self.err(code, &message);
            }
        }
        match parsed {
            Ok(Command::Auth { user, password }) => match self.gate.auth(now, &user, &password.0) {
                Ok(()) => {
                    self.out.extend_from_slice(b"OK\n");
                    self.log.finish(200, 0);
                }
                Err((code, message)) => self.err(code, &message),
            },
            Ok(Command::List) => self.list(),
            Ok(Command::Get { name, offset }) => self.get(&name, offset),
            Ok(Command::Put { name, size }) => self.put(&name, size),
            Ok(Command::Sum { name, length }) => self.sum(&name, length),
            Ok(Command::ListDir { folder }) => self.list_dir(&folder),
            Ok(Command::Mkdir { name }) => self.mkdir(&name),
            Ok(Command::Delete { name }) => self.delete(&name),
            Ok(Command::Move { from, to }) => self.move_to(&from, &to),
            Ok(Command::Quit) => {
                self.out.extend_from_slice(b"BYE\n");
                self.state = State::Closing;
            }
            Err(e) => self.err(ErrCode::BadRequest, &e.to_string()),
        }
    }

    pub(super) fn err(&mut self, code: ErrCode, message: &str) {
        wire::emit_err(&mut self.out, code, message);
        self.log.finish(code.code(), 0);
    }

    fn list(&mut self) {
        let listing = match self.gate.listing() {
            Ok(listing) => listing,
            Err((code, message)) => return self.err(code, &message),
        };
        let entries = match self.root.list(&RelPath::root()) {
            Ok(entries) => entries,
            Err(e) => return self.root_err(&e, ""),
        };
        let files: Vec<ListEntry> = entries
            .into_iter()
            .filter(|e| e.kind == EntryKind::File)
            .filter(|e| matches!(listing, Listing::All) || self.gate.shows(&e.name))
            .map(|e| ListEntry {
                size: e.size,
                mtime: e
                    .modified
                    .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs()),
                name: e.name,
            })
            .collect();
        wire::emit_ok(&mut self.out, files.len());
        self.log.finish(200, 0);
        for entry in &files {
            wire::emit_entry(&mut self.out, entry);
        }
    }

    fn get(&mut self, name: &str, offset: u64) {
        let Some(rel) = self.name(name) else { return };
        if !self.allowed(Op::Read, &rel, name) {
            return;
        }
        let (file, meta) = match self.root.open_file(&rel) {
            Ok(opened) => opened,
            Err(e) => return self.root_err(&e, name),
        };
        let size = meta.len();
        if offset > size {
            let msg = format!("offset {offset} is past the end of {rel} ({size} bytes)");
            return self.err(ErrCode::BadRequest, &msg);
        }
        let len = size - offset;
        wire::emit_ok(&mut self.out, len);
        self.log.finish(200, len);
        if len > 0 {
            let chunk = FileChunk {
                file: Arc::new(file),
                offset,
                len,
            };
            self.files.push_back((std::mem::take(&mut self.out), chunk));
        }
    }

    fn sum(&mut self, name: &str, length: Option<u64>) {
        let Some(rel) = self.name(name) else { return };
        if !self.allowed(Op::Read, &rel, name) {
            return;
        }
        let (file, meta) = match self.root.open_file(&rel) {
            Ok(opened) => opened,
            Err(e) => return self.root_err(&e, name),
        };
        let size = meta.len();
        let length = length.unwrap_or(size);
        if length > size {
            let msg = format!("length {length} is past the end of {rel} ({size} bytes)");
            return self.err(ErrCode::BadRequest, &msg);
        }
        self.step_sum(Sum::new(file, length));
    }

    /// Hashes the next slice of a SUM: answers if that was the last, else
    /// asks the driver to come back (with no waker, as when a test drives
    /// the session by hand, the rest is hashed now).
    pub(super) fn step_sum(&mut self, mut sum: Box<Sum>) {
        loop {
            match sum.step(&self.sum_buffers) {
                Ok(Step::Done(digest)) => return wire::emit_ok(&mut self.out, hex(&digest)),
                Ok(Step::More(more)) => match &self.waker {
                    Some(waker) => {
                        waker.wake_by_ref();
                        self.sum = Some(more);
                        return;
                    }
                    None => sum = more,
                },
                Err(e) => return self.err(ErrCode::Internal, &format!("hashing failed: {e}")),
            }
        }
    }

    fn put(&mut self, name: &str, size: u64) {
        if !self.config.upload {
            return self.err(
                ErrCode::Forbidden,
                "uploads are off (start the server with --upload)",
            );
        }
        let Some(rel) = self.name(name) else { return };
        if !self.allowed(Op::Write, &rel, name) {
            return;
        }
        if let Some(max) = self.config.max_upload.filter(|&max| size > max) {
            let msg = format!("{size} bytes is more than this server accepts ({max})");
            return self.err(ErrCode::TooLarge, &msg);
        }
        let file = match self.root.create_atomic(&rel, self.config.overwrite) {
            Ok(file) => file,
            Err(e) => return self.root_err(&e, name),
        };
        if free_space(&file).is_some_and(|free| free < size) {
            let msg = format!("not enough space for {size} bytes");
            return self.err(ErrCode::NoSpace, &msg);
        }
        self.out.extend_from_slice(b"READY\n");
        let hasher = Hashing::start(self.pool.as_deref(), file.file(), size);
        let upload = Upload::new(file, size, hasher);
        if size == 0 {
            self.finish(upload);
        } else {
            self.state = State::Receiving(Box::new(upload));
        }
    }

    /// Whether the session may do `op` to `rel`; if not, replies so.
    pub(super) fn allowed(&mut self, op: Op, rel: &RelPath, name: &str) -> bool {
        match self.gate.check(op, rel, name) {
            Ok(()) => true,
            Err((code, message)) => {
                self.err(code, &message);
                false
            }
        }
    }

    /// Validates a client name; on failure replies and returns `None`.
    pub(super) fn name(&mut self, name: &str) -> Option<RelPath> {
        errors::file_name(name)
            .map_err(|(code, msg)| self.err(code, &msg))
            .ok()
    }

    pub(super) fn root_err(&mut self, e: &RootError, name: &str) {
        let (code, msg) = errors::root_error(e, name);
        self.err(code, &msg);
    }

    pub(super) fn io_err(&mut self, e: &io::Error) {
        let (code, msg) = errors::upload_error(e);
        self.err(code, &msg);
    }
}
