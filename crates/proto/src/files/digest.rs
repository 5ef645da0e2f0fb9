//! Where an upload's SHA-256 is computed.
//!
//! By default the session hashes each slice of a PUT body as it writes it, on
//! the connection's own thread: SHA-256 (about 2 GB/s with SHA-NI) then costs
//! as much as receiving and writing the bytes together. A server with a core
//! to spare can hand it to a [`DigestPool`] instead, which hashes the upload
//! from the file itself while the session goes on receiving:
//!
//! ```text
//!   session thread:  recv ─ write ─ written(end) ─ recv ─ write ─ … ─ commit ◀─ finish()
//!                                      │                                        │
//!   pool's thread:                     └──▶ pread ─ hash ─ pread ─ hash ─ … ─ digest
//! ```
//!
//! Hashing what was written (not the buffer it came from) makes the reply the
//! SHA-256 of exactly what is stored. This crate starts no thread: the pool is
//! the caller's (`netkit files serve` gives one), and it only ever reads the
//! upload's own temporary file, through the descriptor it is handed.

use sha2::{Digest, Sha256};
use std::fmt::Debug;
use std::fs::File;
use std::io;

/// Uploads smaller than this are hashed inline even with a pool: starting one
/// costs more than hashing a megabyte.
pub const POOL_MIN_SIZE: u64 = 1 << 20;

/// Hashes uploads away from the connection's thread.
pub trait DigestPool: Send + Sync + Debug + 'static {
    /// Starts hashing an upload that will be written to `file` from offset 0.
    /// An error makes the session hash this upload inline instead.
    fn start(&self, file: &File) -> io::Result<Box<dyn FileDigest>>;
}

/// One upload being hashed by a [`DigestPool`].
pub trait FileDigest: Send + Debug {
    /// Bytes `0..end` of the file are written and may be read. `end` only
    /// grows from one call to the next.
    fn written(&mut self, end: u64);

    /// Every byte is written (up to the last `end` given): waits for and
    /// returns the SHA-256 of bytes `0..end` as they are in the file.
    fn finish(self: Box<Self>) -> io::Result<[u8; 32]>;
}

/// How one upload is being hashed.
#[derive(Debug)]
pub(super) enum Hashing {
    /// Here, slice by slice as the body arrives.
    Inline(Sha256),
    /// By a pool, told every [`NOTIFY_EVERY`] bytes how far the file is written.
    Pool {
        digest: Box<dyn FileDigest>,
        notified: u64,
    },
}

/// How many newly written bytes make the session tell the pool (fewer
/// wake-ups of its thread than one per received slice).
const NOTIFY_EVERY: u64 = 1 << 20;

impl Hashing {
    /// The way to hash an upload of `size` bytes to `file`.
    pub(super) fn start(pool: Option<&dyn DigestPool>, file: &File, size: u64) -> Hashing {
        match pool.filter(|_| size >= POOL_MIN_SIZE) {
            Some(pool) => match pool.start(file) {
                Ok(digest) => Hashing::Pool {
                    digest,
                    notified: 0,
                },
                Err(_) => Hashing::Inline(Sha256::new()),
            },
            None => Hashing::Inline(Sha256::new()),
        }
    }

    /// Whether a pool's thread is doing the hashing.
    pub(super) fn is_pooled(&self) -> bool {
        matches!(self, Hashing::Pool { .. })
    }

    /// `body` was just written; bytes `0..end` of the file are written.
    pub(super) fn update(&mut self, body: &[u8], end: u64) {
        match self {
            Hashing::Inline(hasher) => hasher.update(body),
            Hashing::Pool { digest, notified } => {
                if end - *notified >= NOTIFY_EVERY {
                    digest.written(end);
                    *notified = end;
                }
            }
        }
    }

    /// The SHA-256 of the whole upload, `end` bytes.
    pub(super) fn finish(self, end: u64) -> io::Result<[u8; 32]> {
        match self {
            Hashing::Inline(hasher) => Ok(hasher.finalize().into()),
            Hashing::Pool {
                mut digest,
                notified,
            } => {
                if end != notified {
                    digest.written(end);
                }
                digest.finish()
            }
        }
    }
}

#[cfg(test)]
mod tests;
