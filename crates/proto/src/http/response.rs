//! Replies: what a handler decides ([`Reply`]), the headers every file reply
//! shares (Content-Type, the sandbox policy), how a head is written, the
//! per-second date cache, and access log lines in common log format.

use super::clock::WallClock;
use super::Shared;
pub(crate) use crate::date::clf_date;
use crate::root::RelPath;
use std::fmt::Write as _;
use std::fs::File;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Files up to this size are copied into the output (read once, kept in the
/// file cache) instead of sendfile'd.
pub(crate) const INLINE_MAX: u64 = 16 * 1024;

/// What a handler answers; the session adds the common headers and sends it.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// Extra header lines, each `Name: value\r\n`.
    pub(crate) headers: String,
    pub(crate) body: Body,
    /// Close the connection after this reply.
    pub(crate) close: bool,
}

/// A reply body.
#[derive(Debug)]
pub(crate) enum Body {
    /// No body and no Content-Length (304, 1xx, 204).
    None,
    /// Bytes built in memory.
    Bytes(Vec<u8>),
    /// A range of a file held in memory (a small cached file).
    Shared {
        bytes: Arc<[u8]>,
        offset: usize,
        len: usize,
    },
    /// A range of an open file.
    File {
        file: Arc<File>,
        offset: u64,
        len: u64,
    },
    /// This many bytes, produced by a stream the session holds (an archive).
    Planned(u64),
}

impl Body {
    /// The Content-Length this body declares, if any.
    pub(crate) fn len(&self) -> Option<u64> {
        match self {
            Body::None => None,
            Body::Bytes(b) => Some(b.len() as u64),
            Body::Shared { len, .. } => Some(*len as u64),
            Body::File { len, .. } | Body::Planned(len) => Some(*len),
        }
    }
}

impl Reply {
    /// A reply with a body and no extra headers.
    pub(crate) fn new(status: u16, body: Body) -> Self {
        Self {
            status,
            headers: String::new(),
            body,
            close: false,
        }
    }

    /// A plain-text page for an error status: `404 Not Found`.
    pub(crate) fn error(status: u16) -> Self {
        let mut reply = Reply::new(
            status,
            Body::Bytes(format!("{status} {}\n", reason(status)).into_bytes()),
        );
        reply.header("Content-Type", "text/plain; charset=utf-8");
        reply
    }

    /// The same, closing the connection afterwards.
    pub(crate) fn fatal(status: u16) -> Self {
        let mut reply = Reply::error(status);
        reply.close = true;
        reply
    }

    /// Adds a header line.
    pub(crate) fn header(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = write!(self.headers, "{name}: {value}\r\n");
    }
}

/// Content-Type from the extension, with a charset for text.
pub(crate) fn content_type(rel: &RelPath) -> String {
    let name = rel.file_name().unwrap_or_default();
    match mime_guess::from_path(name).first_raw() {
        Some(t)
            if t.starts_with("text/")
                || t == "application/javascript"
                || t == "application/json"
                || t == "image/svg+xml" =>
        {
            format!("{t}; charset=utf-8")
        }
        Some(t) => t.to_owned(),
        None => "application/octet-stream".to_owned(),
    }
}

/// `Content-Security-Policy` of everything served from the share when other
/// people's files may be in it: a page runs in an opaque origin of its own, so
/// its scripts (allowed to run) cannot act as the web page or read its routes.
pub(crate) const SANDBOX: &str = "sandbox allow-scripts allow-forms allow-popups allow-downloads";

/// Adds [`SANDBOX`] when uploads are on or the web page is served.
pub(crate) fn sandbox(shared: &Shared, reply: &mut Reply) {
    if shared.config.upload || shared.ext.is_some() {
        reply.header("Content-Security-Policy", SANDBOX);
    }
}

/// The reason phrase of a status code.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        301 => "Moved Permanently",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        423 => "Locked",
        424 => "Failed Dependency",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}

