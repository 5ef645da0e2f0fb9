//! One drive function per parser or state machine, shared by the cargo-fuzz
//! targets (`fuzz/fuzz_targets/*.rs`) and the stable property tests
//! (`crates/proto/tests/props_*.rs`, which include this file with `#[path]`),
//! so the same code runs under libFuzzer and under `cargo test`.
//!
//! Each function takes arbitrary bytes and must return without panicking; it
//! checks the invariants every input must keep (output bounded, IRC lines fit
//! 512 bytes, no reply to a stranger larger than its datagram, …). Every loop
//! is bounded by the input's length, so no input can make a target spin.
#![allow(dead_code)] // each includer uses a subset

use netkit_proto::chat::hub::Hub;
use netkit_proto::chat::irc::IrcService;
use netkit_proto::chat::room::RoomConfig;
use netkit_proto::chat::udp::UdpFront;
use netkit_proto::files::{FilesConfig, FilesService};
use netkit_proto::http::{AnchoredClock, HttpConfig, HttpContext, HttpService};
use netkit_proto::root::{RelPath, Root, RootError};
use netkit_proto::testing::Harness;
use netkit_proto::tftp::server::{ServerConfig, TftpServer};
use netkit_proto::tftp::{wire, TransferService, TransferSession};
use netkit_proto::{Datagram, DatagramService, Service, Session};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The largest reply any single input may draw: the served files are tiny, so
/// anything near this means something echoes or grows without bound.
const MAX_REPLY: usize = 4 << 20;

/// A served directory made once per process: a few small files, a
/// subdirectory, and an upload target that PUTs may overwrite.
fn served_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("netkit-fuzz-{}", std::process::id()));
        let _ = std::fs::create_dir_all(dir.join("sub"));
        let _ = std::fs::write(dir.join("index.html"), b"<h1>hi</h1>");
        let _ = std::fs::write(dir.join("a.txt"), b"hello\n");
        let _ = std::fs::write(dir.join("sub/b.bin"), vec![7u8; 3000]);
        // Hidden: no target may ever reach it (the default policy).
        let _ = std::fs::write(dir.join(".env"), b"SECRET=1\n");
        let _ = std::fs::write(dir.join("sub/.key"), b"SECRET=2\n");
        dir
    })
}

fn root() -> Root {
    Root::open(served_dir()).expect("open the fuzz root")
}

/// Splits `data` into the pieces a peer might send: the first byte picks a
/// piece size (1–256), so one input explores many TCP segmentations.
fn pieces(data: &[u8]) -> (usize, &[u8]) {
    match data.split_first() {
        Some((&b, rest)) => (usize::from(b) + 1, rest),
        None => (1, data),
    }
}

/// Feeds `data` to a TCP session piece by piece, then time passes and the
/// peer half-closes. Returns everything the session sent.
fn drive<S: Session>(session: S, now: Instant, data: &[u8]) -> Vec<u8> {
    let mut h = Harness::new(session, now);
    let (size, data) = pieces(data);
    let mut out = Vec::new();
    for piece in data.chunks(size) {
        if h.session.is_done() {
            break;
        }
        out.extend(h.send(piece));
        out.extend(deliver_wakes(&mut h));
        assert!(out.len() <= MAX_REPLY, "reply grew past {MAX_REPLY} bytes");
    }
    out.extend(h.advance(Duration::from_secs(1)));
    if !h.session.is_done() {
        out.extend(h.eof());
    }
    out.extend(deliver_wakes(&mut h));
    // Time runs out: every session must become done or stay quiet.
    for _ in 0..4 {
        out.extend(h.advance(Duration::from_secs(120)));
    }
    assert!(out.len() <= MAX_REPLY, "reply grew past {MAX_REPLY} bytes");
    out
}

/// Delivers the wake-ups a session asked for, as a driver does (a files
/// SUM continues on each), then re-offers input it left while busy; bounded.
fn deliver_wakes<S: Session>(h: &mut Harness<S>) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..64 {
        if h.wakes() == 0 {
            break;
        }
        out.extend(h.wake());
    }
    out.extend(h.send(b""));
    out
}

/// An HTTP service over the fuzz root, uploads on (to one name, overwriting).
fn http_service() -> HttpService {
    let config = HttpConfig {
        upload: true,
        overwrite: true,
        max_upload: 64 * 1024,
        ..HttpConfig::default()
    };
    // A wall clock that follows the harness's instants: no clock is read.
    let now = Instant::now();
    let clock = AnchoredClock {
        instant: now,
        wall: std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    };
    HttpService::new(root(), config, HttpContext::new(now, Arc::new(clock)))
}

/// Arbitrary bytes as an HTTP connection's input: request heads, bodies,
/// pipelining. Every reply must start as an HTTP/1.1 status line.
pub fn http_stream(data: &[u8]) {
    let now = Instant::now();
    let svc = http_service();
    let out = drive(svc.new_session(None, now), now, data);
    if !out.is_empty() {
        assert!(
            out.starts_with(b"HTTP/1.1 "),
            "reply is not HTTP: {:?}",
            &out[..out.len().min(40)]
        );
    }
}

