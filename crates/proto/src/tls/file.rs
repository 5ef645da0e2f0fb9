//! A file range under TLS: what replaces `sendfile`. The range is read with
//! `pread` one [`FILE_PIECE`] at a time into a scratch buffer the thread
//! keeps, and handed to rustls to encrypt; only one piece is in memory at once.

use super::FILE_PIECE;
use crate::FileChunk;
use std::cell::RefCell;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

thread_local! {
    /// One read buffer per thread, not per connection: an idle connection
    /// holds none, and a piece is encrypted before the next is read.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; FILE_PIECE]);
}

/// The part of a [`FileChunk`] not yet encrypted.
#[derive(Debug)]
pub(super) struct PendingFile {
    chunk: FileChunk,
    done: u64,
}

impl PendingFile {
    pub(super) fn new(chunk: FileChunk) -> Self {
        Self { chunk, done: 0 }
    }

    /// Whether every byte of the range has been encrypted.
    pub(super) fn is_finished(&self) -> bool {
        self.done >= self.chunk.len
    }

    /// Reads the next piece and writes it to `plaintext` (rustls' writer).
    /// A file that shrank under us is an error: the reply cannot be finished.
    pub(super) fn encrypt_next(&mut self, plaintext: &mut dyn Write) -> io::Result<()> {
        let left = self.chunk.len - self.done;
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(FILE_PIECE);
        SCRATCH.with_borrow_mut(|buf| {
            buf.resize(FILE_PIECE, 0);
            let piece = &mut buf[..want];
            let n = loop {
                match self
                    .chunk
                    .file
                    .read_at(piece, self.chunk.offset + self.done)
                {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being sent",
                ));
            }
            plaintext.write_all(&piece[..n])?;
            self.done += n as u64;
            Ok(())
        })
    }
}
