//! Whole archives through an HTTP session over a temporary tree, without a
//! socket: what goes in (hidden names, links), a reader written from the
//! specification, ranges against slices of the whole (with and without cached
//! CRCs), many entries coming out piece by piece, files that change under the
//! stream, and the plan's bounds.

use super::tests::{u16_at, u32_at};
use crate::http::{AnchoredClock, HttpConfig, HttpContext, HttpService};
use crate::root::Root;
use crate::testing::Harness;
use crate::{Service, Session};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

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
