//! Request heads: `httparse` finds the lines, this module enforces the limits
//! and the framing rules, and picks out the headers the server acts on.
//!
//! Incomplete input is `Ok(None)`, never an error (the driver offers more).
//! A complete head becomes a [`Head`] that borrows from the input, so a GET
//! costs no allocation here. Every error is the status to answer with, after
//! which the connection is closed: once framing is in doubt, nothing that
//! follows on the connection can be trusted.

use httparse::{Error as ParseError, Status, EMPTY_HEADER};

/// Longest request line (method, target, version); longer is a 414.
pub(crate) const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Most header bytes after the request line; more is a 431.
pub(crate) const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most header fields; more is a 431.
pub(crate) const MAX_HEADERS: usize = 100;

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (no Content-Length, no Transfer-Encoding).
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head, borrowing from the input.
#[derive(Debug)]
pub(crate) struct Head<'a> {
    pub(crate) method: &'a str,
    pub(crate) target: &'a str,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub(crate) minor: u8,
    /// The request line as received, for the access log.
    pub(crate) line: &'a [u8],
    pub(crate) framing: Framing,
    /// Whether the connection stays open after the reply (version and `Connection`).
    pub(crate) keep_alive: bool,
    /// `Expect: 100-continue` was asked.
    pub(crate) expect_continue: bool,
    /// An `Expect` other than `100-continue` (answered 417).
    pub(crate) expect_other: bool,
    pub(crate) if_none_match: Option<&'a [u8]>,
    pub(crate) if_modified_since: Option<&'a [u8]>,
    pub(crate) range: Option<&'a [u8]>,
    pub(crate) if_range: Option<&'a [u8]>,
    pub(crate) accept: Option<&'a [u8]>,
    pub(crate) accept_encoding: Option<&'a [u8]>,
    /// The `Host` header (checked: a valid `host[:port]`).
    pub(crate) host: Option<&'a [u8]>,
    /// The `Origin` header, for CORS and the web page's same-origin check.
    pub(crate) origin: Option<&'a [u8]>,
    /// `Sec-Fetch-Site`, which a browser sends where it may leave out `Origin`.
    pub(crate) sec_fetch_site: Option<&'a [u8]>,
    pub(crate) ac_request_method: bool,
    pub(crate) ac_request_headers: Option<&'a [u8]>,
    /// The `Authorization` header (HTTP Basic, see [`super::login`]).
    pub(crate) authorization: Option<&'a [u8]>,
    /// WebDAV `Destination` (MOVE, COPY): an absolute URL or path.
    pub(crate) destination: Option<&'a [u8]>,
    /// WebDAV `Overwrite`: `T` (the default) or `F`.
    pub(crate) overwrite: Option<&'a [u8]>,
    /// WebDAV `Depth`: `0`, `1` or `infinity`.
    pub(crate) depth: Option<&'a [u8]>,
    /// WebDAV's other headers (If, Lock-Token, Timeout).
    pub(crate) dav: super::dav::DavHeaders<'a>,
}

impl Head<'_> {
    /// Whether a browser sent this request from a page of another origin than
    /// the one it addresses: its `Origin` (`null` included) names another
    /// host and port than `Host`, or, without `Origin`, `Sec-Fetch-Site` says
    /// `cross-site`. A request with neither (curl, scripts) is not.
    pub(crate) fn cross_origin(&self) -> bool {
        match self.origin {
            Some(origin) => !same_authority(origin, self.host),
            None => self
                .sec_fetch_site
                .is_some_and(|site| site.eq_ignore_ascii_case(b"cross-site")),
        }
    }
}

/// Whether an `Origin` (`http://host[:port]`) names the authority in `Host`,
/// the scheme's default port written or not.
pub(crate) fn same_authority(origin: &[u8], host: Option<&[u8]>) -> bool {
    let Some(host) = host else {
        return false;
    };
    fn strip<'a>(value: &'a [u8], scheme: &[u8]) -> Option<&'a [u8]> {
        let head = value.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &value[scheme.len()..])
    }
    let (authority, default_port) = match (strip(origin, b"http://"), strip(origin, b"https://")) {
        (Some(rest), _) => (rest, &b":80"[..]),
        (_, Some(rest)) => (rest, &b":443"[..]),
        _ => return false, // `null` (a sandboxed page, a file) or another scheme
    };
    let bare = |a: &'_ [u8]| -> Vec<u8> {
        a.strip_suffix(default_port)
            .unwrap_or(a)
            .to_ascii_lowercase()
    };
    bare(authority) == bare(host)
}

