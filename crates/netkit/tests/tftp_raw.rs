//! `netkit tftp serve` spoken to packet by packet from a raw UDP socket: the
//! cases no well-behaved client produces. Duplicate ACKs (Sorcerer's
//! Apprentice), strangers on a transfer's port, a client that goes silent, a
//! client's ERROR, the OACK for each option combination, names that try to
//! leave the root, malformed and oversized requests, uploads that are refused,
//! lingering after the last ACK, windows and go-back, netascii on the wire, and
//! a graceful shutdown mid-transfer.
//!
//! Waiting is always a `recv` with a bounded timeout: a test waits for the
//! packet that must come, and only the "nothing must come" checks wait out a
//! short, fixed silence.

mod common;

use common::{signal, wait_bounded, Server};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A packet that must arrive arrives within this.
const MUST_ARRIVE: Duration = Duration::from_secs(10);

/// How long "nothing arrives" is watched for; several of the server's
/// retransmission timeouts in the tests that use it.
const SILENCE: Duration = Duration::from_millis(800);

#[derive(Debug, PartialEq, Eq)]
enum P {
    Data(u16, Vec<u8>),
    Ack(u16),
    Error(u16),
    Oack(Vec<(String, String)>),
}

fn parse(b: &[u8]) -> P {
    let op = u16::from_be_bytes([b[0], b[1]]);
    let n = || u16::from_be_bytes([b[2], b[3]]);
    match op {
        3 => P::Data(n(), b[4..].to_vec()),
        4 => P::Ack(n()),
        5 => P::Error(n()),
        6 => {
            let f: Vec<String> = b[2..b.len() - 1]
                .split(|&c| c == 0)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
            P::Oack(
                f.chunks(2)
                    .map(|kv| (kv[0].clone(), kv[1].clone()))
                    .collect(),
            )
        }
        other => panic!("unexpected opcode {other}: {b:?}"),
    }
}

fn request(op: u8, name: &[u8], mode: &str, opts: &[(&str, &str)]) -> Vec<u8> {
    let mut p = vec![0, op];
    p.extend_from_slice(name);
    p.push(0);
    p.extend_from_slice(mode.as_bytes());
    p.push(0);
    for (k, v) in opts {
        p.extend_from_slice(k.as_bytes());
        p.push(0);
        p.extend_from_slice(v.as_bytes());
        p.push(0);
    }
    p
}

fn rrq(name: &str, opts: &[(&str, &str)]) -> Vec<u8> {
    request(1, name.as_bytes(), "octet", opts)
}

fn wrq(name: &str, opts: &[(&str, &str)]) -> Vec<u8> {
    request(2, name.as_bytes(), "octet", opts)
}

fn ack(n: u16) -> Vec<u8> {
    let mut p = vec![0, 4];
    p.extend_from_slice(&n.to_be_bytes());
    p
}

