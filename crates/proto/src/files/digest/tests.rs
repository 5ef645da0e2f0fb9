//! Uploads hashed by a [`DigestPool`]: the session reports what it wrote and
//! replies with the pool's digest of the stored file.

use super::*;
use crate::files::wire::hex;
use crate::files::{FilesConfig, FilesService};
use crate::root::Root;
use crate::testing::Harness;
use crate::Service;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Hashes on `finish`, from the file, on the calling thread; counts starts.
#[derive(Debug, Default)]
struct ReadBackPool {
    started: AtomicUsize,
    fail: bool,
}

#[derive(Debug)]
struct ReadBack {
    file: File,
    end: u64,
    fail: bool,
}

impl DigestPool for ReadBackPool {
    fn start(&self, file: &File) -> io::Result<Box<dyn FileDigest>> {
        self.started.fetch_add(1, Ordering::SeqCst);
        let file = file.try_clone()?;
        let fail = self.fail;
        Ok(Box::new(ReadBack { file, end: 0, fail }))
    }
}

impl FileDigest for ReadBack {
    fn written(&mut self, end: u64) {
        assert!(end > self.end, "ends only grow");
        self.end = end;
    }

    fn finish(self: Box<Self>) -> io::Result<[u8; 32]> {
        if self.fail {
            return Err(io::Error::other("cannot read the upload back"));
        }
        let mut buf = vec![0; usize::try_from(self.end).unwrap()];
        self.file.read_exact_at(&mut buf, 0)?;
        Ok(Sha256::digest(&buf).into())
    }
}

fn serve(pool: &Arc<ReadBackPool>) -> (tempfile::TempDir, Harness<crate::files::FilesSession>) {
    let dir = tempfile::tempdir().unwrap();
    let root = Arc::new(Root::open(dir.path()).unwrap());
    let config = FilesConfig {
        upload: true,
        ..FilesConfig::default()
    };
    let pool: Arc<dyn DigestPool> = pool.clone();
    let service = FilesService::new(root, config).with_digest_pool(pool);
    let now = Instant::now();
    let h = Harness::new(service.new_session(None, now), now);
    (dir, h)
}

#[test]
fn a_large_upload_is_hashed_by_the_pool_a_small_one_inline() {
    let pool = Arc::new(ReadBackPool::default());
    let (dir, mut h) = serve(&pool);
    let data: Vec<u8> = (0..3 * POOL_MIN_SIZE + 100)
        .map(|i| (i % 253) as u8)
        .collect();
    let mut reply = h.send(format!("PUT big {}\n", data.len()).as_bytes());
    for piece in data.chunks(64 * 1024) {
        reply.extend(h.send(piece));
    }
    let want = format!("READY\nOK {}\n", hex(&Sha256::digest(&data)));
    assert_eq!(String::from_utf8(reply).unwrap(), want);
    assert_eq!(std::fs::read(dir.path().join("big")).unwrap(), data);
    assert_eq!(pool.started.load(Ordering::SeqCst), 1);

    let reply = h.send(b"PUT small 5\nhello");
    let want = format!("READY\nOK {}\n", hex(&Sha256::digest(b"hello")));
    assert_eq!(String::from_utf8(reply).unwrap(), want);
    assert_eq!(pool.started.load(Ordering::SeqCst), 1, "small: inline");
}

#[test]
fn a_digest_that_fails_keeps_no_file() {
    let pool = Arc::new(ReadBackPool {
        fail: true,
        ..ReadBackPool::default()
    });
    let (dir, mut h) = serve(&pool);
    let size = POOL_MIN_SIZE as usize;
    h.send(format!("PUT big {size}\n").as_bytes());
    let reply = String::from_utf8(h.send(&vec![7; size])).unwrap();
    assert!(reply.starts_with("ERR 500 "), "{reply}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert_eq!(String::from_utf8(h.send(b"LIST\n")).unwrap(), "OK 0\n");
}
