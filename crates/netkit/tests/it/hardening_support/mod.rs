//! Shared by the `hardening_*` tests: the traversal corpus reader, a served
//! tree with canaries outside it, snapshots of everything outside the root,
//! and small raw clients for HTTP, the files protocol and TFTP that never
//! hang (every read has a timeout) and never trust the server's answers.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A read that waits longer than this means the server is stuck.
pub const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// The canary's length: a reply that mentions it is suspicious on its own.
pub const CANARY_LEN: usize = 7919;

/// One corpus entry: the line as written (for messages) and the bytes to send.
#[derive(Debug, Clone)]
pub struct Case {
    pub line: String,
    pub bytes: Vec<u8>,
}

/// Reads `tests/data/traversal.txt`, expanding `\xNN`, `\\`, `{N*TEXT}` and
/// `{BASE}` (the test's base directory).
pub fn corpus(base: &Path) -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data/traversal.txt");
    let text = std::fs::read_to_string(&path).expect("read the traversal corpus");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| Case {
            line: line.to_owned(),
            bytes: expand(line, base),
        })
        .collect()
}

fn expand(line: &str, base: &Path) -> Vec<u8> {
    let line = line.replace("{BASE}", base.to_str().expect("utf-8 temp path"));
    let mut out = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 3 < b.len() {
            let hex = std::str::from_utf8(&b[i + 2..i + 4]).expect("hex digits");
            out.push(u8::from_str_radix(hex, 16).expect("\\xNN"));
            i += 4;
        } else if b[i] == b'\\' && b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if b[i] == b'{' {
            let end = i + line[i..].find('}').expect("closing }");
            let (n, text) = line[i + 1..end].split_once('*').expect("{N*TEXT}");
            let n: usize = n.parse().expect("repeat count");
            out.extend(text.repeat(n).into_bytes());
            i = end + 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// For writes, names that would reach real system files if the server were
/// broken are pointed at a harmless scratch name instead (the tests run as
/// root): `etc/passwd` → `tmp/netkit-harden-pwned`, `/proc/…` is skipped.
pub fn for_writes(cases: &[Case]) -> Vec<Case> {
    cases
        .iter()
        .filter(|c| !c.line.contains("proc/"))
        .map(|c| Case {
            line: c.line.clone(),
            bytes: replace(
                &replace(&c.bytes, b"etc/passwd", PWNED_REL.as_bytes()),
                b"etc%2fpasswd",
                PWNED_REL.as_bytes(),
            ),
        })
        .collect()
}

fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// Where a broken server would have written through an absolute name.
pub const PWNED_REL: &str = "tmp/netkit-harden-pwned";

/// The served tree: BASE/root (served), BASE/canary.txt and
/// BASE/outside/canary.txt (secret), BASE/outside/hardlink-target.txt (hard
/// linked into the root), and escaping symlinks inside the root.
pub struct Tree {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub marker: String,
}

impl Tree {
    pub fn new() -> Tree {
        let dir = tempfile::tempdir().expect("temp dir");
        let base = dir.path();
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        let marker = format!("CANARY-{:016x}", rand_u64());
        let mut canary = marker.clone().into_bytes();
        canary.resize(CANARY_LEN, b'#');
        std::fs::write(base.join("canary.txt"), &canary).unwrap();
        std::fs::write(base.join("outside/canary.txt"), &canary).unwrap();
        std::fs::write(
            base.join("outside/hardlink-target.txt"),
            b"hard link target\n",
        )
        .unwrap();
        std::fs::write(root.join("a.txt"), b"hello\n").unwrap();
        std::fs::write(root.join("index.html"), b"<p>index</p>\n").unwrap();
        std::fs::write(root.join("sub/b.txt"), b"bee\n").unwrap();
        std::fs::write(root.join(".hidden"), b"dot\n").unwrap();
        let link = std::os::unix::fs::symlink;
        link("../outside", root.join("escape")).unwrap();
        link("../canary.txt", root.join("canary-link")).unwrap();
        std::os::unix::fs::symlink(base.join("canary.txt"), root.join("abs-link")).unwrap();
        link("loop-b", root.join("loop-a")).unwrap();
        link("loop-a", root.join("loop-b")).unwrap();
        std::fs::hard_link(
            base.join("outside/hardlink-target.txt"),
            root.join("hardlink.txt"),
        )
        .unwrap();
        Tree { root, marker, dir }
    }

    pub fn base(&self) -> &Path {
        self.dir.path()
    }

    pub fn root_str(&self) -> &str {
        self.root.to_str().unwrap()
    }

    /// Every file and link outside the root: path → (kind, length, content hash).
    pub fn outside_snapshot(&self) -> BTreeMap<PathBuf, (String, u64, u64)> {
        let mut map = BTreeMap::new();
        walk(self.base(), &self.root, &mut map);
        map
    }

    /// Panics if `reply` carries a canary's bytes (or its length, or the
    /// system's password file).
    pub fn assert_clean(&self, what: &str, reply: &[u8]) {
        let text = String::from_utf8_lossy(reply);
        assert!(
            !text.contains(&self.marker),
            "{what}: canary bytes in the reply"
        );
        assert!(
            !text.contains("root:x:0:0"),
            "{what}: /etc/passwd in the reply"
        );
        assert!(
            !text.contains(&format!("Content-Length: {CANARY_LEN}\r")),
            "{what}: the canary's length in a reply head"
        );
    }
}

fn walk(dir: &Path, skip: &Path, map: &mut BTreeMap<PathBuf, (String, u64, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p == skip {
            continue;
        }
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            map.insert(p.clone(), ("dir".into(), 0, 0));
            walk(&p, skip, map);
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&p).unwrap();
            map.insert(
                p,
                (
                    "link".into(),
                    0,
                    hash(target.as_os_str().as_encoded_bytes()),
                ),
            );
        } else {
            let data = std::fs::read(&p).unwrap();
            map.insert(p, ("file".into(), meta.len(), hash(&data)));
        }
    }
}

