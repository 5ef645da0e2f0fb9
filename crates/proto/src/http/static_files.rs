//! GET and HEAD of files under the root: `index.html`, the `/dir` → `/dir/`
//! redirect, validators (ETag, Last-Modified) and the conditional and range
//! rules, and precompressed `.br` / `.gz` siblings. Files are opened through
//! the service's [`FileCache`](super::cache::FileCache); what a target names
//! was decided in [`super::target`].

use super::cache::FileEntry;
use super::listing;
use super::request::{trim, Head};
use super::response::{content_type, sandbox, Body, Reply};
use super::session::Sight;
use super::target::{error_reply, local_location, Target};
use super::visitor::Visitor;
use super::Shared;
use crate::root::{RelPath, RootError};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Instant, UNIX_EPOCH};

/// Answers GET or HEAD for a file or directory.
///
/// Hidden names (without `--hidden`) are the root's policy: it answers them
/// not found, so they are a 404 like a missing file. What the rules let the
/// visitor see was decided before ([`Sight`]): a folder they may only pass
/// through is listed (showing the way on), and nothing else in it is served.
pub(crate) fn get(
    shared: &Shared,
    head: &Head<'_>,
    target: &Target<'_>,
    now: Instant,
    visitor: &Visitor<'_>,
    sight: Sight,
) -> Reply {
    let refusal = match sight {
        Sight::Whole => None,
        Sight::Passing(refusal) => Some(refusal),
    };
    match open_entry(shared, &target.rel, now) {
        Ok(_) if target.dir => Reply::error(404), // `file.txt/` is not a directory
        Ok(entry) => match refusal {
            Some(refusal) => refusal,
            None => serve(shared, head, &target.rel, entry, now),
        },
        Err(RootError::IsADirectory(_)) if !target.dir => {
            let mut reply = Reply::error(301);
            reply.header(
                "Location",
                format_args!("{}/{}", local_location(target.raw_path), target.query),
            );
            reply
        }
        Err(RootError::IsADirectory(_)) if refusal.is_some() => {
            listing::reply(shared, head, target, visitor)
        }
        Err(RootError::IsADirectory(_)) => {
            let index = match target.rel.join("index.html") {
                Ok(index) => index,
                Err(_) => return Reply::error(404),
            };
            // Only a regular file is an index: a folder or a FIFO of that
            // name must not make the whole folder unreadable.
            match open_entry(shared, &index, now) {
                Ok(entry) => serve(shared, head, &index, entry, now),
                Err(
                    RootError::NotFound(_)
                    | RootError::IsADirectory(_)
                    | RootError::NotAFile(_)
                    | RootError::NotADirectory(_),
                ) => listing::reply(shared, head, target, visitor),
                Err(e) => error_reply(&e),
            }
        }
        Err(e) => refusal.unwrap_or_else(|| error_reply(&e)),
    }
}

/// A regular file's cache entry: from the service's cache, or opened now.
fn open_entry(shared: &Shared, rel: &RelPath, now: Instant) -> Result<Arc<FileEntry>, RootError> {
    if let Some(entry) = shared.cache.lookup(rel, now) {
        return Ok(entry);
    }
    let (file, meta) = shared.root.open_file(rel)?;
    let entry = Arc::new(FileEntry::new(file, &meta, rel, now)?);
    shared.cache.insert(rel, Arc::clone(&entry));
    Ok(entry)
}

