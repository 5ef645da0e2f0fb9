//! Sending an archive: the bytes of `[start, end)` produced piece by piece
//! as the connection drains, never the whole archive in memory. Headers are
//! written into the session's output; file data goes out as [`FileChunk`]s
//! (sendfile) of at most [`PIECE`] bytes, small pieces inline.
//!
//! A file's CRC, when not known already (the cache, or computed before the
//! reply for a range), is computed from the data as it is sent: each piece
//! is read once for the CRC before sendfile sends it from the page cache. A
//! piece is at most [`PIECE`] bytes, so one call never blocks for long.
//!
//! A file that changed since the plan: if it grew, its first planned bytes
//! are sent (the framing and the CRC agree with what was sent); if it shrank,
//! vanished or cannot be opened, the connection is aborted ([`Next::Abort`]):
//! the client sees a short body, never an archive with made-up bytes.

use super::archive::{Archive, Part, Piece};
use super::crc::{CrcCache, Key, BUF};
use crate::http::response::INLINE_MAX;
use crate::http::Shared;
use crate::root::RelPath;
use crate::FileChunk;
use crc32fast::Hasher;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// The largest file range handed to sendfile at once (each is read for its
/// CRC first, so this bounds the time of one call).
pub(crate) const PIECE: u64 = 1 << 20;

/// What [`Stream::fill`] did.
#[derive(Debug)]
pub(crate) enum Next {
    /// Bytes were appended (or nothing yet); call again.
    More,
    /// Bytes were appended, then this file range must follow them.
    Chunk(FileChunk),
    /// The range is complete; nothing was appended.
    Done,
    /// A file changed under us: close the connection now.
    Abort,
}

/// Where the archive's files are found.
pub(crate) struct Source {
    pub(crate) shared: Arc<Shared>,
    /// The folder being archived.
    pub(crate) base: RelPath,
    /// Bytes of each entry name before its path inside `base` (`folder/`).
    pub(crate) prefix: usize,
}

impl Source {
    /// Opens entry `i`'s file; `None` if it is gone or shorter than planned.
    pub(crate) fn open(&self, archive: &Archive, i: usize) -> Option<(Arc<File>, Key)> {
        let item = &archive.items[i];
        let rel = self.base.join(item.name.get(self.prefix..)?).ok()?;
        let (file, meta) = self.shared.root.open_file(&rel).ok()?;
        (meta.len() >= item.size).then(|| (Arc::new(file), Key::of(&meta)))
    }

    pub(crate) fn cache(&self) -> &CrcCache {
        &self.shared.zip_crcs
    }
}

/// The file whose data is being sent.
struct Current {
    index: usize,
    file: Arc<File>,
    key: Key,
    /// Hashing what is sent (the data is sent from its first byte and the
    /// CRC was not known).
    hasher: Option<Hasher>,
}

/// An archive being sent.
pub(crate) struct Stream {
    source: Source,
    archive: Archive,
    crcs: Vec<Option<u32>>,
    piece: Piece,
    pos: u64,
    end: u64,
    current: Option<Current>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("pos", &self.pos)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl Stream {
    /// Sends `[start, end)` of `archive`; `crcs` holds what is known (every
    /// CRC the range needs but does not send the data of).
    pub(crate) fn new(
        source: Source,
        archive: Archive,
        crcs: Vec<Option<u32>>,
        start: u64,
        end: u64,
    ) -> Stream {
        let piece = archive.piece_at(start.min(archive.len.saturating_sub(1)));
        let end = end.min(archive.len);
        Stream {
            source,
            archive,
            crcs,
            piece,
            pos: start,
            end,
            current: None,
            buf: Vec::new(),
        }
    }

    /// Appends the next bytes to `out` until it holds `limit` bytes or a file
    /// range must follow.
    pub(crate) fn fill(&mut self, out: &mut Vec<u8>, limit: usize) -> Next {
        let before = out.len();
        loop {
            if self.pos >= self.end {
                return if out.len() > before {
                    Next::More
                } else {
                    Next::Done
                };
            }
            if out.len() >= limit {
                return Next::More;
            }
            if self.piece.end() <= self.pos {
                self.piece = self.archive.after(&self.piece);
                continue;
            }
            let crc = match self.piece.part {
                Part::Data(i) => match self.data(i, out) {
                    Some(Some(chunk)) => return Next::Chunk(chunk),
                    Some(None) => continue,
                    None => return Next::Abort,
                },
                Part::Descriptor(i) | Part::Central(i, _) => match self.crc(i) {
                    Some(crc) => crc,
                    None => return Next::Abort, // a CRC the caller should have found
                },
                Part::Local(_) | Part::End => 0,
            };
            let at = out.len();
            self.archive.write(self.piece.part, crc, out);
            let skip = (self.pos - self.piece.start) as usize;
            let keep = (self.end.min(self.piece.end()) - self.pos) as usize;
            out.copy_within(at + skip..at + skip + keep, at);
            out.truncate(at + keep);
            self.pos += keep as u64;
        }
    }

    fn crc(&self, i: usize) -> Option<u32> {
        let item = &self.archive.items[i];
        if item.is_dir() || item.size == 0 {
            return Some(0);
        }
        self.crcs[i]
    }

    /// Sends the next piece of entry `i`'s data: `Some(Some(chunk))` for
    /// sendfile, `Some(None)` when it went inline, `None` to abort.
    fn data(&mut self, i: usize, out: &mut Vec<u8>) -> Option<Option<FileChunk>> {
        let offset = self.pos - self.piece.start;
        if self.current.as_ref().map(|c| c.index) != Some(i) {
            let (file, key) = self.source.open(&self.archive, i)?;
            if self.crcs[i].is_none() {
                self.crcs[i] = self.source.cache().get(&key);
            }
            let hasher = (self.crcs[i].is_none() && offset == 0).then(Hasher::new);
            self.current = Some(Current {
                index: i,
                file,
                key,
                hasher,
            });
        }
        let current = self.current.as_mut()?;
        let len = (self.piece.end().min(self.end) - self.pos).min(PIECE);
        let inline = len <= INLINE_MAX;
        if inline || current.hasher.is_some() {
            self.buf.resize(BUF, 0);
            let mut done = 0;
            while done < len {
                let want = ((len - done) as usize).min(BUF);
                let n = current
                    .file
                    .read_at(&mut self.buf[..want], offset + done)
                    .ok()?;
                if n == 0 {
                    return None; // it shrank since it was opened
                }
                if let Some(hasher) = &mut current.hasher {
                    hasher.update(&self.buf[..n]);
                }
                if inline {
                    out.extend_from_slice(&self.buf[..n]);
                }
                done += n as u64;
            }
        }
        let chunk = (!inline).then(|| FileChunk {
            file: Arc::clone(&current.file),
            offset,
            len,
        });
        self.pos += len;
        if self.pos == self.piece.end() {
            if let Some(current) = self.current.take() {
                if let Some(hasher) = current.hasher {
                    let crc = hasher.finalize();
                    self.crcs[i] = Some(crc);
                    self.source.cache().put(current.key, crc);
                }
            }
        }
        Some(chunk)
    }
}
