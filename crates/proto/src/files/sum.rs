//! `SUM <name> [<length>]`: the SHA-256 of a file's first bytes, hashed a
//! slice at a time so a huge file cannot stall the other clients of a
//! single-threaded loop.
//!
//! ```text
//!   SUM big.iso ──▶ open, hash slice 1 ──▶ more? ── no ──▶ OK <sha256-hex>
//!                                            │ yes
//!                                            ▼
//!                   waker.wake() ──▶ the driver runs the other connections,
//!                                    then handle_wake: hash the next slice ─┐
//!                                            ▲─────────────────────────────┘
//! ```
//!
//! Each step reads and hashes at most [`SLICE`] bytes (well under a
//! millisecond with SHA-NI, a few without), then the session wakes itself
//! through the driver's waker. A readiness loop (`select`, `poll`, `epoll`)
//! handles every other ready connection before it comes back, so a SUM of a
//! 10 GB file costs its neighbours one slice of latency, not ten seconds; the
//! threaded models get the same code and lose nothing. While a SUM runs the
//! session takes no other command (replies stay in order); later pipelined
//! commands wait in the driver's buffer.
//!
//! The read buffer is not one per SUM: the service owns [`SumBuffers`], and
//! a step borrows a buffer only while it reads and hashes, then gives it
//! back. A thousand connections summing at once on one loop thread cost one
//! slice of memory, plus their hash states; N threads stepping at the same
//! instant cost N slices. This crate holds no per-thread state: which thread
//! runs a session changes nothing.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

/// Bytes read and hashed per step.
pub const SLICE: usize = 256 * 1024;

/// Free buffers [`SumBuffers`] keeps for the next steps (4 MiB): enough for
/// the steps that run at the same instant on a machine's threads; a burst
/// beyond it allocates, and the extra buffers are freed when given back.
const KEPT: usize = 16;

/// The read buffers of every SUM a service runs, lent to one step at a time.
/// A step holds the lock only to take or give back a buffer (twice per
/// [`SLICE`], against a slice's hashing time of a hundred microseconds or
/// more).
#[derive(Debug, Default)]
pub struct SumBuffers {
    free: Mutex<Vec<Box<[u8]>>>,
}

impl SumBuffers {
    /// No buffer yet: the first SUM allocates one.
    pub fn new() -> Self {
        Self::default()
    }

    /// A free buffer of [`SLICE`] bytes, or a new one.
    fn take(&self) -> Box<[u8]> {
        let kept = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        kept.unwrap_or_else(|| vec![0; SLICE].into_boxed_slice())
    }

