//! `netkit tftp serve` answering requests sent from a raw UDP socket: the
//! OACK for each option combination (only what was asked, curl's tsize quirk,
//! the window budget), names that try to leave the root (ERROR 2), malformed
//! and oversized requests (ERROR 4), refusals (not found, uploads off,
//! existing files), and a file sent only as far as its stated size.

use crate::tftp_support;

use tftp_support::*;

#[test]
fn oack_carries_only_what_was_asked() {
    let s = setup(&["--upload"]);
    let cases: Vec<(Vec<u8>, P)> = vec![
        (rrq("three", &[]), P::Data(1, vec![7; 512])),
        (
            rrq("three", &[("blksize", "1024")]),
            P::Oack(opts(&[("blksize", "1024")])),
        ),
        (
            rrq("three", &[("BlkSize", "70000")]),
            P::Oack(opts(&[("blksize", "65464")])),
        ),
        (rrq("three", &[("blksize", "4")]), P::Data(1, vec![7; 512])),
        (
            rrq("three", &[("tsize", "0")]),
            P::Oack(opts(&[("tsize", "1124")])),
        ),
        // curl aborts on tsize 0: an empty file is simply sent.
        (rrq("empty", &[("tsize", "0")]), P::Data(1, vec![])),
        (
            rrq("empty", &[("tsize", "0"), ("blksize", "1468")]),
            P::Oack(opts(&[("blksize", "1468")])),
        ),
        (
            rrq("three", &[("timeout", "3")]),
            P::Oack(opts(&[("timeout", "3")])),
        ),
        (rrq("three", &[("timeout", "0")]), P::Data(1, vec![7; 512])),
        (
            rrq("three", &[("windowsize", "8")]),
            P::Oack(opts(&[("windowsize", "8")])),
        ),
        // A window of 64 KiB blocks would overflow the receiver's socket buffer.
        (
            rrq("three", &[("windowsize", "8"), ("blksize", "65464")]),
            P::Oack(opts(&[("blksize", "65464"), ("windowsize", "1")])),
        ),
        (rrq("three", &[("color", "blue")]), P::Data(1, vec![7; 512])),
        (
            rrq(
                "three",
                &[
                    ("tsize", "0"),
                    ("timeout", "2"),
                    ("windowsize", "4"),
                    ("x", "y"),
                    ("blksize", "1468"),
                ],
            ),
            P::Oack(opts(&[
                ("blksize", "1468"),
                ("timeout", "2"),
                ("tsize", "1124"),
                ("windowsize", "4"),
            ])),
        ),
        (wrq("new-a", &[]), P::Ack(0)),
        (
            wrq("new-b", &[("tsize", "100")]),
            P::Oack(opts(&[("tsize", "100")])),
        ),
        (
            wrq("new-c", &[("blksize", "1468"), ("windowsize", "16")]),
            P::Oack(opts(&[("blksize", "1468"), ("windowsize", "16")])),
        ),
    ];
    for (req, want) in cases {
        let mut c = Peer::new(s.server.addr());
        c.request(&req);
        assert_eq!(
            c.recv(),
            want,
            "answer to {:?}",
            String::from_utf8_lossy(&req)
        );
        c.send(&error(0));
    }
}

#[test]
fn names_leaving_the_root_get_error_2() {
    let s = setup(&["--upload"]);
    let names: [&[u8]; 12] = [
        b"../secret",
        b"/etc/passwd",
        b"sub/../../secret",
        b"..",
        b"..\\secret",
        b"sub\\..\\..\\secret",
        b"bad\x01name",
        b"new\nline",
        b"link-out/secret",
        b"link-file",
        b"\xff\xfe",
        b".netkit-upload-x.tmp",
    ];
    for name in names {
        for op in [1u8, 2] {
            let mut c = Peer::new(s.server.addr());
            c.request(&request(op, name, "octet", &[]));
            assert_eq!(
                c.recv(),
                P::Error(2),
                "op {op} name {:?}",
                String::from_utf8_lossy(name)
            );
        }
    }
    assert_eq!(
        std::fs::read(s.dir.path().join("secret")).unwrap(),
        b"outside"
    );
}

#[test]
fn malformed_and_oversized_requests_get_error_4() {
    let s = setup(&[]);
    let long = "a".repeat(600);
    let cases: Vec<Vec<u8>> = vec![
        rrq(&long, &[]),
        rrq("three", &[("x", &"y".repeat(500))]),
        b"\x00\x01three\x00octet".to_vec(),
        b"\x00\x01three".to_vec(),
        request(1, b"three", "mail", &[]),
        request(1, b"three", "binary", &[]),
        b"\x00\x01three\x00octet\x00blksize\x00".to_vec(),
        b"\x00\x09junk".to_vec(),
        b"\x00".to_vec(),
        ack(1),
        data(1, b"stray"),
    ];
    for req in cases {
        let mut c = Peer::new(s.server.addr());
        c.request(&req);
        assert_eq!(
            c.recv(),
            P::Error(4),
            "request {:?}",
            String::from_utf8_lossy(&req)
        );
    }
    // Still serving.
    let mut c = Peer::new(s.server.addr());
    c.request(&rrq("empty", &[]));
    assert_eq!(c.recv(), P::Data(1, vec![]));
}

#[test]
fn refusals_not_found_no_upload_and_exists() {
    let s = setup(&[]);
    let mut c = Peer::new(s.server.addr());
    c.request(&rrq("nope", &[]));
    assert_eq!(c.recv(), P::Error(1));
    let mut c = Peer::new(s.server.addr());
    c.request(&rrq("sub", &[]));
    assert_eq!(c.recv(), P::Error(2), "a directory is not a file");
    let mut c = Peer::new(s.server.addr());
    c.request(&wrq("fresh", &[]));
    assert_eq!(c.recv(), P::Error(2), "WRQ without --upload");
    assert!(!s.root.join("fresh").exists());

    let u = setup(&["--upload"]);
    let mut c = Peer::new(u.server.addr());
    c.request(&wrq("exists", &[]));
    assert_eq!(c.recv(), P::Error(6), "existing file without --overwrite");
    assert_eq!(std::fs::read(u.root.join("exists")).unwrap(), b"old");

    let mut c = Peer::new(u.server.addr());
    c.request(&wrq("huge", &[("tsize", "4611686018427387904")]));
    assert_eq!(c.recv(), P::Error(3), "a tsize larger than the free space");
    let left: Vec<_> = std::fs::read_dir(&u.root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with(".netkit-upload-") || n == "huge")
        .collect();
    assert!(left.is_empty(), "{left:?}");

    let o = setup(&["--upload", "--overwrite"]);
    let mut c = Peer::new(o.server.addr());
    c.request(&wrq("exists", &[]));
    assert_eq!(c.recv(), P::Ack(0));
    c.send(&data(1, b"new"));
    assert_eq!(c.recv(), P::Ack(1));
    assert_eq!(std::fs::read(o.root.join("exists")).unwrap(), b"new");
}

#[test]
fn a_file_is_sent_only_as_far_as_its_stated_size() {
    // procfs: `status` stats as 0 bytes yet reads a page of text. HTTP and
    // the files protocol send exactly the stated size; so does TFTP.
    let server = crate::common::Server::start(&[
        "tftp",
        "serve",
        "/proc/self",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
    ]);
    assert_eq!(std::fs::metadata("/proc/self/status").unwrap().len(), 0);
    let mut p = Peer::new(server.addr());
    p.request(&rrq("status", &[]));
    assert_eq!(p.recv(), P::Data(1, Vec::new()));
    p.send(&ack(1));
}
