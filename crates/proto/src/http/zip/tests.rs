//! The archive's bytes without a socket: every record's layout field by
//! field (local header, data descriptor, central header, ZIP64 extra fields,
//! end records), the map's pieces against the bytes written, CRCs of sparse
//! files. Whole archives through a session are in `stream_tests.rs`.

use super::archive::{Archive, Part};
use super::layout::{self, Directory, Item, LIMIT32};
use super::{crc, disposition};
use std::io::{Seek, SeekFrom, Write};

pub(super) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
pub(super) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn item(name: &str, size: u64) -> Item {
    Item {
        name: name.into(),
        size,
        // 2024-02-29 12:34:56 UTC
        mtime: 1_709_210_096,
    }
}

#[test]
fn dos_times() {
    assert_eq!(layout::dos_time(0), (0, (1 << 5) | 1)); // clamped to 1980-01-01
    let (time, date) = layout::dos_time(1_709_210_096);
    assert_eq!(
        (time >> 11, (time >> 5) & 63, (time & 31) * 2),
        (12, 34, 56)
    );
    assert_eq!((date >> 9, (date >> 5) & 15, date & 31), (44, 2, 29));
    let (_, last) = layout::dos_time(i64::MAX);
    assert_eq!((last >> 9, (last >> 5) & 15, last & 31), (127, 12, 31));
}

#[test]
fn local_header_of_a_file() {
    let it = item("d/é.txt", 5);
    let mut b = Vec::new();
    layout::write_local(&it, &mut b);
    assert_eq!(b.len() as u64, layout::local_len(&it));
    assert_eq!(u32_at(&b, 0), 0x0403_4b50);
    assert_eq!(u16_at(&b, 4), 10, "version needed");
    assert_eq!(u16_at(&b, 6), 0x0808, "UTF-8 names, data descriptor");
    assert_eq!(u16_at(&b, 8), 0, "stored");
    assert_eq!((u16_at(&b, 10), u16_at(&b, 12)), layout::dos_time(it.mtime));
    assert_eq!(&b[14..26], &[0; 12], "CRC and sizes follow the data");
    let name_len = usize::from(u16_at(&b, 26));
    assert_eq!(&b[30..30 + name_len], "d/é.txt".as_bytes());
    assert_eq!(u16_at(&b, 28), 9, "one extended timestamp field");
    let ut = 30 + name_len;
    assert_eq!(
        (u16_at(&b, ut), u16_at(&b, ut + 2), b[ut + 4]),
        (0x5455, 5, 1)
    );
    assert_eq!(u32_at(&b, ut + 5), 1_709_210_096);
}

#[test]
fn local_header_of_a_folder_and_of_a_zip64_file() {
    let dir = item("d/", 0);
    let mut b = Vec::new();
    layout::write_local(&dir, &mut b);
    assert_eq!(
        (u16_at(&b, 4), u16_at(&b, 6)),
        (20, 0x0800),
        "no descriptor"
    );
    assert_eq!(layout::descriptor_len(&dir), 0);

    let big = item("big", LIMIT32);
    let mut b = Vec::new();
    layout::write_local(&big, &mut b);
    assert_eq!(b.len() as u64, layout::local_len(&big));
    assert_eq!(u16_at(&b, 4), 45);
    assert_eq!((u32_at(&b, 18), u32_at(&b, 22)), (u32::MAX, u32::MAX));
    assert_eq!(u16_at(&b, 28), 9 + 20);
    let z = 30 + 3 + 9;
    assert_eq!((u16_at(&b, z), u16_at(&b, z + 2)), (1, 16));
    assert_eq!((u64_at(&b, z + 4), u64_at(&b, z + 12)), (0, 0));
}

#[test]
fn data_descriptors() {
    let mut b = Vec::new();
    layout::write_descriptor(&item("f", 0x1234), 0xdead_beef, &mut b);
    assert_eq!(b.len(), 16);
    assert_eq!(
        (u32_at(&b, 0), u32_at(&b, 4), u32_at(&b, 8), u32_at(&b, 12)),
        (0x0807_4b50, 0xdead_beef, 0x1234, 0x1234)
    );
    let big = item("f", 5 << 30);
    let mut b = Vec::new();
    layout::write_descriptor(&big, 7, &mut b);
    assert_eq!(b.len() as u64, layout::descriptor_len(&big));
    assert_eq!((u64_at(&b, 8), u64_at(&b, 16)), (5 << 30, 5 << 30));
}

