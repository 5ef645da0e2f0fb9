//! Directory listings: an HTML table (names HTML-escaped, links
//! percent-encoded, sizes and dates, a parent link) or, for
//! `Accept: application/json`, a JSON document. Directories come first, then
//! files, each sorted by name. Dotfiles are left out unless `--hidden` (the
//! root's policy, see [`crate::root`]), symlinks that lead outside the
//! root are left out always, and with `--auth` so is every entry the visitor
//! may neither read nor pass through to a folder they may.

use super::request::Head;
use super::response::{clf_date, sandbox, Body, Reply};
use super::target::{error_reply, Target};
use super::visitor::{access_path, Visitor};
use super::Shared;
use crate::root::{Entry, EntryKind};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bytes encoded in a link's path component: everything but unreserved
/// characters and a few safe sub-delimiters.
const COMPONENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'\'')
    .add(b'+')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The listing of `target` (a directory request that has no `index.html`),
/// as `visitor` may see it.
pub(crate) fn reply(
    shared: &Shared,
    head: &Head<'_>,
    target: &Target<'_>,
    visitor: &Visitor<'_>,
) -> Reply {
    let mut entries = match shared.root.list(&target.rel) {
        Ok(entries) => entries,
        Err(e) => return error_reply(&e),
    };
    // Hidden names are already left out by the root (unless `--hidden`);
    // with `--auth`, so is whatever the visitor may neither read nor pass.
    let folder = access_path(&target.rel);
    entries.retain(|e| e.kind != EntryKind::Unreachable && visitor.shows(&folder, &e.name));
    entries.sort_by(|a, b| {
        (a.kind != EntryKind::Dir, &a.name).cmp(&(b.kind != EntryKind::Dir, &b.name))
    });
    let display_path = format!("/{}", target.rel);
    let display_path = if target.rel.is_root() {
        "/".to_owned()
    } else {
        format!("{display_path}/")
    };
    let wants_json = head.accept.is_some_and(|a| {
        a.windows(16)
            .any(|w| w.eq_ignore_ascii_case(b"application/json"))
    });
    let (body, content_type) = if wants_json {
        (json(&display_path, &entries), "application/json")
    } else {
        (
            html(&display_path, !target.rel.is_root(), &entries),
            "text/html; charset=utf-8",
        )
    };
    let mut reply = Reply::new(200, Body::Bytes(body.into_bytes()));
    reply.header("Content-Type", content_type);
    reply.header("Vary", "Accept");
    sandbox(shared, &mut reply);
    reply
}

/// The Unix time of a modification time (0 when unknown).
fn unix_secs(t: Option<SystemTime>) -> u64 {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

fn json(path: &str, entries: &[Entry]) -> String {
    let entries: Vec<_> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "name": e.name,
                "type": kind_name(e.kind),
                "size": e.size,
                "modified": unix_secs(e.modified),
            })
        })
        .collect();
    serde_json::json!({ "path": path, "entries": entries }).to_string()
}

fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Dir => "dir",
        EntryKind::File => "file",
        _ => "other",
    }
}

fn html(path: &str, parent: bool, entries: &[Entry]) -> String {
    let title = escape(path);
    let mut page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
         <title>Index of {title}</title></head>\n<body><h1>Index of {title}</h1>\n\
         <table>\n<tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n"
    );
    if parent {
        page.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for e in entries {
        let slash = if e.kind == EntryKind::Dir { "/" } else { "" };
        let size = if e.kind == EntryKind::Dir {
            "-".to_owned()
        } else {
            e.size.to_string()
        };
        let modified = clf_date(UNIX_EPOCH + Duration::from_secs(unix_secs(e.modified)));
        let _ = writeln!(
            page,
            "<tr><td><a href=\"{href}{slash}\">{name}{slash}</a></td><td>{size}</td><td>{modified}</td></tr>",
            href = utf8_percent_encode(&e.name, COMPONENT),
            name = escape(&e.name),
        );
    }
    page.push_str("</table>\n</body></html>\n");
    page
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_links_encoded() {
        let entries = vec![Entry {
            name: "<b>&\"x y#?.txt".to_owned(),
            kind: EntryKind::File,
            symlink: false,
            size: 5,
            modified: None,
        }];
        let page = html("/d/", true, &entries);
        assert!(
            page.contains("href=\"%3Cb%3E%26%22x%20y%23%3F.txt\""),
            "{page}"
        );
        assert!(
            page.contains(">&lt;b&gt;&amp;&quot;x y#?.txt</a>"),
            "{page}"
        );
        assert!(page.contains("href=\"../\""));
        assert!(!page.contains("<b>&"));
    }
}