/// FNV-1a: enough to notice a change.
pub fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

pub fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish()
}

/// One HTTP exchange on its own connection: `head` (without the final CRLF
/// and with no Connection header) plus `body`; reads to EOF. `Err` when the
/// connection broke before any reply.
pub fn http(addr: SocketAddr, head: &[u8], body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut req = head.to_vec();
    req.extend_from_slice(b"Connection: close\r\n\r\n");
    req.extend_from_slice(body);
    // A server may answer (400) and close before reading everything.
    let _ = s.write_all(&req);
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => Ok(out),
        Err(_) if !out.is_empty() => Ok(out),
        Err(e) => Err(e),
    }
}

/// `METHOD TARGET HTTP/1.1` with a Host header, as bytes.
pub fn http_head(method: &str, target: &[u8], extra: &str) -> Vec<u8> {
    let mut h = format!("{method} ").into_bytes();
    h.extend_from_slice(target);
    h.extend_from_slice(format!(" HTTP/1.1\r\nHost: t\r\n{extra}").as_bytes());
    h
}

/// The status code of an HTTP reply.
pub fn status(reply: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(&reply[..reply.len().min(20)]);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP reply: {text:?}"))
}

/// A files-protocol connection that reconnects when the server closes it.
pub struct FilesConn {
    addr: SocketAddr,
    conn: Option<(BufReader<TcpStream>, TcpStream)>,
}

impl FilesConn {
    pub fn new(addr: SocketAddr) -> FilesConn {
        FilesConn { addr, conn: None }
    }

    fn conn(&mut self) -> &mut (BufReader<TcpStream>, TcpStream) {
        if self.conn.is_none() {
            let s = TcpStream::connect(self.addr).expect("connect to the files server");
            s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
            self.conn = Some((BufReader::new(s.try_clone().unwrap()), s));
        }
        self.conn.as_mut().unwrap()
    }

