//! Properties and 207 Multi-Status bodies (RFC 4918 §9.1, §13, §15): the
//! live properties every file and folder has, computed from its metadata,
//! and the XML that reports them. Hrefs are percent-encoded paths; names
//! outside `DAV:` are written with their namespace declared on themselves.

use super::lock::Lock;
use super::xml::{Element, DAV};
use crate::date::Civil;
use crate::root::RelPath;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use quick_xml::escape::escape;
use std::fs::Metadata;
use std::time::{SystemTime, UNIX_EPOCH};

/// The live properties, in the order `allprop` and `propname` give them.
pub(crate) const LIVE: [&str; 9] = [
    "resourcetype",
    "getcontentlength",
    "getlastmodified",
    "getetag",
    "getcontenttype",
    "creationdate",
    "displayname",
    "supportedlock",
    "lockdiscovery",
];

/// What a path segment keeps unencoded in an href.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One file or folder being described.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub(crate) rel: RelPath,
    pub(crate) dir: bool,
    pub(crate) len: u64,
    pub(crate) modified: SystemTime,
    pub(crate) created: SystemTime,
}

impl Resource {
    pub(crate) fn new(rel: RelPath, meta: &Metadata) -> Self {
        let modified = meta.modified().unwrap_or(UNIX_EPOCH);
        Resource {
            rel,
            dir: meta.is_dir(),
            len: meta.len(),
            modified,
            created: meta.created().unwrap_or(modified),
        }
    }

    /// The resource's path for the lock table.
    pub(crate) fn path(&self) -> String {
        self.rel.to_string()
    }

    /// Its href: the encoded path, a folder's with a trailing slash.
    pub(crate) fn href(&self) -> String {
        href(&self.rel, self.dir)
    }
}

/// The href of `rel`.
pub(crate) fn href(rel: &RelPath, dir: bool) -> String {
    let mut h = String::new();
    for c in rel.components() {
        h.push('/');
        h.extend(utf8_percent_encode(c, SEGMENT));
    }
    if dir || rel.is_root() {
        h.push('/');
    }
    h
}

/// The ETag GET gives the file (see `cache.rs`); folders have none.
pub(crate) fn etag(dir: bool, len: u64, modified: SystemTime) -> Option<String> {
    let since = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
    (!dir).then(|| format!("\"{:x}-{:x}\"", since.as_nanos() as u64, len))
}

/// Writes the live property `name` of `res` (with its value) into `out`;
/// `false` when the resource has no such property.
pub(crate) fn live(res: &Resource, name: &str, locks: &[Lock], out: &mut String) -> bool {
    let value = match name {
        "resourcetype" if res.dir => "<D:collection/>".to_owned(),
        "resourcetype" => String::new(),
        "getcontentlength" if !res.dir => res.len.to_string(),
        "getlastmodified" => httpdate::fmt_http_date(res.modified),
        "getetag" => match etag(res.dir, res.len, res.modified) {
            Some(e) => escape(e.as_str()).into_owned(),
            None => return false,
        },
        "getcontenttype" if !res.dir => {
            escape(super::super::response::content_type(&res.rel).as_str()).into_owned()
        }
        "creationdate" => {
            let c = Civil::from_system_time(res.created);
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                c.year, c.month, c.day, c.hour, c.minute, c.second
            )
        }
        "displayname" => escape(res.rel.file_name().unwrap_or_default()).into_owned(),
        "supportedlock" => SUPPORTED_LOCK.to_owned(),
        "lockdiscovery" => {
            let mut s = String::new();
            for l in locks {
                active_lock(l, &mut s);
            }
            s
        }
        _ => return false,
    };
    if value.is_empty() {
        out.push_str(&format!("<D:{name}/>"));
    } else {
        out.push_str(&format!("<D:{name}>{value}</D:{name}>"));
    }
    true
}

const SUPPORTED_LOCK: &str = "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope>\
<D:locktype><D:write/></D:locktype></D:lockentry>\
<D:lockentry><D:lockscope><D:shared/></D:lockscope>\
<D:locktype><D:write/></D:locktype></D:lockentry>";

/// One `activelock` element.
pub(crate) fn active_lock(l: &Lock, out: &mut String) {
    out.push_str("<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope>");
    out.push_str(if l.shared {
        "<D:shared/>"
    } else {
        "<D:exclusive/>"
    });
    out.push_str("</D:lockscope><D:depth>");
    out.push_str(if l.infinite { "infinity" } else { "0" });
    out.push_str("</D:depth>");
    if let Some(owner) = &l.owner {
        out.push_str(owner);
    }
    out.push_str(&format!(
        "<D:timeout>Second-{}</D:timeout><D:locktoken><D:href>{}</D:href></D:locktoken>",
        l.timeout.as_secs(),
        escape(l.token.as_str())
    ));
    let root = RelPath::parse(&l.path).unwrap_or_else(|_| RelPath::root());
    out.push_str(&format!(
        "<D:lockroot><D:href>{}</D:href></D:lockroot></D:activelock>",
        escape(href(&root, l.dir).as_str())
    ));
}

/// An empty element naming a property (for `propname` and failures).
pub(crate) fn name_only(ns: &str, name: &str, out: &mut String) {
    if ns == DAV {
        out.push_str(&format!("<D:{name}/>"));
    } else {
        out.push_str(&format!("<{name} xmlns=\"{}\"/>", escape(ns)));
    }
}

/// A dead property with its value.
pub(crate) fn dead(prop: &Element, out: &mut String) {
    prop.write(out);
}

/// The start of a 207 body.
pub(crate) fn multistatus_start(out: &mut String) {
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">");
}

/// The end of a 207 body.
pub(crate) fn multistatus_end(out: &mut String) {
    out.push_str("</D:multistatus>\n");
}

/// One `propstat` with `props` (already written) and `status`.
pub(crate) fn propstat(props: &str, status: u16, out: &mut String) {
    out.push_str("<D:propstat><D:prop>");
    out.push_str(props);
    out.push_str(&format!(
        "</D:prop><D:status>HTTP/1.1 {status} {}</D:status></D:propstat>",
        super::super::response::reason(status)
    ));
}
