//! The access log every service shares: one hook ([`AccessLog`]) and one line
//! format for HTTP requests, files-protocol commands and TFTP transfers.
//!
//! The format is the Common Log Format (what nginx and Apache write, what log
//! tools read): who, when, what, the result and the bytes.
//!
//! ```text
//!   127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] "GET /a.txt HTTP/1.1" 200 5
//!   127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] "GET /a.txt FILES" 200 1048576
//!   127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] "PUT /up.bin TFTP" 200 65536
//! ```
//!
//! The result is an HTTP-style status for every service (the files protocol
//! speaks those codes already; a TFTP transfer maps its outcome onto them, see
//! [`crate::tftp::server`]), and the bytes are those of the file moved.
//!
//! Sessions know no wall clock: HTTP formats its own lines with the date it is
//! told ([`AccessLog::record`]); the files and TFTP sessions hand over an
//! [`Entry`] and the sink dates it ([`AccessLog::entry`], [`write_line`]).

use std::net::SocketAddr;
use std::sync::Arc;

/// Where access log lines go. Implementations buffer: this is called on the
/// hot path.
pub trait AccessLog: Send + Sync + 'static {
    /// Records one complete line (ending in `\n`).
    fn record(&self, line: &[u8]);

    /// Records one request or transfer of a session that has no wall clock:
    /// a sink with a clock formats it with [`write_line`] and the date of now.
    /// The default writes `-` for the date.
    fn entry(&self, entry: &Entry<'_>) {
        let mut line = Vec::with_capacity(96 + entry.request.len());
        write_line(&mut line, b"-", entry);
        self.record(&line);
    }
}

/// Sessions that hold a sink still derive `Debug`.
impl std::fmt::Debug for dyn AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessLog")
    }
}

/// One logged request or transfer.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Who asked (`None`: not an IP peer, e.g. a Unix socket).
    pub peer: Option<SocketAddr>,
    /// What: `METHOD /name PROTOCOL` (`GET /a.txt HTTP/1.1`, `PUT /b FILES`).
    pub request: &'a [u8],
    /// The result, as an HTTP-style status code.
    pub status: u16,
    /// The bytes of the file (or body) moved.
    pub bytes: u64,
}

/// The log of one connection that answers requests one at a time (the files
/// session): who it is, and the request being answered until its outcome is
/// known. Off (and free) without a sink.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    sink: Option<Arc<dyn AccessLog>>,
    peer: Option<SocketAddr>,
    request: Vec<u8>,
}

impl Pending {
    /// Logs `peer`'s requests to `sink` (none: nothing is logged).
    pub(crate) fn new(sink: Option<Arc<dyn AccessLog>>, peer: Option<SocketAddr>) -> Self {
        Pending {
            sink,
            peer,
            request: Vec::new(),
        }
    }

    /// Whether anything is logged (so callers skip building requests).
    pub(crate) fn is_on(&self) -> bool {
        self.sink.is_some()
    }

    /// A request starts (empty: one that is not logged).
    pub(crate) fn start(&mut self, request: Vec<u8>) {
        self.request = request;
    }

    /// The current request ended with `status`, having moved `bytes`:
    /// logged once (a second outcome of the same request is not).
    pub(crate) fn finish(&mut self, status: u16, bytes: u64) {
        if let (Some(sink), false) = (&self.sink, self.request.is_empty()) {
            let entry = Entry {
                peer: self.peer,
                request: &self.request,
                status,
                bytes,
            };
            sink.entry(&entry);
        }
        self.request.clear();
    }
}

/// Appends `entry` as one log line, dated `date` (`06/Nov/1994:08:49:37 +0000`
/// as [`clf_date`] makes it, or `-`). The request is escaped, so a name
/// cannot forge a line.
pub fn write_line(out: &mut Vec<u8>, date: &[u8], entry: &Entry<'_>) {
    use crate::http::{push_escaped, push_u64};
    match entry.peer {
        Some(peer) => {
            let _ = std::io::Write::write_fmt(out, format_args!("{}", peer.ip()));
        }
        None => out.push(b'-'),
    }
    out.extend_from_slice(b" - - [");
    out.extend_from_slice(date);
    out.extend_from_slice(b"] \"");
    if entry.request.is_empty() {
        out.push(b'-');
    }
    push_escaped(out, entry.request);
    out.extend_from_slice(b"\" ");
    push_u64(out, u64::from(entry.status));
    out.push(b' ');
    if entry.bytes == 0 {
        out.push(b'-');
    } else {
        push_u64(out, entry.bytes);
    }
    out.push(b'\n');
}