    fn line(&mut self) -> Option<String> {
        let (r, _) = self.conn();
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(n) if n > 0 => Some(line),
            _ => {
                self.conn = None;
                None
            }
        }
    }

    /// `GET name`: the reply line and any payload.
    pub fn get(&mut self, name: &[u8]) -> Vec<u8> {
        let mut cmd = b"GET ".to_vec();
        cmd.extend_from_slice(name);
        cmd.push(b'\n');
        if self.conn().1.write_all(&cmd).is_err() {
            self.conn = None;
            return Vec::new();
        }
        let Some(line) = self.line() else {
            return Vec::new();
        };
        let mut out = line.clone().into_bytes();
        if let Some(n) = line
            .strip_prefix("OK ")
            .and_then(|n| n.trim().parse::<usize>().ok())
        {
            let mut body = vec![0; n];
            let (r, _) = self.conn();
            r.read_exact(&mut body)
                .expect("a GET payload as long as announced");
            out.extend(body);
        }
        out
    }

    /// `PUT name size` then the body once READY: every reply line.
    pub fn put(&mut self, name: &[u8], body: &[u8]) -> String {
        let mut cmd = b"PUT ".to_vec();
        cmd.extend_from_slice(name);
        cmd.extend_from_slice(format!(" {}\n", body.len()).as_bytes());
        if self.conn().1.write_all(&cmd).is_err() {
            self.conn = None;
            return String::new();
        }
        let Some(first) = self.line() else {
            return String::new();
        };
        if first.starts_with("READY") {
            self.conn().1.write_all(body).expect("send the PUT body");
            return first + &self.line().unwrap_or_default();
        }
        first
    }

    /// Any one-line command (`MKDIR`, `DELETE`, `MOVE`, `LIST <folder>`):
    /// the whole reply (a listing's entries included).
    pub fn command(&mut self, line: &[u8]) -> String {
        let mut cmd = line.to_vec();
        cmd.push(b'\n');
        if self.conn().1.write_all(&cmd).is_err() {
            self.conn = None;
            return String::new();
        }
        let Some(first) = self.line() else {
            return String::new();
        };
        let listing = line.starts_with(b"LIST ");
        let n: usize = first
            .strip_prefix("OK ")
            .filter(|_| listing)
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        let mut all = first;
        for _ in 0..n {
            all += &self.line().unwrap_or_default();
        }
        all
    }

    /// `LIST`: the whole reply.
    pub fn list(&mut self) -> String {
        self.conn().1.write_all(b"LIST\n").expect("send LIST");
        let first = self.line().expect("a LIST reply");
        let n: usize = first
            .strip_prefix("OK ")
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        let mut all = first;
        for _ in 0..n {
            all += &self.line().expect("a LIST entry");
        }
        all
    }
}

/// TFTP packets.
pub fn tftp_request(op: u8, name: &[u8]) -> Vec<u8> {
    let mut p = vec![0, op];
    p.extend_from_slice(name);
    p.extend_from_slice(b"\0octet\0");
    p
}

fn recv(sock: &UdpSocket, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    sock.recv_from(buf).ok()
}

/// An RRQ from a fresh socket, acknowledged to the end: every payload byte,
/// or the ERROR packet.
pub fn tftp_get(server: SocketAddr, name: &[u8]) -> Vec<u8> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(&tftp_request(1, name), server).unwrap();
    let mut buf = vec![0u8; 70_000];
    let mut out = Vec::new();
    let mut next = 1u16;
    for _ in 0..10_000 {
        let Some((n, from)) = recv(&sock, &mut buf) else {
            panic!("no TFTP answer for {:?}", String::from_utf8_lossy(name))
        };
        let p = &buf[..n];
        match p.get(1) {
            Some(3) => {
                // Only the expected block is new data (a late ACK draws a resend).
                if u16::from_be_bytes([p[2], p[3]]) != next {
                    continue;
                }
                next = next.wrapping_add(1);
                out.extend_from_slice(&p[4..]);
                sock.send_to(&[0, 4, p[2], p[3]], from).unwrap();
                if n < 4 + 512 {
                    return out;
                }
            }
            _ => {
                out.extend_from_slice(p);
                return out;
            }
        }
    }
    panic!("a TFTP transfer that never ends");
}

/// A WRQ of `body` (< 512 bytes): the server's answers, concatenated.
pub fn tftp_put(server: SocketAddr, name: &[u8], body: &[u8]) -> Vec<u8> {
    assert!(body.len() < 512);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(&tftp_request(2, name), server).unwrap();
    let mut buf = vec![0u8; 70_000];
    let Some((n, from)) = recv(&sock, &mut buf) else {
        panic!("no TFTP answer for WRQ {:?}", String::from_utf8_lossy(name))
    };
    let mut out = buf[..n].to_vec();
    if buf[..n] == [0, 4, 0, 0] {
        let mut data = vec![0, 3, 0, 1];
        data.extend_from_slice(body);
        sock.send_to(&data, from).unwrap();
        if let Some((n, _)) = recv(&sock, &mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
    }
    out
}

/// Starts a server for `service` ("http", "files", "tftp") over `root` with
/// uploads and overwrite on; `model` is ignored for TFTP.
pub fn start(service: &str, root: &str, model: &str, extra: &[&str]) -> crate::common::Server {
    let mut args = vec![
        service,
        "serve",
        root,
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--upload",
        "--overwrite",
    ];
    if service != "tftp" {
        args.extend_from_slice(&["--model", model]);
    }
    args.extend_from_slice(extra);
    crate::common::Server::start(&args)
}