/// The central header's ZIP64 field: sizes, offset, both, or absent.
#[test]
fn central_headers_and_their_zip64_fields() {
    let cases = [
        (10u64, 100u64, None, None),
        (10, LIMIT32, None, Some(LIMIT32)),
        (LIMIT32 + 1, 100, Some(LIMIT32 + 1), None),
        (6 << 30, 9 << 30, Some(6 << 30), Some(9 << 30)),
    ];
    for (size, offset, want_size, want_offset) in cases {
        let it = item("x/y", size);
        let mut b = Vec::new();
        layout::write_central(&it, 0xabcd_0123, offset, &mut b);
        assert_eq!(b.len() as u64, layout::central_len(&it, offset));
        assert_eq!(u32_at(&b, 0), 0x0201_4b50);
        assert_eq!(u16_at(&b, 4), (3 << 8) | 45, "made by Unix");
        let zip64 = want_size.is_some() || want_offset.is_some();
        assert_eq!(u16_at(&b, 6), if zip64 { 45 } else { 10 });
        assert_eq!(u16_at(&b, 8), 0x0808);
        assert_eq!(u32_at(&b, 16), 0xabcd_0123);
        let size32 = if want_size.is_some() {
            u32::MAX
        } else {
            size as u32
        };
        assert_eq!((u32_at(&b, 20), u32_at(&b, 24)), (size32, size32));
        assert_eq!(u32_at(&b, 38) >> 16, 0o100_644);
        assert_eq!(u32_at(&b, 42), offset.min(LIMIT32) as u32);
        assert_eq!(&b[46..49], b"x/y");
        let mut at = 49 + 9; // name, then the timestamp field
        assert_eq!(u16_at(&b, 49), 0x5455);
        if !zip64 {
            assert_eq!(b.len(), at);
            continue;
        }
        assert_eq!(u16_at(&b, at), 1);
        let fields: Vec<u64> = (0..usize::from(u16_at(&b, at + 2)) / 8)
            .map(|k| u64_at(&b, at + 4 + 8 * k))
            .collect();
        at += 4 + 8 * fields.len();
        assert_eq!(b.len(), at);
        let mut want = Vec::new();
        if let Some(s) = want_size {
            want.extend([s, s]);
        }
        want.extend(want_offset);
        assert_eq!(fields, want, "size {size} offset {offset}");
    }
    let mut b = Vec::new();
    layout::write_central(&item("d/", 0), 0, 0, &mut b);
    assert_eq!(u32_at(&b, 38), (0o040_755 << 16) | 0x10);
}

#[test]
fn end_records_plain_and_zip64() {
    let plain = Directory {
        count: 3,
        offset: 1000,
        size: 200,
    };
    let mut b = Vec::new();
    layout::write_end(&plain, &mut b);
    assert_eq!(b.len() as u64, layout::end_len(&plain));
    assert_eq!(b.len(), 22);
    assert_eq!(u32_at(&b, 0), 0x0605_4b50);
    assert_eq!((u16_at(&b, 8), u16_at(&b, 10)), (3, 3));
    assert_eq!((u32_at(&b, 12), u32_at(&b, 16)), (200, 1000));

    for dir in [
        Directory {
            count: 0xFFFF,
            offset: 10,
            size: 20,
        },
        Directory {
            count: 70_000,
            offset: 10,
            size: 20,
        },
        Directory {
            count: 2,
            offset: LIMIT32,
            size: 20,
        },
        Directory {
            count: 2,
            offset: 10,
            size: LIMIT32,
        },
    ] {
        let mut b = Vec::new();
        layout::write_end(&dir, &mut b);
        assert_eq!(b.len() as u64, layout::end_len(&dir));
        assert_eq!(b.len(), 56 + 20 + 22);
        assert_eq!(u32_at(&b, 0), 0x0606_4b50);
        assert_eq!(u64_at(&b, 4), 44);
        assert_eq!((u64_at(&b, 24), u64_at(&b, 32)), (dir.count, dir.count));
        assert_eq!((u64_at(&b, 40), u64_at(&b, 48)), (dir.size, dir.offset));
        assert_eq!(u32_at(&b, 56), 0x0706_4b50);
        assert_eq!(
            u64_at(&b, 64),
            dir.offset + dir.size,
            "where the ZIP64 end is"
        );
        assert_eq!(u32_at(&b, 72), 1);
        let end = &b[76..];
        assert_eq!(u32_at(end, 0), 0x0605_4b50);
        assert_eq!(u16_at(end, 8), dir.count.min(0xFFFF) as u16);
        assert_eq!(u32_at(end, 12), dir.size.min(LIMIT32) as u32);
        assert_eq!(u32_at(end, 16), dir.offset.min(LIMIT32) as u32);
    }
}

