//! Where a WRQ's blocks go: the upload's temporary file in the root,
//! buffered, capped at `--max-upload`, committed (fsync + rename) on the last
//! block and removed if the transfer ends before it.
//!
//! The commit's `fsync` runs before the last ACK, so the client waits for it.
//! Left alone, the kernel starts writing dirty pages out only after ~30 s or
//! under memory pressure, so that `fsync` would find the whole file still in
//! memory and write all of it while the client waits (100 MiB: 50–120 ms on
//! this machine's disk, a third of the transfer at 700 MB/s). So every
//! [`WRITEBACK_EVERY`] bytes the sink asks the kernel to start writing what
//! it has so far (`posix_fadvise(DONTNEED)`, which on Linux starts
//! asynchronous writeback of the range's dirty pages and drops only its clean
//! ones — none yet): the disk works while the network does, and the final
//! `fsync` has only the last stretch left.

use crate::root::AtomicFile;
use crate::tftp::transfer::{NetasciiSink, Sink};
use crate::tftp::wire::Mode;
use nix::fcntl::{posix_fadvise, PosixFadviseAdvice};
use std::io::{self, BufWriter, Write};

/// A block at least this long goes straight to the file when nothing is
/// buffered: copying a 64 KiB block into the buffer first costs a `memcpy` per
/// round trip and saves only a system call per four blocks; small blocks
/// (512 bytes by default) are still gathered into large writes.
const DIRECT_WRITE: usize = 32 * 1024;

/// Bytes written between two requests to start writeback: large enough that
/// the call is rare (16 per 100 MiB), small enough that the last stretch the
/// commit's `fsync` writes while the client waits is short.
const WRITEBACK_EVERY: u64 = 8 << 20;

/// The sink of an upload to `file`: at most `max` bytes, converted from
/// netascii if the request asked for it.
pub(super) fn upload_sink(file: AtomicFile, max: u64, mode: Mode) -> Box<dyn Sink> {
    let sink = Capped {
        inner: AtomicSink {
            writer: Some(BufWriter::with_capacity(256 * 1024, file)),
            written: 0,
            kicked: 0,
        },
        left: max,
    };
    match mode {
        Mode::Octet => Box::new(sink),
        Mode::Netascii => Box::new(NetasciiSink::new(sink)),
    }
}

/// Bytes an unprivileged writer may still use on the file's file system
/// (unknown: unlimited, and the write itself will say).
pub(super) fn free_space(file: &std::fs::File) -> u64 {
    match nix::sys::statvfs::fstatvfs(file) {
        Ok(st) => st.blocks_available().saturating_mul(st.fragment_size()),
        Err(_) => u64::MAX,
    }
}

/// An upload's destination: buffered, written back as it goes, committed
/// (fsync + rename) on the last block, removed if dropped before.
struct AtomicSink {
    writer: Option<BufWriter<AtomicFile>>,
    /// Bytes handed to the writer so far.
    written: u64,
    /// Where the last writeback request ended.
    kicked: u64,
}

impl Sink for AtomicSink {
    fn write_block(&mut self, data: &[u8]) -> io::Result<()> {
        let Some(w) = &mut self.writer else {
            return Err(io::Error::other("upload already finished"));
        };
        if data.len() >= DIRECT_WRITE && w.buffer().is_empty() {
            w.get_mut().write_all(data)?;
        } else {
            w.write_all(data)?;
        }
        self.written += data.len() as u64;
        // What the writer still holds is not in the file yet.
        let in_file = self.written - w.buffer().len() as u64;
        if in_file - self.kicked >= WRITEBACK_EVERY {
            let (from, len) = (self.kicked, in_file - self.kicked);
            // Only a hint: if the kernel declines, the commit's fsync writes it all.
            let _ = posix_fadvise(
                w.get_ref().file(),
                i64::try_from(from).unwrap_or(i64::MAX),
                i64::try_from(len).unwrap_or(i64::MAX),
                PosixFadviseAdvice::POSIX_FADV_DONTNEED,
            );
            self.kicked = in_file;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        let w = self
            .writer
            .take()
            .ok_or_else(|| io::Error::other("upload already finished"))?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.commit().map_err(io::Error::from)
    }
}

/// At most `left` more bytes may be written (`--max-upload`, for a client that
/// sent no tsize): beyond, the write fails as "allocation exceeded" (TFTP
/// error 3) and the upload is discarded.
struct Capped<S> {
    inner: S,
    left: u64,
}

impl<S: Sink> Sink for Capped<S> {
    fn write_block(&mut self, data: &[u8]) -> io::Result<()> {
        let len = data.len() as u64;
        if len > self.left {
            return Err(io::Error::from_raw_os_error(
                nix::errno::Errno::EDQUOT as i32,
            ));
        }
        self.left -= len;
        self.inner.write_block(data)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root::{RelPath, Root};

    /// Large blocks written straight through, small ones buffered, in any
    /// order, across several writeback requests: the committed file is the
    /// bytes sent, in order.
    #[test]
    fn direct_and_buffered_blocks_arrive_in_order_across_writebacks() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let rel = RelPath::parse("up.bin").unwrap();
        let file = root.create_atomic(&rel, false).unwrap();
        let mut sink = upload_sink(file, u64::MAX, Mode::Octet);
        let mut sent = Vec::new();
        let mut n = 0u32;
        while (sent.len() as u64) < 2 * WRITEBACK_EVERY + 1000 {
            // 3 large blocks, then 5 small ones, then large ones again.
            let len = if n % 8 < 3 { 65464 } else { 512 };
            let block: Vec<u8> = (0..len).map(|i| (i as u32 ^ n) as u8).collect();
            sink.write_block(&block).unwrap();
            sent.extend_from_slice(&block);
            n += 1;
        }
        sink.write_block(b"tail").unwrap();
        sent.extend_from_slice(b"tail");
        sink.finish().unwrap();
        assert!(sink.write_block(b"late").is_err(), "finished is final");
        let got = std::fs::read(dir.path().join("up.bin")).unwrap();
        assert_eq!(got.len(), sent.len());
        assert!(got == sent, "the file differs from what was sent");
    }
}
