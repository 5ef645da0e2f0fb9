//! The service's cache of open files, each entry trusted for at most [`TTL`]
//! (one second, like the `Date` header), so a hot file costs no
//! `open`/`stat`/`close` (or `pread`, for small ones) per request.
//!
//! Each entry keeps the open file, its size and validators (ETag,
//! Last-Modified) formatted once, its Content-Type, and — for files up to
//! [`INLINE_MAX`] bytes — the content itself. It is what nginx calls
//! `open_file_cache` with `open_file_cache_valid 1s` and what h2o does by
//! default. A change on disk shows within a second; a PUT or DELETE through
//! this service drops the entry at once, whichever worker served it.
//!
//! A [`FileCache`] is an object the service is *given* (in its
//! [`HttpContext`](super::HttpContext)), not state of the thread that runs a
//! session: every session of the service sees the same entries under every
//! model. Workers share it through [`SHARDS`] short locks, chosen by path, each
//! held for a map lookup and an `Arc` clone only; files are closed after the
//! lock is released.
//!
//! Expired entries are swept (their files closed) on the first insert into
//! their shard after each [`TTL`], so a file deleted on disk does not keep its
//! space held by an open descriptor here for longer than the next request
//! after a second.

use super::response::{content_type, INLINE_MAX};
use crate::root::RelPath;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::hash::BuildHasher;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// How long an entry is trusted.
pub(crate) const TTL: Duration = Duration::from_secs(1);
/// Locks the entries are spread over, by path.
pub(crate) const SHARDS: usize = 8;
/// Entries per shard; past this the shard starts over. (512 open files in
/// all, what two workers' caches of 256 held before the cache was shared.)
const SHARD_ENTRIES: usize = 64;

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
    /// Describes an open file; reads it if it is at most [`INLINE_MAX`] bytes.
    pub(crate) fn new(
        file: File,
        meta: &Metadata,
        rel: &RelPath,
        now: Instant,
    ) -> std::io::Result<Self> {
        let len = meta.len();
        let modified = meta.modified().unwrap_or(UNIX_EPOCH);
        let since = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
        let content = if len <= INLINE_MAX {
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

/// One shard's entries, and when they were last swept.
#[derive(Debug, Default)]
struct Shard {
    entries: HashMap<RelPath, Arc<FileEntry>>,
    swept: Option<Instant>,
}

/// Open files shared by every session of one service. See the module doc.
#[derive(Debug)]
pub struct FileCache {
    shards: [Mutex<Shard>; SHARDS],
    pick: RandomState,
}

impl Default for FileCache {
    fn default() -> Self {
        Self::new()
    }
}

fn fresh(entry: &FileEntry, now: Instant) -> bool {
    now >= entry.loaded && now.saturating_duration_since(entry.loaded) < TTL
}

impl FileCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::default()),
            pick: RandomState::new(),
        }
    }

    fn shard_of(&self, rel: &RelPath) -> usize {
        self.pick.hash_one(rel) as usize % SHARDS
    }

    fn shard(&self, rel: &RelPath) -> MutexGuard<'_, Shard> {
        let at = self.shard_of(rel);
        // A panic elsewhere while holding the lock leaves a map that is still
        // a map: at worst an entry a second stale, which the TTL handles.
        self.shards[at].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry for `rel` if it is younger than [`TTL`].
    pub(crate) fn lookup(&self, rel: &RelPath, now: Instant) -> Option<Arc<FileEntry>> {
        let mut shard = self.shard(rel);
        let entry = shard.entries.get(rel)?;
        if fresh(entry, now) {
            return Some(Arc::clone(entry));
        }
        let stale = shard.entries.remove(rel);
        drop(shard);
        drop(stale); // closes the file, outside the lock
        None
    }

    /// Remembers an entry (loaded at `entry.loaded`), sweeping out the
    /// shard's expired ones at most once per [`TTL`].
    pub(crate) fn insert(&self, rel: &RelPath, entry: Arc<FileEntry>) {
        let now = entry.loaded;
        let mut shard = self.shard(rel);
        let mut expired = Vec::new();
        if shard
            .swept
            .is_none_or(|at| now.saturating_duration_since(at) >= TTL)
        {
            shard.entries.retain(|_, e| {
                let keep = fresh(e, now);
                if !keep {
                    expired.push(Arc::clone(e));
                }
                keep
            });
            shard.swept = Some(now);
        }
        if shard.entries.len() >= SHARD_ENTRIES {
            expired.extend(shard.entries.drain().map(|(_, e)| e));
        }
        shard.entries.insert(rel.clone(), entry);
        drop(shard);
        drop(expired); // closes the files, outside the lock
    }

    /// Drops `rel` and everything below it (a folder just removed, moved or
    /// replaced through this service).
    pub(crate) fn forget_tree(&self, rel: &RelPath) {
        for shard in &self.shards {
            let mut gone = Vec::new();
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.entries.retain(|path, e| {
                let below = path.components().starts_with(rel.components());
                if below {
                    gone.push(Arc::clone(e));
                }
                !below
            });
            drop(shard);
            drop(gone); // closes the files, outside the lock
        }
    }

    /// Drops `rel` (it was just replaced or removed through this service).
    pub(crate) fn forget(&self, rel: &RelPath) {
        let gone = self.shard(rel).entries.remove(rel);
        drop(gone);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_at(dir: &std::path::Path, name: &str, at: Instant) -> (RelPath, Arc<FileEntry>) {
        std::fs::write(dir.join(name), name).unwrap();
        let file = File::open(dir.join(name)).unwrap();
        let meta = file.metadata().unwrap();
        let rel = RelPath::parse(name).unwrap();
        let entry = FileEntry::new(file, &meta, &rel, at).unwrap();
        (rel, Arc::new(entry))
    }

    #[test]
    fn entries_expire_and_are_kept_apart_by_cache() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let (rel, entry) = entry_at(dir.path(), "abc", t0);
        assert_eq!(entry.content.as_deref(), Some(&b"abc"[..]));
        let (cache, other) = (FileCache::new(), FileCache::new());
        cache.insert(&rel, entry);
        assert!(cache
            .lookup(&rel, t0 + Duration::from_millis(999))
            .is_some());
        assert!(other.lookup(&rel, t0).is_none(), "another service's cache");
        assert!(cache.lookup(&rel, t0 + TTL).is_none(), "expired");
        assert!(cache.lookup(&rel, t0).is_none(), "and removed");
    }

    #[test]
    fn an_insert_after_a_second_closes_expired_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new();
        let t0 = Instant::now();
        // Names in one shard, so the sweep of that shard is what is tested.
        let names: Vec<String> = (0..1000)
            .map(|i| format!("f{i}"))
            .filter(|n| cache.shard_of(&RelPath::parse(n).unwrap()) == 0)
            .take(3)
            .collect();
        let (old, entry) = entry_at(dir.path(), &names[0], t0);
        let weak = Arc::downgrade(&entry);
        cache.insert(&old, entry);
        let (new, entry) = entry_at(dir.path(), &names[1], t0 + Duration::from_millis(500));
        cache.insert(&new, entry);
        assert!(weak.upgrade().is_some(), "swept at most once per TTL");
        let (newer, entry) = entry_at(dir.path(), &names[2], t0 + TTL + TTL / 2);
        cache.insert(&newer, entry);
        assert!(
            weak.upgrade().is_none(),
            "the expired entry's file is closed"
        );
        assert!(cache.lookup(&newer, t0 + TTL + TTL / 2).is_some());
    }

    #[test]
    fn forget_drops_an_entry_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new();
        let t0 = Instant::now();
        let (rel, entry) = entry_at(dir.path(), "x", t0);
        cache.insert(&rel, entry);
        cache.forget(&rel);
        assert!(cache.lookup(&rel, t0).is_none());
    }
}
