//! A per-worker cache of open files, each entry trusted for at most
//! [`TTL`] (one second, like the `Date` header), so a hot file costs no
//! `open`/`stat`/`close` (or `pread`, for small ones) per request.
//!
//! Each entry keeps the open file, its size and validators (ETag,
//! Last-Modified) formatted once, its Content-Type, and — for files up to
//! [`INLINE_MAX`](super::session::INLINE_MAX) bytes — the content itself.
//! It is what nginx calls `open_file_cache` with `open_file_cache_valid 1s`
//! and what h2o does by default. A change on disk shows within a second; a
//! PUT or DELETE through this worker drops the entry at once.
//!
//! The cache is thread-local: workers never contend for it, and it needs no
//! lock. (The protocol stays free of threads: it only keeps state per thread
//! the driver runs it on.) Entries are keyed by service id as well, so two
//! services in one thread (tests) never see each other's files.
//!
//! Expired entries are swept (their files closed) on the first insert after
//! each [`TTL`], so a file deleted on disk does not keep its space held by an
//! open descriptor here for longer than the next request after a second.

use super::static_files::content_type;
use crate::root::RelPath;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

/// How long an entry is trusted.
pub(crate) const TTL: Duration = Duration::from_secs(1);
/// Entries per worker; past this the cache starts over.
const MAX_ENTRIES: usize = 256;

/// An open file and what its replies need.
#[derive(Debug)]
pub(crate) struct FileEntry {
    pub(crate) file: Arc<File>,
    pub(crate) len: u64,
    pub(crate) mtime_secs: u64,
    /// `"…"`, quoted.
    pub(crate) etag: String,
    pub(crate) last_modified: String,
    pub(crate) content_type: String,
    /// The whole file, when small.
    pub(crate) content: Option<Arc<[u8]>>,
    loaded: Instant,
}

impl FileEntry {
    /// Describes an open file; reads it if it is small.
    pub(crate) fn new(
        file: File,
        meta: &Metadata,
        rel: &RelPath,
        inline_max: u64,
        now: Instant,
    ) -> std::io::Result<Self> {
        let len = meta.len();
        let modified = meta.modified().unwrap_or(UNIX_EPOCH);
        let since = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
        let content = if len <= inline_max {
            let mut buf = vec![0u8; len as usize];
            file.read_exact_at(&mut buf, 0)?;
            Some(Arc::from(buf))
        } else {
            None
        };
        Ok(Self {
            file: Arc::new(file),
            len,
            mtime_secs: since.as_secs(),
            etag: format!("\"{:x}-{:x}\"", since.as_nanos() as u64, len),
            last_modified: httpdate::fmt_http_date(modified),
            content_type: content_type(rel),
            content,
            loaded: now,
        })
    }
}

/// One service's entries in this worker, and when they were last swept.
#[derive(Default)]
struct Files {
    entries: HashMap<RelPath, Arc<FileEntry>>,
    swept: Option<Instant>,
}

type Entries = HashMap<u64, Files>;

fn fresh(entry: &FileEntry, now: Instant) -> bool {
    now >= entry.loaded && now.saturating_duration_since(entry.loaded) < TTL
}

thread_local! {
    static CACHE: RefCell<Entries> = RefCell::new(HashMap::new());
}

/// The entry for `rel` if it is younger than [`TTL`].
pub(crate) fn lookup(service: u64, rel: &RelPath, now: Instant) -> Option<Arc<FileEntry>> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let files = &mut c.get_mut(&service)?.entries;
        let entry = files.get(rel)?;
        if fresh(entry, now) {
            return Some(Arc::clone(entry));
        }
        files.remove(rel);
        None
    })
}

/// Remembers an entry (loaded at `entry.loaded`), sweeping out expired ones
/// at most once per [`TTL`].
pub(crate) fn insert(service: u64, rel: &RelPath, entry: Arc<FileEntry>) {
    let now = entry.loaded;
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let files = c.entry(service).or_default();
        if files
            .swept
            .is_none_or(|at| now.saturating_duration_since(at) >= TTL)
        {
            files.entries.retain(|_, e| fresh(e, now));
            files.swept = Some(now);
        }
        if files.entries.len() >= MAX_ENTRIES {
            files.entries.clear();
        }
        files.entries.insert(rel.clone(), entry);
    });
}

/// Drops `rel` (it was just replaced or removed through this worker).
pub(crate) fn forget(service: u64, rel: &RelPath) {
    CACHE.with(|c| {
        if let Some(files) = c.borrow_mut().get_mut(&service) {
            files.entries.remove(rel);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_are_kept_apart_by_service() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "abc").unwrap();
        let file = File::open(dir.path().join("a")).unwrap();
        let meta = file.metadata().unwrap();
        let rel = RelPath::parse("a").unwrap();
        let t0 = Instant::now();
        let entry = FileEntry::new(file, &meta, &rel, 16, t0).unwrap();
        assert_eq!(entry.content.as_deref(), Some(&b"abc"[..]));
        insert(7, &rel, Arc::new(entry));
        assert!(lookup(7, &rel, t0 + Duration::from_millis(999)).is_some());
        assert!(lookup(8, &rel, t0).is_none(), "another service");
        assert!(lookup(7, &rel, t0 + TTL).is_none(), "expired");
        assert!(lookup(7, &rel, t0).is_none(), "and removed");
    }

    fn entry_at(dir: &std::path::Path, name: &str, at: Instant) -> (RelPath, Arc<FileEntry>) {
        std::fs::write(dir.join(name), name).unwrap();
        let file = File::open(dir.join(name)).unwrap();
        let meta = file.metadata().unwrap();
        let rel = RelPath::parse(name).unwrap();
        let entry = FileEntry::new(file, &meta, &rel, 16, at).unwrap();
        (rel, Arc::new(entry))
    }

    #[test]
    fn an_insert_after_a_second_closes_expired_files() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let (old, entry) = entry_at(dir.path(), "old", t0);
        let weak = Arc::downgrade(&entry);
        insert(9, &old, entry);
        let (new, entry) = entry_at(dir.path(), "new", t0 + Duration::from_millis(500));
        insert(9, &new, entry);
        assert!(weak.upgrade().is_some(), "swept at most once per TTL");
        let (newer, entry) = entry_at(dir.path(), "newer", t0 + TTL + TTL / 2);
        insert(9, &newer, entry);
        assert!(
            weak.upgrade().is_none(),
            "the expired entry's file is closed"
        );
        assert!(lookup(9, &newer, t0 + TTL + TTL / 2).is_some());
    }
}
