//! The WebDAV `Destination` header of `MOVE` and `COPY` (RFC 4918 §10.3):
//! an absolute URL on this server, or an absolute path.
//!
//! The URL's authority must be the request's `Host` (the scheme's default
//! port written or not); another host is 502, as RFC 4918 §9.8.5 asks of a
//! server that will not copy elsewhere. The path is then decoded exactly as
//! a request target is ([`parse_target`]): percent-decoded once, UTF-8, no
//! `..`, no backslash, no control character — so a destination can never
//! name anything the request line could not.

use super::request::{same_authority, Head};
use super::target::{parse_target, Target};

/// The destination of a `MOVE` or `COPY`, or the status to refuse it with:
/// 400 missing or malformed, 502 on another host.
pub(crate) fn destination<'a>(head: &Head<'a>) -> Result<Target<'a>, u16> {
    let value = head.destination.ok_or(400u16)?;
    let text = std::str::from_utf8(value).map_err(|_| 400u16)?;
    for scheme in ["http://", "https://"] {
        let starts = text
            .as_bytes()
            .get(..scheme.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(scheme.as_bytes()));
        if starts {
            let rest = &text[scheme.len()..];
            let authority_end = scheme.len() + rest.find('/').unwrap_or(rest.len());
            if !same_authority(&value[..authority_end], head.host) {
                return Err(502);
            }
        }
    }
    if !text.starts_with('/') && !text.contains("://") {
        return Err(400);
    }
    let target = parse_target(text)?;
    if !target.query.is_empty() || target.raw_path.contains('#') {
        return Err(400);
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::super::request::parse_head;
    use super::*;

    fn dest(value: &str) -> Result<(String, bool), u16> {
        let raw = format!("MOVE /a HTTP/1.1\r\nHost: h:8000\r\nDestination: {value}\r\n\r\n");
        let (head, _) = parse_head(raw.as_bytes()).unwrap().unwrap();
        destination(&head).map(|t| (t.rel.to_string(), t.dir))
    }

    #[test]
    fn destinations() {
        let ok = |s: &str, rel: &str, dir: bool| assert_eq!(dest(s), Ok((rel.into(), dir)), "{s}");
        ok("/b", "b", false);
        ok("/x/y%20z/", "x/y z", true);
        ok("http://h:8000/b", "b", false);
        ok("HTTP://H:8000/b", "b", false);
        ok("http://h:8000", "", true);
        for (value, status) in [
            ("http://other:8000/b", 502),
            ("http://h:9000/b", 502),
            ("http://user@h:8000/b", 502),
            ("https://h/b", 502),
            ("b", 400),
            ("/../etc/passwd", 400),
            ("/%2e%2e/x", 400),
            ("/a%00b", 400),
            ("/a%5cb", 400),
            ("/a?x=1", 400),
            ("/a%ff", 400),
            ("ftp://h:8000/b", 400),
        ] {
            assert_eq!(dest(value), Err(status), "{value}");
        }
        let raw = b"MOVE /a HTTP/1.1\r\nHost: h\r\n\r\n";
        let (head, _) = parse_head(raw).unwrap().unwrap();
        assert_eq!(destination(&head).map(|_| ()), Err(400), "missing");
    }
}
