//! PUT (with `--upload`): a request body, delimited by
//! Content-Length or chunked coding, written into the root's atomic file and
//! made visible only when complete (temporary file + fsync + rename).
//!
//! Every refusal (403, 409, 413, a bad chunk) is decided as early as possible —
//! before any body byte when it can be, which is what `Expect: 100-continue`
//! is for — and closes the connection, since the unread body would otherwise
//! be taken for the next request. An upload cut short (EOF, timeout) drops the
//! [`AtomicFile`], which removes the temporary: nothing is left behind.

use super::cache::FileCache;
use super::request::{Framing, Head};
use super::response::{Body, Reply};
use super::target::{error_reply, local_location, Target};
use super::Shared;
use crate::root::{AtomicFile, RelPath, RootError};
use std::io::Write;

/// Longest chunk-size line or trailer line we wait for.
const MAX_CHUNK_LINE: usize = 4096;
/// Most trailer bytes accepted (and ignored).
const MAX_TRAILERS: usize = 16 * 1024;

/// An upload in progress.
#[derive(Debug)]
pub(crate) struct Upload {
    /// `None` once committed.
    file: Option<AtomicFile>,
    state: State,
    received: u64,
    max: u64,
    /// The name did not exist before: 201 (else 204).
    created: bool,
    location: String,
    trailer_bytes: usize,
    /// For dropping the cache's entry once replaced.
    rel: RelPath,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Content-Length: bytes still to come.
    Length(u64),
    /// Chunked: waiting for a chunk-size line.
    Size,
    /// Chunked: bytes of the current chunk still to come.
    Data(u64),
    /// Chunked: the CRLF after a chunk's data.
    DataEnd,
    /// Chunked: trailer lines until an empty one.
    Trailers,
}

/// What feeding the body led to.
#[derive(Debug)]
pub(crate) enum Progress {
    /// More body is needed.
    More,
    /// The body is complete and committed (or refused): reply.
    Done(Reply),
}

/// Starts a PUT: checks everything that can be checked before the body.
pub(crate) fn start(
    shared: &Shared,
    head: &Head<'_>,
    target: &Target<'_>,
) -> Result<Upload, Reply> {
    let config = &shared.config;
    if !config.upload {
        return Err(Reply::fatal(403));
    }
    if target.dir || target.rel.is_root() {
        return Err(Reply::fatal(400));
    }
    // The root would answer a hidden name as missing; HTTP has always
    // refused writing one outright.
    if shared.root.hides(&target.rel) {
        return Err(Reply::fatal(403));
    }
    let state = match head.framing {
        Framing::None => return Err(Reply::fatal(411)),
        Framing::Length(n) if n > config.max_upload => return Err(Reply::fatal(413)),
        Framing::Length(n) => State::Length(n),
        Framing::Chunked => State::Size,
    };
    let existed = shared.root.metadata(&target.rel).is_ok();
    let file = shared
        .root
        .create_atomic(&target.rel, config.overwrite)
        .map_err(|e| {
            // The name itself may be missing: a missing name here is the
            // folder it would go in (RFC 4918 §9.7.1: 409).
            let e = match e {
                RootError::NotFound(io) | RootError::NotADirectory(io) => {
                    RootError::MissingParent(io)
                }
                e => e,
            };
            let mut reply = error_reply(&e);
            reply.close = true;
            reply
        })?;
    Ok(Upload {
        file: Some(file),
        state,
        received: 0,
        max: config.max_upload,
        created: !existed,
        location: local_location(target.raw_path),
        trailer_bytes: 0,
        rel: target.rel.clone(),
    })
}

impl Upload {
    /// Whether the body is already complete (a zero Content-Length).
    pub(crate) fn is_empty_body(&self) -> bool {
        matches!(self.state, State::Length(0))
    }

