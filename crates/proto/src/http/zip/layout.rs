//! The bytes of a stored ZIP archive (APPNOTE 6.3.10), with no I/O: every
//! record's length is known from the plan alone (names, sizes, times), so the
//! whole archive's length and every record's offset are fixed before the
//! first byte, and any record can be written again for a `Range` request.
//!
//! ```text
//!   per entry:  local header │ data (files) │ data descriptor (files: CRC after the data)
//!   then:       central directory (one header per entry)
//!   then:       [ZIP64 end record, ZIP64 locator] end record
//! ```
//!
//! Choices, each tested in `tests.rs`:
//! - Method 0 (stored). Files set flag bit 3 (data descriptor) so the CRC can
//!   follow the data; their local header holds zero CRC and sizes. Folders
//!   (`name/`) have no data and no descriptor.
//! - Flag bit 11: names are UTF-8.
//! - A file of 0xFFFF_FFFF bytes or more is ZIP64: its local header says
//!   0xFFFF_FFFF for both sizes and carries a ZIP64 extra field (zero sizes, as
//!   bit 3 asks), its descriptor has 8-byte sizes, and its central header's
//!   ZIP64 field holds both sizes. A local header offset past 0xFFFF_FFFF goes
//!   into the central header's ZIP64 field the same way.
//! - The ZIP64 end record and locator are written when the entry count passes
//!   0xFFFF or the central directory's size or offset passes 0xFFFF_FFFF.
//! - Times: the DOS date and time (UTC, clamped to 1980–2107) and an extended
//!   timestamp field (0x5455) with the Unix mtime, which `unzip` restores.

use crate::date::Civil;

/// Sizes and offsets from this value up need ZIP64 fields.
pub(crate) const LIMIT32: u64 = 0xFFFF_FFFF;
/// More entries than this need the ZIP64 end record.
pub(crate) const LIMIT16: u64 = 0xFFFF;

const LOCAL_SIG: u32 = 0x0403_4b50;
const DESCRIPTOR_SIG: u32 = 0x0807_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const END64_SIG: u32 = 0x0606_4b50;
const LOCATOR_SIG: u32 = 0x0706_4b50;
const END_SIG: u32 = 0x0605_4b50;

const FLAG_DESCRIPTOR: u16 = 1 << 3;
const FLAG_UTF8: u16 = 1 << 11;
/// "Made by" Unix (3), spec version 4.5.
const MADE_BY: u16 = (3 << 8) | 45;

const LOCAL_FIXED: u64 = 30;
const CENTRAL_FIXED: u64 = 46;
const END_LEN: u64 = 22;
const END64_LEN: u64 = 56;
const LOCATOR_LEN: u64 = 20;
/// The extended timestamp field: header (4), flags (1), mtime (4).
const UT_LEN: u64 = 9;

/// One archive entry as the layout sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    /// The name in the archive; a folder's ends with `/`.
    pub(crate) name: Box<str>,
    /// Bytes of data (0 for a folder).
    pub(crate) size: u64,
    /// Unix modification time, seconds.
    pub(crate) mtime: i64,
}

impl Item {
    pub(crate) fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }

    fn zip64(&self) -> bool {
        self.size >= LIMIT32
    }

    fn flags(&self) -> u16 {
        if self.is_dir() {
            FLAG_UTF8
        } else {
            FLAG_UTF8 | FLAG_DESCRIPTOR
        }
    }

    fn version_needed(&self, offset: u64) -> u16 {
        if self.zip64() || offset >= LIMIT32 {
            45
        } else if self.is_dir() {
            20
        } else {
            10
        }
    }

    /// The mtime as the 32-bit Unix time the UT field holds.
    fn ut_time(&self) -> u32 {
        self.mtime.clamp(0, i64::from(u32::MAX)) as u32
    }
}

/// Length of an entry's local header.
pub(crate) fn local_len(item: &Item) -> u64 {
    let zip64 = if item.zip64() { 20 } else { 0 };
    LOCAL_FIXED + item.name.len() as u64 + UT_LEN + zip64
}

/// Writes an entry's local header.
pub(crate) fn write_local(item: &Item, out: &mut Vec<u8>) {
    let (time, date) = dos_time(item.mtime);
    put32(out, LOCAL_SIG);
    put16(out, item.version_needed(0));
    put16(out, item.flags());
    put16(out, 0); // stored
    put16(out, time);
    put16(out, date);
    put32(out, 0); // CRC: in the descriptor (files) or 0 (folders)
    let size32 = if item.zip64() { u32::MAX } else { 0 };
    put32(out, size32);
    put32(out, size32);
    put16(out, item.name.len() as u16);
    put16(
        out,
        (local_len(item) - LOCAL_FIXED - item.name.len() as u64) as u16,
    );
    out.extend_from_slice(item.name.as_bytes());
    put_ut(out, item.ut_time());
    if item.zip64() {
        put16(out, 0x0001);
        put16(out, 16);
        put64(out, 0); // sizes follow in the descriptor (bit 3)
        put64(out, 0);
    }
}

