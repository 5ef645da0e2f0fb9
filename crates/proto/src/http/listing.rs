//! Directory listings: an HTML table (names HTML-escaped, links
//! percent-encoded, sizes and dates, a parent link) or, for
//! `Accept: application/json`, a JSON document. Directories come first, then
//! files, in the order the query asks (`?sort=…&order=…`, see
//! `sort.rs`); the column headers link to the other orders. Dotfiles
//! are left out unless `--hidden` (the root's policy, see [`crate::root`]),
//! symlinks that lead outside the root are left out always, and with `--auth`
//! so is every entry the visitor may neither read nor pass through to a
//! folder they may.
//!
//! Sizes are human (`1.5 KiB`, the exact count in a tooltip) and dates
//! `YYYY-MM-DD HH:MM` UTC. When the service has a web page (an
//! [`Extension`](super::extension::Extension) with a
//! [`listing_page`](super::extension::Extension::listing_page)), the HTML
//! listing is that page with the table put in it: the page's script takes
//! over where it runs, and the table is still a working listing where it
//! does not. That page is the server's own (every name in it escaped), so it
//! is not sandboxed as the share's files are.

use super::request::Head;
use super::response::{sandbox, Body, Reply};
use super::sort::Order;
use super::target::{error_reply, Target};
use super::visitor::{access_path, Visitor};
use super::Shared;
use crate::root::{Entry, EntryKind};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::Value;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Bytes encoded in a link's path component: everything but unreserved
/// characters and a few safe sub-delimiters.
pub(crate) const COMPONENT: &AsciiSet = &CONTROLS
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
    let order = Order::from_query(target.query);
    order.sort(&mut entries, |e| (e.name.as_str(), e));
    let display_path = display_path(target);
    let (body, content_type) = if wants_json(head) {
        let rows = entries.iter().map(|e| json_row(&e.name, e)).collect();
        let doc = serde_json::json!({ "path": display_path, "entries": Value::Array(rows) });
        (doc.to_string(), "application/json")
    } else {
        let page = Page {
            title: format!("Index of {display_path}"),
            parent: !target.rel.is_root(),
            order,
            keep: String::new(),
            query: "",
            note: None,
        };
        let rows: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e)).collect();
        return page.reply(shared, &rows);
    };
    page_reply(shared, body, content_type)
}

/// `/` or `/a/b/`, as a listing names its folder.
pub(crate) fn display_path(target: &Target<'_>) -> String {
    if target.rel.is_root() {
        "/".to_owned()
    } else {
        format!("/{}/", target.rel)
    }
}

/// Whether the client asked for JSON (`Accept: application/json`).
pub(crate) fn wants_json(head: &Head<'_>) -> bool {
    head.accept.is_some_and(|a| {
        a.windows(16)
            .any(|w| w.eq_ignore_ascii_case(b"application/json"))
    })
}

/// A listing or search reply: the body, its type, `Vary: Accept`, the sandbox.
pub(crate) fn page_reply(shared: &Shared, body: String, content_type: &str) -> Reply {
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

/// One entry of a JSON listing, named `name` (a path, in search results).
pub(crate) fn json_row(name: &str, e: &Entry) -> Value {
    serde_json::json!({
        "name": name,
        "type": kind_name(e.kind),
        "size": e.size,
        "modified": unix_secs(e.modified),
    })
}

fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Dir => "dir",
        EntryKind::File => "file",
        _ => "other",
    }
}

/// An HTML listing page: a table of entries with sortable column headers
/// (plain links: no script needed), and a search form.
pub(crate) struct Page<'a> {
    pub(crate) title: String,
    /// Show a `../` row.
    pub(crate) parent: bool,
    pub(crate) order: Order,
    /// Query parameters the header links keep (`q=x&`, URL-encoded).
    pub(crate) keep: String,
    /// The search text, shown in the search box.
    pub(crate) query: &'a str,
    /// A line under the table (a search cut short says so).
    pub(crate) note: Option<String>,
}

/// Where a web page ([`super::extension::Extension::listing_page`]) takes
/// the listing.
pub const LISTING_MARK: &str = "<!--netkit:listing-->";