/// The log line's date for a wall-clock instant: `06/Nov/1994:08:49:37 +0000` (UTC).
pub fn clf_date(t: std::time::SystemTime) -> String {
    crate::http::clf_date(t)
}

/// `request` for a service whose names are relative (files, TFTP):
/// `METHOD /name PROTOCOL`.
pub fn request(method: &str, name: &str, protocol: &str) -> Vec<u8> {
    let slash = if name.starts_with('/') { "" } else { "/" };
    format!("{method} {slash}{name} {protocol}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_common_log_format() {
        let mut out = Vec::new();
        let entry = Entry {
            peer: Some("127.0.0.1:5000".parse().unwrap()),
            request: &request("GET", "a \"b\".txt", "FILES"),
            status: 200,
            bytes: 1048576,
        };
        write_line(&mut out, b"06/Nov/1994:08:49:37 +0000", &entry);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /a \\x22b\\x22.txt FILES\" 200 1048576\n"
        );
        let mut out = Vec::new();
        let refused = Entry {
            peer: None,
            request: b"",
            status: 404,
            bytes: 0,
        };
        write_line(&mut out, b"-", &refused);
        assert_eq!(String::from_utf8(out).unwrap(), "- - - [-] \"-\" 404 -\n");
    }

    /// A sink that keeps every line.
    #[derive(Default)]
    struct Lines(std::sync::Mutex<Vec<u8>>);

    impl AccessLog for Lines {
        fn record(&self, line: &[u8]) {
            self.0.lock().unwrap().extend_from_slice(line);
        }
    }

    impl Lines {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn folder() -> (tempfile::TempDir, std::sync::Arc<crate::root::Root>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), b"hello").unwrap();
        let root = std::sync::Arc::new(crate::root::Root::open(dir.path()).unwrap());
        (dir, root)
    }

    #[test]
    fn the_files_session_logs_each_command_once() {
        use crate::files::{FilesConfig, FilesService};
        use crate::Service;
        let (_dir, root) = folder();
        let log = std::sync::Arc::new(Lines::default());
        let config = FilesConfig {
            upload: true,
            ..FilesConfig::default()
        };
        let service = FilesService::new(root, config).with_access_log(log.clone());
        let peer = "127.0.0.1:5000".parse().ok();
        let now = std::time::Instant::now();
        let mut h = crate::testing::Harness::new(service.new_session(peer, now), now);
        h.send(b"GET a.txt\nGET nope\nGET ../x\nPUT b.bin 3\nabcLIST\nPUT c.bin 10\nabcd");
        h.eof();
        let expected = [
            "127.0.0.1 - - [-] \"GET /a.txt FILES\" 200 5",
            "127.0.0.1 - - [-] \"GET /nope FILES\" 404 -",
            "127.0.0.1 - - [-] \"GET /../x FILES\" 403 -",
            "127.0.0.1 - - [-] \"PUT /b.bin FILES\" 200 3",
            "127.0.0.1 - - [-] \"LIST / FILES\" 200 -",
            // Cut short by the client: what arrived, as nginx's 499.
            "127.0.0.1 - - [-] \"PUT /c.bin FILES\" 499 4",
        ];
        assert_eq!(log.text().lines().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn a_tftp_transfer_is_logged_when_it_ends() {
        use crate::tftp::server::{ServerConfig, TftpServer};
        use crate::tftp::TransferService;
        let (_dir, root) = folder();
        let log = std::sync::Arc::new(Lines::default());
        let service = TftpServer::new(root, ServerConfig::default()).with_access_log(log.clone());
        let peer = "127.0.0.1:5000".parse().unwrap();
        let now = std::time::Instant::now();
        let read = service.handle_request(now, peer, b"\x00\x01a.txt\x00octet\x00");
        let mut read = read.expect("a transfer");
        let refused = service.handle_request(now, peer, b"\x00\x02up.bin\x00octet\x00");
        drop(refused.expect("an ERROR to send"));
        use crate::tftp::TransferSession;
        assert!(read.poll_transmit().is_some(), "DATA 1");
        read.handle_datagram(now, peer, b"\x00\x04\x00\x01");
        assert!(read.is_done());
        drop(read);
        let expected = [
            "127.0.0.1 - - [-] \"PUT /up.bin TFTP\" 403 -",
            "127.0.0.1 - - [-] \"GET /a.txt TFTP\" 200 5",
        ];
        assert_eq!(log.text().lines().collect::<Vec<_>>(), expected);
    }
}