/// Length of an entry's data descriptor (0 for a folder).
pub(crate) fn descriptor_len(item: &Item) -> u64 {
    match (item.is_dir(), item.zip64()) {
        (true, _) => 0,
        (false, false) => 16,
        (false, true) => 24,
    }
}

/// Writes a file's data descriptor.
pub(crate) fn write_descriptor(item: &Item, crc: u32, out: &mut Vec<u8>) {
    put32(out, DESCRIPTOR_SIG);
    put32(out, crc);
    if item.zip64() {
        put64(out, item.size);
        put64(out, item.size);
    } else {
        put32(out, item.size as u32);
        put32(out, item.size as u32);
    }
}

/// The 8-byte values an entry's central ZIP64 field holds.
fn central_zip64_fields(item: &Item, offset: u64) -> usize {
    let sizes = if item.zip64() { 2 } else { 0 };
    sizes + usize::from(offset >= LIMIT32)
}

/// Length of an entry's central directory header, its local header at `offset`.
pub(crate) fn central_len(item: &Item, offset: u64) -> u64 {
    let fields = central_zip64_fields(item, offset) as u64;
    let zip64 = if fields > 0 { 4 + 8 * fields } else { 0 };
    // The central UT field carries the mtime only (its flags may say more).
    CENTRAL_FIXED + item.name.len() as u64 + UT_LEN + zip64
}

/// Writes an entry's central directory header.
pub(crate) fn write_central(item: &Item, crc: u32, offset: u64, out: &mut Vec<u8>) {
    let (time, date) = dos_time(item.mtime);
    let fields = central_zip64_fields(item, offset);
    put32(out, CENTRAL_SIG);
    put16(out, MADE_BY);
    put16(out, item.version_needed(offset));
    put16(out, item.flags());
    put16(out, 0);
    put16(out, time);
    put16(out, date);
    put32(out, crc);
    let size32 = if item.zip64() {
        u32::MAX
    } else {
        item.size as u32
    };
    put32(out, size32);
    put32(out, size32);
    put16(out, item.name.len() as u16);
    put16(
        out,
        (central_len(item, offset) - CENTRAL_FIXED - item.name.len() as u64) as u16,
    );
    put16(out, 0); // comment
    put16(out, 0); // disk
    put16(out, 0); // internal attributes
    let (mode, dos) = if item.is_dir() {
        (0o040_755u32, 0x10)
    } else {
        (0o100_644, 0)
    };
    put32(out, (mode << 16) | dos);
    put32(out, offset.min(LIMIT32) as u32);
    out.extend_from_slice(item.name.as_bytes());
    put_ut(out, item.ut_time());
    if fields > 0 {
        put16(out, 0x0001);
        put16(out, (8 * fields) as u16);
        if item.zip64() {
            put64(out, item.size);
            put64(out, item.size);
        }
        if offset >= LIMIT32 {
            put64(out, offset);
        }
    }
}

/// Where the central directory is and how big: what the end records say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Directory {
    pub(crate) count: u64,
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

impl Directory {
    fn zip64(&self) -> bool {
        self.count >= LIMIT16 || self.offset >= LIMIT32 || self.size >= LIMIT32
    }
}

/// Length of the end records.
pub(crate) fn end_len(dir: &Directory) -> u64 {
    if dir.zip64() {
        END64_LEN + LOCATOR_LEN + END_LEN
    } else {
        END_LEN
    }
}

/// Writes the end records (with the ZIP64 ones where needed).
pub(crate) fn write_end(dir: &Directory, out: &mut Vec<u8>) {
    if dir.zip64() {
        let end64_at = dir.offset + dir.size;
        put32(out, END64_SIG);
        put64(out, END64_LEN - 12); // size of the rest of the record
        put16(out, MADE_BY);
        put16(out, 45);
        put32(out, 0); // this disk
        put32(out, 0); // the directory's disk
        put64(out, dir.count);
        put64(out, dir.count);
        put64(out, dir.size);
        put64(out, dir.offset);
        put32(out, LOCATOR_SIG);
        put32(out, 0);
        put64(out, end64_at);
        put32(out, 1); // disks
    }
    let count16 = dir.count.min(LIMIT16) as u16;
    put32(out, END_SIG);
    put16(out, 0);
    put16(out, 0);
    put16(out, count16);
    put16(out, count16);
    put32(out, dir.size.min(LIMIT32) as u32);
    put32(out, dir.offset.min(LIMIT32) as u32);
    put16(out, 0); // comment
}

/// The DOS (time, date) of a Unix time, UTC, clamped to what DOS dates hold.
pub(crate) fn dos_time(mtime: i64) -> (u16, u16) {
    // 1980-01-01 00:00:00 and 2107-12-31 23:59:58 UTC.
    let secs = mtime.clamp(315_532_800, 4_354_819_198) as u64;
    let c = Civil::from_unix(secs);
    let time = (c.hour << 11) | (c.minute << 5) | (c.second / 2);
    let date = ((c.year as u32 - 1980) << 9) | (c.month << 5) | c.day;
    (time as u16, date as u16)
}

fn put_ut(out: &mut Vec<u8>, mtime: u32) {
    put16(out, 0x5455);
    put16(out, 5);
    out.push(1); // mtime present
    put32(out, mtime);
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
