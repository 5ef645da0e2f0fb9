//! The archive's bytes without a socket: every record's layout field by
//! field (local header, data descriptor, central header, ZIP64 extra fields,
//! end records), the map's pieces against the bytes written, CRCs of sparse
//! files, and whole archives and ranges of them through a session.

use super::archive::{Archive, Part};
use super::layout::{self, Directory, Item, LIMIT32};
use super::{crc, disposition};
use crate::http::{AnchoredClock, HttpConfig, HttpContext, HttpService};
use crate::root::Root;
use crate::testing::Harness;
use crate::{Service, Session};
use std::io::{Seek, SeekFrom, Write};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
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

// --- whole archives through a session ---

struct Served {
    dir: tempfile::TempDir,
    service: HttpService,
    t0: Instant,
}

fn served(hidden: bool) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("share");
    std::fs::create_dir_all(p.join("folder/sub/deeper")).unwrap();
    std::fs::create_dir_all(p.join("folder/empty")).unwrap();
    std::fs::write(p.join("folder/a.txt"), "hello").unwrap();
    std::fs::write(p.join("folder/empty.txt"), "").unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(p.join("folder/sub/big.bin"), big).unwrap();
    std::fs::write(p.join("folder/sub/deeper/z"), "zz").unwrap();
    std::fs::write(p.join("folder/.hidden"), "secret").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", p.join("folder/out")).unwrap();
    std::os::unix::fs::symlink("..", p.join("folder/sub/loop")).unwrap();
    // Fixed times: two fixtures make the same archive.
    let when = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    for rel in [
        "folder",
        "folder/sub",
        "folder/sub/deeper",
        "folder/empty",
        "folder/a.txt",
        "folder/empty.txt",
        "folder/sub/big.bin",
        "folder/sub/deeper/z",
    ] {
        std::fs::File::open(p.join(rel))
            .unwrap()
            .set_modified(when)
            .unwrap();
    }
    let t0 = Instant::now();
    let root = Root::open(&p).unwrap().with_hidden(hidden);
    let clock = AnchoredClock {
        instant: t0,
        wall: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    };
    let config = HttpConfig {
        model: "test".into(),
        ..HttpConfig::default()
    };
    let service = HttpService::new(root, config, HttpContext::new(t0, Arc::new(clock)));
    Served { dir, service, t0 }
}

impl Served {
    /// The reply to `GET target` with extra header lines: (head, body).
    fn get(&self, target: &str, extra: &str) -> (String, Vec<u8>) {
        let mut h = Harness::new(self.service.new_session(None, self.t0), self.t0);
        let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\n{extra}\r\n");
        let out = h.send(request.as_bytes());
        let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        (
            String::from_utf8_lossy(&out[..at]).into_owned(),
            out[at..].to_vec(),
        )
    }
}

/// A reader written from the specification, independent of the writer:
/// the end record, each central header, its local header, data and CRC.
fn names_and_data(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let eocd = zip.len() - 22;
    assert_eq!(u32_at(zip, eocd), 0x0605_4b50);
    let count = usize::from(u16_at(zip, eocd + 10));
    let mut at = u32_at(zip, eocd + 16) as usize;
    let mut out = Vec::new();
    for _ in 0..count {
        assert_eq!(u32_at(zip, at), 0x0201_4b50);
        let (crc, size) = (u32_at(zip, at + 16), u32_at(zip, at + 24) as usize);
        let name_len = usize::from(u16_at(zip, at + 28));
        let extra = usize::from(u16_at(zip, at + 30));
        let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).unwrap();
        let local = u32_at(zip, at + 42) as usize;
        assert_eq!(u32_at(zip, local), 0x0403_4b50);
        assert_eq!(&zip[local + 30..local + 30 + name_len], name.as_bytes());
        let data = local + 30 + name_len + usize::from(u16_at(zip, local + 28));
        let bytes = zip[data..data + size].to_vec();
        assert_eq!(crc32fast::hash(&bytes), crc, "{name}");
        if !name.ends_with('/') {
            assert_eq!(u32_at(zip, data + size), 0x0807_4b50);
            assert_eq!(u32_at(zip, data + size + 4), crc);
        }
        out.push((name, bytes));
        at += 46 + name_len + extra;
    }
    assert_eq!(at, eocd);
    out
}

#[test]
fn a_folder_archive_holds_the_tree_and_nothing_else() {
    let s = served(false);
    let (head, body) = s.get("/folder/?zip", "");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {}\r\n", body.len())),
        "{head}"
    );
    assert!(head.contains("Content-Disposition: attachment; filename=\"folder.zip\""));
    let names: Vec<String> = names_and_data(&body).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "folder/",
            "folder/a.txt",
            "folder/empty/",
            "folder/empty.txt",
            "folder/sub/",
            "folder/sub/big.bin",
            "folder/sub/deeper/",
            "folder/sub/deeper/z"
        ]
    );
    let (head, _) = s.get("/folder/.hidden/?zip", "");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let (head, _) = s.get("/nope/?zip", "");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    drop(s.dir);
}

#[test]
fn hidden_names_go_in_with_hidden_and_the_root_is_named_after_its_folder() {
    let s = served(true);
    let (head, body) = s.get("/?zip", "");
    assert!(head.contains("filename=\"share.zip\""), "{head}");
    let names: Vec<String> = names_and_data(&body).into_iter().map(|(n, _)| n).collect();
    assert!(
        names.contains(&"share/folder/.hidden".to_owned()),
        "{names:?}"
    );
}

