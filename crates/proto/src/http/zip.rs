//! The streaming archive: `GET /folder/?zip` answers the folder as a stored
//! (uncompressed) ZIP, ZIP64 where sizes, offsets or counts need it.
//!
//! ```text
//!   plan (walk the folder: names, sizes, times) ──▶ archive map (exact length,
//!   every record's offset) ──▶ reply head: Content-Length, ETag, 200/206/416
//!                              ──▶ Stream: pieces generated as the socket drains
//! ```
//!
//! The archive is a pure function of the plan, so its length is exact before
//! the first byte and any byte range can be produced again: a `Range` request
//! (guarded by `If-Range` with the plan's `ETag`) resumes a broken download
//! byte for byte. Only the CRCs need file data; a range that needs the CRC of
//! a file whose data it does not send gets it from the service's cache or by
//! reading the file (holes skipped), within a budget — past it the whole
//! archive is sent with a 200 (see [`crc`]).
//!
//! Memory stays flat however big the folder: the plan is bounded
//! ([`plan::MAX_ENTRIES`] entries, else 507) and the stream holds one read
//! buffer. The files: `layout.rs` (the records' bytes, no I/O), `archive.rs`
//! (the map), `plan.rs` (the walk), `crc.rs` (CRCs of files not sent),
//! `stream.rs` (sending), `tests.rs` (the layout), `stream_tests.rs`
//! (archives through a session).

mod archive;
pub(crate) mod crc;
mod layout;
mod plan;
mod stream;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;

use super::query::param;
use super::request::Head;
use super::response::{sandbox, Body, Reply};
use super::static_files::{if_range_holds, parse_range, RangeSpec};
use super::target::{error_reply, Target};
use super::Shared;
use archive::Archive;
use layout::Item;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use plan::PlanError;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use stream::Source;
pub(crate) use stream::{Next, Stream};

/// RFC 8187 `attr-char`s left as they are in `filename*`.
const ATTR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// Whether the request asks for a folder's archive (`/folder/?zip`).
pub(crate) fn asked(target: &Target<'_>) -> bool {
    target.dir && param(target.query, "zip").is_some()
}

/// The reply to `GET /folder/?zip` and, unless it is an error, the stream
/// that sends its body.
pub(crate) fn get(
    shared: &Arc<Shared>,
    head: &Head<'_>,
    target: &Target<'_>,
) -> (Reply, Option<Box<Stream>>) {
    let name = match target.rel.file_name() {
        Some(name) => name.to_owned(),
        None => shared.root.dir_name().unwrap_or_else(|| "archive".into()),
    };
    let prefix = format!("{name}/");
    let items = match plan::walk(&shared.root, &target.rel, &prefix) {
        Ok(items) => items,
        Err(PlanError::Root(e)) => return (error_reply(&e), None),
        Err(PlanError::TooBig) => return (too_big(), None),
    };
    let etag = etag(&items);
    let archive = Archive::new(items);
    let len = archive.len;
    let source = Source {
        shared: Arc::clone(shared),
        base: target.rel.clone(),
        prefix: prefix.len(),
    };
    let mut crcs = vec![None; archive.items.len()];
    let range = match head.range {
        Some(r) if if_range_holds(head.if_range, &etag, "") => parse_range(r, len),
        _ => RangeSpec::Full,
    };
    let (status, start, end) = match range {
        RangeSpec::Full => (200, 0, len),
        RangeSpec::Unsatisfiable => {
            let mut reply = Reply::error(416);
            reply.header("Content-Range", format_args!("bytes */{len}"));
            return (reply, None);
        }
        RangeSpec::Part(first, last) => {
            if known_crcs(&source, &archive, &mut crcs, first, last + 1) {
                (206, first, last + 1)
            } else {
                crcs.fill(None);
                (200, 0, len)
            }
        }
    };
    let mut reply = Reply::new(status, Body::Planned(end - start));
    reply.header("Content-Type", "application/zip");
    reply.header("Content-Disposition", disposition(&name));
    reply.header("ETag", &etag);
    reply.header("Accept-Ranges", "bytes");
    if status == 206 {
        reply.header(
            "Content-Range",
            format_args!("bytes {start}-{}/{len}", end - 1),
        );
    }
    sandbox(shared, &mut reply);
    let stream = Stream::new(source, archive, crcs, start, end);
    (reply, Some(Box::new(stream)))
}

/// Fills in the CRCs that `[start, end)` needs but whose data it does not
/// send (from the cache, else by reading the file within the budget); false
/// when the budget ran out or a file is gone.
fn known_crcs(
    source: &Source,
    archive: &Archive,
    crcs: &mut [Option<u32>],
    start: u64,
    end: u64,
) -> bool {
    let mut budget = crc::READ_BUDGET;
    let mut buf = Vec::new();
    let central = end > archive.dir.offset;
    for (i, item) in archive.items.iter().enumerate() {
        if item.is_dir() || item.size == 0 || archive.data_start(i) >= start {
            continue; // no CRC, or its data is sent and hashed on the way
        }
        if !central && archive.descriptor_end(i) <= start {
            continue; // neither its descriptor nor the directory is sent
        }
        let Some((file, key)) = source.open(archive, i) else {
            return false;
        };
        let crc = match source.cache().get(&key) {
            Some(crc) => crc,
            None => match crc::of_file(&file, item.size, &mut budget, &mut buf) {
                Ok(Some(crc)) => {
                    source.cache().put(key, crc);
                    crc
                }
                _ => return false,
            },
        };
        crcs[i] = Some(crc);
    }
    true
}

/// A strong validator of the archive: a digest of its plan.
fn etag(items: &[Item]) -> String {
    let mut hash = Sha256::new();
    for item in items {
        hash.update(item.name.as_bytes());
        hash.update([0]);
        hash.update(item.size.to_le_bytes());
        hash.update(item.mtime.to_le_bytes());
    }
    let digest = hash.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"zip-{hex}\"")
}

/// `attachment; filename="name.zip"`, with an RFC 8187 `filename*` when the
/// name is not plain ASCII (the plain one then has `_` for what it lacks).
pub(crate) fn disposition(name: &str) -> String {
    let file = format!("{name}.zip");
    let plain: String = file
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() || c == ' ') && !matches!(c, '"' | '\\' | '%') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if plain == file {
        format!("attachment; filename=\"{file}\"")
    } else {
        format!(
            "attachment; filename=\"{plain}\"; filename*=UTF-8''{}",
            utf8_percent_encode(&file, ATTR)
        )
    }
}

fn too_big() -> Reply {
    let text = format!(
        "507 Insufficient Storage\nthis folder has more than {} entries (or {} MiB of names): \
         too many to plan an archive of; zip a subfolder\n",
        plan::MAX_ENTRIES,
        plan::MAX_NAME_BYTES >> 20
    );
    let mut reply = Reply::new(507, Body::Bytes(text.into_bytes()));
    reply.header("Content-Type", "text/plain; charset=utf-8");
    reply
}