fn data(n: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0, 3];
    p.extend_from_slice(&n.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn error(code: u16) -> Vec<u8> {
    let mut p = vec![0, 5];
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(b"client gives up\0");
    p
}

/// A raw client socket.
struct Peer {
    sock: UdpSocket,
    server: SocketAddr,
    /// The transfer's port, learnt from the first answer.
    tid: Option<SocketAddr>,
}

impl Peer {
    fn new(server: SocketAddr) -> Peer {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        Peer {
            sock,
            server,
            tid: None,
        }
    }

    /// Sends to the listening port.
    fn request(&self, p: &[u8]) {
        self.sock.send_to(p, self.server).unwrap();
    }

    /// Sends to the transfer's port.
    fn send(&self, p: &[u8]) {
        self.sock
            .send_to(p, self.tid.expect("a transfer port"))
            .unwrap();
    }

    fn recv_within(&mut self, limit: Duration) -> Option<P> {
        self.sock.set_read_timeout(Some(limit)).unwrap();
        let mut buf = vec![0; 70_000];
        match self.sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                assert_ne!(from, self.server, "answers come from a fresh port");
                if let Some(tid) = self.tid {
                    assert_eq!(from, tid, "every answer from the same transfer port");
                }
                self.tid = Some(from);
                Some(parse(&buf[..n]))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("recv: {e}"),
        }
    }

    fn recv(&mut self) -> P {
        self.recv_within(MUST_ARRIVE)
            .expect("a packet from the server")
    }

    fn expect_silence(&mut self) {
        if let Some(p) = self.recv_within(SILENCE) {
            panic!("expected nothing, got {p:?}");
        }
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    server: Server,
}

fn setup(extra: &[&str]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("three"), vec![7u8; 1024 + 100]).unwrap();
    std::fs::write(root.join("ten"), vec![1u8; 512 * 10]).unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    std::fs::write(root.join("text"), b"a\nb\rc").unwrap();
    std::fs::write(root.join("exists"), b"old").unwrap();
    std::fs::write(dir.path().join("secret"), b"outside").unwrap();
    std::os::unix::fs::symlink(dir.path(), root.join("link-out")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret"), root.join("link-file")).unwrap();
    let r = root.to_str().unwrap().to_owned();
    let mut args = vec!["tftp", "serve", &r, "--bind", "127.0.0.1", "--port", "0"];
    args.extend_from_slice(extra);
    let server = Server::start(&args);
    Setup {
        _dir: dir,
        root,
        server,
    }
}

/// Short timeouts, so retries and lingering end quickly.
const QUICK: [&str; 4] = ["--timeout", "0.1", "--retries", "2"];

#[test]
fn duplicate_ack_causes_no_resend() {
    // A long timeout: any DATA before our next ACK would be caused by the duplicate.
    let s = setup(&["--timeout", "30"]);
    let mut c = Peer::new(s.server.addr());
    c.request(&rrq("three", &[]));
    assert_eq!(c.recv(), P::Data(1, vec![7; 512]));
    c.send(&ack(1));
    assert_eq!(c.recv(), P::Data(2, vec![7; 512]));
    c.send(&ack(1));
    c.send(&ack(1));
    c.send(&ack(2));
    // Were DATA 2 resent for a duplicate ACK 1, it would arrive before DATA 3.
    assert_eq!(c.recv(), P::Data(3, vec![7; 100]));
    c.send(&ack(3));
    c.expect_silence();
}

#[test]
fn foreign_tid_gets_error_5_and_the_transfer_goes_on() {
    let s = setup(&["--timeout", "30"]);
    let mut c = Peer::new(s.server.addr());
    c.request(&rrq("three", &[]));
    assert_eq!(c.recv(), P::Data(1, vec![7; 512]));
    let mut stranger = Peer::new(s.server.addr());
    stranger.tid = c.tid;
    stranger.send(&ack(1));
    assert_eq!(stranger.recv(), P::Error(5));
    // The stranger's ACK moved nothing: our own ACK 1 brings DATA 2.
    c.send(&ack(1));
    assert_eq!(c.recv(), P::Data(2, vec![7; 512]));
    c.send(&ack(2));
    assert_eq!(c.recv(), P::Data(3, vec![7; 100]));
    c.send(&ack(3));
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[test]
fn silent_client_is_retried_then_dropped_without_leaks() {
    let s = setup(&QUICK);
    let pid = s.server.child.id();
    let baseline = open_fds(pid);
    let mut c = Peer::new(s.server.addr());
    c.request(&rrq("three", &[]));
    // The first send and --retries 2 resends, then an ERROR, then nothing.
    for _ in 0..3 {
        assert_eq!(c.recv(), P::Data(1, vec![7; 512]));
    }
    assert_eq!(c.recv(), P::Error(0));
    c.expect_silence();
    // The transfer's socket and thread are gone (polled with a bound: the
    // thread exits just after its last send).
    let start = Instant::now();
    while open_fds(pid) != baseline {
        assert!(
            start.elapsed() < MUST_ARRIVE,
            "fd count {} != {baseline}",
            open_fds(pid)
        );
        std::thread::yield_now();
    }
    // And the server still serves.
    let mut d = Peer::new(s.server.addr());
    d.request(&rrq("empty", &[]));
    assert_eq!(d.recv(), P::Data(1, vec![]));
    d.send(&ack(1));
}

#[test]
fn client_error_ends_the_transfer_unanswered() {
    let s = setup(&QUICK);
    let mut c = Peer::new(s.server.addr());
    c.request(&rrq("three", &[]));
    assert_eq!(c.recv(), P::Data(1, vec![7; 512]));
    c.send(&error(0));
    // With a 0.1 s timeout a live transfer would resend DATA 1 within the silence.
    c.expect_silence();
    // An ERROR to the listening port is not answered either.
    c.request(&error(0));
    c.expect_silence();
}

fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

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
        std::fs::read(s._dir.path().join("secret")).unwrap(),
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

    let o = setup(&["--upload", "--overwrite"]);
    let mut c = Peer::new(o.server.addr());
    c.request(&wrq("exists", &[]));
    assert_eq!(c.recv(), P::Ack(0));
    c.send(&data(1, b"new"));
    assert_eq!(c.recv(), P::Ack(1));
    assert_eq!(std::fs::read(o.root.join("exists")).unwrap(), b"new");
}

#[test]
fn upload_appears_complete_duplicates_written_once_and_last_ack_repeated() {
    let s = setup(&["--upload", "--timeout", "5"]);
    let mut c = Peer::new(s.server.addr());
    c.request(&wrq("up", &[]));
    assert_eq!(c.recv(), P::Ack(0));
    c.send(&data(1, &[1; 512]));
    assert_eq!(c.recv(), P::Ack(1));
    c.send(&data(1, &[1; 512]));
    assert_eq!(c.recv(), P::Ack(1), "a duplicate DATA is re-ACKed");
    assert!(
        !s.root.join("up").exists(),
        "not visible before the last block"
    );
    c.send(&data(2, &[2; 10]));
    assert_eq!(c.recv(), P::Ack(2));
    let mut want = vec![1u8; 512];
    want.extend_from_slice(&[2; 10]);
    assert_eq!(
        std::fs::read(s.root.join("up")).unwrap(),
        want,
        "written once"
    );
    // Our final ACK "was lost": the repeated last block is ACKed again.
    c.send(&data(2, &[2; 10]));
    assert_eq!(c.recv(), P::Ack(2));
    let tmp: Vec<_> = std::fs::read_dir(&s.root)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".netkit-upload-")
        })
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

