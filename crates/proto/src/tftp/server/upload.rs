//! Where a WRQ's blocks go: the upload's temporary file in the root,
//! buffered, capped at `--max-upload`, committed (fsync + rename) on the last
//! block and removed if the transfer ends before it.

use crate::root::AtomicFile;
use crate::tftp::transfer::{NetasciiSink, Sink};
use crate::tftp::wire::Mode;
use std::io::{self, BufWriter, Write};

/// The sink of an upload to `file`: at most `max` bytes, converted from
/// netascii if the request asked for it.
pub(super) fn upload_sink(file: AtomicFile, max: u64, mode: Mode) -> Box<dyn Sink> {
    let sink = Capped {
        inner: AtomicSink(Some(BufWriter::with_capacity(256 * 1024, file))),
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

/// An upload's destination: buffered, committed (fsync + rename) on the last
/// block, removed if dropped before.
struct AtomicSink(Option<BufWriter<AtomicFile>>);

impl Sink for AtomicSink {
    fn write_block(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.0 {
            Some(w) => w.write_all(data),
            None => Err(io::Error::other("upload already finished")),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        let w = self
            .0
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