/// Serves a regular file (or its precompressed sibling).
fn serve(
    shared: &Shared,
    head: &Head<'_>,
    rel: &RelPath,
    entry: Arc<FileEntry>,
    now: Instant,
) -> Reply {
    let (entry, encoding) = match head.accept_encoding {
        Some(ae) => match precompressed(shared, rel, ae, now) {
            Some((sibling, coding)) => (sibling, Some(coding)),
            None => (entry, None),
        },
        None => (entry, None),
    };
    let len = entry.len;
    let etag: Cow<'_, str> = match encoding {
        // The compressed bytes are another representation: another tag.
        Some(coding) => Cow::Owned(format!("{}-{coding}\"", entry.etag.trim_end_matches('"'))),
        None => Cow::Borrowed(&entry.etag),
    };
    let mut validators = String::with_capacity(96);
    validators.push_str("Last-Modified: ");
    validators.push_str(&entry.last_modified);
    validators.push_str("\r\nETag: ");
    validators.push_str(&etag);
    validators.push_str("\r\n");
    if encoding.is_some() {
        validators.push_str("Vary: Accept-Encoding\r\n");
    }
    if not_modified(head, &etag, entry.mtime_secs) {
        let mut reply = Reply::new(304, Body::None);
        reply.headers = validators;
        return reply;
    }
    let range = match head.range {
        Some(r) if if_range_holds(head.if_range, &etag, &entry.last_modified) => {
            parse_range(r, len)
        }
        _ => RangeSpec::Full,
    };
    let (status, offset, part_len) = match range {
        RangeSpec::Full => (200, 0, len),
        RangeSpec::Unsatisfiable => {
            let mut reply = Reply::error(416);
            reply.header("Content-Range", format_args!("bytes */{len}"));
            return reply;
        }
        RangeSpec::Part(start, end) => (206, start, end - start + 1),
    };
    let body = match &entry.content {
        Some(bytes) => Body::Shared {
            bytes: Arc::clone(bytes),
            offset: offset as usize,
            len: part_len as usize,
        },
        None => Body::File {
            file: Arc::clone(&entry.file),
            offset,
            len: part_len,
        },
    };
    let mut reply = Reply::new(status, body);
    if status == 206 {
        reply.header(
            "Content-Range",
            format_args!("bytes {offset}-{}/{len}", offset + part_len - 1),
        );
    }
    match encoding {
        Some(e) => {
            reply.header("Content-Type", content_type(rel));
            reply.header("Content-Encoding", e);
        }
        None => reply.header("Content-Type", &entry.content_type),
    }
    reply.headers.push_str(&validators);
    reply.headers.push_str("Accept-Ranges: bytes\r\n");
    sandbox(shared, &mut reply);
    reply
}

/// `x.css.br` or `x.css.gz` beside `x.css`, when the client accepts it.
fn precompressed(
    shared: &Shared,
    rel: &RelPath,
    accept_encoding: &[u8],
    now: Instant,
) -> Option<(Arc<FileEntry>, &'static str)> {
    let name = rel.file_name()?;
    let parent = rel.parent()?;
    for (coding, ext) in [("br", "br"), ("gzip", "gz")] {
        if !accepts(accept_encoding, coding) {
            continue;
        }
        let Ok(sibling) = parent.join(&format!("{name}.{ext}")) else {
            continue;
        };
        if let Ok(entry) = open_entry(shared, &sibling, now) {
            return Some((entry, coding));
        }
    }
    None
}

/// Whether an Accept-Encoding value allows `coding` (listed without `q=0`).
pub(crate) fn accepts(value: &[u8], coding: &str) -> bool {
    value.split(|&b| b == b',').any(|item| {
        let mut parts = item.split(|&b| b == b';');
        let name = trim(parts.next().unwrap_or_default());
        if !name.eq_ignore_ascii_case(coding.as_bytes()) {
            return false;
        }
        !parts.any(|p| {
            let p = trim(p);
            p.len() >= 2
                && p[..2].eq_ignore_ascii_case(b"q=")
                && trim(&p[2..]).iter().all(|&b| b == b'0' || b == b'.')
        })
    })
}