#[test]
fn abandoned_upload_leaves_nothing() {
    let s = setup(&["--upload"]);
    let mut c = Peer::new(s.server.addr());
    c.request(&wrq("half", &[]));
    assert_eq!(c.recv(), P::Ack(0));
    c.send(&data(1, &[1; 512]));
    assert_eq!(c.recv(), P::Ack(1));
    c.send(&error(0));
    // Another transfer, completed, proves the server went on past the ERROR.
    let mut d = Peer::new(s.server.addr());
    d.request(&rrq("empty", &[]));
    assert_eq!(d.recv(), P::Data(1, vec![]));
    let start = Instant::now();
    loop {
        let names: Vec<String> = std::fs::read_dir(&s.root)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if !names
            .iter()
            .any(|n| n == "half" || n.starts_with(".netkit-upload-"))
        {
            break;
        }
        assert!(start.elapsed() < MUST_ARRIVE, "left behind: {names:?}");
        std::thread::yield_now();
    }
}

#[test]
fn window_goes_back_to_the_last_acked_block() {
    let s = setup(&["--timeout", "30"]);
    let mut c = Peer::new(s.server.addr());
    c.request(&rrq("ten", &[("windowsize", "4")]));
    assert_eq!(c.recv(), P::Oack(opts(&[("windowsize", "4")])));
    c.send(&ack(0));
    for n in 1..=4 {
        assert_eq!(c.recv(), P::Data(n, vec![1; 512]));
    }
    // "Block 3 was lost": ACK 2 sends the window again from 3.
    c.send(&ack(2));
    for n in 3..=6 {
        assert_eq!(c.recv(), P::Data(n, vec![1; 512]));
    }
    c.send(&ack(6));
    for n in 7..=10 {
        assert_eq!(c.recv(), P::Data(n, vec![1; 512]));
    }
    c.send(&ack(10));
    assert_eq!(
        c.recv(),
        P::Data(11, vec![]),
        "10 full blocks end with an empty one"
    );
    c.send(&ack(11));
    c.expect_silence();
}

#[test]
fn netascii_on_the_wire() {
    let s = setup(&["--upload"]);
    let mut c = Peer::new(s.server.addr());
    c.request(&request(1, b"text", "NetASCII", &[]));
    assert_eq!(c.recv(), P::Data(1, b"a\r\nb\r\0c".to_vec()));
    c.send(&ack(1));
    let mut c = Peer::new(s.server.addr());
    c.request(&request(2, b"text-up", "netascii", &[("blksize", "8")]));
    assert_eq!(c.recv(), P::Oack(opts(&[("blksize", "8")])));
    // The CR of "\r\n" ends block 1; its LF starts block 2.
    c.send(&data(1, b"line on\r"));
    assert_eq!(c.recv(), P::Ack(1));
    c.send(&data(2, b"\nx\r\0y"));
    assert_eq!(c.recv(), P::Ack(2));
    assert_eq!(
        std::fs::read(s.root.join("text-up")).unwrap(),
        b"line on\nx\ry"
    );
}

#[test]
fn shutdown_lets_a_transfer_finish_then_exits_0() {
    let s = setup(&["--timeout", "30"]);
    let mut c = Peer::new(s.server.addr());
    c.request(&rrq("three", &[]));
    assert_eq!(c.recv(), P::Data(1, vec![7; 512]));
    signal(&s.server.child, "TERM");
    c.send(&ack(1));
    assert_eq!(c.recv(), P::Data(2, vec![7; 512]));
    c.send(&ack(2));
    assert_eq!(c.recv(), P::Data(3, vec![7; 100]));
    c.send(&ack(3));
    let mut server = s.server;
    assert_eq!(
        wait_bounded(&mut server.child, Duration::from_secs(20)),
        Some(0)
    );
}