/// The map's pieces tile the archive, each as long as the bytes written
/// for it, and `piece_at` finds the piece of every boundary byte.
#[test]
fn pieces_tile_the_archive() {
    let items = vec![
        item("top/", 0),
        item("top/a", 3),
        item("top/empty", 0),
        item("top/huge", 5 << 30),
        item("top/sub/", 0),
        item("top/sub/after-4g", 7),
    ];
    let archive = Archive::new(items);
    let mut piece = archive.piece_at(0);
    let mut seen = Vec::new();
    loop {
        if piece.len > 0 {
            assert_eq!(archive.piece_at(piece.start), piece);
            assert_eq!(archive.piece_at(piece.end() - 1), piece);
        }
        if !matches!(piece.part, Part::Data(_)) {
            let mut b = Vec::new();
            archive.write(piece.part, 0, &mut b);
            assert_eq!(b.len() as u64, piece.len, "{piece:?}");
        }
        seen.push(piece.part);
        if piece.part == Part::End {
            assert_eq!(piece.end(), archive.len);
            break;
        }
        let next = archive.after(&piece);
        assert_eq!(next.start, piece.end());
        piece = next;
    }
    // The entry after the 5 GiB file has its header offset in a ZIP64 field.
    let last = archive.data_start(5) - layout::local_len(&archive.items[5]);
    assert!(last > LIMIT32);
    assert!(seen.contains(&Part::Central(5, last)));
    assert_eq!(
        seen.iter().filter(|p| matches!(p, Part::Data(_))).count(),
        4
    );
    assert_eq!(archive.dir.count, 6);
}

#[test]
fn zero_runs_and_sparse_files() {
    for n in [0u64, 1, 4095, 4096, 4097, 100_000, 1 << 20] {
        assert_eq!(
            crc::zeros(n).finalize(),
            crc32fast::hash(&vec![0; n as usize]),
            "{n}"
        );
    }
    let mut file = tempfile::tempfile().unwrap();
    file.seek(SeekFrom::Start(3 << 20)).unwrap();
    file.write_all(b"data in the middle").unwrap();
    file.set_len(8 << 20).unwrap();
    let mut whole = vec![0u8; 8 << 20];
    whole[3 << 20..(3 << 20) + 18].copy_from_slice(b"data in the middle");
    let mut budget = 1 << 20;
    let got = crc::of_file(&file, 8 << 20, &mut budget, &mut Vec::new()).unwrap();
    assert_eq!(got, Some(crc32fast::hash(&whole)));
    assert!(budget >= (1 << 20) - (64 << 10), "the holes were not read");
    let mut budget = 0;
    assert_eq!(
        crc::of_file(&file, 8 << 20, &mut budget, &mut Vec::new()).unwrap(),
        None
    );
    let mut budget = 1 << 30;
    assert_eq!(
        crc::of_file(&file, 9 << 20, &mut budget, &mut Vec::new()).unwrap(),
        None,
        "shorter than planned"
    );
}

#[test]
fn content_disposition() {
    assert_eq!(disposition("photos"), "attachment; filename=\"photos.zip\"");
    assert_eq!(
        disposition("été \"x\""),
        "attachment; filename=\"_t_ _x_.zip\"; filename*=UTF-8''%C3%A9t%C3%A9%20%22x%22.zip"
    );
}