/// If-None-Match (weak comparison) wins; If-Modified-Since counts only
/// without it (RFC 9110 §13.2.2).
fn not_modified(head: &Head<'_>, etag: &str, mtime_secs: u64) -> bool {
    if let Some(inm) = head.if_none_match {
        let bare = |t: &[u8]| -> Vec<u8> { t.strip_prefix(b"W/").unwrap_or(t).to_vec() };
        let want = bare(etag.as_bytes());
        return inm
            .split(|&b| b == b',')
            .map(trim)
            .any(|t| t == b"*" || bare(t) == want);
    }
    let Some(ims) = head
        .if_modified_since
        .and_then(|v| std::str::from_utf8(v).ok())
    else {
        return false;
    };
    match httpdate::parse_http_date(ims.trim()) {
        Ok(since) => {
            let since = since.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            mtime_secs <= since
        }
        Err(_) => false,
    }
}

/// If-Range: the range applies only if the validator still matches (a strong
/// ETag, or the exact Last-Modified date).
pub(crate) fn if_range_holds(if_range: Option<&[u8]>, etag: &str, last_modified: &str) -> bool {
    match if_range.map(trim) {
        None => true,
        Some(v) if v.starts_with(b"W/") => false,
        Some(v) if v.starts_with(b"\"") => v == etag.as_bytes(),
        Some(v) => v == last_modified.as_bytes(),
    }
}

/// A Range header's meaning for a file of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeSpec {
    /// Absent, malformed or several ranges: send the whole file.
    Full,
    /// No byte of the file is in the range: 416.
    Unsatisfiable,
    /// First and last byte (inclusive).
    Part(u64, u64),
}

pub(crate) fn parse_range(value: &[u8], len: u64) -> RangeSpec {
    let value = trim(value);
    if value.len() < 6 || !value[..6].eq_ignore_ascii_case(b"bytes=") {
        return RangeSpec::Full;
    }
    let spec = &value[6..];
    if spec.contains(&b',') {
        return RangeSpec::Full; // several ranges: a 200 is allowed and simpler
    }
    let Some(dash) = spec.iter().position(|&b| b == b'-') else {
        return RangeSpec::Full;
    };
    let (first, last) = (trim(&spec[..dash]), trim(&spec[dash + 1..]));
    let number = |d: &[u8]| -> Option<u64> {
        if d.is_empty() || d.len() > 19 || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(d).ok()?.parse().ok()
    };
    if first.is_empty() {
        return match number(last) {
            None => RangeSpec::Full,
            Some(0) => RangeSpec::Unsatisfiable,
            Some(_) if len == 0 => RangeSpec::Unsatisfiable,
            Some(n) => RangeSpec::Part(len.saturating_sub(n), len - 1),
        };
    }
    let Some(start) = number(first) else {
        return RangeSpec::Full;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match number(last) {
            Some(end) if end >= start => end,
            _ => return RangeSpec::Full,
        }
    };
    if start >= len {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Part(start, end.min(len - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeSpec::*;
        let cases: &[(&[u8], u64, RangeSpec)] = &[
            (b"bytes=0-9", 100, Part(0, 9)),
            (b"bytes=90-", 100, Part(90, 99)),
            (b"bytes=90-200", 100, Part(90, 99)),
            (b"bytes=-10", 100, Part(90, 99)),
            (b"bytes=-200", 100, Part(0, 99)),
            (b"bytes=100-", 100, Unsatisfiable),
            (b"bytes=-0", 100, Unsatisfiable),
            (b"bytes=0-", 0, Unsatisfiable),
            (b"bytes=5-1", 100, Full),
            (b"bytes=0-1,5-6", 100, Full),
            (b"items=0-1", 100, Full),
            (b"bytes=x-1", 100, Full),
        ];
        for (value, len, want) in cases {
            assert_eq!(
                &parse_range(value, *len),
                want,
                "{}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn accept_encoding() {
        assert!(accepts(b"gzip, deflate, br", "br"));
        assert!(accepts(b"GZIP;q=0.5", "gzip"));
        assert!(!accepts(b"gzip;q=0, br", "gzip"));
        assert!(!accepts(b"identity", "gzip"));
    }
}
