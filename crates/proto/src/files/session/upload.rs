//! A PUT body as it arrives: each slice written to the upload's temporary
//! file at once, hashed, handed to write-back every [`WRITE_BEHIND`] bytes,
//! and committed (digest, fsync, rename) after the last byte.

use super::{FilesSession, State};
use crate::files::digest::Hashing;
use crate::files::errors::hex;
use crate::files::storage::start_write_back;
use crate::files::wire;
use crate::root::AtomicFile;
use std::io::Write;

#[derive(Debug)]
pub(super) struct Upload {
    file: AtomicFile,
    remaining: u64,
    hasher: Hashing,
    /// Bytes written so far, and the first not yet handed to write-back.
    written: u64,
    flushed: u64,
}

/// Write-back of an upload is started every this many bytes, so the disk
/// works while the network does and the final fsync has little left to do.
const WRITE_BEHIND: u64 = 8 << 20;

impl Upload {
    /// An upload of `size` bytes to `file`, hashed by `hasher`.
    pub(super) fn new(file: AtomicFile, size: u64, hasher: Hashing) -> Upload {
        Upload {
            file,
            remaining: size,
            hasher,
            written: 0,
            flushed: 0,
        }
    }

    /// Bytes of the body written so far.
    pub(super) fn written(&self) -> u64 {
        self.written
    }
}

impl FilesSession {
    /// Takes body bytes; returns how many were used.
    pub(super) fn receive(&mut self, mut upload: Box<Upload>, input: &[u8]) -> usize {
        let take = input
            .len()
            .min(usize::try_from(upload.remaining).unwrap_or(usize::MAX));
        let body = &input[..take];
        upload.remaining -= take as u64;
        if let Err(e) = upload.file.write_all(body) {
            // The temporary goes with `upload`; the rest of the body is skipped.
            let remaining = upload.remaining;
            drop(upload);
            self.io_err(&e);
            self.state = State::Discarding { remaining };
            self.after_body();
            return take;
        }
        upload.written += take as u64;
        upload.hasher.update(body, upload.written);
        if upload.written - upload.flushed >= WRITE_BEHIND {
            start_write_back(
                upload.file.file(),
                upload.flushed,
                upload.written - upload.flushed,
            );
            upload.flushed = upload.written;
        }
        if upload.remaining == 0 {
            self.state = State::Commands;
            self.finish(*upload);
        } else {
            self.state = State::Receiving(upload);
        }
        take
    }

    pub(super) fn finish(&mut self, upload: Upload) {
        // A pool may still be hashing the tail: flush the data to disk
        // meanwhile, so the commit's fsync finds little left to do. A failure
        // here fails the upload (a second fsync would not report it again).
        if upload.hasher.is_pooled() {
            if let Err(e) = upload.file.file().sync_data() {
                drop(upload);
                self.io_err(&e);
                return self.after_body();
            }
        }
        // The digest before the commit: a file whose digest cannot be told
        // is not kept.
        match upload.hasher.finish(upload.written) {
            Ok(digest) => match upload.file.commit() {
                Ok(()) => {
                    wire::emit_ok(&mut self.out, hex(&digest));
                    self.log.finish(200, upload.written);
                }
                Err(e) => self.root_err(&e, ""),
            },
            Err(e) => {
                drop(upload.file);
                self.io_err(&e);
            }
        }
        self.after_body();
    }
}
