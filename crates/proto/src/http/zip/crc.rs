//! CRC-32 of whole files, for a `Range` request that needs the CRC of a
//! file it does not send (a resumed download starting after the file's data,
//! or a reader jumping to the central directory).
//!
//! The cost is bounded three ways:
//! - a cache shared by the service: every archive sent in full fills it, keyed
//!   by (device, inode, size, mtime and ctime to the nanosecond), so resuming
//!   a broken download reads nothing again;
//! - holes of sparse files are skipped (`SEEK_DATA`/`SEEK_HOLE`) and their
//!   zeros folded in arithmetically (`crc32fast`'s combine), so they cost
//!   nothing;
//! - a budget of bytes a request may read ([`READ_BUDGET`]); past it the
//!   caller gives up on the range and sends the whole archive (a 200 is
//!   always a valid answer to a `Range` request).

use crc32fast::Hasher;
use nix::unistd::{lseek, Whence};
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::Mutex;

/// File data one request may read to learn CRCs it does not send.
pub(crate) const READ_BUDGET: u64 = 256 << 20;
/// CRCs the cache keeps (an arbitrary one goes when it is full).
const CACHE_ENTRIES: usize = 100_000;
/// The read buffer (per archive being sent, and for CRC computation).
pub(crate) const BUF: usize = 64 * 1024;

/// What identifies a file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Key {
    pub(crate) fn of(meta: &Metadata) -> Key {
        Key {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// CRCs of files already sent, shared by every session of a service.
#[derive(Debug, Default)]
pub(crate) struct CrcCache {
    map: Mutex<HashMap<Key, u32>>,
}

impl CrcCache {
    pub(crate) fn get(&self, key: &Key) -> Option<u32> {
        self.map.lock().ok()?.get(key).copied()
    }

    pub(crate) fn put(&self, key: Key, crc: u32) {
        let Ok(mut map) = self.map.lock() else { return };
        if map.len() >= CACHE_ENTRIES {
            if let Some(old) = map.keys().next().copied() {
                map.remove(&old);
            }
        }
        map.insert(key, crc);
    }
}

/// The CRC of the first `len` bytes of `file`, reading at most `*budget`
/// bytes of data (holes are free); `None` when the budget ran out or the file
/// is shorter than `len`. The budget is reduced by what was read.
pub(crate) fn of_file(
    file: &File,
    len: u64,
    budget: &mut u64,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<u32>> {
    if file.metadata()?.len() < len {
        return Ok(None); // shorter than planned
    }
    buf.resize(BUF, 0);
    let mut hasher = Hasher::new();
    let mut at = 0u64;
    while at < len {
        // Where the next data starts; past the end of data, the rest is a hole.
        let data = match lseek(file, to_off(at), Whence::SeekData) {
            Ok(off) => (off as u64).min(len),
            Err(nix::errno::Errno::ENXIO) => len,
            // No SEEK_DATA on this file system: treat it all as data.
            Err(_) => at,
        };
        if data > at {
            hasher.combine(&zeros(data - at));
            at = data;
            continue;
        }
        let hole = match lseek(file, to_off(at), Whence::SeekHole) {
            Ok(off) => (off as u64).clamp(at + 1, len),
            Err(_) => len,
        };
        while at < hole {
            let want = ((hole - at) as usize).min(BUF);
            if *budget < want as u64 {
                return Ok(None);
            }
            let n = file.read_at(&mut buf[..want], at)?;
            if n == 0 {
                return Ok(None); // shorter than planned
            }
            *budget -= n as u64;
            hasher.update(&buf[..n]);
            at += n as u64;
        }
    }
    Ok(Some(hasher.finalize()))
}

fn to_off(at: u64) -> i64 {
    i64::try_from(at).unwrap_or(i64::MAX)
}

/// The hasher state of `n` zero bytes, by doubling (`log2 n` combines).
pub(crate) fn zeros(mut n: u64) -> Hasher {
    const BLOCK: usize = 4096;
    let mut result = Hasher::new();
    let rest = (n % BLOCK as u64) as usize;
    n /= BLOCK as u64;
    let mut power = Hasher::new();
    power.update(&[0u8; BLOCK]);
    while n > 0 {
        if n & 1 == 1 {
            result.combine(&power);
        }
        let copy = power.clone();
        power.combine(&copy);
        n >>= 1;
    }
    result.update(&vec![0u8; rest]);
    result
}