/// Writes a status line and the headers every reply carries; the caller adds
/// the reply's own headers and the blank line.
pub(crate) fn write_status(out: &mut Vec<u8>, status: u16, date: &[u8]) {
    out.extend_from_slice(b"HTTP/1.1 ");
    let mut digits = [0u8; 3];
    digits[0] = b'0' + (status / 100 % 10) as u8;
    digits[1] = b'0' + (status / 10 % 10) as u8;
    digits[2] = b'0' + (status % 10) as u8;
    out.extend_from_slice(&digits);
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    // nosniff: a file is only ever what its Content-Type says (an upload
    // named `x.txt` holding HTML is never rendered as a page).
    out.extend_from_slice(b"\r\nServer: netkit\r\nX-Content-Type-Options: nosniff\r\nDate: ");
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n");
}

/// Appends a decimal number without going through `fmt`.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// The wall-clock strings a session needs, refreshed at most once a second
/// (a `Date` header has one-second resolution anyway).
#[derive(Debug)]
pub(crate) struct DateCache {
    checked: Option<Instant>,
    /// `Date` header value: `Sun, 06 Nov 1994 08:49:37 GMT`.
    pub(crate) http: [u8; 29],
    /// Log timestamp: `06/Nov/1994:08:49:37 +0000`.
    pub(crate) clf: [u8; 26],
    /// The wall clock at the last refresh.
    pub(crate) wall: SystemTime,
}

impl DateCache {
    pub(crate) fn new() -> Self {
        Self {
            checked: None,
            http: [b' '; 29],
            clf: [b' '; 26],
            wall: UNIX_EPOCH,
        }
    }

    /// Refreshes the strings if a second has passed since the last refresh,
    /// asking `clock` the wall time at `now`.
    pub(crate) fn refresh(&mut self, now: Instant, clock: &dyn WallClock) {
        if self
            .checked
            .is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1))
        {
            return;
        }
        self.checked = Some(now);
        self.wall = clock.wall_time(now);
        let http = httpdate::fmt_http_date(self.wall);
        if http.len() == self.http.len() {
            self.http.copy_from_slice(http.as_bytes());
        }
        let clf = clf_date(self.wall);
        if clf.len() == self.clf.len() {
            self.clf.copy_from_slice(clf.as_bytes());
        }
    }
}

/// Appends `bytes` for a quoted log field: printable ASCII as is, `"` and `\`
/// and everything else as `\xHH`, so a request line cannot forge log lines.
pub(crate) fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            out.push(b);
        } else {
            let _ = std::io::Write::write_fmt(out, format_args!("\\x{b:02x}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::clock::AnchoredClock;
    use super::*;

    #[test]
    fn date_cache_refreshes_once_a_second() {
        let t0 = Instant::now();
        let clock = AnchoredClock {
            instant: t0,
            wall: UNIX_EPOCH + Duration::from_secs(784_111_777),
        };
        let mut cache = DateCache::new();
        cache.refresh(t0, &clock);
        assert_eq!(&cache.http, b"Sun, 06 Nov 1994 08:49:37 GMT");
        cache.refresh(t0 + Duration::from_millis(1500), &clock);
        assert_eq!(&cache.http, b"Sun, 06 Nov 1994 08:49:38 GMT");
        let jumped = AnchoredClock {
            instant: t0,
            wall: UNIX_EPOCH,
        };
        cache.refresh(t0 + Duration::from_millis(2000), &jumped);
        assert_eq!(&cache.http, b"Sun, 06 Nov 1994 08:49:38 GMT", "cached");
        cache.refresh(t0 + Duration::from_millis(2500), &jumped);
        assert_eq!(&cache.http, b"Thu, 01 Jan 1970 00:00:02 GMT");
    }

    #[test]
    fn content_types() {
        let ct = |name: &str| content_type(&RelPath::parse(name).unwrap());
        assert_eq!(ct("a.html"), "text/html; charset=utf-8");
        assert_eq!(ct("a.png"), "image/png");
        assert_eq!(ct("noext"), "application/octet-stream");
    }

    #[test]
    fn numbers_and_escapes() {
        let mut out = Vec::new();
        push_u64(&mut out, 0);
        out.push(b' ');
        push_u64(&mut out, 18_446_744_073_709_551_615);
        assert_eq!(out, b"0 18446744073709551615");
        let mut out = Vec::new();
        push_escaped(&mut out, b"GET /\"a\nb HTTP/1.1");
        assert_eq!(out, b"GET /\\x22a\\x0ab HTTP/1.1");
    }
}
