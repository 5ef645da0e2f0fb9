//! Request targets and the replies every file handler shares: what a target
//! names beneath the root ([`Target`], [`parse_target`]), where a redirect may
//! point ([`local_location`]), and the status for a failed open
//! ([`error_reply`]). Here, not in one of the handlers, so that files,
//! listings, uploads and the extension seam all depend on it and none on
//! another.
//!
//! A request target is percent-decoded exactly once and must then be UTF-8
//! and pass [`RelPath::parse`] (no `..`, backslash or control character): so
//! `%2e%2e/` is refused like `../`, and `%252e%252e/` names a file literally
//! called `%2e%2e`. Whatever passes is opened by the root, which never lets
//! a symlink lead outside; a link that tries is answered 404 like a missing
//! file, so nothing about the outside is revealed.

use super::response::Reply;
use crate::root::{RelPath, RootError};
use percent_encoding::percent_decode_str;

/// A request target, decoded and checked.
#[derive(Debug)]
pub(crate) struct Target<'a> {
    /// The path as sent (still percent-encoded), for redirects and listings.
    pub(crate) raw_path: &'a str,
    /// The query, with its `?`, or empty.
    pub(crate) query: &'a str,
    /// The decoded path beneath the root.
    pub(crate) rel: RelPath,
    /// The path ended in `/`.
    pub(crate) dir: bool,
}

/// Decodes an origin-form (`/a/b?q`) or absolute-form (`http://h/a/b`)
/// target. Errors are the status to answer.
pub(crate) fn parse_target(target: &str) -> Result<Target<'_>, u16> {
    let mut path = target;
    for scheme in ["http://", "https://"] {
        // Bytes, not `str` slicing: the target may hold multi-byte characters
        // (raw UTF-8 in a request line), and a slice inside one would panic.
        let head = path.as_bytes().get(..scheme.len());
        if head.is_some_and(|h| h.eq_ignore_ascii_case(scheme.as_bytes())) {
            let rest = &path[scheme.len()..];
            path = rest.find('/').map_or("/", |at| &rest[at..]);
        }
    }
    if !path.starts_with('/') {
        return Err(400);
    }
    let (raw_path, query) = match path.find('?') {
        Some(at) => path.split_at(at),
        None => (path, ""),
    };
    let decoded = percent_decode_str(raw_path)
        .decode_utf8()
        .map_err(|_| 400u16)?;
    let dir = decoded.ends_with('/');
    // Leading slashes are the root however many there are (`//etc/passwd`).
    let rel = RelPath::parse(decoded.trim_start_matches('/')).map_err(|_| 400u16)?;
    Ok(Target {
        raw_path,
        query,
        rel,
        dir,
    })
}

/// A path for a `Location` header that stays on this server: one leading
/// slash however many the request had, since `//evil.com/` is a URL of
/// another host to a browser (an open redirect).
pub(crate) fn local_location(raw_path: &str) -> String {
    format!("/{}", raw_path.trim_start_matches('/'))
}

/// The status for a failed open: an escape through a symlink is a 404 like a
/// missing file; permission denied is a 403.
pub(crate) fn error_reply(e: &RootError) -> Reply {
    let status = match e {
        RootError::NotFound(_) | RootError::NotADirectory(_) => 404,
        RootError::Forbidden(io) => match io.kind() {
            std::io::ErrorKind::PermissionDenied => 403,
            _ => 404,
        },
        RootError::NotAFile(_) | RootError::IsADirectory(_) => 403,
        RootError::Exists(_) | RootError::MissingParent(_) => 409,
        RootError::IntoItself(_) => 403,
        RootError::NoSpace(_) => 507,
        _ => 500,
    };
    Reply::error(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = parse_target("/a%20b/c.txt?x=1").unwrap();
        assert_eq!(t.rel.to_string(), "a b/c.txt");
        assert_eq!(
            (t.raw_path, t.query, t.dir),
            ("/a%20b/c.txt", "?x=1", false)
        );
        assert!(parse_target("http://example.com/d/").unwrap().dir);
        assert_eq!(
            parse_target("//etc/passwd").unwrap().rel.to_string(),
            "etc/passwd"
        );
        for bad in [
            "/../x",
            "/%2e%2e/x",
            "/..%00",
            "/..\\x",
            "/a/%2E%2E/b",
            "x",
            "/%ff",
        ] {
            assert_eq!(parse_target(bad).err(), Some(400), "{bad}");
        }
        assert_eq!(
            parse_target("/%252e%252e/x").unwrap().rel.to_string(),
            "%2e%2e/x"
        );
        assert!(parse_target("/a/.git/config").unwrap().rel.is_hidden());
    }

    #[test]
    fn locations_never_name_another_host() {
        for (raw, want) in [
            ("/a/b", "/a/b"),
            ("//evil.com", "/evil.com"),
            ("///evil.com/x", "/evil.com/x"),
            ("/", "/"),
        ] {
            assert_eq!(local_location(raw), want);
        }
    }
}