/// Arbitrary bytes as the chunked body of a PUT: the reply is a status line,
/// and a 2xx means the body parsed (the framing did not read past it).
pub fn http_chunked(data: &[u8]) {
    let now = Instant::now();
    let svc = http_service();
    let mut input =
        b"PUT /fuzz-upload.bin HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let (size, body) = pieces(data);
    input.push((size - 1) as u8);
    input.extend_from_slice(body);
    let out = drive(svc.new_session(None, now), now, &input);
    if !out.is_empty() {
        assert!(out.starts_with(b"HTTP/1.1 "), "reply is not HTTP");
    }
}

/// Arbitrary bytes as a files-protocol connection (commands and PUT bodies).
pub fn files_stream(data: &[u8]) {
    let now = Instant::now();
    let config = FilesConfig {
        upload: true,
        overwrite: true,
        max_upload: Some(64 * 1024),
        idle_timeout: Some(Duration::from_secs(60)),
    };
    let svc = FilesService::new(Arc::new(root()), config);
    let out = drive(svc.new_session(None, now), now, data);
    // Every reply begins with a known word.
    if !out.is_empty() {
        // `OK <…>` (LIST, GET, SUM), a bare `OK` (AUTH, MKDIR, DELETE, MOVE).
        let ok = [&b"OK "[..], b"OK\n", b"ERR ", b"READY", b"BYE"]
            .iter()
            .any(|p| out.starts_with(p));
        assert!(
            ok,
            "unexpected first reply: {:?}",
            &out[..out.len().min(40)]
        );
    }
}

/// Arbitrary bytes as one files command line: parse, and a parsed command
/// re-emitted parses to the same command.
pub fn files_command(data: &[u8]) {
    use netkit_proto::files::wire::Command;
    if let Ok(cmd) = Command::parse(data) {
        let mut line = Vec::new();
        cmd.emit(&mut line);
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        let again = Command::parse(line).expect("an emitted command parses");
        assert_eq!(cmd, again);
    }
}

fn peer(n: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40_000 + u16::from(n % 8)))
}

/// Arbitrary bytes as TFTP: the first datagram (up to a 0xFF 0xFF marker) is
/// a request to the server; the rest are datagrams to its transfer, with
/// timeouts in between. Bounded steps; every packet the server sends parses.
pub fn tftp_exchange(data: &[u8]) {
    let _ = wire::parse(data);
    let server = TftpServer::new(
        Arc::new(root()),
        ServerConfig {
            upload: true,
            overwrite: true,
            ..ServerConfig::default()
        },
    );
    let mut parts = data.split(|&b| b == 0xFF).filter(|p| !p.is_empty());
    let Some(first) = parts.next() else { return };
    let mut now = Instant::now();
    let Some(mut t) = server.handle_request(now, peer(0), first) else {
        return;
    };
    let mut sent = 0usize;
    let mut drain = |t: &mut <TftpServer as TransferService>::Transfer| {
        while let Some((_, pkt)) = t.poll_transmit() {
            assert!(pkt.len() <= 4 + wire::MAX_BLKSIZE, "datagram too large");
            assert!(wire::parse(pkt).is_ok(), "server sent an unparsable packet");
            sent += 1;
            assert!(sent < 100_000, "transfer never stops sending");
        }
    };
    drain(&mut t);
    for (i, p) in parts.enumerate() {
        if t.is_done() {
            break;
        }
        t.handle_datagram(now, peer((i % 3 == 2) as u8), p);
        drain(&mut t);
        if i % 4 == 3 {
            now += Duration::from_secs(2);
            t.handle_timeout(now);
            drain(&mut t);
        }
    }
    // With no more input, timeouts end every transfer.
    for _ in 0..64 {
        if t.is_done() {
            break;
        }
        now += Duration::from_secs(30);
        t.handle_timeout(now);
        drain(&mut t);
    }
    assert!(t.is_done(), "a silent peer never ended the transfer");
}

/// Arbitrary bytes as a TFTP option list (NUL-separated names and values):
/// parsing never panics and every value it keeps is in range.
pub fn tftp_options(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let words: Vec<&str> = text.split('\0').collect();
    let pairs: Vec<(&str, &str)> = words
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0], c[1]))
        .collect();
    let o = wire::Options::from_pairs(&pairs);
    if let Some(b) = o.blksize {
        assert!((wire::MIN_BLKSIZE..=wire::MAX_BLKSIZE).contains(&b));
    }
    assert!(o.timeout != Some(0) && o.windowsize != Some(0));
    let _ = o.to_pairs();
    let mut request = vec![0, 1];
    request.extend_from_slice(b"a.txt\0octet\0");
    request.extend_from_slice(data);
    let _ = wire::parse(&request);
}