/// Parses one request head at the start of `input`: `Ok(Some((head, len)))`
/// when complete, `Ok(None)` when more bytes are needed, `Err(status)` when the
/// request must be refused and the connection closed.
pub(crate) fn parse_head(input: &[u8]) -> Result<Option<(Head<'_>, usize)>, u16> {
    // httparse skips empty lines before the request line (RFC 9112 §2.2).
    let start = input
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(input.len());
    let line_len = match memchr_nl(&input[start..]) {
        Some(at) => at,
        None if input.len() - start > MAX_REQUEST_LINE => return Err(414),
        None => return Ok(None),
    };
    if line_len > MAX_REQUEST_LINE {
        return Err(414);
    }
    let limit = start + line_len + 1 + MAX_HEADER_BYTES;
    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(input) {
        Ok(Status::Complete(len)) => len,
        Ok(Status::Partial) if input.len() > limit => return Err(431),
        Ok(Status::Partial) => return Ok(None),
        Err(ParseError::TooManyHeaders) => return Err(431),
        Err(ParseError::Version) => return Err(505),
        Err(_) => return Err(400),
    };
    if len > limit {
        return Err(431);
    }
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(400);
    };
    let line = trim_cr(&input[start..start + line_len]);
    let mut head = Head {
        method,
        target,
        minor,
        line,
        framing: Framing::None,
        keep_alive: minor == 1,
        expect_continue: false,
        expect_other: false,
        if_none_match: None,
        if_modified_since: None,
        range: None,
        if_range: None,
        accept: None,
        accept_encoding: None,
        host: None,
        origin: None,
        sec_fetch_site: None,
        ac_request_method: false,
        ac_request_headers: None,
        authorization: None,
        destination: None,
        overwrite: None,
        depth: None,
        dav: Default::default(),
    };
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = 0usize;
    let mut chunked_last = false;
    let mut hosts = 0;
    for h in req.headers.iter() {
        let name = h.name;
        let value = h.value;
        if name.eq_ignore_ascii_case("content-length") {
            for part in value.split(|&b| b == b',') {
                let n = parse_length(trim(part)).ok_or(400u16)?;
                if content_length.is_some_and(|old| old != n) {
                    return Err(400);
                }
                content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            for coding in value.split(|&b| b == b',').map(trim) {
                if coding.is_empty() {
                    continue;
                }
                transfer_encoding += 1;
                chunked_last = coding.eq_ignore_ascii_case(b"chunked");
            }
        } else if name.eq_ignore_ascii_case("host") {
            if !valid_host(trim(value)) {
                return Err(400); // as nginx: `a/b\c@d` names no host
            }
            hosts += 1;
            head.host = Some(trim(value));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(|&b| b == b',').map(trim) {
                if token.eq_ignore_ascii_case(b"close") {
                    head.keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && minor == 0 {
                    head.keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if trim(value).eq_ignore_ascii_case(b"100-continue") {
                head.expect_continue = true;
            } else {
                head.expect_other = true;
            }
        } else if name.eq_ignore_ascii_case("if-none-match") {
            head.if_none_match = Some(value);
        } else if name.eq_ignore_ascii_case("if-modified-since") {
            head.if_modified_since = Some(value);
        } else if name.eq_ignore_ascii_case("range") {
            head.range = Some(value);
        } else if name.eq_ignore_ascii_case("if-range") {
            head.if_range = Some(value);
        } else if name.eq_ignore_ascii_case("accept") {
            head.accept = Some(value);
        } else if name.eq_ignore_ascii_case("accept-encoding") {
            head.accept_encoding = Some(value);
        } else if name.eq_ignore_ascii_case("origin") {
            head.origin = Some(trim(value));
        } else if name.eq_ignore_ascii_case("sec-fetch-site") {
            head.sec_fetch_site = Some(trim(value));
        } else if name.eq_ignore_ascii_case("access-control-request-method") {
            head.ac_request_method = true;
        } else if name.eq_ignore_ascii_case("access-control-request-headers") {
            head.ac_request_headers = Some(value);
        } else if name.eq_ignore_ascii_case("authorization") {
            head.authorization = Some(trim(value));
        } else if name.eq_ignore_ascii_case("destination") {
            head.destination = Some(trim(value));
        } else if name.eq_ignore_ascii_case("overwrite") {
            head.overwrite = Some(trim(value));
        } else if name.eq_ignore_ascii_case("depth") {
            head.depth = Some(trim(value));
        } else {
            head.dav.take(name, value);
        }
    }
    if minor == 1 && hosts != 1 {
        return Err(400); // RFC 9112 §3.2: missing or repeated Host
    }
    head.framing = match (content_length, transfer_encoding) {
        (None, 0) => Framing::None,
        (Some(n), 0) => Framing::Length(n),
        // Transfer-Encoding with Content-Length is the request-smuggling shape;
        // in HTTP/1.0 it is faulty framing (RFC 9112 §6.1); only a lone
        // `chunked` is a coding we decode.
        (Some(_), _) => return Err(400),
        (None, _) if minor == 0 || transfer_encoding != 1 || !chunked_last => return Err(400),
        (None, _) => Framing::Chunked,
    };
    Ok(Some((head, len)))
}

/// Content-Length: 1 to 19 ASCII digits, nothing else (no sign, no spaces
/// inside, no hex), so the value fits a u64.
fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Whether a `Host` value is `host[:port]` (RFC 9110 §7.2, RFC 3986 §3.2.2):
/// a reg-name or IPv4 address (unreserved, percent-encoded and sub-delims
/// characters), or an IPv6 address in brackets; the port is digits. Empty is
/// allowed (RFC 9112 §3.2: a target without an authority).
pub(crate) fn valid_host(value: &[u8]) -> bool {
    let (host, port) = if let Some(rest) = value.strip_prefix(b"[") {
        let Some(end) = rest.iter().position(|&b| b == b']') else {
            return false;
        };
        let ip = &rest[..end];
        let ip_ok = !ip.is_empty()
            && std::str::from_utf8(ip).is_ok_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok());
        if !ip_ok {
            return false;
        }
        (&b""[..], &rest[end + 1..])
    } else {
        match value.iter().position(|&b| b == b':') {
            Some(at) => (&value[..at], &value[at..]),
            None => (value, &b""[..]),
        }
    };
    let port_ok = match port {
        [] => true,
        [b':', digits @ ..] => digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    let host_ok = host.iter().enumerate().all(|(i, &b)| {
        b.is_ascii_alphanumeric()
            || b"-._~!$&'()*+,;=".contains(&b)
            || (b == b'%'
                && host
                    .get(i + 1..i + 3)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)))
    });
    port_ok && host_ok
}

fn memchr_nl(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Trims optional whitespace (spaces and tabs).
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    type Outcome = Result<Option<Framing>, u16>;

    fn status(input: &[u8]) -> Outcome {
        parse_head(input).map(|r| r.map(|(h, _)| h.framing))
    }

    #[test]
    fn incomplete_is_none_and_complete_reports_its_length() {
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: a\r\n"), Ok(None));
        let input = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\nGET";
        let (head, len) = parse_head(input).unwrap().unwrap();
        assert_eq!(len, input.len() - 3);
        assert_eq!((head.method, head.target, head.minor), ("GET", "/x", 1));
        assert_eq!(head.line, b"GET /x HTTP/1.1");
        assert!(head.keep_alive);
    }

    #[test]
    fn framing_rules() {
        let cases: &[(&[u8], Outcome)] = &[
            (b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", Ok(Some(Framing::Length(5)))),
            (b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", Ok(Some(Framing::Length(5)))),
            (b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", Err(400)),
            (b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", Err(400)),
            (b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", Err(400)),
            (b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", Err(400)),
            (b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", Err(400)),
            (b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", Ok(Some(Framing::Chunked))),
            (b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", Err(400)),
            (b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", Err(400)),
            (b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", Err(400)),
            (b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", Err(400)),
            (b"PUT / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Err(400)),
            (b"GET / HTTP/1.1\r\n\r\n", Err(400)),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", Err(400)),
            (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", Err(505)),
            (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", Err(400)),
        ];
        for (input, want) in cases {
            assert_eq!(&status(input), want, "{}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn bare_lf_is_accepted_obs_fold_and_bare_cr_are_not() {
        assert_eq!(
            status(b"GET / HTTP/1.1\nHost: a\n\n"),
            Ok(Some(Framing::None))
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n"),
            Err(400)
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n"),
            Err(400)
        );
        assert_eq!(status(b"GET / HTTP/1.1\rHost: a\r\n\r\n"), Err(400));
    }

    #[test]
    fn limits() {
        let long_line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_REQUEST_LINE));
        assert_eq!(status(long_line.as_bytes()), Err(414));
        assert_eq!(status(&vec![b'a'; MAX_REQUEST_LINE + 2]), Err(414));
        let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(status(&many), Err(431));
        let mut big = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for _ in 0..5 {
            big.extend_from_slice(format!("X: {}\r\n", "v".repeat(8000)).as_bytes());
        }
        assert_eq!(status(&big), Err(431), "incomplete but over the limit");
    }

    #[test]
    fn host_must_be_host_and_port() {
        let with_host =
            |host: &str| status(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
        for good in [
            "example.com",
            "example.com:8080",
            "127.0.0.1",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:8000",
            "xn--bcher-kva.example",
            "a_b-c~d",
            "caf%C3%A9.example",
            "",
            "h:",
        ] {
            assert_eq!(with_host(good), Ok(Some(Framing::None)), "{good}");
        }
        for bad in [
            "a/b\\c@d",
            "a/b",
            "a\\b",
            "user@host",
            "host:port",
            "host:123456",
            "[::1",
            "[not-ip]",
            "::1",
            "a b",
            "h:1:2",
            "%zz",
        ] {
            assert_eq!(with_host(bad), Err(400), "{bad}");
        }
        assert_eq!(
            status(b"GET / HTTP/1.0\r\nHost: a/b\r\n\r\n"),
            Err(400),
            "HTTP/1.0 too"
        );
    }

    #[test]
    fn cross_origin_compares_origin_with_host() {
        let cross = |headers: &str| {
            let req = format!("POST /x HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n{headers}\r\n");
            parse_head(req.as_bytes())
                .unwrap()
                .unwrap()
                .0
                .cross_origin()
        };
        assert!(!cross(""), "curl sends no Origin");
        assert!(!cross("Origin: http://127.0.0.1:8000\r\n"));
        assert!(!cross("Origin: HTTP://127.0.0.1:8000\r\n"));
        assert!(!cross("Sec-Fetch-Site: same-origin\r\n"));
        assert!(cross("Origin: http://evil.example\r\n"));
        assert!(cross("Origin: http://127.0.0.1:8001\r\n"));
        assert!(cross("Origin: http://127.0.0.1\r\n"));
        assert!(cross("Origin: null\r\n"), "a sandboxed page");
        assert!(cross("Origin: ftp://127.0.0.1:8000\r\n"));
        assert!(cross("Sec-Fetch-Site: cross-site\r\n"));
        let default_port = |origin: &str, host: &str| {
            let req = format!("POST /x HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n\r\n");
            !parse_head(req.as_bytes())
                .unwrap()
                .unwrap()
                .0
                .cross_origin()
        };
        assert!(default_port("http://Example.com", "example.com:80"));
        assert!(default_port("https://example.com:443", "example.com"));
        assert!(!default_port("https://example.com", "example.com:80"));
        assert!(!default_port("http://a.example", "b.example"));
        let no_host = parse_head(b"POST /x HTTP/1.0\r\nOrigin: http://a\r\n\r\n");
        assert!(no_host.unwrap().unwrap().0.cross_origin());
    }

    #[test]
    fn connection_rules() {
        let h = |s: &'static [u8]| parse_head(s).unwrap().unwrap().0.keep_alive;
        assert!(!h(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(h(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(!h(
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        ));
        assert!(h(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    }
}