    /// Gives a buffer back for the next step.
    fn give(&self, buf: Box<[u8]>) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < KEPT {
            free.push(buf);
        }
    }

    /// Free buffers held now.
    #[cfg(test)]
    pub(super) fn kept(&self) -> usize {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// One SUM in progress.
#[derive(Debug)]
pub(super) struct Sum {
    file: File,
    hasher: Sha256,
    /// Bytes hashed so far.
    done: u64,
    /// Bytes to hash in all.
    len: u64,
}

/// Where a [`Sum`] is after a step.
#[derive(Debug)]
pub(super) enum Step {
    /// More to hash: step again after a wake-up.
    More(Box<Sum>),
    /// The digest of the first `len` bytes.
    Done([u8; 32]),
}

impl Sum {
    /// Hashes bytes `0..len` of `file` (the caller checked `len` is within it).
    pub(super) fn new(file: File, len: u64) -> Box<Sum> {
        Box::new(Sum {
            file,
            hasher: Sha256::new(),
            done: 0,
            len,
        })
    }

    /// Hashes up to [`SLICE`] more bytes, read through a buffer borrowed
    /// from `buffers`. A file that shrank meanwhile is an error
    /// (`UnexpectedEof`): its first `len` bytes no longer exist.
    pub(super) fn step(mut self: Box<Self>, buffers: &SumBuffers) -> io::Result<Step> {
        let mut buf = buffers.take();
        let hashed = self.hash_slice(&mut buf);
        buffers.give(buf);
        hashed?;
        if self.done < self.len {
            Ok(Step::More(self))
        } else {
            Ok(Step::Done(self.hasher.finalize().into()))
        }
    }
}

impl Sum {
    /// Reads and hashes up to `buf.len()` bytes.
    fn hash_slice(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let mut budget = buf.len();
        while self.done < self.len && budget > 0 {
            let want = budget.min(usize::try_from(self.len - self.done).unwrap_or(usize::MAX));
            let n = match self.file.read_at(&mut buf[..want], self.done) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was being hashed",
                ));
            }
            self.hasher.update(&buf[..n]);
            self.done += n as u64;
            budget -= n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(data: &[u8]) -> File {
        let mut file = tempfile::tempfile().expect("tempfile");
        file.write_all(data).expect("write");
        file
    }

    fn run(mut sum: Box<Sum>) -> (io::Result<[u8; 32]>, usize) {
        let buffers = SumBuffers::new();
        for steps in 1..1000 {
            match sum.step(&buffers) {
                Ok(Step::More(next)) => sum = next,
                Ok(Step::Done(digest)) => return (Ok(digest), steps),
                Err(e) => return (Err(e), steps),
            }
        }
        panic!("a sum that never ends");
    }

    #[test]
    fn hashes_a_prefix_in_slices() {
        let data: Vec<u8> = (0..SLICE * 3 + 5).map(|i| (i % 251) as u8).collect();
        let (digest, steps) = run(Sum::new(file_of(&data), data.len() as u64));
        assert_eq!(digest.unwrap(), <[u8; 32]>::from(Sha256::digest(&data)));
        assert_eq!(steps, 4, "one slice per step");
        let (digest, steps) = run(Sum::new(file_of(&data), 10));
        assert_eq!(
            digest.unwrap(),
            <[u8; 32]>::from(Sha256::digest(&data[..10]))
        );
        assert_eq!(steps, 1);
        let (digest, _) = run(Sum::new(file_of(&data), 0));
        assert_eq!(digest.unwrap(), <[u8; 32]>::from(Sha256::digest(b"")));
    }

    fn more(step: io::Result<Step>) -> Box<Sum> {
        match step.expect("step") {
            Step::More(next) => next,
            Step::Done(_) => panic!("a slice left to hash"),
        }
    }

    #[test]
    fn a_buffer_is_lent_per_step_and_reused() {
        let buffers = SumBuffers::new();
        let data = vec![7u8; 2 * SLICE];
        let len = data.len() as u64;
        // Two SUMs stepped in turn, as one loop thread runs them: one buffer.
        let a = more(Sum::new(file_of(&data), len).step(&buffers));
        let b = more(Sum::new(file_of(&data), len).step(&buffers));
        assert_eq!(buffers.kept(), 1, "the same buffer served both steps");
        // Steps at the same instant (threads) get a buffer each.
        let first = buffers.take();
        let second = buffers.take();
        assert_ne!(first.as_ptr(), second.as_ptr());
        buffers.give(first);
        buffers.give(second);
        assert_eq!(buffers.kept(), 2);
        for _ in 0..KEPT + 5 {
            buffers.give(vec![0; SLICE].into_boxed_slice());
        }
        assert_eq!(buffers.kept(), KEPT, "a burst's extra buffers are freed");
        let digest = <[u8; 32]>::from(Sha256::digest(&data));
        for sum in [a, b] {
            assert!(matches!(sum.step(&buffers), Ok(Step::Done(d)) if d == digest));
        }
    }

    #[test]
    fn a_file_that_shrank_is_an_error() {
        let file = file_of(b"short");
        let (digest, _) = run(Sum::new(file, 100));
        assert_eq!(digest.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}
