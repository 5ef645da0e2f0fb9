//! The server's [`DigestPool`]: each large upload is hashed by a thread of its
//! own, which reads the temporary file with pread(2) as the session reports it
//! written, so SHA-256 runs on another core while the connection's thread
//! receives and writes (`netkit_proto::files::digest` has the picture).

use netkit_proto::files::{DigestPool, FileDigest};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

/// Bytes read per pread(2).
const READ_SIZE: usize = 1 << 20;

/// Starts a hashing thread per upload.
#[derive(Debug, Default)]
pub(crate) struct ThreadDigests;

impl DigestPool for ThreadDigests {
    fn start(&self, file: &File) -> io::Result<Box<dyn FileDigest>> {
        let file = file.try_clone()?;
        let (written, ends) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("upload-sha256".into())
            .spawn(move || hash_as_written(&file, &ends))?;
        Ok(Box::new(ThreadDigest { written, thread }))
    }
}

/// One upload's hashing thread and the channel that tells it how far to read.
#[derive(Debug)]
struct ThreadDigest {
    written: Sender<u64>,
    thread: JoinHandle<io::Result<[u8; 32]>>,
}

impl FileDigest for ThreadDigest {
    fn written(&mut self, end: u64) {
        // A send fails only if the thread is gone: `finish` reports its error.
        let _ = self.written.send(end);
    }

    fn finish(self: Box<Self>) -> io::Result<[u8; 32]> {
        let ThreadDigest { written, thread } = *self;
        drop(written); // the thread hashes what it was told, then returns
        thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the hashing thread panicked")))
    }
}

/// Hashes `file` from offset 0 up to each `end` received, until the channel
/// closes; returns the SHA-256 of bytes `0..` the last `end`.
fn hash_as_written(file: &File, ends: &Receiver<u64>) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0; READ_SIZE];
    let mut done = 0;
    while let Ok(end) = ends.recv() {
        while done < end {
            let want = buf
                .len()
                .min(usize::try_from(end - done).unwrap_or(usize::MAX));
            let n = file.read_at(&mut buf[..want], done)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the upload's file is shorter than what was written",
                ));
            }
            hasher.update(&buf[..n]);
            done += n as u64;
        }
    }
    Ok(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn hashes_the_file_as_it_is_written() {
        let mut file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut digest = ThreadDigests.start(&file).unwrap();
        for (i, part) in data.chunks(700_000).enumerate() {
            file.write_all(part).unwrap();
            if i % 2 == 0 {
                digest.written(((i + 1) * 700_000).min(data.len()) as u64);
            }
        }
        digest.written(data.len() as u64);
        let got = digest.finish().unwrap();
        assert_eq!(got, <[u8; 32]>::from(Sha256::digest(&data)));
    }

    #[test]
    fn a_file_shorter_than_reported_is_an_error() {
        let file = tempfile::tempfile().unwrap();
        let mut digest = ThreadDigests.start(&file).unwrap();
        digest.written(10);
        assert!(digest.finish().is_err());
    }
}