/// Arbitrary datagrams (separated by 0xFF; the byte after picks one of eight
/// senders) at the chat room's UDP front. No stranger is ever sent more
/// bytes than its datagram had; no datagram exceeds a UDP payload.
pub fn chat_datagrams(data: &[u8]) {
    use netkit_proto::chat::event::MemberId;
    let hub = Hub::new(RoomConfig::default());
    let mut front = UdpFront::new(Arc::clone(&hub));
    let mut now = Instant::now();
    let mut out: Vec<Datagram> = Vec::new();
    for part in data.split(|&b| b == 0xFF) {
        let (who, dgram) = part.split_first().map_or((0, part), |(&b, r)| (b, r));
        let from = peer(who);
        let member = hub.with_room(|room| room.name_of(MemberId::Udp(from)).is_some());
        out.clear();
        front.handle_datagram(now, from, dgram, &mut out);
        for d in &out {
            assert!(d.data.len() <= 65_507, "datagram too large");
            // A stranger gets at most its own datagram's size back (an OK to a
            // JOIN lists the members: bounded by the room, see the README).
            if d.to == from && !member && !d.data.starts_with(b"OK ") {
                assert!(
                    d.data.len() <= dgram.len(),
                    "amplified reply to a stranger: {:?} for {:?}",
                    String::from_utf8_lossy(&d.data),
                    String::from_utf8_lossy(dgram)
                );
            }
        }
        now += Duration::from_millis(u64::from(who) * 10);
        out.clear();
        front.handle_timeout(now, &mut out);
    }
    let _ = netkit_proto::chat::wire::Request::parse(data);
    let _ = netkit_proto::chat::wire::Reply::parse(data);
}

/// Arbitrary bytes as an IRC connection: every line sent fits 512 bytes
/// with its CRLF, and carries no bare CR or LF inside.
pub fn irc_stream(data: &[u8]) {
    let now = Instant::now();
    let hub = Hub::new(RoomConfig::default());
    let svc = IrcService::new(hub);
    let out = drive(svc.new_session(None, now), now, data);
    for line in out.split_inclusive(|&b| b == b'\n') {
        assert!(line.len() <= 512, "IRC line of {} bytes", line.len());
        if line.ends_with(b"\n") {
            assert!(line.ends_with(b"\r\n"), "IRC line without CRLF");
            assert!(
                !line[..line.len() - 2].contains(&b'\r'),
                "bare CR inside a line"
            );
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = netkit_proto::chat::irc::wire::Line::parse(text);
    }
}

/// Arbitrary text as a name under the served root: parsing either refuses it
/// or yields components free of `..`, `/`, `\` and NUL.
pub fn root_path(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(rel) = RelPath::parse(&text) {
        for c in rel.components() {
            assert!(
                c != ".." && c != "." && !c.is_empty(),
                "bad component {c:?}"
            );
            assert!(!c.contains(['/', '\0']), "bad component {c:?}");
        }
        // Hidden names (a component starting with `.`) are not found under
        // the default policy, whatever exists on disk.
        if rel.is_hidden() {
            let root = root();
            assert!(root.hides(&rel), "{rel} is hidden");
            assert!(
                matches!(root.metadata(&rel), Err(RootError::NotFound(_))),
                "{rel} was found"
            );
        }
    }
}

/// Runs `f` on every seed input in `fuzz/corpus/DIR`; returns how many. For
/// the property tests in `crates/proto/tests` (the path is taken from the
/// including crate's directory), which replay the committed corpora in CI.
pub fn replay_corpus(dir: &str, f: fn(&[u8])) -> usize {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(dir);
    let mut n = 0;
    for entry in std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        f(&data);
        n += 1;
    }
    n
}

/// Arbitrary bytes as the XML body of a WebDAV request: the first byte picks
/// PROPFIND (Depth 0 or 1), PROPPATCH or LOCK on a file or the root, the rest
/// is the body. The reply is one HTTP/1.1 response with a WebDAV status; a
/// malformed body is a 400, never a panic.
pub fn dav_bodies(data: &[u8]) {
    let now = Instant::now();
    let svc = http_service();
    let (pick, body) = data.split_first().unwrap_or((&0, &[]));
    let (method, depth) = match pick % 5 {
        0 => ("PROPFIND", "0"),
        1 => ("PROPFIND", "1"),
        2 => ("PROPPATCH", "0"),
        3 => ("LOCK", "0"),
        _ => ("LOCK", "infinity"),
    };
    let path = if pick & 0x80 == 0 {
        "/fuzz-dav.txt"
    } else {
        "/"
    };
    let mut input = format!(
        "{method} {path} HTTP/1.1\r\nHost: f\r\nDepth: {depth}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    input.extend_from_slice(body);
    let mut h = Harness::new(svc.new_session(None, now), now);
    let out = h.send(&input);
    assert!(out.starts_with(b"HTTP/1.1 "), "reply is not HTTP");
    let status = std::str::from_utf8(&out[9..12]).unwrap_or("?");
    assert!(
        ["200", "201", "207", "400", "403", "404", "409", "412", "423", "503"].contains(&status),
        "unexpected status {status}"
    );
}
