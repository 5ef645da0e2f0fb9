//! Checking a download against the server's `SUM`: the local part a resume
//! would continue (is it the start of the remote file?) and the whole file
//! once it arrived (is it the remote file?).
//!
//! ```text
//!   --resume, LOCAL has n bytes:  sha256(LOCAL[..n]) == SUM name n ?  continue at n
//!                                                                 : start over
//!   after the body:               sha256(everything) == SUM name total ? keep
//!                                                                      : remove LOCAL, fail
//! ```
//!
//! The digest of what is written is computed as it is written
//! ([`HashingFile`]), continuing from the local part's, so the local file is
//! read at most once (for the part a resume keeps).

use super::client::{server_error, Client};
use anyhow::{Context, Result};
use netkit_proto::files::wire::hex;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

/// Bytes read per call when hashing a local part.
const READ_SIZE: usize = 1 << 20;

/// What the server says about a local part.
pub(crate) enum Part {
    /// It is the start of the remote file: continue, with its digest so far.
    Matches(Sha256),
    /// It is not; why, for the message that says the download starts over.
    Differs(String),
}

/// Compares the first `len` bytes of `local` with the start of `name` on
/// the server.
pub(crate) fn check_part(client: &mut Client, name: &str, local: &Path, len: u64) -> Result<Part> {
    let ours = hash_prefix(local, len)?;
    match client.sum(name, Some(len)) {
        Ok(theirs) if theirs == hex(&ours.clone().finalize()) => Ok(Part::Matches(ours)),
        Ok(_) => Ok(Part::Differs(format!(
            "its {len} bytes are not the start of {name} on the server"
        ))),
        // 400: the length is past the end of the remote file.
        Err(e) if server_error(&e).is_some_and(|s| s.code == 400) => Ok(Part::Differs(format!(
            "it is longer ({len} bytes) than {name} on the server"
        ))),
        Err(e) => Err(e),
    }
}

/// The SHA-256 state after the first `len` bytes of the file at `path`.
fn hash_prefix(path: &Path, len: u64) -> Result<Sha256> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; READ_SIZE];
    let mut reader = file.take(len);
    let mut done = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        hasher.update(&buf[..n]);
        done += n as u64;
    }
    anyhow::ensure!(
        done == len,
        "{} shrank while it was being read",
        path.display()
    );
    Ok(hasher)
}

/// A file that hashes what is written to it.
pub(crate) struct HashingFile {
    pub(crate) file: File,
    pub(crate) hasher: Sha256,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_hashes_like_the_bytes_and_a_short_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part");
        std::fs::write(&path, b"hello world").unwrap();
        let got = hash_prefix(&path, 5).unwrap().finalize();
        assert_eq!(got, Sha256::digest(b"hello"));
        assert!(hash_prefix(&path, 12).is_err());
        let mut sink = HashingFile {
            file: File::create(dir.path().join("out")).unwrap(),
            hasher: hash_prefix(&path, 6).unwrap(),
        };
        sink.write_all(b"world").unwrap();
        assert_eq!(sink.hasher.finalize(), Sha256::digest(b"hello world"));
    }
}