/// Any range of the archive is the same bytes as that slice of the whole,
/// whether or not the CRCs it needs were cached by an earlier download.
#[test]
fn every_range_is_a_slice_of_the_whole() {
    let s = served(false);
    let (_, whole) = s.get("/folder/?zip", "");
    let len = whole.len();
    let etag = {
        let (head, _) = s.get("/folder/?zip", "");
        let line = head.lines().find(|l| l.starts_with("ETag: ")).unwrap();
        line["ETag: ".len()..].to_owned()
    };
    for fresh in [false, true] {
        // A fresh service has no cached CRCs: it reads the files it skips.
        let s = served(false);
        if !fresh {
            s.get("/folder/?zip", "");
        }
        for (start, end) in [
            (0, 10),
            (30, 500),
            (200, len - 1),
            (1_000_000, 2_999_999),
            (len - 30, len - 1),
            (len - 200, len - 1),
        ] {
            let (head, body) = s.get("/folder/?zip", &format!("Range: bytes={start}-{end}\r\n"));
            assert!(head.starts_with("HTTP/1.1 206"), "{head}");
            assert!(
                head.contains(&format!("Content-Range: bytes {start}-{end}/{len}")),
                "{head}"
            );
            assert_eq!(body, &whole[start..=end], "{start}-{end} fresh {fresh}");
        }
        let (head, _) = s.get("/folder/?zip", &format!("Range: bytes={len}-\r\n"));
        assert!(head.starts_with("HTTP/1.1 416"), "{head}");
        let (head, body) = s.get(
            "/folder/?zip",
            "Range: bytes=5-9\r\nIf-Range: \"zip-other\"\r\n",
        );
        assert!(
            head.starts_with("HTTP/1.1 200"),
            "a changed archive is sent whole: {head}"
        );
        assert_eq!(body.len(), len);
        let (head, _) = s.get(
            "/folder/?zip",
            &format!("Range: bytes=5-9\r\nIf-Range: {etag}\r\n"),
        );
        assert!(head.starts_with("HTTP/1.1 206"), "{head}");
    }
}

/// The body's bytes after the head, and the head's Content-Length.
fn split(out: &[u8]) -> (u64, Vec<u8>) {
    let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&out[..at]).into_owned();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    (len, out[at..].to_vec())
}

/// A central directory many times the session's read-ahead comes out whole,
/// piece by piece, and the connection then takes the next request.
#[test]
fn thousands_of_entries_come_out_piece_by_piece() {
    let s = served(false);
    let many = s.dir.path().join("share/many");
    std::fs::create_dir(&many).unwrap();
    for i in 0..3000 {
        std::fs::write(many.join(format!("file-{i:04}.txt")), format!("{i}")).unwrap();
    }
    let mut h = Harness::new(s.service.new_session(None, s.t0), s.t0);
    let out = h.send(b"GET /many/?zip HTTP/1.1\r\nHost: x\r\n\r\n");
    let (len, body) = split(&out);
    assert_eq!(body.len() as u64, len);
    let entries = names_and_data(&body);
    assert_eq!(entries.len(), 3001);
    assert_eq!(
        entries[3000],
        ("many/file-2999.txt".into(), b"2999".to_vec())
    );
    let next = h.send(b"GET /folder/a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(next.starts_with(b"HTTP/1.1 200 OK") && next.ends_with(b"hello"));
}

/// A file that grew after the plan: its planned bytes go in, the archive
/// stays valid.
#[test]
fn a_file_that_grew_is_cut_to_its_planned_size() {
    let s = served(false);
    let mut h = Harness::new(s.service.new_session(None, s.t0), s.t0);
    let request = b"GET /folder/?zip HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(h.session.handle_input(s.t0, request), request.len());
    let a = s.dir.path().join("share/folder/a.txt");
    std::fs::write(&a, "hello, and much more than was planned").unwrap();
    let (len, body) = split(&h.drain());
    assert_eq!(body.len() as u64, len);
    let entries = names_and_data(&body);
    assert_eq!(entries[1], ("folder/a.txt".into(), b"hello".to_vec()));
}

/// A file that shrank after the plan: the connection is closed with a short
/// body, never an archive with made-up bytes.
#[test]
fn a_file_that_shrank_aborts_the_connection() {
    let s = served(false);
    let mut h = Harness::new(s.service.new_session(None, s.t0), s.t0);
    let request = b"GET /folder/?zip HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(h.session.handle_input(s.t0, request), request.len());
    let big = s.dir.path().join("share/folder/sub/big.bin");
    std::fs::File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(1000)
        .unwrap();
    let (len, body) = split(&h.drain());
    assert!((body.len() as u64) < len, "{} of {len}", body.len());
    assert!(h.session.is_done(), "the connection closes");
}

/// The plan is bounded: past its entries or name bytes the folder is refused
/// (the handler answers 507) instead of held in memory.
#[test]
fn the_plan_is_bounded() {
    use super::plan::{walk_within, PlanError};
    let s = served(false);
    let root = &s.service.shared.root;
    let base = crate::root::RelPath::parse("folder").unwrap();
    let items = walk_within(root, &base, "folder/", 8, 1 << 20).unwrap();
    assert_eq!(items.len(), 8);
    assert!(matches!(
        walk_within(root, &base, "folder/", 7, 1 << 20),
        Err(PlanError::TooBig)
    ));
    assert!(matches!(
        walk_within(root, &base, "folder/", 100, 50),
        Err(PlanError::TooBig)
    ));
}
