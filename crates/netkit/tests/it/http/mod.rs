//! Shared helpers for the HTTP tests: a fixture tree, starting `netkit http
//! serve`, raw-socket exchanges, and a small response parser (so tests see
//! exactly what went over the wire, which curl would hide).

pub mod features;

use super::common::{local_args, netkit, utf8, Server};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// A read or write that waits longer than this means the server is stuck.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// The fixture tree every conformance test serves.
pub fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    std::fs::write(p.join("hello.txt"), "hello, world\n").unwrap();
    std::fs::write(p.join("data.bin"), pattern(200_000)).unwrap();
    std::fs::write(p.join("style.css"), "body{}").unwrap();
    std::fs::write(p.join("style.css.gz"), "GZIPPED").unwrap();
    std::fs::write(p.join("app.js"), "plain()").unwrap();
    std::fs::write(p.join("app.js.gz"), "GZ").unwrap();
    std::fs::write(p.join("app.js.br"), "BROTLI").unwrap();
    std::fs::write(p.join(".secret"), "dotfile").unwrap();
    std::fs::write(p.join("<b>&x y.txt"), "odd name").unwrap();
    std::fs::create_dir(p.join("site")).unwrap();
    std::fs::write(p.join("site/index.html"), "<p>index</p>").unwrap();
    std::fs::create_dir(p.join("empty dir")).unwrap();
    std::fs::create_dir(p.join(".git")).unwrap();
    std::fs::write(p.join(".git/config"), "secret config").unwrap();
    std::os::unix::fs::symlink("/", p.join("rootlink")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", p.join("passwd")).unwrap();
    std::os::unix::fs::symlink("hello.txt", p.join("inside-link.txt")).unwrap();
    dir
}

/// Deterministic bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// Starts `netkit http serve DIR` on 127.0.0.1:0 under `model`, with `extra`
/// flags; stderr (the access log) is discarded unless `keep_stderr`.
pub fn start(model: &str, dir: &Path, extra: &[&str]) -> Server {
    start_with(model, dir, extra, false)
}

/// As [`start`]; with `keep_stderr` the access log is piped to `child.stderr`.
pub fn start_with(model: &str, dir: &Path, extra: &[&str], keep_stderr: bool) -> Server {
    let mut args = local_args(&["http", "serve", utf8(dir)], model);
    args.extend(["--grace", "5"]);
    args.extend_from_slice(extra);
    let mut cmd = netkit(&args);
    cmd.stderr(if keep_stderr {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    Server::start_cmd(cmd)
}

/// A connected socket with timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    super::common::connect(addr, IO_TIMEOUT)
}

/// Sends `request` bytes, half-closes, and reads everything until the server
/// closes. Errors on the read (a reset after the answer) end the read.
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    let _ = s.write_all(request);
    let _ = s.shutdown(Shutdown::Write);
    read_to_close(&mut s)
}

/// Reads until EOF (or a reset, or the timeout — which fails the test).
pub fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("read failed after {} bytes: {e}", got.len()),
        }
    }
}

/// A GET with `Connection: close` and extra header lines.
pub fn get(addr: SocketAddr, path: &str, headers: &str) -> Response {
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n");
    let raw = exchange(addr, req.as_bytes());
    let mut all = parse_all(&raw, &[false]);
    assert_eq!(
        all.len(),
        1,
        "one response for GET {path}: {:?}",
        text(&raw)
    );
    all.remove(0)
}

/// A request with `Connection: close` and extra header lines; the raw reply.
pub fn h11(addr: SocketAddr, method: &str, path: &str, extra: &str) -> Vec<u8> {
    let req = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n");
    exchange(addr, req.as_bytes())
}

/// The status code of a raw reply.
pub fn status_of(raw: &[u8]) -> u16 {
    let t = text(raw);
    assert!(t.starts_with("HTTP/1.1 "), "not a response: {t:?}");
    t[9..12].parse().expect("status")
}

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        text(&self.body)
    }
}

/// Lossy text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses consecutive responses; `head_only[i]` says the i-th answered a
/// HEAD (no body whatever Content-Length says). Interim 1xx responses are
/// returned too. Panics on anything malformed.
pub fn parse_all(mut raw: &[u8], head_only: &[bool]) -> Vec<Response> {
    let mut out = Vec::new();
    while !raw.is_empty() {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("incomplete head: {:?}", text(raw)));
        let head = std::str::from_utf8(&raw[..end]).expect("utf-8 head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        assert!(
            status_line.starts_with("HTTP/1.1 "),
            "status line {status_line:?}"
        );
        let status: u16 = status_line[9..12].parse().expect("status code");
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').expect("header line");
                (n.to_owned(), v.trim().to_owned())
            })
            .collect();
        raw = &raw[end + 4..];
        let interim = status < 200;
        let no_body = interim
            || status == 304
            || status == 204
            || head_only.get(out.iter().filter(|r: &&Response| r.status >= 200).count())
                == Some(&true);
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().expect("content-length"));
        let body = if no_body {
            Vec::new()
        } else {
            raw[..len].to_vec()
        };
        if !no_body {
            raw = &raw[len..];
        }
        out.push(Response {
            status,
            headers,
            body,
        });
    }
    out
}