impl Page<'_> {
    /// The HTML reply: the service's web page with the listing in it when
    /// there is one, else a page of its own.
    pub(crate) fn reply(&self, shared: &Shared, rows: &[(&str, &Entry)]) -> Reply {
        let template = shared.ext.as_ref().and_then(|ext| ext.listing_page());
        match template {
            Some(template) if template.contains(LISTING_MARK) => {
                let body = template.replacen(LISTING_MARK, &self.fragment(rows), 1);
                let mut reply = Reply::new(200, Body::Bytes(body.into_bytes()));
                reply.header("Content-Type", "text/html; charset=utf-8");
                reply.header("Vary", "Accept");
                reply.header("Cache-Control", "no-cache");
                reply
            }
            _ => page_reply(shared, self.html(rows), "text/html; charset=utf-8"),
        }
    }

    /// A page of its own, with one row per (name or relative path, entry).
    pub(crate) fn html(&self, rows: &[(&str, &Entry)]) -> String {
        format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title></head>\n<body>\n{body}</body></html>\n",
            title = escape(&self.title),
            body = self.fragment(rows),
        )
    }

    /// The listing itself: a title, the search form, the folder's ZIP link,
    /// the table and the note.
    pub(crate) fn fragment(&self, rows: &[(&str, &Entry)]) -> String {
        let title = escape(&self.title);
        let mut page = format!(
            "<div id=\"static\"><h2>{title}</h2>\n\
             <form method=\"get\" action=\"./\"><input type=\"search\" name=\"q\" value=\"{query}\" \
             placeholder=\"Search below this folder\" aria-label=\"Search\"> <button>Search</button></form>\n",
            query = escape(self.query),
        );
        if self.query.is_empty() {
            page.push_str("<p><a href=\"?zip\" download>Download folder as ZIP</a></p>\n");
        }
        page.push_str("<table class=\"listing\">\n<thead><tr>");
        let links = self.order.header_links(&self.keep);
        for ((href, arrow), label) in links.iter().zip(["Name", "Size", "Modified"]) {
            let _ = write!(
                page,
                "<th><a href=\"{}\">{label}{arrow}</a></th>",
                escape(href)
            );
        }
        page.push_str("</tr></thead>\n<tbody>\n");
        if self.parent {
            page.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
        }
        for (name, e) in rows {
            let slash = if e.kind == EntryKind::Dir { "/" } else { "" };
            let size = if e.kind == EntryKind::Dir {
                "<td class=\"num\">-</td>".to_owned()
            } else {
                format!(
                    "<td class=\"num\" title=\"{} bytes\">{}</td>",
                    e.size,
                    human_size(e.size)
                )
            };
            let modified = human_date(unix_secs(e.modified));
            let href: Vec<_> = name
                .split('/')
                .map(|c| utf8_percent_encode(c, COMPONENT).to_string())
                .collect();
            let _ = writeln!(
                page,
                "<tr><td><a href=\"{href}{slash}\">{name}{slash}</a></td>{size}<td class=\"date\">{modified}</td></tr>",
                href = href.join("/"),
                name = escape(name),
            );
        }
        page.push_str("</tbody></table>\n");
        if let Some(note) = &self.note {
            let _ = writeln!(page, "<p>{}</p>", escape(note));
        }
        page.push_str("</div>\n");
        page
    }
}

/// A byte count as people read it: `13 B`, `1.5 KiB`, `2.0 GiB`.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A Unix time as `YYYY-MM-DD HH:MM` (UTC).
pub(crate) fn human_date(secs: u64) -> String {
    let t = crate::date::Civil::from_unix(secs);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute
    )
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

    fn page_of() -> Page<'static> {
        Page {
            title: "Index of /d/".into(),
            parent: true,
            order: Order::from_query(""),
            keep: String::new(),
            query: "",
            note: None,
        }
    }

    #[test]
    fn names_are_escaped_and_links_encoded() {
        let entries = [Entry {
            name: "<b>&\"x y#?.txt".to_owned(),
            kind: EntryKind::File,
            symlink: false,
            size: 5,
            modified: None,
        }];
        let page = page_of();
        let rows: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e)).collect();
        let page = page.html(&rows);
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
        assert!(
            page.contains("<a href=\"?sort=name&amp;order=desc\">Name ▲</a>"),
            "{page}"
        );
        // A search result's path: each component encoded, the slashes kept.
        let rows = [("a b/c#d", &entries[0])];
        assert!(Page {
            note: None,
            ..page_of()
        }
        .html(&rows)
        .contains("href=\"a%20b/c%23d\""));
    }

    #[test]
    fn sizes_and_dates_are_human() {
        assert_eq!(human_size(13), "13 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 << 30), "5.0 GiB");
        assert_eq!(human_date(0), "1970-01-01 00:00");
        assert_eq!(human_date(951_782_400 + 3_661), "2000-02-29 01:01");
        assert_eq!(human_date(1_796_700_000), "2026-12-08 03:20");
    }
}
