//! WebDAV request bodies (RFC 4918 §14): parsed with quick-xml's namespace
//! reader into a small tree of [`Element`]s whose names are (namespace URI,
//! local name) pairs — prefixes are resolved, never compared. The tree is
//! bounded (depth, elements) so a hostile body costs little; a body that is
//! not well-formed UTF-8 XML with exactly one root element is an error (400).
//!
//! An element can be written back ([`Element::write`]) with every element's
//! namespace declared on itself, which is how dead property values are kept
//! (and why their prefixes never need the request's declarations).

use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

/// The `DAV:` namespace.
pub(crate) const DAV: &str = "DAV:";
/// Deepest element nesting accepted.
const MAX_DEPTH: usize = 64;
/// Most elements in one body.
const MAX_ELEMENTS: usize = 10_000;

/// An element: its expanded name and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) ns: String,
    pub(crate) name: String,
    pub(crate) content: Vec<Node>,
}

/// Content of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Element(Element),
    /// Unescaped text.
    Text(String),
}

/// Why a body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

impl Element {
    /// Whether this is `{ns}name`.
    pub(crate) fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// The child elements.
    pub(crate) fn children(&self) -> impl Iterator<Item = &Element> {
        self.content.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child `{DAV:}name`.
    pub(crate) fn dav_child(&self, name: &str) -> Option<&Element> {
        self.children().find(|c| c.is(DAV, name))
    }

    /// Writes the element as XML, declaring its namespace on every element.
    pub(crate) fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        out.push_str(" xmlns=\"");
        out.push_str(&escape(self.ns.as_str()));
        out.push('"');
        if self.content.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        self.write_content(out);
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }

    /// Writes only what is inside the element.
    pub(crate) fn write_content(&self, out: &mut String) {
        for n in &self.content {
            match n {
                Node::Element(e) => e.write(out),
                Node::Text(t) => out.push_str(&escape(t.as_str())),
            }
        }
    }
}

/// Parses a body into its root element.
pub(crate) fn parse(body: &[u8]) -> Result<Element, Malformed> {
    let text = std::str::from_utf8(body).map_err(|_| Malformed)?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|_| Malformed)?;
        let ns = match ns {
            ResolveResult::Bound(ns) => Some(ns.into_inner().to_owned()),
            ResolveResult::Unbound => Some(String::new()),
            ResolveResult::Unknown(_) => None,
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let ns = ns.ok_or(Malformed)?;
                count += 1;
                if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH || root.is_some() {
                    return Err(Malformed);
                }
                // Attributes are not kept: a dead property is its
                // element and content (RFC 4918 §4.3 asks no more).
                let el = Element {
                    ns,
                    name: e.local_name().into_inner().to_owned(),
                    content: Vec::new(),
                };
                if matches!(event, Event::Start(_)) {
                    stack.push(el);
                } else {
                    close(&mut stack, &mut root, el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or(Malformed)?;
                close(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                let t = t.xml10_content();
                push_text(&mut stack, &t)?;
            }
            Event::CData(t) => {
                let t = t.into_inner();
                push_text(&mut stack, &t)?;
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(|_| Malformed)? {
                    Some(c) => c.to_string(),
                    None => match r.as_ref() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        _ => return Err(Malformed),
                    },
                };
                push_text(&mut stack, &c)?;
            }
            Event::DocType(_) => return Err(Malformed), // no entities of its own
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    match (stack.is_empty(), root) {
        (true, Some(root)) => Ok(root),
        _ => Err(Malformed),
    }
}

fn close(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.content.push(Node::Element(el)),
        None => *root = Some(el),
    }
}

/// Text inside an element; outside any, only white space is allowed.
fn push_text(stack: &mut [Element], text: &str) -> Result<(), Malformed> {
    match stack.last_mut() {
        Some(el) => {
            if let Some(Node::Text(t)) = el.content.last_mut() {
                t.push_str(text);
            } else {
                el.content.push(Node::Text(text.to_owned()));
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(Malformed),
    }
}