    /// Feeds body bytes; returns how many were consumed and what happened.
    /// `cache` is the service's: committing drops the file's entry from it.
    pub(crate) fn feed(&mut self, cache: &FileCache, input: &[u8]) -> (usize, Progress) {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            let step = match self.state {
                State::Length(0) => return (used, self.commit(cache)),
                State::Length(left) => {
                    let n = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    if n == 0 {
                        return (used, Progress::More);
                    }
                    if let Err(reply) = self.write(&rest[..n]) {
                        return (input.len(), Progress::Done(reply));
                    }
                    self.state = State::Length(left - n as u64);
                    n
                }
                State::Size => match chunk_size(rest) {
                    Ok(None) => return (used, Progress::More),
                    Ok(Some((len, 0))) => {
                        self.state = State::Trailers;
                        len
                    }
                    Ok(Some((len, size))) => {
                        if self.received.saturating_add(size) > self.max {
                            return (input.len(), Progress::Done(Reply::fatal(413)));
                        }
                        self.state = State::Data(size);
                        len
                    }
                    Err(()) => return (input.len(), Progress::Done(Reply::fatal(400))),
                },
                State::Data(left) => {
                    let n = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    if n == 0 {
                        return (used, Progress::More);
                    }
                    if let Err(reply) = self.write(&rest[..n]) {
                        return (input.len(), Progress::Done(reply));
                    }
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                    n
                }
                State::DataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        self.state = State::Size;
                        2
                    }
                    [b'\n', ..] => {
                        self.state = State::Size;
                        1
                    }
                    [] | [b'\r'] => return (used, Progress::More),
                    _ => return (input.len(), Progress::Done(Reply::fatal(400))),
                },
                State::Trailers => match rest.iter().position(|&b| b == b'\n') {
                    None if rest.len() > MAX_CHUNK_LINE => {
                        return (input.len(), Progress::Done(Reply::fatal(431)))
                    }
                    None => return (used, Progress::More),
                    Some(at) => {
                        self.trailer_bytes += at + 1;
                        if self.trailer_bytes > MAX_TRAILERS {
                            return (input.len(), Progress::Done(Reply::fatal(431)));
                        }
                        if at == 0 || (at == 1 && rest[0] == b'\r') {
                            return (used + at + 1, self.commit(cache));
                        }
                        at + 1
                    }
                },
            };
            used += step;
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Reply> {
        self.received += bytes.len() as u64;
        let Some(file) = self.file.as_mut() else {
            return Err(Reply::fatal(500));
        };
        file.write_all(bytes).map_err(|e| {
            let mut reply = error_reply(&RootError::from(e));
            reply.close = true;
            reply
        })
    }

    /// The body is complete: make the file visible.
    fn commit(&mut self, cache: &FileCache) -> Progress {
        let Some(file) = self.file.take() else {
            return Progress::Done(Reply::fatal(500));
        };
        let committed = file.commit();
        cache.forget(&self.rel);
        Progress::Done(match committed {
            Ok(()) if self.created => {
                let mut reply = Reply::new(201, Body::Bytes(Vec::new()));
                reply.header("Location", &self.location);
                reply
            }
            Ok(()) => Reply::new(204, Body::None),
            Err(e) => {
                let mut reply = error_reply(&e);
                reply.close = true;
                reply
            }
        })
    }
}

/// Parses a chunk-size line: hex digits (1 to 15), optional `;extensions`,
/// CRLF or LF. `Ok(None)`: incomplete; `Ok(Some((line length, size)))`.
fn chunk_size(input: &[u8]) -> Result<Option<(usize, u64)>, ()> {
    let Some(nl) = input.iter().position(|&b| b == b'\n') else {
        return if input.len() > MAX_CHUNK_LINE {
            Err(())
        } else {
            Ok(None)
        };
    };
    let line = input[..nl].strip_suffix(b"\r").unwrap_or(&input[..nl]);
    let digits_end = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let digits = &line[..digits_end];
    if digits.is_empty() || digits.len() > 15 {
        return Err(());
    }
    let rest = &line[digits_end..];
    let rest_ok = rest.is_empty()
        || rest
            .iter()
            .find(|&&b| b != b' ' && b != b'\t')
            .is_some_and(|&b| b == b';');
    if !rest_ok || rest.iter().any(|&b| b == b'\r' || b == 0) {
        return Err(());
    }
    let text = std::str::from_utf8(digits).map_err(|_| ())?;
    let size = u64::from_str_radix(text, 16).map_err(|_| ())?;
    Ok(Some((nl + 1, size)))
}
